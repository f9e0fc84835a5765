"""Which tracks to embed this frame: bounded cost, fresh descriptors.

Embedding every tracked person on every frame is wasteful (a person's appearance barely changes in
0.1 s) and unbounded (cost grows with the crowd). So per camera a track is embedded only when its
crop is good (see `quality.QualityGate`) and it has not been embedded for `refresh_frames` frames, and
at most `max_crops_per_frame` crops are taken per camera and frame, the most stale first (tracks
never embedded before the others): in a crowd every track still gets its turn, just less often.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np

from pyuniproc.types import NO_TRACK


@dataclass(slots=True)
class _CameraSchedule:
    """One camera's bookkeeping: frame of each track's last embedding and last appearance."""

    last_embedded: dict[int, int] = field(default_factory=dict)
    last_seen: dict[int, int] = field(default_factory=dict)


class EmbedScheduler:
    """Per-camera embedding schedule.

    refresh_frames: a track is embedded again only after this many frames (5 at 10 fps = twice a
        second). Lower keeps galleries fresher at proportional cost; higher saves compute but a track
        that turns around or steps out of a group waits longer for a clean view.
    max_crops_per_frame: cap per camera and frame, so a crowd cannot blow the frame's time budget;
        tracks beyond the cap wait for a later frame (most stale first).
    forget_after_frames: a track not seen for this many frames is forgotten even if nobody called
        `end_tracks` (bounded memory when a tracker drops ids silently).
    """

    def __init__(self, *, refresh_frames: int = 5, max_crops_per_frame: int = 8,
                 forget_after_frames: int = 300) -> None:
        if refresh_frames < 1:
            raise ValueError(f"refresh_frames must be >= 1, got {refresh_frames!r}")
        if max_crops_per_frame < 1:
            raise ValueError(f"max_crops_per_frame must be >= 1, got {max_crops_per_frame!r}")
        if forget_after_frames < 1:
            raise ValueError(f"forget_after_frames must be >= 1, got {forget_after_frames!r}")
        self.refresh_frames = refresh_frames
        self.max_crops_per_frame = max_crops_per_frame
        self.forget_after_frames = forget_after_frames
        self._cameras: dict[str, _CameraSchedule] = {}

    def select(self, camera_id: str, frame_index: int, track_ids: np.ndarray, good: np.ndarray,
               quality: np.ndarray | None = None) -> np.ndarray:
        """Rows of this frame's tracks to embed now; they are recorded as embedded at `frame_index`.

        track_ids: (n,) tracker ids of the frame's rows (rows with NO_TRACK are never chosen).
        good: (n,) bool from the quality gate. quality: (n,) optional score; among equally stale
            tracks the better crop goes first.
        Returns (k,) int64 row indices, k <= max_crops_per_frame, most stale first.
        """
        ids = np.asarray(track_ids, dtype=np.int64).reshape(-1)
        good = np.asarray(good, dtype=bool).reshape(-1)
        n = ids.shape[0]
        if good.shape[0] != n:
            raise ValueError(f"good must have {n} rows like track_ids, got {good.shape[0]}")
        score = np.zeros(n, np.float32) if quality is None else np.asarray(quality, np.float32).reshape(-1)
        if score.shape[0] != n:
            raise ValueError(f"quality must have {n} rows like track_ids, got {score.shape[0]}")
        state = self._cameras.setdefault(camera_id, _CameraSchedule())
        for track_id in ids.tolist():
            state.last_seen[track_id] = frame_index
        self._forget_idle(state, frame_index)

        candidates: list[tuple[float, float, int, int]] = []
        taken: set[int] = set()
        for row in np.flatnonzero(good & (ids != NO_TRACK)).tolist():
            track_id = int(ids[row])
            if track_id in taken:  # a duplicated id in one frame: the first row only
                continue
            taken.add(track_id)
            last = state.last_embedded.get(track_id)
            staleness = float("inf") if last is None else float(frame_index - last)
            if staleness >= self.refresh_frames:
                candidates.append((-staleness, -float(score[row]), track_id, row))
        candidates.sort()
        chosen = [row for *_, row in candidates[: self.max_crops_per_frame]]
        for row in chosen:
            state.last_embedded[int(ids[row])] = frame_index
        return np.asarray(chosen, dtype=np.int64)

    def end_tracks(self, camera_id: str, track_ids: Iterable[int]) -> None:
        """Forget tracks the tracker has ended (their ids will not come back)."""
        state = self._cameras.get(camera_id)
        if state is None:
            return
        for track_id in track_ids:
            state.last_embedded.pop(int(track_id), None)
            state.last_seen.pop(int(track_id), None)

    def drop_camera(self, camera_id: str) -> None:
        """End of stream: forget everything about the camera."""
        self._cameras.pop(camera_id, None)

    def tracked_count(self, camera_id: str) -> int:
        """How many tracks of the camera the schedule remembers (for tests and telemetry)."""
        state = self._cameras.get(camera_id)
        return 0 if state is None else len(state.last_seen)

    def _forget_idle(self, state: _CameraSchedule, frame_index: int) -> None:
        idle = [t for t, seen in state.last_seen.items() if frame_index - seen > self.forget_after_frames]
        for track_id in idle:
            state.last_seen.pop(track_id, None)
            state.last_embedded.pop(track_id, None)
