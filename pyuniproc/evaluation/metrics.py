"""Tracking scores from TrackEval's own metric classes (HOTA, CLEAR, Identity), fed with data
we prepare: per time step the GT and predicted ids (renumbered 0..n-1, as TrackEval requires)
and their IoU matrix from TrackEval's own box IoU helper.

GT rows of distractors (people drawn but mostly hidden) are not scored, and predicted boxes that
match them are dropped first, exactly as TrackEval's MOTChallenge preprocessing does (Hungarian
matching at IoU 0.5 against all GT of the frame; see `drop_distractor_matches`).

Per camera: one sequence per camera (time step = frame). Multi-camera: all cameras pooled into
one sequence whose time steps are (camera, frame) pairs (camera after camera), ids = global ids,
which is the multi-camera IDF1 of Ristani et al. 2016 and the AI City Challenge MTMC track: a
predicted identity gets credit only for the boxes of the one GT person it is matched to, across
every camera.
"""

from __future__ import annotations

import contextlib
import functools
import io
from dataclasses import dataclass
from types import SimpleNamespace
from typing import TYPE_CHECKING

import numpy as np
from scipy.optimize import linear_sum_assignment

from pyuniproc.extras import require

if TYPE_CHECKING:
    from trackeval.metrics import CLEAR, HOTA, Identity

IOU_THRESHOLD = 0.5


@functools.cache
def load_trackeval() -> SimpleNamespace:
    """TrackEval's metric classes and box IoU, imported on first use: TrackEval is the optional `eval`
    extra, so importing this module (and `pyuniproc --help`) works without it."""
    require("trackeval", feature="scoring against ground truth (pyuniproc eval, report --gt, ablation)")
    with contextlib.redirect_stdout(io.StringIO()):  # TrackEval reports optional datasets it can't load
        from trackeval.datasets._base_dataset import _BaseDataset
        from trackeval.metrics import CLEAR, HOTA, Identity
    return SimpleNamespace(box_ious=_BaseDataset._calculate_box_ious, CLEAR=CLEAR, HOTA=HOTA,
                           Identity=Identity)


@dataclass(frozen=True)
class Sequence:
    """Boxes of one scored sequence. Rows: frame (1-based time step), id, x, y, w, h."""

    gt: np.ndarray
    pred: np.ndarray
    n_frames: int


def _metrics(threshold: float) -> tuple[HOTA, CLEAR, Identity]:
    # HOTA integrates over its own IoU thresholds 0.05..0.95; CLEAR and Identity use `threshold`.
    trackeval = load_trackeval()
    return (
        trackeval.HOTA({"PRINT_CONFIG": False}),
        trackeval.CLEAR({"THRESHOLD": threshold, "PRINT_CONFIG": False}),
        trackeval.Identity({"THRESHOLD": threshold, "PRINT_CONFIG": False}),
    )


def trackeval_data(seq: Sequence, name: str = "sequence") -> dict:
    """The dict TrackEval's metrics' eval_sequence() reads."""
    n_frames = int(max(seq.n_frames, seq.gt[:, 0].max(initial=0), seq.pred[:, 0].max(initial=0)))
    for label, rows in (("ground truth", seq.gt), ("prediction", seq.pred)):
        if len(rows) and rows[:, 0].min() < 1:
            raise ValueError(f"{name}: {label} has frame {rows[:, 0].min():g}; frames are 1-based")
        if len(rows):
            keys = rows[:, 0].astype(np.int64) * (1 << 40) + _dense(rows[:, 1])
            unique, counts = np.unique(keys, return_counts=True)
            if (counts > 1).any():
                dup = int(unique[counts > 1][0] >> 40)
                raise ValueError(f"{name}: {label} repeats an id within frame {dup}")
    gt_ids, pred_ids = _dense(seq.gt[:, 1]), _dense(seq.pred[:, 1])
    gt_t = seq.gt[:, 0].astype(np.int64) - 1
    pred_t = seq.pred[:, 0].astype(np.int64) - 1
    gt_order, pred_order = np.argsort(gt_t, kind="stable"), np.argsort(pred_t, kind="stable")
    gt_split = np.searchsorted(gt_t[gt_order], np.arange(n_frames + 1))
    pred_split = np.searchsorted(pred_t[pred_order], np.arange(n_frames + 1))
    data = {
        "num_timesteps": n_frames,
        "gt_ids": [],
        "tracker_ids": [],
        "similarity_scores": [],
        "num_gt_dets": int(len(seq.gt)),
        "num_tracker_dets": int(len(seq.pred)),
        "num_gt_ids": int(gt_ids.max(initial=-1) + 1),
        "num_tracker_ids": int(pred_ids.max(initial=-1) + 1),
        "seq": name,
    }
    box_ious = load_trackeval().box_ious
    for t in range(n_frames):
        g = gt_order[gt_split[t] : gt_split[t + 1]]
        p = pred_order[pred_split[t] : pred_split[t + 1]]
        data["gt_ids"].append(gt_ids[g])
        data["tracker_ids"].append(pred_ids[p])
        data["similarity_scores"].append(
            box_ious(seq.gt[g, 2:6], seq.pred[p, 2:6], box_format="xywh")
        )
    return data


def _dense(ids: np.ndarray) -> np.ndarray:
    """Ids renumbered 0..k-1 in order of value."""
    return np.unique(ids, return_inverse=True)[1].astype(np.int64).reshape(-1)


def score_sequences(
    sequences: dict[str, Sequence],
    *,
    threshold: float = IOU_THRESHOLD,
) -> tuple[dict[str, dict], dict]:
    """Per-sequence summaries and the combined summary (TrackEval's combine_sequences)."""
    hota, clear, identity = _metrics(threshold)
    raw: dict[str, dict[str, dict]] = {"HOTA": {}, "CLEAR": {}, "Identity": {}}
    per: dict[str, dict] = {}
    for name, seq in sequences.items():
        data = trackeval_data(seq, name)
        raw["HOTA"][name] = hota.eval_sequence(data)
        raw["CLEAR"][name] = clear.eval_sequence(data)
        raw["Identity"][name] = identity.eval_sequence(data)
        per[name] = summarise(
            raw["HOTA"][name], raw["CLEAR"][name], raw["Identity"][name], gt_tracks=data["num_gt_ids"]
        )
    combined = {}
    if len(sequences) > 1:
        combined = summarise(
            hota.combine_sequences(raw["HOTA"]),
            clear.combine_sequences(raw["CLEAR"]),
            identity.combine_sequences(raw["Identity"]),
            gt_tracks=sum(v["gt_tracks"] for v in per.values()),
        )
    elif per:
        combined = next(iter(per.values()))
    return per, combined


def summarise(hota: dict, clear: dict, identity: dict, *, gt_tracks: int) -> dict:
    """Plain floats and ints: HOTA-family values averaged over HOTA's IoU thresholds."""
    idsw = int(clear["IDSW"])
    return {
        "HOTA": float(np.mean(hota["HOTA"])),
        "DetA": float(np.mean(hota["DetA"])),
        "AssA": float(np.mean(hota["AssA"])),
        "LocA": float(np.mean(hota["LocA"])),
        "MOTA": float(clear["MOTA"]),
        "MOTP": float(clear["MOTP"]),
        "IDF1": float(identity["IDF1"]),
        "IDP": float(identity["IDP"]),
        "IDR": float(identity["IDR"]),
        "IDSW": idsw,
        "IDSW_pct_gt_tracks": 100.0 * idsw / gt_tracks if gt_tracks else 0.0,
        "Recall": float(clear["CLR_Re"]),
        "Precision": float(clear["CLR_Pr"]),
        "TP": int(clear["CLR_TP"]),
        "FP": int(clear["CLR_FP"]),
        "FN": int(clear["CLR_FN"]),
        "MT": int(clear["MT"]),
        "PT": int(clear["PT"]),
        "ML": int(clear["ML"]),
        "Frag": int(clear["Frag"]),
        "IDTP": int(identity["IDTP"]),
        "IDFP": int(identity["IDFP"]),
        "IDFN": int(identity["IDFN"]),
        "gt_tracks": int(gt_tracks),
    }


def pooled(sequences: dict[str, Sequence]) -> Sequence:
    """All cameras as one sequence: camera after camera, frames offset by the cameras before."""
    gts, preds, offset = [], [], 0
    for name in sorted(sequences):
        seq = sequences[name]
        n = int(max(seq.n_frames, seq.gt[:, 0].max(initial=0), seq.pred[:, 0].max(initial=0)))
        for rows, out in ((seq.gt, gts), (seq.pred, preds)):
            shifted = rows.copy()
            shifted[:, 0] += offset
            out.append(shifted)
        offset += n
    return Sequence(
        np.concatenate(gts) if gts else np.zeros((0, 6)),
        np.concatenate(preds) if preds else np.zeros((0, 6)),
        offset,
    )


def drop_distractor_matches(pred: np.ndarray, gt: np.ndarray, distractors: np.ndarray) -> np.ndarray:
    """`pred` without the boxes that TrackEval's MOTChallenge preprocessing removes: per frame,
    predictions and all GT boxes (scored and distractor) are matched one to one by the Hungarian
    algorithm on IoU (pairs below 0.5 not allowed); predictions matched to a distractor go.
    Rows are frame, id, x, y, w, h."""
    if not len(pred) or not len(distractors):
        return pred
    keep = np.ones(len(pred), bool)
    eps = np.finfo(float).eps
    for frame in np.intersect1d(pred[:, 0], distractors[:, 0]):
        p = np.nonzero(pred[:, 0] == frame)[0]
        scored = gt[gt[:, 0] == frame, 2:6]
        boxes = np.concatenate([scored, distractors[distractors[:, 0] == frame, 2:6]])
        iou = load_trackeval().box_ious(boxes, pred[p, 2:6], box_format="xywh")
        iou[iou < 0.5 - eps] = 0
        rows, cols = linear_sum_assignment(-iou)
        matched = iou[rows, cols] > eps
        keep[p[cols[matched & (rows >= len(scored))]]] = False
    return pred[keep]


def evaluate(
    gt: dict[str, np.ndarray],
    local: dict[str, np.ndarray],
    global_rows: dict[str, np.ndarray] | None,
    n_frames: dict[str, int],
    *,
    threshold: float = IOU_THRESHOLD,
    distractors: dict[str, np.ndarray] | None = None,
) -> dict:
    """Per camera scores, all cameras combined, and (if global ids are given) multi-camera scores.
    `distractors`: per camera GT rows not scored, whose matching predictions are dropped."""
    cameras = sorted(gt)
    if distractors:
        empty = np.zeros((0, 6))
        local = {c: drop_distractor_matches(local.get(c, empty), gt[c], distractors.get(c, empty))
                 for c in cameras}
        if global_rows is not None:
            global_rows = {
                c: drop_distractor_matches(global_rows.get(c, empty), gt[c], distractors.get(c, empty))
                for c in cameras
            }
    per_camera, combined = score_sequences(
        {c: Sequence(gt[c], local.get(c, np.zeros((0, 6))), n_frames.get(c, 0)) for c in cameras},
        threshold=threshold,
    )
    result = {"cameras": per_camera, "combined": combined, "multi_camera": None, "iou_threshold": threshold}
    if global_rows is not None:
        pool = pooled(
            {c: Sequence(gt[c], global_rows.get(c, np.zeros((0, 6))), n_frames.get(c, 0)) for c in cameras}
        )
        scores, _ = score_sequences({"multi_camera": pool}, threshold=threshold)
        mc = scores["multi_camera"]
        result["multi_camera"] = {
            k: mc[k]
            for k in ("IDF1", "IDP", "IDR", "IDTP", "IDFP", "IDFN", "HOTA", "AssA", "DetA", "gt_tracks")
        }
        result["multi_camera"]["pred_identities"] = int(len(np.unique(pool.pred[:, 1])))
    return result
