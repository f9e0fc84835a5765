"""Per-camera analytics: people count, dwell, line crossings and zones, frame by frame.

`CameraAnalytics` is the one state object of one camera (create it on the camera's first frame,
call `finish` and drop it at end of stream). It does no I/O and knows nothing about GStreamer
or files: the embedded runtime and the Savant pyfunc both hand it tracked `Detections` and
take back a `FrameAnalyticsResult`.

Every analytic uses the feet of a track, the bottom centre of its box (`Detections.bottom_center`):
that is where a person touches the ground plane the lines and zones are drawn on.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np

from pyuniproc.analytics.config import LineLike, ZoneLike, parse_lines, parse_zones
from pyuniproc.analytics.events import (
    LINE_CROSSED,
    TRACK_ENDED,
    TRACK_STARTED,
    ZONE_ENTERED,
    ZONE_EXITED,
    Event,
)
from pyuniproc.analytics.lines import LineCounter
from pyuniproc.analytics.zones import ZoneChange, ZoneMonitor
from pyuniproc.types import Detections


@dataclass(frozen=True, slots=True)
class FrameAnalyticsResult:
    """What one frame changed.

    people_count: rows with a tracker id (untracked rows are not counted as people).
    dwell_seconds: (n,) float32 aligned to the rows given to `update`: seconds since the row's
        track was first seen; NaN for rows without a tracker id.
    events: events decided on this frame, in order: ended tracks first (with their zone exits),
        then started tracks (a new visit: an id seen for the first time, or again after the
        timeout ended it), then line crossings, then zone entries/exits.
    line_counts: {line name: {"in": int, "out": int}}, totals since the start.
    zone_occupancy: {zone name: tracks inside now}.
    """

    camera_id: str
    frame_index: int
    pts_seconds: float
    people_count: int
    dwell_seconds: np.ndarray
    events: list[Event]
    line_counts: dict[str, dict[str, int]]
    zone_occupancy: dict[str, int]


@dataclass(slots=True)
class _Track:
    first_pts: float
    last_pts: float
    first_frame: int
    last_frame: int
    frames_seen: int = 1


@dataclass(slots=True)
class _Totals:
    tracks_started: int = 0
    tracks_ended: int = 0
    frames: int = 0
    peak_people: int = 0
    dwell_sum_seconds: float = 0.0
    dwell_max_seconds: float = 0.0


class CameraAnalytics:
    """Analytics state of one camera.

    lines / zones: `LineConfig` / `ZoneConfig` values, cameras-file mappings
        (`{"name": ..., "points": ...}`, `{"name": ..., "polygon": ...}`), `(name, points)` /
        `(name, polygon)` tuples, or the cameras file's `LineSpec` / `ZoneSpec`.
    track_timeout_seconds: a track not seen for longer than this ends (`track_ended`, and a
        `zone_exited` for every zone it was in). Longer survives occlusions without splitting
        one visit into two; shorter reports departures sooner. Match it to the tracker's own
        lost-track buffer: a tracker that reuses an id after a longer gap starts a new track here.
    """

    def __init__(
        self,
        camera_id: str,
        *,
        lines: Iterable[LineLike] | None = None,
        zones: Iterable[ZoneLike] | None = None,
        track_timeout_seconds: float = 2.0,
    ) -> None:
        if not isinstance(camera_id, str) or not camera_id:
            raise ValueError(f"camera_id must be a non-empty string, got {camera_id!r}")
        self.camera_id = camera_id
        self.track_timeout_seconds = _timeout(track_timeout_seconds)
        self.lines = [LineCounter(line) for line in parse_lines(lines)]
        self.zones = [ZoneMonitor(zone) for zone in parse_zones(zones)]
        self._tracks: dict[int, _Track] = {}
        self._totals = _Totals()
        self._last_frame_index = -1
        self._last_pts = 0.0
        self._people_count = 0

    def update(self, frame_index: int, pts_seconds: float, tracks: Detections) -> FrameAnalyticsResult:
        """Account one frame's tracks (`tracker_id` set, `xyxy` in this camera's pixels)."""
        pts = float(pts_seconds)
        if not math.isfinite(pts):
            raise ValueError(f"pts_seconds must be finite, got {pts_seconds!r}")
        frame_index = int(frame_index)
        events = self._end_stale_tracks(frame_index, pts)

        tracked = tracks.tracker_id >= 0  # NO_TRACK (-1): a row no tracker claimed
        ids = tracks.tracker_id[tracked]
        feet = tracks.bottom_center[tracked]
        dwell = np.full(len(tracks), np.nan, dtype=np.float32)
        started_before = self._totals.tracks_started
        dwell[tracked] = [self._see(int(track_id), frame_index, pts) for track_id in ids.tolist()]
        if self._totals.tracks_started != started_before:
            events.extend(self._started_events(ids, feet, frame_index, pts))

        for counter in self.lines:
            for crossing in counter.update(ids, feet):
                details = {
                    "line": counter.name,
                    "direction": crossing.direction,
                    "x": crossing.point[0],
                    "y": crossing.point[1],
                    "count_in": counter.count_in,
                    "count_out": counter.count_out,
                }
                events.append(self._event(LINE_CROSSED, frame_index, pts, crossing.track_id, details))
        for monitor in self.zones:
            for change in monitor.update(ids, feet, pts):
                events.append(self._zone_event(monitor, change, frame_index, pts, reason="moved"))

        self._people_count = len(np.unique(ids))
        self._totals.frames += 1
        self._totals.peak_people = max(self._totals.peak_people, self._people_count)
        self._last_frame_index, self._last_pts = frame_index, pts
        return FrameAnalyticsResult(
            camera_id=self.camera_id,
            frame_index=frame_index,
            pts_seconds=pts,
            people_count=self._people_count,
            dwell_seconds=dwell,
            events=events,
            line_counts=self.line_counts(),
            zone_occupancy=self.zone_occupancy(),
        )

    def finish(self, pts_seconds: float | None = None) -> list[Event]:
        """End every open track (end of stream); events carry `pts_seconds` (default: last frame's)."""
        pts = self._last_pts if pts_seconds is None else float(pts_seconds)
        events: list[Event] = []
        for track_id in list(self._tracks):
            events.extend(self._end_track(track_id, self._last_frame_index, pts))
        self._people_count = 0
        return events

    def reconfigure(
        self,
        *,
        lines: Iterable[LineLike] | None = None,
        zones: Iterable[ZoneLike] | None = None,
        track_timeout_seconds: float | None = None,
    ) -> list[Event]:
        """Swap lines, zones and the timeout between two frames (a live edit), keeping tracks and dwell.

        None leaves that part as it is. A line or zone that is unchanged (same name, geometry, offset)
        keeps its counts and who is where; a new or redrawn one starts from zero (and learns on which side
        each track is from its next sighting, so nobody is counted for the edit itself). People inside a zone
        that is removed or redrawn get a `zone_exited` (reason "zone_changed", at the last frame seen),
        so consumers that count occupancy from events stay right; a redrawn zone reports them entering
        when they are next seen inside. Everything is checked before anything changes (ValueError).
        """
        timeout = self.track_timeout_seconds
        if track_timeout_seconds is not None:
            timeout = _timeout(track_timeout_seconds)
        new_lines = None if lines is None else parse_lines(lines)
        new_zones = None if zones is None else parse_zones(zones)
        events: list[Event] = []
        if new_lines is not None:
            kept_lines = {counter.line: counter for counter in self.lines}
            self.lines = [kept_lines.get(line) or LineCounter(line) for line in new_lines]
        if new_zones is not None:
            kept_zones = {monitor.zone: monitor for monitor in self.zones}
            for monitor in self.zones:
                if monitor.zone in new_zones:
                    continue
                for track_id in monitor.inside:
                    change = monitor.forget(track_id, self._last_pts)
                    if change is not None:
                        events.append(self._zone_event(monitor, change, self._last_frame_index,
                                                       self._last_pts, reason="zone_changed"))
            self.zones = [kept_zones.get(zone) or ZoneMonitor(zone) for zone in new_zones]
        self.track_timeout_seconds = timeout
        return events

    def line_counts(self) -> dict[str, dict[str, int]]:
        return {counter.name: counter.counts() for counter in self.lines}

    def zone_occupancy(self) -> dict[str, int]:
        return {monitor.name: monitor.occupancy for monitor in self.zones}

    def summary(self) -> dict[str, Any]:
        """JSON-ready totals of this camera for summary.json (dwell statistics cover ended tracks)."""
        totals = self._totals
        return {
            "camera_id": self.camera_id,
            "frames": totals.frames,
            "people_now": self._people_count,
            "people_peak": totals.peak_people,
            "tracks_started": totals.tracks_started,
            "tracks_ended": totals.tracks_ended,
            "tracks_open": len(self._tracks),
            "dwell_mean_seconds": (
                round(totals.dwell_sum_seconds / totals.tracks_ended, 3) if totals.tracks_ended else None
            ),
            "dwell_max_seconds": round(totals.dwell_max_seconds, 3),
            "lines": self.line_counts(),
            "zones": {m.name: {"occupancy": m.occupancy, "entries": m.entries} for m in self.zones},
        }

    # -- internals ---------------------------------------------------------------------------

    def _see(self, track_id: int, frame_index: int, pts: float) -> float:
        """Record a sighting and return the track's dwell so far."""
        track = self._tracks.get(track_id)
        if track is None:
            track = self._tracks[track_id] = _Track(pts, pts, frame_index, frame_index)
            self._totals.tracks_started += 1
        elif track.last_frame != frame_index:
            track.frames_seen += 1
        track.last_pts, track.last_frame = pts, frame_index
        return pts - track.first_pts

    def _started_events(self, ids: np.ndarray, feet: np.ndarray, frame_index: int, pts: float) -> list[Event]:
        """track_started for the ids whose visit began on this frame, with where the feet were."""
        events, seen = [], set()
        for track_id, (x, y) in zip(ids.tolist(), feet.tolist(), strict=True):
            track = self._tracks[track_id]
            if track.first_frame == frame_index and track.frames_seen == 1 and track_id not in seen:
                seen.add(track_id)
                events.append(self._event(TRACK_STARTED, frame_index, pts, track_id, {"x": x, "y": y}))
        return events

    def _end_stale_tracks(self, frame_index: int, pts: float) -> list[Event]:
        stale = [tid for tid, t in self._tracks.items() if pts - t.last_pts > self.track_timeout_seconds]
        events: list[Event] = []
        for track_id in stale:
            events.extend(self._end_track(track_id, frame_index, pts))
        return events

    def _end_track(self, track_id: int, frame_index: int, pts: float) -> list[Event]:
        track = self._tracks.pop(track_id)
        events = []
        for counter in self.lines:
            counter.forget(track_id)
        for monitor in self.zones:
            change = monitor.forget(track_id, track.last_pts)
            if change is not None:
                events.append(self._zone_event(monitor, change, frame_index, pts, reason="track_ended"))
        dwell = track.last_pts - track.first_pts
        self._totals.tracks_ended += 1
        self._totals.dwell_sum_seconds += dwell
        self._totals.dwell_max_seconds = max(self._totals.dwell_max_seconds, dwell)
        details = {
            "dwell_seconds": dwell,
            "first_pts": track.first_pts,
            "last_pts": track.last_pts,
            "first_frame_index": track.first_frame,
            "last_frame_index": track.last_frame,
            "frames_seen": track.frames_seen,
        }
        events.append(self._event(TRACK_ENDED, frame_index, pts, track_id, details))
        return events

    def _zone_event(
        self, monitor: ZoneMonitor, change: ZoneChange, frame_index: int, pts: float, *, reason: str
    ) -> Event:
        details: dict[str, Any] = {
            "zone": monitor.name,
            "entered_pts": change.entered_pts,
            "occupancy": monitor.occupancy,
        }
        if change.entered:
            return self._event(ZONE_ENTERED, frame_index, pts, change.track_id, details)
        details.update(exited_pts=change.exited_pts, seconds_in_zone=change.seconds_inside, reason=reason)
        return self._event(ZONE_EXITED, frame_index, pts, change.track_id, details)

    def _event(
        self, kind: str, frame_index: int, pts: float, track_id: int, details: dict[str, Any]
    ) -> Event:
        return Event(kind, self.camera_id, pts, frame_index, int(track_id), details)


def _timeout(value: float) -> float:
    timeout = float(value)
    if not (math.isfinite(timeout) and timeout > 0):
        raise ValueError(f"track_timeout_seconds must be > 0, got {value!r}")
    return timeout
