"""ByteTrack as it was at commit f67fb98 (before the array-state rewrite), frozen: the exactness oracle.

`tests/track/test_exactness.py` checks that `pyuniproc.track.ByteTrack` returns bit-identical results
to this copy on random scenes, and `benchmarks/track/bench_tracker.py` times both side by side. One
self-contained file (its Kalman filter and matching inlined) so that later edits of `pyuniproc.track`
cannot change the reference. Not for production use.
"""

from __future__ import annotations

import enum
import inspect
from dataclasses import dataclass
from numbers import Real
from typing import Any

import numpy as np
from scipy.optimize import linear_sum_assignment

from pyuniproc.types import NO_TRACK, Detections

# --- kalman.py at f67fb98 ----------------------------------------------------------------------------
STD_WEIGHT_POSITION = 1.0 / 20
"""Position noise as a fraction of box height (process and measurement)."""
STD_WEIGHT_VELOCITY = 1.0 / 160
"""Velocity noise as a fraction of box height (process)."""


def xyxy_to_xyah(xyxy: np.ndarray) -> np.ndarray:
    """(n, 4) corners x1, y1, x2, y2 -> (n, 4) float64 centre x, centre y, width/height, height."""
    xyxy = np.asarray(xyxy, dtype=np.float64).reshape(-1, 4)
    width = xyxy[:, 2] - xyxy[:, 0]
    height = xyxy[:, 3] - xyxy[:, 1]
    # A zero-height box has no aspect ratio; treat it as square rather than divide by zero.
    aspect = np.divide(width, height, out=np.ones_like(width), where=height > 0)
    return np.stack([xyxy[:, 0] + width / 2, xyxy[:, 1] + height / 2, aspect, height], axis=1)


def xyah_to_xyxy(xyah: np.ndarray) -> np.ndarray:
    """(n, 4) centre x, centre y, width/height, height -> (n, 4) float64 corners x1, y1, x2, y2."""
    xyah = np.asarray(xyah, dtype=np.float64).reshape(-1, 4)
    height = xyah[:, 3]
    width = xyah[:, 2] * height
    return np.stack(
        [xyah[:, 0] - width / 2, xyah[:, 1] - height / 2, xyah[:, 0] + width / 2, xyah[:, 1] + height / 2],
        axis=1,
    )


class KalmanFilterXYAH:
    """Batched constant-velocity Kalman filter over xyah boxes (dt = one frame)."""

    def __init__(self) -> None:
        self._motion = np.eye(8)
        self._motion[:4, 4:] = np.eye(4)  # position += velocity each frame

    def initiate(self, xyah: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Start k tracks from their first measurements, (k, 4) -> means (k, 8), covariances (k, 8, 8).

        Velocities start at zero with a wide spread, so the second detection sets them.
        """
        xyah = np.asarray(xyah, dtype=np.float64).reshape(-1, 4)
        h = xyah[:, 3]
        ones = np.ones_like(h)
        std = np.stack(
            [
                2 * STD_WEIGHT_POSITION * h,
                2 * STD_WEIGHT_POSITION * h,
                1e-2 * ones,
                2 * STD_WEIGHT_POSITION * h,
                10 * STD_WEIGHT_VELOCITY * h,
                10 * STD_WEIGHT_VELOCITY * h,
                1e-5 * ones,
                10 * STD_WEIGHT_VELOCITY * h,
            ],
            axis=1,
        )
        mean = np.concatenate([xyah, np.zeros_like(xyah)], axis=1)
        return mean, _diag(np.square(std))

    def predict(self, mean: np.ndarray, covariance: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Advance k tracks by one frame (ByteTrack's multi_predict): (k, 8), (k, 8, 8) -> same shapes."""
        h = mean[:, 3]
        ones = np.ones_like(h)
        pos, vel = STD_WEIGHT_POSITION * h, STD_WEIGHT_VELOCITY * h
        std = np.stack([pos, pos, 1e-2 * ones, pos, vel, vel, 1e-5 * ones, vel], axis=1)
        mean = mean @ self._motion.T
        covariance = self._motion @ covariance @ self._motion.T + _diag(np.square(std))
        return mean, covariance

    def project(self, mean: np.ndarray, covariance: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """State -> measurement space with measurement noise: (k, 8), (k, 8, 8) -> (k, 4), (k, 4, 4)."""
        h = mean[:, 3]
        pos = STD_WEIGHT_POSITION * h
        std = np.stack([pos, pos, 1e-1 * np.ones_like(h), pos], axis=1)
        return mean[:, :4].copy(), covariance[:, :4, :4] + _diag(np.square(std))

    def update(
        self, mean: np.ndarray, covariance: np.ndarray, xyah: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """Correct k tracks with their matched measurements (k, 4); returns the new (k, 8), (k, 8, 8)."""
        projected_mean, projected_cov = self.project(mean, covariance)
        # Kalman gain K = P H^T S^-1; with H = [I 0], H P = P[:, :4, :] and S symmetric,
        # so K^T = S^-1 (H P), solved for all tracks at once.
        gain = np.linalg.solve(projected_cov, covariance[:, :4, :]).transpose(0, 2, 1)  # (k, 8, 4)
        innovation = np.asarray(xyah, dtype=np.float64).reshape(-1, 4) - projected_mean
        new_mean = mean + np.einsum("kij,kj->ki", gain, innovation)
        new_covariance = covariance - gain @ projected_cov @ gain.transpose(0, 2, 1)
        return new_mean, new_covariance


def _diag(values: np.ndarray) -> np.ndarray:
    """(k, d) -> (k, d, d) diagonal matrices."""
    k, d = values.shape
    out = np.zeros((k, d, d), dtype=np.float64)
    out[:, np.arange(d), np.arange(d)] = values
    return out


# --- matching.py at f67fb98 --------------------------------------------------------------------------
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


# --- bytetrack.py at f67fb98 -------------------------------------------------------------------------
DUPLICATE_IOU_COST = 0.15
"""A tracked and a lost track closer than this in 1 - IoU are one person; the younger is dropped."""


class TrackState(enum.Enum):
    NEW = "new"  # started from one detection, not yet confirmed by a second frame
    TRACKED = "tracked"  # matched to a detection on the last frame with a detector run
    LOST = "lost"  # unmatched; kept for `lost_track_buffer` frames, moving by its motion model
    REMOVED = "removed"  # gone for good


@dataclass(eq=False)
class _Track:
    mean: np.ndarray  # (8,) float64 Kalman state x, y, a, h, vx, vy, va, vh
    covariance: np.ndarray  # (8, 8) float64
    score: float  # confidence of the last matched detection
    class_id: int  # class of the last matched detection
    start_frame: int
    last_frame: int  # last frame a detection matched it
    state: TrackState
    track_id: int = NO_TRACK  # public id, given the first time the track is reported
    consecutive_hits: int = 1  # frames in a row with a matched detection
    detection_index: int = -1  # input row matched on the current frame, -1 if none

    @property
    def xyxy(self) -> np.ndarray:
        """(4,) float64 corners of the current state."""
        return xyah_to_xyxy(self.mean[:4])[0]


class ReferenceByteTrack:
    """ByteTrack over `Detections`, one instance per camera.

    Args (keyword only):
        track_high_threshold: detections scoring strictly above it enter the first association.
            Raising it keeps doubtful boxes out of the main match (fewer false tracks) but leaves more
            people to the weaker IoU-only second stage; lowering it does the opposite.
        track_low_threshold: detections scoring above it (and not above the high threshold) enter the
            second association. Lowering it rescues more occluded people; raising it to the high
            threshold disables the second stage (plain SORT-like tracking).
        new_track_threshold: minimum score for an unmatched detection to start a track, at least
            `track_high_threshold`. Raising it means fewer tracks born from false positives, but
            people are picked up later; lowering it the opposite.
        match_iou_threshold: largest cost (1 - IoU, or 1 - IoU * score when fused) accepted in the
            first association. Raising it lets fast or jittery boxes keep their track but risks
            swaps in crowds; lowering it the opposite.
        second_match_iou_threshold: largest 1 - IoU in the second association (low-score boxes);
            kept stricter because those boxes are less reliable.
        unconfirmed_match_iou_threshold: largest cost for confirming a one-frame track.
        lost_track_buffer: frames (at 30 fps) a lost track is kept for re-identification by motion.
            Raising it bridges longer occlusions but can revive a track on a different person;
            lowering it the opposite.
        frame_rate: the stream's frames per second; the buffer scales by frame_rate / 30.
        fuse_score: multiply IoU by detection score in the first and unconfirmed associations
            (ByteTrack's MOT17 setting). Helps pick the right box among overlapping ones; turn off
            for very crowded scenes where scores are uniformly low (ByteTrack's MOT20 setting).
        minimum_consecutive_frames: frames in a row with a detection before a track is reported.
            Raising it hides flickering false positives at the cost of reporting people later.
    """

    def __init__(
        self,
        *,
        track_high_threshold: float = 0.6,
        track_low_threshold: float = 0.1,
        new_track_threshold: float = 0.7,
        match_iou_threshold: float = 0.8,
        second_match_iou_threshold: float = 0.5,
        unconfirmed_match_iou_threshold: float = 0.7,
        lost_track_buffer: int = 30,
        frame_rate: float = 30,
        fuse_score: bool = True,
        minimum_consecutive_frames: int = 1,
    ) -> None:
        _check_fraction("track_high_threshold", track_high_threshold)
        _check_fraction("track_low_threshold", track_low_threshold)
        _check_fraction("new_track_threshold", new_track_threshold)
        if track_low_threshold > track_high_threshold:
            raise ValueError(
                f"track_low_threshold={track_low_threshold!r} must not exceed "
                f"track_high_threshold={track_high_threshold!r}"
            )
        if new_track_threshold < track_high_threshold:
            raise ValueError(
                f"new_track_threshold={new_track_threshold!r} is below track_high_threshold="
                f"{track_high_threshold!r}; only high-score detections can start tracks, so it would "
                "have no effect - lower track_high_threshold instead"
            )
        for name, value in (
            ("match_iou_threshold", match_iou_threshold),
            ("second_match_iou_threshold", second_match_iou_threshold),
            ("unconfirmed_match_iou_threshold", unconfirmed_match_iou_threshold),
        ):
            _check_fraction(name, value)
            if value == 0:
                raise ValueError(f"{name}={value!r} must be above 0 (0 would never match)")
        _check_int("lost_track_buffer", lost_track_buffer, minimum=0)
        if not isinstance(frame_rate, Real) or isinstance(frame_rate, bool) or not frame_rate > 0:
            raise ValueError(f"frame_rate={frame_rate!r} must be a number above 0")
        if not isinstance(fuse_score, (bool, np.bool_)):
            raise ValueError(f"fuse_score={fuse_score!r} must be True or False")
        _check_int("minimum_consecutive_frames", minimum_consecutive_frames, minimum=1)

        self.track_high_threshold = float(track_high_threshold)
        self.track_low_threshold = float(track_low_threshold)
        self.new_track_threshold = float(new_track_threshold)
        self.match_iou_threshold = float(match_iou_threshold)
        self.second_match_iou_threshold = float(second_match_iou_threshold)
        self.unconfirmed_match_iou_threshold = float(unconfirmed_match_iou_threshold)
        self.lost_track_buffer = int(lost_track_buffer)
        self.frame_rate = float(frame_rate)
        self.fuse_score = bool(fuse_score)
        self.minimum_consecutive_frames = int(minimum_consecutive_frames)
        self.max_frames_lost = int(self.frame_rate / 30.0 * self.lost_track_buffer)
        """Frames a lost track survives after its last match: lost_track_buffer scaled to frame_rate."""
        self._kalman = KalmanFilterXYAH()
        self.reset()

    def reconfigure(self, **options: Any) -> None:
        """Apply new settings to a running tracker, keeping its tracks and id counter.

        The options are checked exactly as the constructor checks them (a bad value raises
        ValueError and changes nothing). Public attributes are settings; state is private.
        """
        current = {name: getattr(self, name) for name in _OPTION_NAMES}
        fresh = ReferenceByteTrack(**{**current, **options})
        for name, value in vars(fresh).items():
            if not name.startswith("_"):
                setattr(self, name, value)

    def reset(self) -> None:
        """Forget every track and restart ids at 1 (e.g. when the camera's stream restarts)."""
        self._tracks: list[_Track] = []  # every track not REMOVED
        self._frame_index = 0
        self._next_id = 1

    @property
    def active_track_count(self) -> int:
        """Tracks in state Tracked (matched on the last detector frame), reported or not yet."""
        return sum(t.state is TrackState.TRACKED for t in self._tracks)

    def update(self, detections: Detections) -> Detections:
        """Associate one frame's detections and return the tracked people.

        Returns one row per reported track in state Tracked, ordered by tracker_id: `xyxy` is the
        Kalman-corrected box, `confidence` and `class_id` those of the matched detection, `data`
        the matched input rows' columns plus `data["detection_index"]` (n,) int64, the input row
        each output row matched (an input column of that name is overwritten).
        """
        self._frame_index += 1
        self._begin_frame()
        scores = detections.confidence
        high_rows = np.flatnonzero(scores > self.track_high_threshold)
        low_rows = np.flatnonzero((scores > self.track_low_threshold) & (scores <= self.track_high_threshold))

        # Predict where every confirmed track is now.
        self._predict()
        confirmed = [t for t in self._tracks if t.state in (TrackState.TRACKED, TrackState.LOST)]
        unconfirmed = [t for t in self._tracks if t.state is TrackState.NEW]

        # First association: tracked and lost tracks against confident detections.
        confirmed_left, high_rows = self._associate(
            confirmed, detections, high_rows, self.match_iou_threshold, self.fuse_score
        )

        # Second association: still-tracked leftovers against low-score boxes, by overlap alone.
        tracked_left = [t for t in confirmed_left if t.state is TrackState.TRACKED]
        tracked_left, _ = self._associate(
            tracked_left, detections, low_rows, self.second_match_iou_threshold, fuse=False
        )
        for track in tracked_left:
            track.state = TrackState.LOST
            track.consecutive_hits = 0

        # Unconfirmed tracks: a second sighting confirms them, none removes them.
        unconfirmed_left, high_rows = self._associate(
            unconfirmed, detections, high_rows, self.unconfirmed_match_iou_threshold, self.fuse_score
        )
        for track in unconfirmed_left:
            track.state = TrackState.REMOVED

        # New tracks from confident detections nobody claimed.
        new_rows = high_rows[detections.confidence[high_rows] >= self.new_track_threshold]
        self._start_tracks(detections, new_rows)

        # Remove stale lost tracks and duplicates.
        self._remove_stale_lost()
        self._remove_duplicates()
        return self._report(detections)

    def predict_only(self) -> Detections:
        """Advance one frame without a detector run: tracks coast on their motion model.

        Nothing is created, confirmed or marked lost; lost tracks still age out. Returns the
        reported tracked tracks at their predicted boxes with their last confidence and class,
        `data` holding only `detection_index`, all -1.
        """
        self._frame_index += 1
        self._begin_frame()
        self._predict()
        self._remove_stale_lost()
        return self._report(None)

    # --- steps -------------------------------------------------------------------------------

    def _begin_frame(self) -> None:
        self._tracks = [t for t in self._tracks if t.state is not TrackState.REMOVED]
        for track in self._tracks:
            track.detection_index = -1

    def _predict(self) -> None:
        """Move tracked and lost tracks one frame along their motion model (one batched predict).

        As the reference, New tracks are left as they are: with no velocity yet their box would
        not move, and skipping them keeps results identical to the reference implementation.
        """
        tracks = [t for t in self._tracks if t.state in (TrackState.TRACKED, TrackState.LOST)]
        if not tracks:
            return
        mean = np.stack([t.mean for t in tracks])
        covariance = np.stack([t.covariance for t in tracks])
        # As the reference: a lost track keeps its size, so it does not shrink or grow away.
        lost = np.array([t.state is TrackState.LOST for t in tracks])
        mean[lost, 7] = 0.0
        mean, covariance = self._kalman.predict(mean, covariance)
        for track, m, c in zip(tracks, mean, covariance, strict=True):
            track.mean, track.covariance = m, c

    def _associate(
        self, tracks: list[_Track], detections: Detections, rows: np.ndarray, max_cost: float, fuse: bool
    ) -> tuple[list[_Track], np.ndarray]:
        """Match `tracks` to detection `rows` (k,), update the matched; return the unmatched of each."""
        if not tracks or len(rows) == 0:
            return list(tracks), rows
        track_boxes = np.stack([t.xyxy for t in tracks])
        similarity = box_iou(track_boxes, detections.xyxy[rows])
        if fuse:
            similarity = fuse_score(similarity, detections.confidence[rows])
        matches, unmatched_tracks, unmatched_rows = linear_assignment(1.0 - similarity, max_cost)
        self._update_tracks([tracks[i] for i in matches[:, 0]], detections, rows[matches[:, 1]])
        return [tracks[i] for i in unmatched_tracks], rows[unmatched_rows]

    def _update_tracks(self, tracks: list[_Track], detections: Detections, rows: np.ndarray) -> None:
        """Correct matched tracks with their detections (one batched Kalman update); all become Tracked."""
        if not tracks:
            return
        mean, covariance = self._kalman.update(
            np.stack([t.mean for t in tracks]),
            np.stack([t.covariance for t in tracks]),
            xyxy_to_xyah(detections.xyxy[rows]),
        )
        for track, m, c, row in zip(tracks, mean, covariance, rows, strict=True):
            track.mean, track.covariance = m, c
            track.consecutive_hits += 1
            track.state = TrackState.TRACKED  # confirms a New track, re-finds a Lost one
            self._mark_matched(track, detections, int(row))

    def _start_tracks(self, detections: Detections, rows: np.ndarray) -> None:
        """One New track per row; on the stream's first frame they are trusted at once, as the reference."""
        if len(rows) == 0:
            return
        mean, covariance = self._kalman.initiate(xyxy_to_xyah(detections.xyxy[rows]))
        state = TrackState.TRACKED if self._frame_index == 1 else TrackState.NEW
        for m, c, row in zip(mean, covariance, rows, strict=True):
            track = _Track(m, c, 0.0, 0, self._frame_index, self._frame_index, state)
            self._mark_matched(track, detections, int(row))
            self._tracks.append(track)

    def _mark_matched(self, track: _Track, detections: Detections, row: int) -> None:
        track.score = float(detections.confidence[row])
        track.class_id = int(detections.class_id[row])
        track.last_frame = self._frame_index
        track.detection_index = row

    def _remove_stale_lost(self) -> None:
        for track in self._tracks:
            if track.state is TrackState.LOST and self._frame_index - track.last_frame > self.max_frames_lost:
                track.state = TrackState.REMOVED

    def _remove_duplicates(self) -> None:
        """A tracked (or new) and a lost track on the same spot are one person: keep the older."""
        current = [t for t in self._tracks if t.state in (TrackState.TRACKED, TrackState.NEW)]
        lost = [t for t in self._tracks if t.state is TrackState.LOST]
        if not current or not lost:
            return
        cost = 1.0 - box_iou(np.stack([t.xyxy for t in current]), np.stack([t.xyxy for t in lost]))
        for i, j in zip(*np.nonzero(cost < DUPLICATE_IOU_COST), strict=True):
            a, b = current[i], lost[j]
            younger = b if a.last_frame - a.start_frame > b.last_frame - b.start_frame else a
            younger.state = TrackState.REMOVED

    def _report(self, detections: Detections | None) -> Detections:
        """Reportable tracked tracks as Detections; the first report of a track gives it its id."""
        reported = [
            t
            for t in self._tracks
            if t.state is TrackState.TRACKED
            and (t.track_id != NO_TRACK or t.consecutive_hits >= self.minimum_consecutive_frames)
        ]
        for track in reported:
            if track.track_id == NO_TRACK:
                track.track_id = self._next_id
                self._next_id += 1
        reported.sort(key=lambda t: t.track_id)
        rows = np.array([t.detection_index for t in reported], dtype=np.int64)
        data = {} if detections is None else {k: v[rows] for k, v in detections.data.items()}
        data["detection_index"] = rows
        xyxy = xyah_to_xyxy(np.stack([t.mean[:4] for t in reported])) if reported else np.zeros((0, 4))
        return Detections(
            xyxy=xyxy,
            confidence=np.array([t.score for t in reported], dtype=np.float32),
            class_id=np.array([t.class_id for t in reported], dtype=np.int32),
            tracker_id=np.array([t.track_id for t in reported], dtype=np.int64),
            data=data,
        )


def _check_fraction(name: str, value: object) -> None:
    if not isinstance(value, Real) or isinstance(value, bool) or not 0.0 <= float(value) <= 1.0:
        raise ValueError(f"{name}={value!r} must be a number in [0, 1]")


def _check_int(name: str, value: object, minimum: int) -> None:
    if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < minimum:
        raise ValueError(f"{name}={value!r} must be an integer >= {minimum}")


_OPTION_NAMES = tuple(
    name for name in inspect.signature(ReferenceByteTrack.__init__).parameters if name != "self"
)
