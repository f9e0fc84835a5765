"""Zone presence with hysteresis: one `ZoneMonitor` per configured polygon of a camera.

A track's feet count as inside once they are inside the polygon and at least `min_offset_px`
from its edges, and as outside once they are outside and that far from the edges; within the
band along the edges the previous state holds, so a person standing on the border does not
flicker in and out. A track first seen inside the band takes the plain inside/outside answer.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from pyuniproc.analytics.config import ZoneConfig
from pyuniproc.analytics.geometry import distance_to_polygon_edges, points_in_polygon


@dataclass(frozen=True, slots=True)
class ZoneChange:
    """A track entered (`entered=True`) or left a zone.

    entered_pts: when the visit began; for an exit, `exited_pts - entered_pts` is the time spent.
    """

    track_id: int
    entered: bool
    entered_pts: float
    exited_pts: float | None = None

    @property
    def seconds_inside(self) -> float | None:
        return None if self.exited_pts is None else self.exited_pts - self.entered_pts


class ZoneMonitor:
    """Who is inside one zone, since when, and how many visits it has had."""

    def __init__(self, zone: ZoneConfig) -> None:
        self.zone = zone
        self.entries = 0
        self._polygon = np.asarray(zone.polygon, dtype=np.float64)
        self._inside_since: dict[int, float] = {}  # track id -> pts it entered
        self._known: set[int] = set()  # tracks that have been classified at least once

    @property
    def name(self) -> str:
        return self.zone.name

    @property
    def occupancy(self) -> int:
        return len(self._inside_since)

    @property
    def inside(self) -> tuple[int, ...]:
        """Ids of the tracks inside now."""
        return tuple(self._inside_since)

    def update(self, track_ids: np.ndarray, points: np.ndarray, pts_seconds: float) -> list[ZoneChange]:
        """Feed the feet `points` (n, 2) of the tracks `track_ids` (n,) seen at `pts_seconds`."""
        if len(track_ids) == 0:
            return []
        points = np.asarray(points, dtype=np.float64)
        inside = points_in_polygon(points, self._polygon)
        clear_of_edges = distance_to_polygon_edges(points, self._polygon) >= self.zone.min_offset_px
        changes = []
        for track_id, is_inside, is_clear in zip(track_ids.tolist(), inside, clear_of_edges, strict=True):
            was_inside = track_id in self._inside_since
            if track_id in self._known and not is_clear:
                continue  # inside the border band: keep the previous state
            self._known.add(track_id)
            if is_inside and not was_inside:
                self._inside_since[track_id] = pts_seconds
                self.entries += 1
                changes.append(ZoneChange(track_id, True, pts_seconds))
            elif was_inside and not is_inside:
                changes.append(ZoneChange(track_id, False, self._inside_since.pop(track_id), pts_seconds))
        return changes

    def forget(self, track_id: int, last_seen_pts: float) -> ZoneChange | None:
        """Drop an ended track; if it was inside, its exit (at `last_seen_pts`) is returned."""
        self._known.discard(track_id)
        entered = self._inside_since.pop(track_id, None)
        if entered is None:
            return None
        return ZoneChange(track_id, False, entered, max(last_seen_pts, entered))
