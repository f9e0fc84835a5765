"""Per-camera local tracks as the fusion sees them, and the transitions it records between cameras."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

UNASSIGNED = -1
"""`global_id` of a track (or output row) whose identity is not decided yet."""

PATH_LENGTH = 48
"""Foot positions a track keeps (the latest ones, at least PATH_STEP_SECONDS apart): enough to compare
where two cameras saw a person over the last few seconds, bounded per track."""
PATH_STEP_SECONDS = 0.09

REVIEW_GROWTH = 1.5
REVIEW_STEP = 8
"""A young assigned track is checked again once its embedding count grows by REVIEW_GROWTH, or by
REVIEW_STEP embeddings, whichever comes first."""


class TrackPath:
    """The latest foot positions of one track: site seconds, (x, y) pixels and box height in pixels, in
    fixed arrays (a ring of `PATH_LENGTH` rows, thinned to one per `PATH_STEP_SECONDS`), oldest first
    from `arrays()`."""

    __slots__ = ("_rows", "_count")

    def __init__(self) -> None:
        self._rows = np.zeros((PATH_LENGTH, 4))
        self._count = 0

    def add(self, pts: float, x: float, y: float, height: float) -> None:
        if self._count:
            last = self._rows[(self._count - 1) % PATH_LENGTH]
            if pts < last[0]:
                return  # late rows are kept out: the path stays in time order
            if pts - last[0] < PATH_STEP_SECONDS:
                last[1:] = x, y, height  # the same instant (or almost): keep the newer position
                last[0] = pts
                return
        self._rows[self._count % PATH_LENGTH] = pts, x, y, height
        self._count += 1

    def __len__(self) -> int:
        return min(self._count, PATH_LENGTH)

    def arrays(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(n,) seconds, (n, 2) feet, (n,) heights, oldest first."""
        n = len(self)
        if self._count <= PATH_LENGTH:
            rows = self._rows[:n]
        else:
            start = self._count % PATH_LENGTH
            rows = np.concatenate([self._rows[start:], self._rows[:start]])
        return rows[:, 0], rows[:, 1:3], rows[:, 3]


@dataclass(eq=False, slots=True)
class LocalTrack:
    """One camera's track of one person, as reported by that camera's tracker.

    uid: fusion-wide serial number (local track ids repeat across cameras and stream restarts).
    first_seen, last_seen: site seconds of its first and latest row.
    entry_position, position: (x, y) pixels of the feet (box bottom centre) at first and latest row.
    entry_height, height: box height in pixels at first and latest row (the scale of the view there).
    path: the latest foot positions (`TrackPath`), to compare with another camera's view of the floor.
    descriptor_sum: (D,) float64 quality-weighted sum of its fresh embeddings; None until one arrives.
    weight: sum of the qualities; n_embeddings: how many embeddings were used.
    global_id: its identity, `UNASSIGNED` while pending. confidence: margin of the last decision.
    tentative: while pending, the identity the last joint assignment would give it (an existing one, or
        `reserved`: the new id it gets if it is decided new). UNASSIGNED before its first embedding.
    assigned_at: site seconds of the last (re)assignment; the later of two conflicting tracks loses.
    ended: no row for `track_timeout_seconds` or ended explicitly.
    screened: checked once, before its decision delay, for having no feasible identity at all.
    reviewed_at: `n_embeddings` when its assignment was last decided or checked.
    """

    uid: int
    camera_id: str
    camera_index: int
    track_id: int
    first_seen: float
    last_seen: float
    entry_position: tuple[float, float]
    position: tuple[float, float]
    entry_height: float = 0.0
    height: float = 0.0
    path: TrackPath = field(default_factory=TrackPath)
    descriptor_sum: np.ndarray | None = None
    weight: float = 0.0
    n_embeddings: int = 0
    global_id: int = UNASSIGNED
    tentative: int = UNASSIGNED
    reserved: int = UNASSIGNED
    confidence: float = math.nan
    assigned_at: float = math.nan
    ended: bool = False
    unit: np.ndarray | None = None  # cached `descriptor`, reset when an embedding arrives
    screened: bool = False
    reviewed_at: int = 0

    @property
    def descriptor(self) -> np.ndarray:
        """(D,) float32 unit vector: the quality-weighted mean embedding, normalised."""
        if self.unit is None:
            assert self.descriptor_sum is not None
            norm = float(np.linalg.norm(self.descriptor_sum))
            self.unit = (self.descriptor_sum / max(norm, 1e-12)).astype(np.float32)
        return self.unit

    @property
    def review_due(self) -> bool:
        """Evidence grew by half since the last check, or by `REVIEW_STEP` embeddings (1, 2, 3, 5, 8, 12, 18,
        26, 34, ...): fewer new embeddings cannot move the mean much, so checks stay rare."""
        step = min(max(1, math.ceil(self.reviewed_at * (REVIEW_GROWTH - 1))), REVIEW_STEP)
        return self.n_embeddings >= self.reviewed_at + step

    def age(self, now: float) -> float:
        return now - self.first_seen


EDGE_PIXELS = 2.0
"""A box within this many pixels of the frame's edge is cut by it (its bottom centre is not the feet)."""
EDGE_TOUCHES = 5
"""Boxes that must have ended at the same extreme (left, right or bottom) before it is taken for the
frame's edge: the frame edge stops many boxes, the farthest anyone walked stops few."""


@dataclass(slots=True)
class CameraState:
    """Everything the fusion keeps about one camera: its clock, its tracks by local id, and how far boxes
    reached to the left, right and bottom (the frame's edges, once people have crossed it: fusion is not
    told the frame size), to tell boxes whose feet are cut off."""

    camera_id: str
    index: int
    last_pts: float = -math.inf
    tracks: dict[int, LocalTrack] = field(default_factory=dict)
    edges: np.ndarray = field(default_factory=lambda: np.array([np.inf, -np.inf, -np.inf]))  # x1, x2, y2
    touches: np.ndarray = field(default_factory=lambda: np.zeros(3, dtype=np.int64))

    def cut(self, xyxy: np.ndarray) -> np.ndarray:
        """(n,) bool: boxes cut by the bottom edge of the frame (their feet are out of view). Fusion is not
        told the frame size: an edge is the farthest any box reached on that side, once `EDGE_TOUCHES`
        boxes ended there (left and right edges are tracked the same way but do not hide the feet)."""
        if not len(xyxy):
            return np.zeros(0, dtype=bool)
        sides = np.column_stack([-xyxy[:, 0], xyxy[:, 2], xyxy[:, 3]])  # larger = farther out
        reach = np.array([-self.edges[0], self.edges[1], self.edges[2]])
        farthest = sides.max(axis=0)
        moved = farthest > reach + EDGE_PIXELS
        reach = np.where(moved, farthest, np.maximum(reach, farthest))
        self.touches[moved] = 0
        at_edge = sides >= reach - EDGE_PIXELS
        self.touches += at_edge.sum(axis=0)
        self.edges = np.array([-reach[0], reach[1], reach[2]])
        # Only the bottom edge hides the feet; a side edge shifts the box centre by at most half a box width
        # (a few tenths of a metre), which the floor's thresholds absorb - and overlapping views meet there.
        return at_edge[:, 2] & (self.touches[2] >= EDGE_TOUCHES)


@dataclass(frozen=True, slots=True)
class Transition:
    """A person handed over between cameras (or back into the same one).

    exit_pts: when the identity was last seen in `from_camera` at the time of the hand-over; it can be
        later than `entry_pts` when the two views overlap (seen in both at once).
    exit_position, entry_position: feet (x, y) in pixels of the respective camera's frame.
    exit_height, entry_height: box heights in pixels there (0 when unknown).
    """

    global_id: int
    from_camera: str
    to_camera: str
    exit_pts: float
    entry_pts: float
    exit_position: tuple[float, float]
    entry_position: tuple[float, float]
    exit_height: float = 0.0
    entry_height: float = 0.0

    @property
    def travel_seconds(self) -> float:
        return self.entry_pts - self.exit_pts
