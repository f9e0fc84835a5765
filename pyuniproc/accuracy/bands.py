"""Recall and precision of tracked boxes per person height, the CCTV question: who is missed, how big.

People in a 640x360 view are 28-110 px tall; a detector that is fine at 100 px can miss most people
at 40 px, and a single all-sizes recall hides that. Per camera and frame, the reported boxes are
matched one to one to the scored GT boxes (Hungarian on IoU, pairs below 0.5 not allowed, as the
CLEAR metrics match); predictions matched to a distractor (a person drawn mostly hidden, not scored)
are dropped first, as `pyuniproc eval` does. Then, per height band:

    recall    = matched GT boxes of that height / GT boxes of that height
    precision = matched predicted boxes of that height / predicted boxes of that height

A GT box's band is its own height; a predicted box's band is its own height, so a band's precision
counts the false boxes of that size.
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import linear_sum_assignment

from pyuniproc.evaluation.metrics import drop_distractor_matches

HEIGHT_BANDS: tuple[float, ...] = (0.0, 40.0, 60.0, 80.0, 110.0, float("inf"))
"""Band edges in pixels: <40, 40-60, 60-80, 80-110, >=110."""


def band_labels(edges: tuple[float, ...] = HEIGHT_BANDS) -> list[str]:
    labels = []
    for low, high in zip(edges[:-1], edges[1:], strict=True):
        if low == 0:
            labels.append(f"<{high:g}")
        elif high == float("inf"):
            labels.append(f">={low:g}")
        else:
            labels.append(f"{low:g}-{high:g}")
    return labels


def match_rows(gt: np.ndarray, pred: np.ndarray, threshold: float = 0.5) -> tuple[np.ndarray, np.ndarray]:
    """Which GT rows and which predicted rows are matched (one to one per frame, IoU >= threshold).

    gt, pred: (n, 6) rows frame, id, x, y, w, h. Returns two bool masks, (len(gt),) and (len(pred),)."""
    gt_hit = np.zeros(len(gt), bool)
    pred_hit = np.zeros(len(pred), bool)
    if not len(gt) or not len(pred):
        return gt_hit, pred_hit
    for frame in np.intersect1d(gt[:, 0], pred[:, 0]).tolist():
        g = np.flatnonzero(gt[:, 0] == frame)
        p = np.flatnonzero(pred[:, 0] == frame)
        iou = iou_xywh(gt[g, 2:6], pred[p, 2:6])
        rows, cols = linear_sum_assignment(-iou)
        good = iou[rows, cols] >= threshold - 1e-9
        gt_hit[g[rows[good]]] = True
        pred_hit[p[cols[good]]] = True
    return gt_hit, pred_hit


def iou_xywh(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(len(a), len(b)) IoU of boxes given as x, y, w, h."""
    a2, b2 = a[:, None, :2] + a[:, None, 2:], b[None, :, :2] + b[None, :, 2:]
    inter = np.prod(np.clip(np.minimum(a2, b2) - np.maximum(a[:, None, :2], b[None, :, :2]), 0, None), axis=2)
    union = (a[:, 2] * a[:, 3])[:, None] + (b[:, 2] * b[:, 3])[None, :] - inter
    return inter / np.maximum(union, 1e-9)


Counts = dict[str, dict[str, int]]
"""Per band label: gt, gt_matched, pred, pred_matched."""


def band_counts(
    gt: np.ndarray,
    pred: np.ndarray,
    distractors: np.ndarray | None = None,
    edges: tuple[float, ...] = HEIGHT_BANDS,
) -> Counts:
    """Per band: gt, gt_matched, pred, pred_matched counts for one camera (sum them over cameras)."""
    if distractors is not None and len(distractors):
        pred = drop_distractor_matches(pred, gt, distractors)
    gt_hit, pred_hit = match_rows(gt, pred)
    gt_band = np.digitize(gt[:, 5], edges[1:-1]) if len(gt) else np.zeros(0, np.int64)
    pred_band = np.digitize(pred[:, 5], edges[1:-1]) if len(pred) else np.zeros(0, np.int64)
    out = {}
    for i, label in enumerate(band_labels(edges)):
        out[label] = {
            "gt": int(np.count_nonzero(gt_band == i)),
            "gt_matched": int(np.count_nonzero(gt_hit & (gt_band == i))),
            "pred": int(np.count_nonzero(pred_band == i)),
            "pred_matched": int(np.count_nonzero(pred_hit & (pred_band == i))),
        }
    return out


def add_counts(total: Counts, more: Counts) -> Counts:
    """Adds `more` into `total` (in place) and returns it."""
    for label, counts in more.items():
        into = total.setdefault(label, dict.fromkeys(counts, 0))
        for key, value in counts.items():
            into[key] += value
    return total


def band_rates(counts: Counts) -> dict[str, dict[str, float | int | None]]:
    """Counts -> per band recall, precision (None where the band is empty) and the GT count."""
    return {
        label: {
            "recall": c["gt_matched"] / c["gt"] if c["gt"] else None,
            "precision": c["pred_matched"] / c["pred"] if c["pred"] else None,
            "gt": c["gt"],
            "pred": c["pred"],
        }
        for label, c in counts.items()
    }
