"""Per-camera local tracks as the fusion sees them, and the transitions it records between cameras."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

UNASSIGNED = -1
"""`global_id` of a track (or output row) whose identity is not decided yet."""

REVIEW_GROWTH = 1.5
REVIEW_STEP = 8
"""A young assigned track is checked again once its embedding count grows by REVIEW_GROWTH, or by
REVIEW_STEP embeddings, whichever comes first."""


@dataclass(eq=False, slots=True)
class LocalTrack:
    """One camera's track of one person, as reported by that camera's tracker.

    uid: fusion-wide serial number (local track ids repeat across cameras and stream restarts).
    first_seen, last_seen: site seconds of its first and latest row.
    entry_position, position: (x, y) pixels of the feet (box bottom centre) at first and latest row.
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


@dataclass(slots=True)
class CameraState:
    """Everything the fusion keeps about one camera: its clock and its tracks by local id."""

    camera_id: str
    index: int
    last_pts: float = -math.inf
    tracks: dict[int, LocalTrack] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Transition:
    """A person handed over between cameras (or back into the same one).

    exit_pts: when the identity was last seen in `from_camera` at the time of the hand-over; it can be
        later than `entry_pts` when the two views overlap (seen in both at once).
    exit_position, entry_position: feet (x, y) in pixels of the respective camera's frame.
    """

    global_id: int
    from_camera: str
    to_camera: str
    exit_pts: float
    entry_pts: float
    exit_position: tuple[float, float]
    entry_position: tuple[float, float]

    @property
    def travel_seconds(self) -> float:
        return self.entry_pts - self.exit_pts
