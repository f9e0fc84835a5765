"""Box overlap and gated one-to-one assignment, the two primitives of IoU-based trackers."""

from __future__ import annotations

import numpy as np
from scipy.optimize import linear_sum_assignment

_NO_PAIRS = np.zeros((0, 2), np.int64)


def box_iou(boxes_a: np.ndarray, boxes_b: np.ndarray) -> np.ndarray:
    """Intersection over union of every pair: (n, 4) xyxy and (m, 4) xyxy -> (n, m) float64 in [0, 1].

    Boxes are continuous corners (no +1 pixel convention). Pairs whose union is empty get 0.
    """
    a = np.asarray(boxes_a, dtype=np.float64).reshape(-1, 4)
    b = np.asarray(boxes_b, dtype=np.float64).reshape(-1, 4)
    size_a = np.maximum(a[:, 2:] - a[:, :2], 0.0)
    size_b = np.maximum(b[:, 2:] - b[:, :2], 0.0)
    area_a = size_a[:, 0] * size_a[:, 1]
    area_b = size_b[:, 0] * size_b[:, 1]
    overlap = np.minimum(a[:, None, 2:], b[None, :, 2:])
    overlap -= np.maximum(a[:, None, :2], b[None, :, :2])
    np.maximum(overlap, 0.0, out=overlap)
    intersection = overlap[:, :, 0] * overlap[:, :, 1]
    union = area_a[:, None] + area_b[None, :] - intersection
    return np.divide(intersection, union, out=np.zeros_like(intersection), where=union > 0)


def fuse_score(iou: np.ndarray, scores: np.ndarray) -> np.ndarray:
    """ByteTrack's score fusion: similarity IoU * detection score, (n, m) and (m,) -> (n, m).

    A confident detection wins a tie in overlap against a doubtful one.
    """
    return iou * np.asarray(scores, dtype=np.float64)[None, :]


def linear_assignment(cost: np.ndarray, max_cost: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Minimum-cost one-to-one matching of rows to columns among pairs that cost less than `max_cost`.

    cost: (n, m). Returns matches (k, 2) int64 as (row, column), ascending by row, unmatched rows
    (n - k,) int64 and unmatched columns (m - k,) int64, each ascending.

    Like `lap.lapjv(cost, extend_cost=True, cost_limit=max_cost)` that ByteTrack uses: every row and
    column may stay unmatched at cost `max_cost / 2`, so among allowed pairs the total cost is what is
    minimised. (Plain gating - a huge cost on forbidden pairs - would instead maximise the number of
    matches first, which can force a worse pair in.) The gate is strict, so `max_cost=1` on 1 - IoU
    still needs some overlap.

    Fast path: when no row and no column has two allowed pairs (people apart from each other, the
    common case), taking every allowed pair is the one optimum - each lowers the total below leaving
    both sides unmatched, and none competes with another - so the solver is skipped.
    """
    cost = np.asarray(cost, dtype=np.float64)
    n, m = cost.shape
    if n == 0 or m == 0:
        return _NO_PAIRS.copy(), np.arange(n, dtype=np.int64), np.arange(m, dtype=np.int64)
    allowed = np.isfinite(cost) & (cost < max_cost)
    rows, cols = np.nonzero(allowed)
    if len(rows) <= 1 or (len(set(rows.tolist())) == len(rows) and len(set(cols.tolist())) == len(cols)):
        matches = np.stack([rows, cols], axis=1).astype(np.int64)
    else:
        # Forbidden pairs get a cost no optimum would pick over leaving both sides unmatched.
        extended = np.full((n + m, m + n), max_cost / 2.0)
        extended[:n, :m] = np.where(allowed, cost, 2.0 * max_cost + 1.0)
        extended[n:, m:] = 0.0
        rows, cols = linear_sum_assignment(extended)
        real = (rows < n) & (cols < m)
        rows, cols = rows[real], cols[real]
        keep = cost[rows, cols] < max_cost
        matches = np.stack([rows[keep], cols[keep]], axis=1).astype(np.int64)
    unmatched_rows = np.ones(n, bool)
    unmatched_rows[matches[:, 0]] = False
    unmatched_cols = np.ones(m, bool)
    unmatched_cols[matches[:, 1]] = False
    return matches, np.flatnonzero(unmatched_rows), np.flatnonzero(unmatched_cols)
