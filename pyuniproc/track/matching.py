"""Box overlap and gated one-to-one assignment, the two primitives of IoU-based trackers."""

from __future__ import annotations

import numpy as np
from scipy.optimize import linear_sum_assignment


def box_iou(boxes_a: np.ndarray, boxes_b: np.ndarray) -> np.ndarray:
    """Intersection over union of every pair: (n, 4) xyxy and (m, 4) xyxy -> (n, m) float64 in [0, 1].

    Boxes are continuous corners (no +1 pixel convention). Pairs whose union is empty get 0.
    """
    a = np.asarray(boxes_a, dtype=np.float64).reshape(-1, 4)
    b = np.asarray(boxes_b, dtype=np.float64).reshape(-1, 4)
    area_a = np.clip(a[:, 2] - a[:, 0], 0, None) * np.clip(a[:, 3] - a[:, 1], 0, None)
    area_b = np.clip(b[:, 2] - b[:, 0], 0, None) * np.clip(b[:, 3] - b[:, 1], 0, None)
    top_left = np.maximum(a[:, None, :2], b[None, :, :2])
    bottom_right = np.minimum(a[:, None, 2:], b[None, :, 2:])
    intersection = np.prod(np.clip(bottom_right - top_left, 0, None), axis=2)
    union = area_a[:, None] + area_b[None, :] - intersection
    return np.divide(intersection, union, out=np.zeros_like(intersection), where=union > 0)


def fuse_score(iou: np.ndarray, scores: np.ndarray) -> np.ndarray:
    """ByteTrack's score fusion: similarity IoU * detection score, (n, m) and (m,) -> (n, m).

    A confident detection wins a tie in overlap against a doubtful one.
    """
    return iou * np.asarray(scores, dtype=np.float64)[None, :]


def linear_assignment(cost: np.ndarray, max_cost: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Minimum-cost one-to-one matching of rows to columns among pairs that cost less than `max_cost`.

    cost: (n, m). Returns matches (k, 2) int64 as (row, column), unmatched rows (n - k,) int64 and
    unmatched columns (m - k,) int64, each ascending.

    Like `lap.lapjv(cost, extend_cost=True, cost_limit=max_cost)` that ByteTrack uses: every row and
    column may stay unmatched at cost `max_cost / 2`, so among allowed pairs the total cost is what is
    minimised. (Plain gating - a huge cost on forbidden pairs - would instead maximise the number of
    matches first, which can force a worse pair in.) The gate is strict, so `max_cost=1` on 1 - IoU
    still needs some overlap.
    """
    cost = np.asarray(cost, dtype=np.float64)
    n, m = cost.shape
    if n == 0 or m == 0:
        return np.zeros((0, 2), np.int64), np.arange(n, dtype=np.int64), np.arange(m, dtype=np.int64)
    # Forbidden pairs get a cost no optimum would pick over leaving both sides unmatched.
    forbidden = 2.0 * max_cost + 1.0
    extended = np.full((n + m, m + n), max_cost / 2.0)
    extended[:n, :m] = np.where(np.isfinite(cost) & (cost < max_cost), cost, forbidden)
    extended[n:, m:] = 0.0
    rows, cols = linear_sum_assignment(extended)
    real = (rows < n) & (cols < m)
    rows, cols = rows[real], cols[real]
    keep = cost[rows, cols] < max_cost
    matches = np.stack([rows[keep], cols[keep]], axis=1).astype(np.int64)
    unmatched_rows = np.setdiff1d(np.arange(n), matches[:, 0]).astype(np.int64)
    unmatched_cols = np.setdiff1d(np.arange(m), matches[:, 1]).astype(np.int64)
    return matches, unmatched_rows, unmatched_cols
