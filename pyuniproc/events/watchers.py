"""Events that no single frame decides: camera health changes and fusion's identity decisions.

Both watchers compare what they see now with what they saw last time and report only changes,
so they can be fed as often as convenient (every summary period, every loop turn) without
repeating themselves. They are plain objects with no threads and no I/O.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from pyuniproc.events.schema import EventRecord, make_event
from pyuniproc.types import Detections

_UP, _STALLED = "live", "stalled"
_DOWN_AFTER_UP = ("connecting", "finished")  # down only if the camera had been up
_DEAD = "dead"  # down whatever came before: the source gave up


class CameraStateWatcher:
    """Turns successive per-camera stats snapshots into camera_up / camera_down / camera_stalled.

    A snapshot is `CameraStats.snapshot()` (at least `state`; `fps`, `last_error`,
    `reconnect_attempts`, `seconds_since_last_frame` are copied into details when present).
    Transitions reported:
        anything -> live                        camera_up      (first frames, reconnected, unstalled)
        anything -> stalled                     camera_stalled
        live/stalled -> connecting/finished     camera_down    (lost, or the stream ended)
        anything -> dead                        camera_down    (the source gave up)
    A camera that is still connecting for the first time reports nothing: no frame was ever lost.
    Feeding it more often catches short blips; a state that comes and goes between two
    snapshots is not seen (the metrics' counters still count reconnects).
    """

    def __init__(self, *, site: str = "") -> None:
        self.site = site
        self._states: dict[str, str] = {}

    def update(
        self,
        snapshots: Mapping[str, Mapping[str, Any]],
        *,
        last_frames: Mapping[str, tuple[int, float]] | None = None,
    ) -> list[EventRecord]:
        """Events for every camera whose state changed since the previous call.

        last_frames: camera id -> (1-based frame, pts_seconds) of its last processed frame, so an
            event says where in the recording it happened; cameras without one get nulls.
        """
        events = []
        for camera_id, snapshot in snapshots.items():
            state = str(snapshot.get("state", ""))
            previous = self._states.get(camera_id)
            self._states[camera_id] = state
            if state == previous:
                continue
            kind = _kind(previous, state)
            if kind is None:
                continue
            frame, pts = (last_frames or {}).get(camera_id, (None, None))
            events.append(
                make_event(
                    kind,
                    site=self.site,
                    camera_id=camera_id,
                    frame=frame,
                    pts_seconds=pts,
                    details=_details(kind, state, previous, snapshot),
                )
            )
        return events

    def forget(self, camera_id: str) -> None:
        self._states.pop(camera_id, None)


def _kind(previous: str | None, state: str) -> str | None:
    if state == _UP:
        return "camera_up"
    if state == _STALLED:
        return "camera_stalled"
    if state == _DEAD or (state in _DOWN_AFTER_UP and previous in (_UP, _STALLED)):
        return "camera_down"
    return None


def _details(kind: str, state: str, previous: str | None, snapshot: Mapping[str, Any]) -> dict[str, Any]:
    details: dict[str, Any] = {"state": state, "previous_state": previous}
    wanted = {
        "camera_up": ("fps", "reconnect_attempts"),
        "camera_down": ("last_error",),
        "camera_stalled": ("seconds_since_last_frame",),
    }[kind]
    for key in wanted:
        if key in snapshot:
            details[key] = snapshot[key]
    return details


class GlobalIdWatcher:
    """Follows the `global_id` column fusion writes ((n,) int, -1 while undecided), per track.

    `observe` only remembers each track's identity, so other events of the track (line crossings,
    its end) can carry it; that is what the embedded runtime needs, since its fusion stage
    reports its own, richer decisions. `update` also reports changes as global_id_assigned /
    global_id_corrected (reason "changed"), for a process that sees only the column, e.g. a
    consumer of the frame messages fusion sends back. Memory: one int per open track; call
    `forget` when a track ends and for a camera whose stream ended.
    """

    def __init__(self, *, site: str = "") -> None:
        self.site = site
        self._ids: dict[str, dict[int, int]] = {}

    def observe(self, camera_id: str, tracks: Detections) -> list[tuple[int, int, int | None]]:
        """Remember this frame's identities; returns (track_id, global_id, previous) of the changes."""
        column = tracks.data.get("global_id")
        if column is None or len(tracks) == 0:
            return []
        known = self._ids.setdefault(camera_id, {})
        changes = []
        for track_id, value in zip(tracks.tracker_id.tolist(), np.asarray(column).tolist(), strict=True):
            if track_id < 0 or value is None or (isinstance(value, float) and not math.isfinite(value)):
                continue
            global_id = int(value)
            previous = known.get(track_id)
            if global_id >= 0 and global_id != previous:
                known[track_id] = global_id
                changes.append((track_id, global_id, previous))
        return changes

    def update(self, camera_id: str, frame: int, pts_seconds: float, tracks: Detections) -> list[EventRecord]:
        """`observe`, with the changes as events (`frame` 1-based)."""
        events = []
        for track_id, global_id, previous in self.observe(camera_id, tracks):
            if previous is None:
                kind, details = "global_id_assigned", {}
            else:
                kind, details = (
                    "global_id_corrected",
                    {"from_global_id": previous, "to_global_id": global_id, "reason": "changed"},
                )
            events.append(
                make_event(
                    kind,
                    site=self.site,
                    camera_id=camera_id,
                    frame=frame,
                    pts_seconds=pts_seconds,
                    track_id=track_id,
                    global_id=global_id,
                    details=details,
                )
            )
        return events

    def global_id(self, camera_id: str, track_id: int) -> int | None:
        """The identity last seen for a track, to stamp on its other events."""
        return self._ids.get(camera_id, {}).get(track_id)

    def forget(self, camera_id: str, track_id: int | None = None) -> None:
        if track_id is None:
            self._ids.pop(camera_id, None)
        else:
            self._ids.get(camera_id, {}).pop(track_id, None)
