"""What analytics tells the outside world: small immutable events.

An `Event` is emitted on the frame where a fact became known (a track appeared, a line crossed,
a zone entered or left, a track gone), so events of one camera come out in stream order. Times that lie in the
past (e.g. the last moment a timed-out track was seen) are carried in `details`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

LINE_CROSSED = "line_crossed"
ZONE_ENTERED = "zone_entered"
ZONE_EXITED = "zone_exited"
TRACK_STARTED = "track_started"
TRACK_ENDED = "track_ended"
EVENT_KINDS = (TRACK_STARTED, LINE_CROSSED, ZONE_ENTERED, ZONE_EXITED, TRACK_ENDED)


@dataclass(frozen=True, slots=True)
class Event:
    """One analytics event of one camera.

    kind: one of `EVENT_KINDS`.
    pts_seconds / frame_index: the frame on which the event was decided (frame_index is the
        0-based `Frame.index`; output writers turn it into a 1-based `frame`).
    track_id: the camera-local tracker id the event is about.
    details: kind-specific JSON-ready values, e.g. `{"line": "door", "direction": "in"}`.
    """

    kind: str
    camera_id: str
    pts_seconds: float
    frame_index: int
    track_id: int
    details: dict[str, Any] = field(default_factory=dict, hash=False)

    def __post_init__(self) -> None:
        if self.kind not in EVENT_KINDS:
            raise ValueError(f"Event.kind must be one of {EVENT_KINDS}, got {self.kind!r}")

    def to_json_dict(self) -> dict[str, Any]:
        """A plain dict that `json.dumps` accepts (numpy scalars and arrays become Python values)."""
        return {
            "kind": self.kind,
            "camera_id": self.camera_id,
            "pts_seconds": float(self.pts_seconds),
            "frame_index": int(self.frame_index),
            "track_id": int(self.track_id),
            "details": {str(k): _jsonable(v) for k, v in self.details.items()},
        }


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return _jsonable(value.tolist())
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None  # JSON has no NaN/inf
    return value
