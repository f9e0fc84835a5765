"""ByteTrack (Zhang et al., ECCV 2022): associate every detection box, not only the confident ones.

Each frame, after the motion model predicts where every track is:
  1. first association: tracked and lost tracks against high-score detections (IoU, fused with score);
  2. second association: tracks still unmatched, if tracked, against low-score detections (plain IoU) -
     occluded or blurred people score low, and this keeps their track instead of losing it;
  3. unconfirmed (one-frame) tracks against the high-score detections left over;
  4. new tracks from the high-score detections still left;
  5. lost tracks older than the buffer are removed, and overlapping tracked/lost duplicates resolved.

Optional weak starts (`weak_start_threshold`, off by default; not in the reference): a person who is
never seen confidently - behind a fence, a railing, a counter - scores below `new_track_threshold` on
every frame and never gets a track. With weak starts such a detection starts a hidden candidate that
must be found again on each of the next frames (by any box above `track_low_threshold`) and must walk
`weak_start_motion` of its height from where it started before it becomes a track: scenery that the
detector mistakes for a person stands still, people walking do not. Weak evidence also re-finds lost
tracks (step 2 for lost tracks too), so a person behind the fence keeps one id across short gaps.

Optional completion of squat boxes (`squat_box_aspect`, off by default; not in the reference): a box
much squatter than a standing person is a person whose legs are hidden (behind a fence, a railing); it
is extended downward to a person's shape before it is matched (pyuniproc/track/partial.py), so the
track follows the whole person rather than the occluder's edge.

Optional observation-centric occlusion rules from OC-SORT (all off by default; not in the reference;
pyuniproc/track/occlusion.py): momentum (`momentum_weight`, `momentum_frames`) adds to the first
association a bonus for detections that continue a track's observed direction, so two people crossing
keep their own tracks; re-update (`observation_reupdate`) re-runs a re-found track's filter along a
straight path from its last observation, so its velocity is not what coasting left it; recovery
(`recovery_match_iou_threshold`) matches tracks still unclaimed by their last observed box.

One instance per camera: all state, the track-ID counter included, lives on the instance, the tracks
as one column table (`_TrackTable`) so that each step is a few whole-array numpy calls - a GPU worker
tracks thousands of frames a second on the host, and per-track objects made tracking most of its CPU.
Results are bit-identical to the object-per-track version (tests/track/test_exactness.py).
Class-agnostic, like the reference: a person's class never changes.
"""

from __future__ import annotations

import enum
import inspect
from dataclasses import replace
from numbers import Real
from typing import Any

import numpy as np

from pyuniproc.track import occlusion
from pyuniproc.track.kalman import KalmanFilterXYAH, xyah_to_xyxy, xyxy_to_xyah
from pyuniproc.track.matching import box_iou, fuse_score, linear_assignment
from pyuniproc.track.partial import check_aspects, complete_squat_boxes
from pyuniproc.types import NO_TRACK, Detections

DUPLICATE_IOU_COST = 0.15
"""A tracked and a lost track closer than this in 1 - IoU are one person; the younger is dropped."""
WEAK_START_MAX_OVERLAP = 0.3
"""An unsure box overlapping a live track more than this (IoU) is part of that person, not a new one."""
OBSERVATION_HISTORY = 10
"""Observed boxes kept per track for the momentum rule: the most `momentum_frames` may be."""


class TrackState(enum.Enum):
    NEW = "new"  # started from one detection, not yet confirmed by a second frame
    TRACKED = "tracked"  # matched to a detection on the last frame with a detector run
    LOST = "lost"  # unmatched; kept for `lost_track_buffer` frames, moving by its motion model
    REMOVED = "removed"  # gone for good


_NEW, _TRACKED, _LOST, _REMOVED = 0, 1, 2, 3
"""`TrackState` as the int8 codes of the track table."""
_STATE_OF_CODE = (TrackState.NEW, TrackState.TRACKED, TrackState.LOST, TrackState.REMOVED)


class _TrackTable:
    """Every track of one camera as column arrays, one row per track, in the order tracks started.

    Why columns instead of one object per track: a frame touches each track a few times, and with a
    handful of tracks per camera numpy's per-call overhead, not arithmetic, is the cost - stacking
    per-track arrays was most of the old tracker's time. Row order is the reference's list order, so
    matching ties and id order come out the same.
    """

    COLUMNS = (
        "mean",  # (n, 8) float64 Kalman state x, y, a, h, vx, vy, va, vh
        "covariance",  # (n, 8, 8) float64
        "score",  # (n,) float32 confidence of the last matched detection
        "class_id",  # (n,) int32 class of the last matched detection
        "start_frame",  # (n,) int64
        "last_frame",  # (n,) int64 last frame a detection matched it
        "state",  # (n,) int8 _NEW / _TRACKED / _LOST / _REMOVED
        "track_id",  # (n,) int64 public id, given the first time the track is reported, else NO_TRACK
        "hits",  # (n,) int64 frames in a row with a matched detection
        "detection_index",  # (n,) int64 input row matched on the current frame, -1 if none
        "weak",  # (n,) bool started below new_track_threshold: confirmed by the weak-start rule only
        "origin",  # (n, 2) float64 box centre x, y where the track started
        "observed_mean",  # (n, 8) float64 Kalman state right after the last matched detection
        "observed_covariance",  # (n, 8, 8) float64 its covariance
        "history_xyxy",  # (n, OBSERVATION_HISTORY, 4) float64 last matched boxes, newest first
        "history_frame",  # (n, OBSERVATION_HISTORY) int64 their frames, -1 where none
        "direction",  # (n, 2) float64 unit (dx, dy) of the observed walk, (0, 0) if unknown
    )

    def __init__(self) -> None:
        self.mean = np.zeros((0, 8))
        self.covariance = np.zeros((0, 8, 8))
        self.score = np.zeros(0, np.float32)
        self.class_id = np.zeros(0, np.int32)
        self.start_frame = np.zeros(0, np.int64)
        self.last_frame = np.zeros(0, np.int64)
        self.state = np.zeros(0, np.int8)
        self.track_id = np.zeros(0, np.int64)
        self.hits = np.zeros(0, np.int64)
        self.detection_index = np.zeros(0, np.int64)
        self.weak = np.zeros(0, bool)
        self.origin = np.zeros((0, 2))
        self.observed_mean = np.zeros((0, 8))
        self.observed_covariance = np.zeros((0, 8, 8))
        self.history_xyxy = np.zeros((0, OBSERVATION_HISTORY, 4))
        self.history_frame = np.zeros((0, OBSERVATION_HISTORY), np.int64)
        self.direction = np.zeros((0, 2))

    def __len__(self) -> int:
        return len(self.state)

    def append(self, **columns: np.ndarray) -> None:
        """New rows at the end; every column given, k rows each."""
        for name in self.COLUMNS:
            setattr(self, name, np.concatenate([getattr(self, name), columns[name]]))

    def drop_removed(self) -> None:
        keep = self.state != _REMOVED
        if not keep.all():
            for name in self.COLUMNS:
                setattr(self, name, getattr(self, name)[keep])


class ByteTrack:
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
        weak_start_threshold: None (off, the reference) or the least score at which a detection no
            track claimed starts a weak candidate (at least track_low_threshold, below
            new_track_threshold). Lowering it finds more people the detector is unsure of (behind
            fences, in crowds) at the risk of tracks on moving false boxes.
        weak_start_frames: frames in a row a weak candidate must be found (it is dropped at its
            first miss) before it can become a track.
        weak_start_motion: how far, in its own box heights, a weak candidate's centre must have moved
            from where it started before it becomes a track (0: no motion needed).
        squat_box_aspect: None (off, the reference) or a height in widths: a detection box squatter
            than this (and not cut by the frame's top edge) is taken for a person whose lower body is
            hidden and is extended downward before matching. Raising it completes more boxes (also
            those of people who merely look wide: bent, carrying something, two side by side);
            lowering it completes only clear head-and-shoulder boxes.
        completed_box_aspect: the height, in widths, a squat box is extended to (at least
            squat_box_aspect). A standing person's box is ~2-3 widths tall; too high overshoots the
            feet, too low stops short of them.
        momentum_weight: 0 (off, the reference) or OC-SORT's momentum weight (its "inertia", 0.2 there):
            in the first association a detection continuing a track's observed direction costs up to
            weight / 2 less, one turning back up to weight / 2 more (times its score); the IoU gate is
            unchanged. Raising it holds crossing people on their tracks more firmly, but a person who
            really turns round is matched less readily.
        momentum_frames: frames between the two observations that give a track's direction (OC-SORT's
            delta_t, 3 there), 1 to OBSERVATION_HISTORY. More frames average out box jitter, fewer
            follow turns sooner.
        observation_reupdate: re-run a re-found track's filter along a straight path from its last
            observation to the new one (OC-SORT's ORU) instead of one update from where it coasted to.
        recovery_match_iou_threshold: None (off, the reference) or the largest 1 - IoU between a track's
            last observed box and a confident detection in a last association of tracks and boxes
            nobody claimed (OC-SORT's OCR; 0.7 there). Raising it re-finds more people who stopped
            while hidden, at the risk of giving a passer-by their id.
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
        weak_start_threshold: float | None = None,
        weak_start_frames: int = 5,
        weak_start_motion: float = 0.5,
        squat_box_aspect: float | None = None,
        completed_box_aspect: float = 2.2,
        momentum_weight: float = 0.0,
        momentum_frames: int = 3,
        observation_reupdate: bool = False,
        recovery_match_iou_threshold: float | None = None,
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
        if weak_start_threshold is not None:
            _check_fraction("weak_start_threshold", weak_start_threshold)
            if not track_low_threshold <= weak_start_threshold < new_track_threshold:
                raise ValueError(
                    f"weak_start_threshold={weak_start_threshold!r} must be at least track_low_threshold="
                    f"{track_low_threshold!r} and below new_track_threshold={new_track_threshold!r} "
                    "(or null to switch weak starts off)"
                )
        _check_int("weak_start_frames", weak_start_frames, minimum=2)
        motion_ok = isinstance(weak_start_motion, Real) and not isinstance(weak_start_motion, bool)
        if not motion_ok or weak_start_motion < 0:
            raise ValueError(f"weak_start_motion={weak_start_motion!r} must be a number of at least 0")
        check_aspects(squat_box_aspect, completed_box_aspect)
        momentum_ok = isinstance(momentum_weight, Real) and not isinstance(momentum_weight, bool)
        if not momentum_ok or momentum_weight < 0:
            raise ValueError(f"momentum_weight={momentum_weight!r} must be a number of at least 0 (0: off)")
        _check_int("momentum_frames", momentum_frames, minimum=1)
        if momentum_frames > OBSERVATION_HISTORY:
            raise ValueError(f"momentum_frames={momentum_frames!r} must be at most {OBSERVATION_HISTORY}")
        if not isinstance(observation_reupdate, (bool, np.bool_)):
            raise ValueError(f"observation_reupdate={observation_reupdate!r} must be True or False")
        if recovery_match_iou_threshold is not None:
            _check_fraction("recovery_match_iou_threshold", recovery_match_iou_threshold)
            if recovery_match_iou_threshold == 0:
                raise ValueError(
                    f"recovery_match_iou_threshold={recovery_match_iou_threshold!r} must be above 0 "
                    "(0 would never match; null switches recovery off)"
                )

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
        self.weak_start_threshold = None if weak_start_threshold is None else float(weak_start_threshold)
        self.weak_start_frames = int(weak_start_frames)
        self.weak_start_motion = float(weak_start_motion)
        self.squat_box_aspect = None if squat_box_aspect is None else float(squat_box_aspect)
        self.completed_box_aspect = float(completed_box_aspect)
        self.momentum_weight = float(momentum_weight)
        self.momentum_frames = int(momentum_frames)
        self.observation_reupdate = bool(observation_reupdate)
        self.recovery_match_iou_threshold = (
            None if recovery_match_iou_threshold is None else float(recovery_match_iou_threshold)
        )
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
        fresh = ByteTrack(**{**current, **options})
        for name, value in vars(fresh).items():
            if not name.startswith("_"):
                setattr(self, name, value)

    def reset(self) -> None:
        """Forget every track and restart ids at 1 (e.g. when the camera's stream restarts)."""
        self._tracks = _TrackTable()  # every track not REMOVED (those still marked are dropped next frame)
        self._frame_index = 0
        self._next_id = 1

    @property
    def active_track_count(self) -> int:
        """Tracks in state Tracked (matched on the last detector frame), reported or not yet."""
        return int(np.count_nonzero(self._tracks.state == _TRACKED))

    def track_states(self) -> list[TrackState]:
        """State of every track kept, in the order they started (for tests and debugging)."""
        return [_STATE_OF_CODE[code] for code in self._tracks.state.tolist()]

    def update(self, detections: Detections) -> Detections:
        """Associate one frame's detections and return the tracked people.

        Returns one row per reported track in state Tracked, ordered by tracker_id: `xyxy` is the
        Kalman-corrected box (tracking the completed boxes, with squat_box_aspect), `confidence` and
        `class_id` those of the matched detection, `data` the matched input rows' columns plus
        `data["detection_index"]` (n,) int64, the input row each output row matched (an input column
        of that name is overwritten).
        """
        self._frame_index += 1
        self._begin_frame()
        if self.squat_box_aspect is not None:
            detections = replace(
                detections,
                xyxy=complete_squat_boxes(detections.xyxy, self.squat_box_aspect, self.completed_box_aspect),
            )
        tracks = self._tracks
        scores = detections.confidence
        high_rows = _rows(scores > self.track_high_threshold)
        low_rows = _rows((scores > self.track_low_threshold) & (scores <= self.track_high_threshold))

        # Predict where every confirmed track is now; the boxes below are all tracks' after the predict
        # (a track is corrected at most once per frame, and only matched tracks are, so every stage
        # compares the boxes of not yet matched tracks: these).
        self._predict()
        new = tracks.state == _NEW
        confirmed = _rows(~new)
        unconfirmed = _rows(new)
        boxes = xyah_to_xyxy(tracks.mean[:, :4])

        # First association: tracked and lost tracks against confident detections.
        confirmed_left, high_rows = self._associate(
            confirmed, boxes, detections, high_rows, self.match_iou_threshold, self.fuse_score,
            momentum=self.momentum_weight > 0,
        )

        # Second association: still-tracked leftovers against low-score boxes, by overlap alone (with weak
        # starts, lost tracks too: weak evidence is all a person behind a fence ever gives).
        weak_starts = self.weak_start_threshold is not None
        was_tracked = tracks.state[confirmed_left] == _TRACKED
        second = confirmed_left if weak_starts else confirmed_left[was_tracked]
        second_left, low_rows = self._associate(
            second, boxes, detections, low_rows, self.second_match_iou_threshold, fuse=False
        )
        if self.recovery_match_iou_threshold is not None:
            # Recovery: every confirmed track still unclaimed, by its last observed box, against the
            # confident boxes still unclaimed.
            unclaimed = np.isin(confirmed_left, second_left) | ~np.isin(confirmed_left, second)
            unclaimed = confirmed_left[unclaimed]
            recovered_left, high_rows = self._associate(
                unclaimed, tracks.history_xyxy[:, 0], detections, high_rows,
                self.recovery_match_iou_threshold, fuse=False,
            )
            second_left = second_left[np.isin(second_left, recovered_left)]
        tracked_left = second_left[tracks.state[second_left] == _TRACKED]  # a lost one left stays lost
        tracks.state[tracked_left] = _LOST
        tracks.hits[tracked_left] = 0

        # Unconfirmed tracks: a second sighting confirms them, none removes them.
        weak = tracks.weak[unconfirmed]
        unconfirmed_left, high_rows = self._associate(
            unconfirmed[~weak], boxes, detections, high_rows, self.unconfirmed_match_iou_threshold,
            self.fuse_score,
        )
        tracks.state[unconfirmed_left] = _REMOVED
        if weak_starts:
            high_rows, low_rows = self._follow_weak(unconfirmed[weak], boxes, detections, high_rows, low_rows)

        # New tracks from confident detections nobody claimed (and, with weak starts, weak candidates from
        # the unsure ones).
        new_rows = high_rows[scores[high_rows] >= self.new_track_threshold]
        self._start_tracks(detections, new_rows)
        if weak_starts:
            unsure = high_rows[scores[high_rows] < self.new_track_threshold]
            self._start_weak(detections, np.concatenate([unsure, low_rows]))

        # Remove stale lost tracks and duplicates; the boxes now (after corrections and births) serve both
        # the duplicate test and the report.
        self._remove_stale_lost()
        boxes = xyah_to_xyxy(tracks.mean[:, :4])
        self._remove_duplicates(boxes)
        return self._report(detections, boxes)

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
        self._tracks.drop_removed()
        self._tracks.detection_index.fill(-1)

    def _predict(self) -> None:
        """Move tracked and lost tracks one frame along their motion model (one batched predict).

        As the reference, New tracks are left as they are: with no velocity yet their box would
        not move, and skipping them keeps results identical to the reference implementation. Weak
        candidates are predicted: they live several frames as New, and without a predict step their
        filter never learns a velocity and trails the walker.
        """
        tracks = self._tracks
        moving = (tracks.state != _NEW) | tracks.weak  # weak candidates must learn how they walk
        if moving.all():
            if not len(tracks):
                return
            mean, covariance = tracks.mean.copy(), tracks.covariance
            # As the reference: a lost track keeps its size, so it does not shrink or grow away.
            mean[tracks.state == _LOST, 7] = 0.0
            tracks.mean, tracks.covariance = self._kalman.predict(mean, covariance)
            return
        rows = _rows(moving)
        if not len(rows):
            return
        mean = tracks.mean[rows]
        mean[tracks.state[rows] == _LOST, 7] = 0.0
        tracks.mean[rows], tracks.covariance[rows] = self._kalman.predict(mean, tracks.covariance[rows])

    def _associate(
        self,
        tracks: np.ndarray,
        boxes: np.ndarray,
        detections: Detections,
        rows: np.ndarray,
        max_cost: float,
        fuse: bool,
        momentum: bool = False,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Match track rows `tracks` (j,) with boxes `boxes[tracks]` to detection `rows` (k,), correct
        the matched; return the unmatched of each, in their input order.

        With `momentum`, pairs are still allowed by overlap alone (cost below max_cost), but ranked by
        that cost less the momentum bonus; the bound of the assignment grows by the largest bonus so
        that no allowed pair costs more than leaving both sides unmatched."""
        if not len(tracks) or not len(rows):
            return tracks, rows
        similarity = box_iou(boxes[tracks], detections.xyxy[rows])
        if fuse:
            similarity = fuse_score(similarity, detections.confidence[rows])
        cost = 1.0 - similarity
        if momentum:
            t = self._tracks
            previous, has_previous = occlusion.previous_observation(
                t.history_xyxy[tracks], t.history_frame[tracks], self._frame_index, self.momentum_frames
            )
            bonus = occlusion.momentum_similarity(
                t.direction[tracks], previous, has_previous, detections.xyxy[rows],
                detections.confidence[rows],
            )
            cost = np.where(cost < max_cost, cost - self.momentum_weight * bonus, np.inf)
            max_cost = max_cost + self.momentum_weight / 2
        matches, unmatched_tracks, unmatched_rows = linear_assignment(cost, max_cost)
        self._update_tracks(tracks[matches[:, 0]], detections, rows[matches[:, 1]])
        return tracks[unmatched_tracks], rows[unmatched_rows]

    def _update_tracks(self, matched: np.ndarray, detections: Detections, rows: np.ndarray) -> None:
        """Correct matched track rows with their detections (one batched Kalman update): all Tracked."""
        if not len(matched):
            return
        tracks = self._tracks
        found = detections.xyxy[rows].astype(np.float64)
        tracks.mean[matched], tracks.covariance[matched] = self._kalman.update(
            tracks.mean[matched], tracks.covariance[matched], xyxy_to_xyah(found)
        )
        if self.observation_reupdate:
            gap = self._frame_index - tracks.last_frame[matched]
            for i in np.flatnonzero(gap > 1).tolist():
                track = matched[i]
                tracks.mean[track], tracks.covariance[track] = occlusion.reupdate_along_path(
                    self._kalman, tracks.observed_mean[track], tracks.observed_covariance[track],
                    tracks.history_xyxy[track, 0], found[i], int(gap[i]),
                )
        self._observe(matched, found)
        tracks.hits[matched] += 1
        tracks.state[matched] = _TRACKED  # confirms a New track, re-finds a Lost one
        tracks.score[matched] = detections.confidence[rows]
        tracks.class_id[matched] = detections.class_id[rows]
        tracks.last_frame[matched] = self._frame_index
        tracks.detection_index[matched] = rows

    def _observe(self, matched: np.ndarray, found: np.ndarray) -> None:
        """Record matched rows' new observations `found` (k, 4) xyxy: the box history, the filter state
        for a later re-update and, with momentum on, the walk's direction from the observation
        momentum_frames back."""
        tracks = self._tracks
        if self.momentum_weight > 0:
            previous, has_previous = occlusion.previous_observation(
                tracks.history_xyxy[matched], tracks.history_frame[matched], self._frame_index,
                self.momentum_frames,
            )
            tracks.direction[matched] = occlusion.centre_direction(previous, found) * has_previous[:, None]
        else:  # unused; unknown (no bonus) until the next match should momentum be switched on live
            tracks.direction[matched] = 0.0
        tracks.history_xyxy[matched, 1:] = tracks.history_xyxy[matched, :-1]
        tracks.history_frame[matched, 1:] = tracks.history_frame[matched, :-1]
        tracks.history_xyxy[matched, 0] = found
        tracks.history_frame[matched, 0] = self._frame_index
        tracks.observed_mean[matched] = tracks.mean[matched]
        tracks.observed_covariance[matched] = tracks.covariance[matched]

    def _follow_weak(self, weak: np.ndarray, boxes: np.ndarray, detections: Detections, high_rows: np.ndarray,
                     low_rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Weak candidates `weak` against every box left (high and low): a miss drops a candidate, a
        candidate found often enough that has walked far enough becomes a track. Returns the high and
        low rows still unclaimed."""
        tracks = self._tracks
        rows = np.concatenate([high_rows, low_rows])
        weak_left, rows_left = self._associate(
            weak, boxes, detections, rows, self.unconfirmed_match_iou_threshold, fuse=False
        )
        tracks.state[weak_left] = _REMOVED
        found = weak[~np.isin(weak, weak_left)]
        if len(found):
            centre, height = tracks.mean[found, :2], tracks.mean[found, 3]
            moved = np.hypot(*(centre - tracks.origin[found]).T)
            walked = moved >= self.weak_start_motion * height
            ready = (tracks.hits[found] >= self.weak_start_frames) & walked
            tracks.state[found[~ready]] = _NEW  # found again, not yet a track
        return high_rows[np.isin(high_rows, rows_left)], low_rows[np.isin(low_rows, rows_left)]

    def _start_weak(self, detections: Detections, rows: np.ndarray) -> None:
        """Weak candidates from unclaimed rows scoring at least weak_start_threshold that do not lie on a
        live track (a part of a tracked person is not a second person)."""
        rows = rows[detections.confidence[rows] >= self.weak_start_threshold]
        live = _rows(self._tracks.state != _REMOVED)
        if len(rows) and len(live):
            overlap = box_iou(detections.xyxy[rows], xyah_to_xyxy(self._tracks.mean[live, :4])).max(axis=1)
            rows = rows[overlap < WEAK_START_MAX_OVERLAP]
        self._start_tracks(detections, rows, weak=True)

    def _start_tracks(self, detections: Detections, rows: np.ndarray, weak: bool = False) -> None:
        """One New track per row; on the stream's first frame they are trusted at once, as the reference
        (weak candidates never are)."""
        k = len(rows)
        if not k:
            return
        found = detections.xyxy[rows].astype(np.float64)
        mean, covariance = self._kalman.initiate(xyxy_to_xyah(found))
        frame = np.full(k, self._frame_index, np.int64)
        history_xyxy = np.zeros((k, OBSERVATION_HISTORY, 4))
        history_xyxy[:, 0] = found
        history_frame = np.full((k, OBSERVATION_HISTORY), -1, np.int64)
        history_frame[:, 0] = self._frame_index
        self._tracks.append(
            mean=mean,
            covariance=covariance,
            score=detections.confidence[rows],
            class_id=detections.class_id[rows],
            start_frame=frame,
            last_frame=frame,
            state=np.full(k, _TRACKED if self._frame_index == 1 and not weak else _NEW, np.int8),
            track_id=np.full(k, NO_TRACK, np.int64),
            hits=np.ones(k, np.int64),
            detection_index=rows.astype(np.int64),
            weak=np.full(k, weak),
            origin=mean[:, :2].copy(),
            observed_mean=mean.copy(),
            observed_covariance=covariance.copy(),
            history_xyxy=history_xyxy,
            history_frame=history_frame,
            direction=np.zeros((k, 2)),
        )

    def _remove_stale_lost(self) -> None:
        tracks = self._tracks
        stale = (tracks.state == _LOST) & (self._frame_index - tracks.last_frame > self.max_frames_lost)
        tracks.state[stale] = _REMOVED

    def _remove_duplicates(self, boxes: np.ndarray) -> None:
        """A tracked (or new) and a lost track on the same spot are one person: keep the older.

        boxes: (n, 4) xyxy of every track's current state."""
        tracks = self._tracks
        state = tracks.state
        lost = _rows(state == _LOST)
        if not len(lost):
            return
        current = _rows((state == _TRACKED) | (state == _NEW))
        if not len(current):
            return
        cost = 1.0 - box_iou(boxes[current], boxes[lost])
        pairs_current, pairs_lost = np.nonzero(cost < DUPLICATE_IOU_COST)
        if not len(pairs_current):
            return
        a, b = current[pairs_current], lost[pairs_lost]
        age = tracks.last_frame - tracks.start_frame
        # Marking is by age alone, so every pair can be decided at once (a track marked twice is fine).
        state[np.where(age[a] > age[b], b, a)] = _REMOVED

    def _report(self, detections: Detections | None, boxes: np.ndarray | None = None) -> Detections:
        """Reportable tracked tracks as Detections; the first report of a track gives it its id.

        boxes: (n, 4) xyxy of every track's current state, if already computed."""
        tracks = self._tracks
        reported = _rows(
            (tracks.state == _TRACKED)
            & ((tracks.track_id != NO_TRACK) | (tracks.hits >= self.minimum_consecutive_frames))
        )
        if not len(reported):
            data = {} if detections is None else {k: v[:0] for k, v in detections.data.items()}
            data["detection_index"] = np.zeros(0, np.int64)
            return Detections(
                xyxy=np.zeros((0, 4), np.float32),
                confidence=np.zeros(0, np.float32),
                class_id=np.zeros(0, np.int32),
                tracker_id=np.zeros(0, np.int64),
                data=data,
            )
        unnamed = reported[tracks.track_id[reported] == NO_TRACK]
        if len(unnamed):  # ids in the order the tracks started, as the reference
            tracks.track_id[unnamed] = np.arange(self._next_id, self._next_id + len(unnamed))
            self._next_id += len(unnamed)
        reported = reported[np.argsort(tracks.track_id[reported], kind="stable")]
        rows = tracks.detection_index[reported]
        data = {} if detections is None else {k: v[rows] for k, v in detections.data.items()}
        data["detection_index"] = rows
        return Detections(
            xyxy=xyah_to_xyxy(tracks.mean[reported, :4]) if boxes is None else boxes[reported],
            confidence=tracks.score[reported],
            class_id=tracks.class_id[reported],
            tracker_id=tracks.track_id[reported],
            data=data,
        )


def _rows(mask: np.ndarray) -> np.ndarray:
    """Indices of the True entries of a 1-D mask (np.flatnonzero without its ravel)."""
    return mask.nonzero()[0]


def _check_fraction(name: str, value: object) -> None:
    if not isinstance(value, Real) or isinstance(value, bool) or not 0.0 <= float(value) <= 1.0:
        raise ValueError(f"{name}={value!r} must be a number in [0, 1]")


def _check_int(name: str, value: object, minimum: int) -> None:
    if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < minimum:
        raise ValueError(f"{name}={value!r} must be an integer >= {minimum}")


_OPTION_NAMES = tuple(name for name in inspect.signature(ByteTrack.__init__).parameters if name != "self")
