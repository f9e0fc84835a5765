"""Decoding of NanoDet (GFL head) raw outputs into `Detections`: a pure function of arrays.

The network predicts, for every cell of three grids (strides 8, 16, 32 on a 416x416 input), sigmoid
class scores and, for each side (left, top, right, bottom), a distribution over distances 0..10 in
units of the stride ("general focal loss" regression). Decoding, as in NanoDet's original GFL head:

1. keep (cell, class) pairs whose score passes the threshold, for the wanted classes only;
2. distance per side = expectation of softmax(bins) * stride, measured from the cell centre
   ((x + 0.5) * stride, (y + 0.5) * stride);
3. box = centre -/+ distances, clipped to the input, scaled back to the original frame;
4. class-wise NMS.

No onnxruntime in here, so a Savant converter and a GPU backend can call it on their own tensors.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache

import numpy as np

from pyuniproc.detect.nms import batched_nms
from pyuniproc.types import Detections

STRIDES = (8, 16, 32)
REG_MAX = 10
"""Largest distance bin (in strides); the head has REG_MAX + 1 bins per side."""
COCO_PERSON = 0


@lru_cache(maxsize=8)
def cell_priors(input_size: int, strides: tuple[int, ...] = STRIDES) -> np.ndarray:
    """(A, 3) float32 rows cx, cy, stride, in the output's row order (stride by stride, row-major)."""
    levels = []
    for stride in strides:
        cells = -(-input_size // stride)
        ys, xs = np.mgrid[0:cells, 0:cells].astype(np.float32)
        centres = np.stack([(xs.ravel() + 0.5) * stride, (ys.ravel() + 0.5) * stride], axis=1)
        levels.append(np.concatenate([centres, np.full((len(centres), 1), stride, np.float32)], axis=1))
    priors = np.concatenate(levels)
    priors.setflags(write=False)
    return priors


def distribution_to_distance(box_distributions: np.ndarray) -> np.ndarray:
    """(k, 4 * (REG_MAX + 1)) logits -> (k, 4) expected distances in strides (left, top, right, bottom)."""
    logits = box_distributions.reshape(len(box_distributions), 4, REG_MAX + 1)
    logits = logits - logits.max(axis=2, keepdims=True)
    weights = np.exp(logits)
    weights /= weights.sum(axis=2, keepdims=True)
    return weights @ np.arange(REG_MAX + 1, dtype=np.float32)


def decode_nanodet(
    scores: np.ndarray,
    box_distributions: np.ndarray,
    original_sizes: Sequence[tuple[int, int]],
    *,
    input_size: int = 416,
    class_ids: Sequence[int] = (COCO_PERSON,),
    confidence_threshold: float = 0.5,
    nms_iou_threshold: float = 0.45,
    min_width: float = 0.0,
    min_height: float = 0.0,
    max_detections: int = 100,
) -> list[Detections]:
    """Raw NanoDet heads of a batch -> one `Detections` per image, in that image's own pixels.

    scores: (N, A, 80) float32 sigmoid scores (COCO order, person = 0).
    box_distributions: (N, A, 44) float32 bin logits, 11 per side (left, top, right, bottom).
    original_sizes: N pairs (height, width) of the frames before they were stretched to the input.
    class_ids: COCO classes to keep (others are never decoded); class_id in the result is the COCO id.
    confidence_threshold, nms_iou_threshold, min_width, min_height, max_detections: as in `decode_ssd`.
    """
    scores = np.asarray(scores, dtype=np.float32)
    box_distributions = np.asarray(box_distributions, dtype=np.float32)
    priors = cell_priors(input_size)
    if scores.ndim != 3 or scores.shape[1] != len(priors):
        raise ValueError(f"scores must be (N, {len(priors)}, classes), got {scores.shape}")
    if box_distributions.shape != (*scores.shape[:2], 4 * (REG_MAX + 1)):
        raise ValueError(f"box_distributions must be {(*scores.shape[:2], 4 * (REG_MAX + 1))}, "
                         f"got {box_distributions.shape}")
    if len(original_sizes) != scores.shape[0]:
        raise ValueError(f"got {len(original_sizes)} original sizes for a batch of {scores.shape[0]}")
    wanted = np.asarray(class_ids, dtype=np.int64)
    results = []
    for image_scores, distributions, (height, width) in zip(scores, box_distributions, original_sizes,
                                                            strict=True):
        class_scores = image_scores[:, wanted]
        cell_idx, column = np.nonzero(class_scores >= confidence_threshold)
        confidence = class_scores[cell_idx, column]
        cx, cy, stride = priors[cell_idx].T
        distance = distribution_to_distance(distributions[cell_idx]) * stride[:, None]
        left, top, right, bottom = distance.T
        boxes = np.stack([cx - left, cy - top, cx + right, cy + bottom], axis=1)
        boxes = np.clip(boxes, 0.0, float(input_size))
        boxes *= np.array([width, height, width, height], dtype=np.float32) / np.float32(input_size)
        box_w, box_h = boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]
        candidates = np.flatnonzero((box_w >= min_width) & (box_h >= min_height) & (box_w > 0) & (box_h > 0))
        keep = candidates[batched_nms(boxes[candidates], confidence[candidates], column[candidates],
                                      nms_iou_threshold, max_detections)]
        results.append(Detections(xyxy=boxes[keep], confidence=confidence[keep],
                                  class_id=wanted[column[keep]]))
    return results
