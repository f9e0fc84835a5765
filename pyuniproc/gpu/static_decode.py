"""Decoding with fixed shapes, so that it can live inside the detector's CUDA graph.

The numpy decoders (and `postprocess.decode_*_torch`) select candidates with data-dependent shapes, so on
the GPU each batch costs a few dozen separately launched ops and two host round trips; under a GIL shared
with 96 decoder threads that was the slowest part of a batch. Here every shape is fixed:

1. per image, the `candidates` best (anchor, class) scores (top-k) and the boxes they decode to;
2. greedy NMS computed as its fixed point ("Cluster-NMS"): box j is kept iff it is valid and no kept,
   better-scored box of its class overlaps it by IoU > threshold. Iterating `keep <- valid & ~any(keep_i &
   overlaps_ij)` from `keep = valid` reaches exactly greedy NMS's answer; after `iterations` rounds the
   result is checked for being a fixed point (`converged`), which is then the greedy answer;
3. at most `max_detections` per image, kept rows compacted (image by image, best first) into a static
   buffer that the embed graph reads.

Exactness: same as the numpy decoders unless an image has more than `candidates` boxes above threshold
(`overflow`) or the iteration has not converged; the engine then decodes that batch the exact, dynamic way.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from pyuniproc.detect.nanodet import REG_MAX


@dataclass
class StaticDetections:
    """Fixed-shape decode of a batch of n images with K candidates each.

    rows: (n, K, 7) float32: x1, y1, x2, y2 (pixels), confidence, class_id, kept (0/1).
    flags: (n, 2) bool: overflow (more than K candidates above threshold), converged.
    kept: (n * K,) bool flattened keep mask; count: () int64 number of kept rows.
    """

    rows: torch.Tensor
    flags: torch.Tensor
    count: torch.Tensor


def pairwise_iou(boxes: torch.Tensor) -> torch.Tensor:
    """(n, K, 4) x1, y1, x2, y2 -> (n, K, K) IoU, as `pyuniproc.detect.nms.box_iou` computes it."""
    lo = torch.minimum(boxes[..., :2], boxes[..., 2:])
    hi = torch.maximum(boxes[..., :2], boxes[..., 2:])
    area = (hi - lo).prod(dim=-1)
    overlap = (torch.minimum(hi[:, :, None], hi[:, None]) - torch.maximum(lo[:, :, None], lo[:, None])).clamp(
        min=0
    )
    inter = overlap[..., 0] * overlap[..., 1]
    union = area[:, :, None] + area[:, None] - inter
    return torch.where(union > 0, inter / union.clamp(min=1e-30), torch.zeros_like(union))


def cluster_nms(
    nms_boxes: torch.Tensor, classes: torch.Tensor, valid: torch.Tensor, iou_threshold: float, iterations: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """Greedy NMS of candidates already sorted best-first: (keep (n, K) bool, converged (n,) bool)."""
    k = nms_boxes.shape[1]
    earlier = torch.ones((k, k), dtype=torch.bool, device=nms_boxes.device).triu(diagonal=1)  # i < j
    suppresses = (pairwise_iou(nms_boxes) > iou_threshold) & earlier
    suppresses &= classes[:, :, None] == classes[:, None, :]
    suppresses &= valid[:, :, None] & valid[:, None, :]
    keep = valid
    previous = keep
    for _ in range(iterations):
        previous = keep
        keep = valid & ~(keep[:, :, None] & suppresses).any(dim=1)
    return keep, (keep == previous).all(dim=1)


def _finish(
    pixels: torch.Tensor,
    nms_boxes: torch.Tensor,
    scores: torch.Tensor,
    classes: torch.Tensor,
    valid: torch.Tensor,
    overflow: torch.Tensor,
    iou_threshold: float,
    max_detections: int,
    iterations: int,
    out_boxes: torch.Tensor | None,
    out_frame: torch.Tensor | None,
) -> StaticDetections:
    keep, converged = cluster_nms(nms_boxes, classes, valid, iou_threshold, iterations)
    rank = keep.to(torch.int32).cumsum(dim=1) - 1
    keep = keep & (rank < max_detections)
    n, k = keep.shape
    rows = torch.cat([pixels, scores[..., None], classes[..., None].float(), keep[..., None].float()], dim=2)
    flat_keep = keep.reshape(-1)
    if out_boxes is not None and out_frame is not None:
        # compact the kept rows, in order, to the front of the static buffers; the rest go to a trash row
        position = flat_keep.to(torch.int64).cumsum(0) - 1
        trash = out_boxes.shape[0] - 1
        target = torch.where(flat_keep, position, torch.full_like(position, trash))
        frame = torch.arange(n, device=keep.device).repeat_interleave(k)
        out_boxes.index_copy_(0, target, pixels.reshape(-1, 4))
        out_frame.index_copy_(0, target, frame)
    return StaticDetections(rows=rows, flags=torch.stack([overflow, converged], dim=1), count=flat_keep.sum())


def decode_ssd_static(
    box_encodings: torch.Tensor,
    class_logits: torch.Tensor,
    anchors: torch.Tensor,
    sizes: torch.Tensor,
    *,
    confidence_threshold: float,
    nms_iou_threshold: float,
    min_width: float,
    min_height: float,
    scale_factors,
    max_detections: int = 100,
    candidates: int = 256,
    iterations: int = 12,
    out_boxes: torch.Tensor | None = None,
    out_frame: torch.Tensor | None = None,
) -> StaticDetections:
    """`decode_ssd` with fixed shapes. sizes: (n, 2) float32 height, width of each original frame."""
    logits = class_logits.float()
    n, a, _ = logits.shape
    all_scores = torch.sigmoid(logits[:, :, 1:]).reshape(n, -1)  # (n, A * C), anchor-major
    num_classes = logits.shape[2] - 1
    k = min(candidates, all_scores.shape[1])
    scores, index = all_scores.topk(k, dim=1)
    overflow = (all_scores >= confidence_threshold).sum(dim=1) > k
    anchor_idx, classes = index // num_classes, index % num_classes
    enc = torch.gather(box_encodings.float(), 1, anchor_idx[..., None].expand(n, k, 4))
    anc = anchors.float()[anchor_idx]
    ty, tx, th, tw = (enc[..., i] / float(scale_factors[i]) for i in range(4))
    yca, xca, ha, wa = anc[..., 0], anc[..., 1], anc[..., 2], anc[..., 3]
    w = torch.exp(tw) * wa
    h = torch.exp(th) * ha
    yc = ty * ha + yca
    xc = tx * wa + xca
    half_h, half_w = h / 2.0, w / 2.0
    ymin, xmin, ymax, xmax = yc - half_h, xc - half_w, yc + half_h, xc + half_w
    height, width = sizes[:, 0:1], sizes[:, 1:2]
    pixels = torch.stack(
        [
            xmin.clamp(0, 1) * width,
            ymin.clamp(0, 1) * height,
            xmax.clamp(0, 1) * width,
            ymax.clamp(0, 1) * height,
        ],
        dim=2,
    )
    box_w, box_h = pixels[..., 2] - pixels[..., 0], pixels[..., 3] - pixels[..., 1]
    valid = (
        (scores >= confidence_threshold)
        & (box_w >= min_width)
        & (box_h >= min_height)
        & (box_w > 0)
        & (box_h > 0)
    )
    nms_boxes = torch.stack([xmin, ymin, xmax, ymax], dim=2)  # unclipped, normalised: as the source graph
    return _finish(
        pixels,
        nms_boxes,
        scores,
        classes,
        valid,
        overflow,
        nms_iou_threshold,
        max_detections,
        iterations,
        out_boxes,
        out_frame,
    )


def decode_nanodet_static(
    scores: torch.Tensor,
    box_distributions: torch.Tensor,
    priors: torch.Tensor,
    wanted: torch.Tensor,
    sizes: torch.Tensor,
    *,
    input_size: int,
    confidence_threshold: float,
    nms_iou_threshold: float,
    min_width: float,
    min_height: float,
    max_detections: int = 100,
    candidates: int = 256,
    iterations: int = 12,
    out_boxes: torch.Tensor | None = None,
    out_frame: torch.Tensor | None = None,
) -> StaticDetections:
    """`decode_nanodet` with fixed shapes. priors: (A, 3) cx, cy, stride; wanted: (C,) COCO class ids kept."""
    class_scores = scores.index_select(2, wanted).float()
    n, a, num_classes = class_scores.shape
    flat = class_scores.reshape(n, -1)
    k = min(candidates, flat.shape[1])
    top, index = flat.topk(k, dim=1)
    overflow = (flat >= confidence_threshold).sum(dim=1) > k
    cell, column = index // num_classes, index % num_classes
    prior = priors[cell]  # (n, k, 3)
    logits = torch.gather(box_distributions.float(), 1, cell[..., None].expand(n, k, 4 * (REG_MAX + 1)))
    weights = torch.softmax(logits.reshape(n, k, 4, REG_MAX + 1), dim=3)
    distance = (weights @ torch.arange(REG_MAX + 1, dtype=torch.float32, device=scores.device)) * prior[
        ..., 2:3
    ]
    cx, cy = prior[..., 0], prior[..., 1]
    boxes = torch.stack(
        [cx - distance[..., 0], cy - distance[..., 1], cx + distance[..., 2], cy + distance[..., 3]], dim=2
    ).clamp(0.0, float(input_size))
    height, width = sizes[:, 0:1, None], sizes[:, 1:2, None]
    scale = torch.cat([width, height, width, height], dim=2) / float(input_size)
    pixels = boxes * scale
    box_w, box_h = pixels[..., 2] - pixels[..., 0], pixels[..., 3] - pixels[..., 1]
    valid = (
        (top >= confidence_threshold)
        & (box_w >= min_width)
        & (box_h >= min_height)
        & (box_w > 0)
        & (box_h > 0)
    )
    result = _finish(
        pixels,
        pixels,
        top,
        column,
        valid,
        overflow,
        nms_iou_threshold,
        max_detections,
        iterations,
        out_boxes,
        out_frame,
    )
    result.rows[..., 5] = wanted[column].float()
    return result
