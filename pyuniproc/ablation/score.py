"""Scoring replays with the benchmark's own evaluation (`pyuniproc.evaluation`, TrackEval inside).

`Scorer` loads a scenario's ground truth once, then scores any number of replays:
- per camera (local tracker ids): HOTA, MOTA, IDF1 — the same for every fusion setting of one stream;
- multi-camera IDF1 (global ids, all cameras pooled; Ristani et al. 2016), as `pyuniproc eval` does;
- a track-level account of fusion's decisions: each local track is given the GT person it covers
  most (IoU >= 0.5, one-to-one per frame); then "wrong merges" counts tracks of one predicted identity
  that belong to other people than its main one, and "splits" counts the extra identities a person
  was spread over (tracker fragments that fusion did not join included).
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
from scipy.optimize import linear_sum_assignment

from pyuniproc.ablation.replay import Replay
from pyuniproc.ablation.stream import TrackStream
from pyuniproc.evaluation.metrics import (
    IOU_THRESHOLD,
    Sequence,
    drop_distractor_matches,
    pooled,
    score_sequences,
)
from pyuniproc.evaluation.mot_io import load_distractors, load_ground_truth

PER_CAMERA_KEYS = (
    "HOTA", "DetA", "AssA", "MOTA", "IDF1", "Recall", "Precision", "IDSW", "IDSW_pct_gt_tracks", "Frag",
    "gt_tracks",
)
MULTI_CAMERA_KEYS = ("IDF1", "IDP", "IDR", "IDTP", "IDFP", "IDFN")


class Scorer:
    def __init__(self, scenario: str | Path, *, threshold: float = IOU_THRESHOLD) -> None:
        self.gt, self.n_frames = load_ground_truth(scenario)
        self.distractors = load_distractors(scenario)
        self.cameras = sorted(self.gt)
        self.threshold = threshold
        self._empty = np.zeros((0, 6))

    def _clean(self, rows: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        return {
            c: drop_distractor_matches(
                _one_row_per_id(rows.get(c, self._empty)), self.gt[c], self.distractors.get(c, self._empty)
            )
            for c in self.cameras
        }

    def per_camera(self, stream: TrackStream) -> dict[str, dict[str, float]]:
        local = self._clean({c: stream.camera_rows(c) for c in self.cameras if c in stream.camera_ids})
        per, combined = score_sequences(
            {c: Sequence(self.gt[c], local[c], self.n_frames.get(c, 0)) for c in self.cameras},
            threshold=self.threshold,
        )
        out = {c: {k: per[c][k] for k in PER_CAMERA_KEYS} for c in self.cameras}
        out["all"] = {k: combined[k] for k in PER_CAMERA_KEYS}
        return out

    def multi_camera(self, rows: dict[str, np.ndarray]) -> dict[str, Any]:
        clean = self._clean(rows)
        pool = pooled({c: Sequence(self.gt[c], clean[c], self.n_frames.get(c, 0)) for c in self.cameras})
        scores, _ = score_sequences({"multi_camera": pool}, threshold=self.threshold)
        mc = scores["multi_camera"]
        result = {k: mc[k] for k in MULTI_CAMERA_KEYS}
        result["errors"] = int(mc["IDFP"] + mc["IDFN"])
        result["pred_identities"] = int(len(np.unique(pool.pred[:, 1])))
        result["gt_identities"] = int(len(np.unique(pool.gt[:, 1])))
        return result

    def track_owners(self, stream: TrackStream) -> dict[tuple[str, int], int]:
        """(camera, local track) -> the GT id it covers most (tracks matching nobody are left out)."""
        owners: dict[tuple[str, int], int] = {}
        for camera in self.cameras:
            if camera not in stream.camera_ids:
                continue
            rows = stream.camera_rows(camera)
            owners.update(camera_track_owners(camera, rows, self.gt[camera], self.threshold))
        return owners

    def linking(self, replay: Replay, owners: dict[tuple[str, int], int]) -> dict[str, int]:
        """Wrong merges and splits over local tracks, by the id each track mostly showed (online)."""
        shown: dict[tuple[str, int], Counter] = {}
        for camera, rows in replay.online.items():
            for track, gid in zip(
                replay.row_track[camera].tolist(), rows[:, 1].astype(np.int64).tolist(), strict=True
            ):
                shown.setdefault((camera, track), Counter())[gid] += 1
        identity = {key: counts.most_common(1)[0][0] for key, counts in shown.items()}
        people_of: dict[int, Counter] = {}
        ids_of: dict[int, set[int]] = {}
        for key, person in owners.items():
            if key not in identity:
                continue
            people_of.setdefault(identity[key], Counter())[person] += 1
            ids_of.setdefault(person, set()).add(identity[key])
        merged = sum(sum(c.values()) - c.most_common(1)[0][1] for c in people_of.values())
        splits = sum(len(ids) - 1 for ids in ids_of.values())
        return {
            "tracks": len(owners),
            "wrong_merges": int(merged),
            "splits": int(splits),
            "people": len(ids_of),
        }


def camera_track_owners(
    camera: str, pred: np.ndarray, gt: np.ndarray, threshold: float = IOU_THRESHOLD
) -> dict[tuple[str, int], int]:
    """(camera, local track) -> the GT id the track covers in most frames (boxes matched one to one per
    frame, IoU >= threshold); tracks matching nobody are left out. pred, gt: (n, >=6) MOT rows frame,
    id, x, y, w, h."""
    person = camera_row_matches(pred, gt, threshold)
    votes: Counter = Counter(
        (int(track), int(p)) for track, p in zip(pred[:, 1].tolist(), person.tolist(), strict=True) if p >= 0
    )
    best: dict[int, tuple[int, int]] = {}
    for (track, p), n in votes.items():
        if n > best.get(track, (0, -1))[0]:
            best[track] = (n, p)
    return {(camera, track): p for track, (_, p) in best.items()}


def camera_row_matches(pred: np.ndarray, gt: np.ndarray, threshold: float = IOU_THRESHOLD) -> np.ndarray:
    """(n,) int64: the GT id each row of `pred` matches (one to one per frame by IoU, Hungarian, IoU >=
    threshold), -1 where none. pred, gt: (n, >=6) / (g, >=6) MOT rows frame, id, x, y, w, h."""
    person = np.full(len(pred), -1, np.int64)
    if not len(pred) or not len(gt):
        return person
    gt_by = _by_frame(gt)
    order = np.argsort(pred[:, 0], kind="stable")
    frames, starts = np.unique(pred[order, 0], return_index=True)
    bounds = [*starts.tolist(), len(order)]
    for i, frame in enumerate(frames.tolist()):
        g = gt_by.get(float(frame))
        if g is None:
            continue
        at = order[bounds[i] : bounds[i + 1]]
        iou = _iou_xywh(g[:, 2:6], pred[at, 2:6])
        rows, cols = linear_sum_assignment(-iou)
        good = iou[rows, cols] >= threshold
        person[at[cols[good]]] = g[rows[good], 1].astype(np.int64)
    return person


def _by_frame(rows: np.ndarray) -> dict[float, np.ndarray]:
    order = np.argsort(rows[:, 0], kind="stable")
    rows = rows[order]
    frames, starts = np.unique(rows[:, 0], return_index=True)
    bounds = list(starts) + [len(rows)]
    return {float(f): rows[bounds[i] : bounds[i + 1]] for i, f in enumerate(frames)}


def _iou_xywh(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    a2, b2 = a[:, None, :2] + a[:, None, 2:], b[None, :, :2] + b[None, :, 2:]
    tl = np.maximum(a[:, None, :2], b[None, :, :2])
    br = np.minimum(a2, b2)
    inter = np.prod(np.clip(br - tl, 0, None), axis=2)
    union = (a[:, 2] * a[:, 3])[:, None] + (b[:, 2] * b[:, 3])[None, :] - inter
    return inter / np.maximum(union, 1e-9)


def _one_row_per_id(rows: np.ndarray) -> np.ndarray:
    """Rows without a repeated (frame, id): the first of each pair is kept (relabelled offline ids can
    put two tracks of one camera under one id in one frame; TrackEval refuses that)."""
    if not len(rows):
        return rows
    _, first = np.unique(rows[:, :2], axis=0, return_index=True)
    return rows[np.sort(first)] if len(first) != len(rows) else rows
