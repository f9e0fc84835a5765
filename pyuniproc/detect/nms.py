"""Greedy non-maximum suppression in numpy, shared by every detector decoder.

One implementation for all models (and for a GPU backend's host-side decode) so that the same
thresholds mean the same thing everywhere. Semantics follow TensorFlow's `NonMaxSuppressionV3`, which
the SSD source graph used: visit boxes by descending score, drop every later box whose IoU with a kept
box is *strictly greater* than the threshold; a box of zero area overlaps nothing.
"""

from __future__ import annotations

import numpy as np


def box_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU of every pair: a (n, 4) and b (m, 4) as x1, y1, x2, y2 -> (n, m) float32.

    Corners may come in either order (they are sorted per box first), as in TensorFlow's NMS.
    """
    a = np.asarray(a, dtype=np.float32)
    b = np.asarray(b, dtype=np.float32)
    a_lo, a_hi = np.minimum(a[:, :2], a[:, 2:]), np.maximum(a[:, :2], a[:, 2:])
    b_lo, b_hi = np.minimum(b[:, :2], b[:, 2:]), np.maximum(b[:, :2], b[:, 2:])
    area_a = np.prod(a_hi - a_lo, axis=1)
    area_b = np.prod(b_hi - b_lo, axis=1)
    overlap = np.clip(np.minimum(a_hi[:, None], b_hi[None]) - np.maximum(a_lo[:, None], b_lo[None]), 0, None)
    inter = overlap[..., 0] * overlap[..., 1]
    union = area_a[:, None] + area_b[None] - inter
    with np.errstate(divide="ignore", invalid="ignore"):
        iou = np.where(union > 0, inter / union, 0.0)
    return iou.astype(np.float32)


def nms(
    boxes: np.ndarray, scores: np.ndarray, iou_threshold: float, max_outputs: int | None = None
) -> np.ndarray:
    """Indices into `boxes` (n, 4) x1, y1, x2, y2 that survive, ordered by descending score.

    The pairwise IoU matrix is computed once (vectorised); the greedy pass then only visits the boxes it
    keeps. Fine for the few hundred candidates left after a score threshold.
    Raising `iou_threshold` keeps more overlapping boxes (people in groups), lowering it merges them.
    """
    scores = np.asarray(scores)
    if len(scores) == 0:
        return np.zeros(0, dtype=np.int64)
    order = np.argsort(-scores, kind="stable")
    iou = box_iou(boxes[order], boxes[order])
    suppressed = np.zeros(len(order), dtype=bool)
    keep: list[int] = []
    limit = len(order) if max_outputs is None else max_outputs
    for i in range(len(order)):
        if suppressed[i]:
            continue
        keep.append(i)
        if len(keep) >= limit:
            break
        suppressed |= iou[i] > iou_threshold
    return order[np.asarray(keep, dtype=np.int64)]


def batched_nms(
    boxes: np.ndarray,
    scores: np.ndarray,
    class_ids: np.ndarray,
    iou_threshold: float,
    max_outputs: int | None = None,
) -> np.ndarray:
    """Class-wise NMS in one pass: boxes of different classes never suppress each other.

    Each class is shifted to its own disjoint region of the plane (offset larger than any coordinate
    span), so a single `nms` call does the work of one call per class.
    """
    boxes = np.asarray(boxes, dtype=np.float32)
    if len(boxes) == 0:
        return np.zeros(0, dtype=np.int64)
    class_ids = np.asarray(class_ids)
    if np.all(class_ids == class_ids[0]):
        return nms(boxes, scores, iou_threshold, max_outputs)
    span = float(boxes.max() - boxes.min()) + 1.0
    shift = (class_ids - class_ids.min()).astype(np.float32) * span
    return nms(boxes + shift[:, None], scores, iou_threshold, max_outputs)
