"""Line crossing with hysteresis: one `LineCounter` per configured line of a camera.

Each track has a *settled side*: the side its feet were last seen on while at least
`min_offset_px` away from the line. A crossing is counted only when the settled side flips, so
feet jittering on the line (inside the +-min_offset_px band) never count twice. To tell a walk
*through* the segment from a walk *around* one of its ends, the counter remembers where the
feet last crossed the line's infinite extension (interpolated between two observations) and
counts the flip only if that point lies on the segment.

A track first seen inside the band has no settled side yet; it settles, without an event, on
the side it leaves the band to. A track first seen off the line settles there, also without an
event: we cannot know which side it came from.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from pyuniproc.analytics.config import LineConfig
from pyuniproc.analytics.geometry import position_along_segment, signed_distance_to_line

IN = "in"
OUT = "out"


@dataclass(slots=True)
class _TrackOnLine:
    settled_side: int  # +1, -1, or 0 while not yet known
    last_distance: float
    last_point: np.ndarray
    crossing_along: float | None = None  # where it last crossed the infinite line (0..1 = on segment)


@dataclass(frozen=True, slots=True)
class Crossing:
    """One counted crossing; `point` is where the feet ended up (x, y) when it was decided."""

    track_id: int
    direction: str
    point: tuple[float, float]


class LineCounter:
    """In/out counts of one line over the tracks of one camera."""

    def __init__(self, line: LineConfig) -> None:
        self.line = line
        self.count_in = 0
        self.count_out = 0
        self._a = np.asarray(line.points[0], dtype=np.float64)
        self._b = np.asarray(line.points[1], dtype=np.float64)
        self._tracks: dict[int, _TrackOnLine] = {}

    @property
    def name(self) -> str:
        return self.line.name

    def counts(self) -> dict[str, int]:
        return {IN: self.count_in, OUT: self.count_out}

    def update(self, track_ids: np.ndarray, points: np.ndarray) -> list[Crossing]:
        """Feed the feet `points` (n, 2) of the tracks `track_ids` (n,) seen on one frame."""
        if len(track_ids) == 0:
            return []
        points = np.asarray(points, dtype=np.float64)
        distances = signed_distance_to_line(points, self._a, self._b)
        crossings = []
        for track_id, point, distance in zip(track_ids.tolist(), points, distances.tolist(), strict=True):
            crossing = self._step(track_id, point, distance)
            if crossing is not None:
                crossings.append(crossing)
        return crossings

    def forget(self, track_id: int) -> None:
        """Drop the state of a track that ended."""
        self._tracks.pop(track_id, None)

    def _step(self, track_id: int, point: np.ndarray, distance: float) -> Crossing | None:
        side = self._side(distance)
        state = self._tracks.get(track_id)
        if state is None:
            self._tracks[track_id] = _TrackOnLine(side, distance, point.copy())
            return None
        if (distance >= 0) != (state.last_distance >= 0):
            # The feet crossed the infinite line between the last observation and this one.
            share = state.last_distance / (state.last_distance - distance)
            where = state.last_point + share * (point - state.last_point)
            state.crossing_along = position_along_segment(where, self._a, self._b)
        crossing = None
        if side != 0 and side != state.settled_side:
            through_segment = state.crossing_along is not None and 0.0 <= state.crossing_along <= 1.0
            if state.settled_side != 0 and through_segment:
                direction = IN if side > 0 else OUT
                if direction == IN:
                    self.count_in += 1
                else:
                    self.count_out += 1
                crossing = Crossing(track_id, direction, (float(point[0]), float(point[1])))
            state.settled_side = side
            state.crossing_along = None
        state.last_distance = distance
        state.last_point = point.copy()
        return crossing

    def _side(self, distance: float) -> int:
        if distance >= self.line.min_offset_px and distance > 0:
            return 1
        if distance <= -self.line.min_offset_px and distance < 0:
            return -1
        return 0
