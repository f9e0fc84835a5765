"""The detectors' decoders, ported to torch so that boxes never leave the GPU before the ReID crops.

Each function mirrors its numpy original step for step (same float32 order of operations, same filters,
same NMS semantics) and returns the kept boxes of a whole batch as flat tensors sorted by image, then by
descending score:

- `decode_ssd_torch`      <-> `pyuniproc.detect.ssd.decode_ssd`
- `decode_nanodet_torch`  <-> `pyuniproc.detect.nanodet.decode_nanodet`

tests/gpu/test_postprocess.py checks that both give the numpy decoders' boxes on the same raw outputs.
NMS runs on the GPU through torchvision when it is installed (one kernel for the whole batch: images and
classes are kept apart by the usual coordinate-offset trick); otherwise the kept candidates go through
our numpy `pyuniproc.detect.nms.nms`, image by image, with identical results.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from pyuniproc.detect.nanodet import REG_MAX, cell_priors
from pyuniproc.detect.nms import nms as numpy_nms
from pyuniproc.detect.ssd import BOX_CODER_SCALE_FACTORS
from pyuniproc.types import Detections


@dataclass
class BatchDetections:
    """Kept boxes of a batch, flat, on the decoder's device.

    xyxy: (k, 4) float32 pixels of each box's own frame; confidence: (k,); class_id: (k,) int64;
    image: (k,) int64 index of the frame in the batch. Sorted by image, then by descending confidence.
    """

    xyxy: torch.Tensor
    confidence: torch.Tensor
    class_id: torch.Tensor
    image: torch.Tensor

    def to_host(self, batch_size: int, extra: dict[str, torch.Tensor] | None = None) -> list[Detections]:
        """One `Detections` per frame; one device->host copy of the packed rows (plus one per `extra`)."""
        packed = (
            torch.cat(
                [
                    self.xyxy.float(),
                    self.confidence.float()[:, None],
                    self.class_id.float()[:, None],
                    self.image.float()[:, None],
                ],
                dim=1,
            )
            .cpu()
            .numpy()
        )
        extras = {name: value.cpu().numpy() for name, value in (extra or {}).items()}
        bounds = np.searchsorted(packed[:, 6], np.arange(batch_size + 1) - 0.5)
        frames = []
        for start, stop in zip(bounds[:-1], bounds[1:], strict=True):
            rows = packed[start:stop]
            frames.append(
                Detections(
                    xyxy=rows[:, :4],
                    confidence=rows[:, 4],
                    class_id=rows[:, 5].astype(np.int32),
                    data={name: value[start:stop] for name, value in extras.items()},
                )
            )
        return frames


def _torchvision_nms():
    try:
        from torchvision.ops import batched_nms
    except Exception:  # not installed, or a build that does not match torch
        return None
    return batched_nms


_BATCHED_NMS = _torchvision_nms()


def batched_nms_torch(
    boxes: torch.Tensor, scores: torch.Tensor, groups: torch.Tensor, iou_threshold: float
) -> torch.Tensor:
    """Indices of kept boxes, NMS within each group (image x class) independently, by descending score.

    Boxes x1, y1, x2, y2; a box is dropped when its IoU with a kept better box is > iou_threshold."""
    if len(boxes) == 0:
        return torch.zeros(0, dtype=torch.int64, device=boxes.device)
    if _BATCHED_NMS is not None:
        return _BATCHED_NMS(boxes, scores, groups, iou_threshold)
    boxes_np = boxes.detach().cpu().numpy()
    scores_np = scores.detach().cpu().numpy()
    groups_np = groups.detach().cpu().numpy()
    kept = []
    for group in np.unique(groups_np):
        members = np.flatnonzero(groups_np == group)
        kept.append(members[numpy_nms(boxes_np[members], scores_np[members], iou_threshold)])
    keep = np.concatenate(kept)
    keep = keep[np.argsort(-scores_np[keep], kind="stable")]
    return torch.from_numpy(keep).to(boxes.device)


def _finish(
    boxes_for_nms: torch.Tensor,
    pixels: torch.Tensor,
    confidence: torch.Tensor,
    class_idx: torch.Tensor,
    image: torch.Tensor,
    num_classes: int,
    nms_iou_threshold: float,
    max_detections: int,
) -> BatchDetections:
    """Class-wise NMS per image, then at most `max_detections` per image, sorted by image then score."""
    keep = batched_nms_torch(boxes_for_nms, confidence, image * num_classes + class_idx, nms_iou_threshold)
    # keep is by descending score; a stable sort by image keeps that order inside each image
    order = torch.sort(image[keep], stable=True).indices
    keep = keep[order]
    kept_image = image[keep]
    if len(keep):
        first = torch.searchsorted(kept_image, kept_image, right=False)
        rank = torch.arange(len(keep), device=keep.device) - first
        keep = keep[rank < max_detections]
    return BatchDetections(
        xyxy=pixels[keep], confidence=confidence[keep], class_id=class_idx[keep], image=image[keep]
    )


def _sizes_tensor(original_sizes: Sequence[tuple[int, int]], device: torch.device) -> torch.Tensor:
    return torch.tensor([[float(h), float(w)] for h, w in original_sizes], dtype=torch.float32, device=device)


def decode_ssd_torch(
    box_encodings: torch.Tensor,
    class_logits: torch.Tensor,
    anchors: torch.Tensor,
    original_sizes: Sequence[tuple[int, int]] | torch.Tensor,
    *,
    confidence_threshold: float = 0.5,
    nms_iou_threshold: float = 0.45,
    min_width: float = 0.0,
    min_height: float = 0.0,
    max_detections: int = 100,
    scale_factors: Sequence[float] = BOX_CODER_SCALE_FACTORS,
) -> BatchDetections:
    """`decode_ssd` on a batch of torch tensors (any device). Same arguments, see there.

    original_sizes: N (height, width) pairs, or an (N, 2) float32 tensor of them on the device.
    """
    encodings = box_encodings.float()
    logits = class_logits.float()
    device = encodings.device
    sizes = (
        original_sizes if isinstance(original_sizes, torch.Tensor) else _sizes_tensor(original_sizes, device)
    )
    scores = torch.sigmoid(logits[:, :, 1:])
    image, anchor_idx, class_idx = torch.nonzero(scores >= confidence_threshold, as_tuple=True)
    confidence = scores[image, anchor_idx, class_idx]
    enc = encodings[image, anchor_idx]
    anc = anchors.float()[anchor_idx]
    ty, tx, th, tw = (enc[:, i] / float(scale_factors[i]) for i in range(4))
    yca, xca, ha, wa = anc[:, 0], anc[:, 1], anc[:, 2], anc[:, 3]
    w = torch.exp(tw) * wa
    h = torch.exp(th) * ha
    yc = ty * ha + yca
    xc = tx * wa + xca
    half_h, half_w = h / 2.0, w / 2.0
    boxes = torch.stack([yc - half_h, xc - half_w, yc + half_h, xc + half_w], dim=1)  # ymin, xmin, ymax, xmax
    size = sizes[image]  # (k, 2) height, width
    pixels = boxes.clamp(0.0, 1.0) * torch.stack([size[:, 0], size[:, 1], size[:, 0], size[:, 1]], dim=1)
    box_w, box_h = pixels[:, 3] - pixels[:, 1], pixels[:, 2] - pixels[:, 0]
    big = (box_w >= min_width) & (box_h >= min_height) & (box_w > 0) & (box_h > 0)
    xyxy_order = torch.tensor([1, 0, 3, 2], device=device)
    return _finish(
        boxes[big][:, xyxy_order],
        pixels[big][:, xyxy_order],
        confidence[big],
        class_idx[big],
        image[big],
        scores.shape[2],
        nms_iou_threshold,
        max_detections,
    )


_PRIORS: dict[tuple[int, str], torch.Tensor] = {}


def _priors(input_size: int, device: torch.device) -> torch.Tensor:
    key = (input_size, str(device))
    if key not in _PRIORS:
        _PRIORS[key] = torch.from_numpy(np.array(cell_priors(input_size))).to(device)
    return _PRIORS[key]


def decode_nanodet_torch(
    scores: torch.Tensor,
    box_distributions: torch.Tensor,
    original_sizes: Sequence[tuple[int, int]] | torch.Tensor,
    *,
    input_size: int = 416,
    class_ids: Sequence[int] = (0,),
    confidence_threshold: float = 0.5,
    nms_iou_threshold: float = 0.45,
    min_width: float = 0.0,
    min_height: float = 0.0,
    max_detections: int = 100,
) -> BatchDetections:
    """`decode_nanodet` on a batch of torch tensors (any device). Same arguments, see there;
    class_id in the result is the COCO id."""
    device = scores.device
    sizes = (
        original_sizes if isinstance(original_sizes, torch.Tensor) else _sizes_tensor(original_sizes, device)
    )
    wanted = torch.tensor(list(class_ids), dtype=torch.int64, device=device)
    class_scores = scores.index_select(2, wanted).float()
    image, cell_idx, column = torch.nonzero(class_scores >= confidence_threshold, as_tuple=True)
    confidence = class_scores[image, cell_idx, column]
    priors = _priors(input_size, device)[cell_idx]
    cx, cy, stride = priors[:, 0], priors[:, 1], priors[:, 2]
    logits = box_distributions[image, cell_idx].float().reshape(-1, 4, REG_MAX + 1)
    weights = torch.softmax(logits, dim=2)
    distance = (weights @ torch.arange(REG_MAX + 1, dtype=torch.float32, device=device)) * stride[:, None]
    left, top, right, bottom = distance.unbind(1)
    boxes = torch.stack([cx - left, cy - top, cx + right, cy + bottom], dim=1).clamp(0.0, float(input_size))
    size = sizes[image]
    boxes = boxes * (torch.stack([size[:, 1], size[:, 0], size[:, 1], size[:, 0]], dim=1) / float(input_size))
    box_w, box_h = boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]
    big = (box_w >= min_width) & (box_h >= min_height) & (box_w > 0) & (box_h > 0)
    result = _finish(
        boxes[big],
        boxes[big],
        confidence[big],
        column[big],
        image[big],
        len(class_ids),
        nms_iou_threshold,
        max_detections,
    )
    result.class_id = wanted[result.class_id]
    return result
