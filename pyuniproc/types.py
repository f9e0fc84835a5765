"""The value types that flow through every stage: one per concept.

`Frame` is what a source yields; `Detections` is what the detector returns, the tracker
annotates with `tracker_id`, and later stages extend through `data` (e.g. embeddings,
global ids). Shapes are checked once, when a value is built.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

NO_TRACK = -1
"""`tracker_id` of a row that no tracker has claimed."""


@dataclass(frozen=True, slots=True)
class Frame:
    """One decoded picture from one camera.

    image: (H, W, 3) uint8, RGB order.
    index: 0-based position of this frame in the camera's stream (counts frames decoded,
        across reconnects and loops, so it never goes backwards).
    pts_seconds: presentation time in seconds on the site clock: for files, 0 at the first
        frame played (after any start offset) and still increasing across loops; for live
        streams, the stream's own spacing anchored to the monotonic clock at each connect.
    decoded_at: `time.monotonic()` when the frame left the decoder; end-to-end latency is
        measured from here.
    """

    camera_id: str
    index: int
    pts_seconds: float
    image: np.ndarray
    decoded_at: float = 0.0

    def __post_init__(self) -> None:
        image = self.image
        if not isinstance(image, np.ndarray) or image.ndim != 3 or image.shape[2] != 3:
            shape = getattr(image, "shape", type(image).__name__)
            raise ValueError(f"Frame.image must be (H, W, 3) uint8 RGB, got shape {shape}")
        if image.dtype != np.uint8:
            raise ValueError(f"Frame.image must be uint8, got {image.dtype}")

    @property
    def height(self) -> int:
        return int(self.image.shape[0])

    @property
    def width(self) -> int:
        return int(self.image.shape[1])


@dataclass(slots=True)
class Detections:
    """Boxes of one frame as column arrays (the supervision layout).

    xyxy: (n, 4) float32, pixel corners x1, y1, x2, y2 in the frame's coordinates.
    confidence: (n,) float32 in [0, 1].
    class_id: (n,) int32.
    tracker_id: (n,) int64, `NO_TRACK` (-1) until a tracker assigns ids.
    data: per-row extras, each an array whose first axis has length n
        (e.g. "embedding": (n, D) float32, "global_id": (n,) int64).
    """

    xyxy: np.ndarray
    confidence: np.ndarray
    class_id: np.ndarray
    tracker_id: np.ndarray = None  # type: ignore[assignment]
    data: dict[str, np.ndarray] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.xyxy = np.asarray(self.xyxy, dtype=np.float32)
        if self.xyxy.size == 0:
            self.xyxy = self.xyxy.reshape(0, 4)
        n = self.xyxy.shape[0]
        if self.xyxy.ndim != 2 or self.xyxy.shape[1] != 4:
            raise ValueError(f"Detections.xyxy must be (n, 4), got {self.xyxy.shape}")
        self.confidence = _column("confidence", self.confidence, n, np.float32)
        self.class_id = _column("class_id", self.class_id, n, np.int32)
        if self.tracker_id is None:
            self.tracker_id = np.full(n, NO_TRACK, dtype=np.int64)
        self.tracker_id = _column("tracker_id", self.tracker_id, n, np.int64)
        for name, values in self.data.items():
            values = np.asarray(values)
            if values.shape[:1] != (n,):
                raise ValueError(f"Detections.data[{name!r}] must have {n} rows, got shape {values.shape}")
            self.data[name] = values

    @classmethod
    def empty(cls) -> Detections:
        return cls(xyxy=np.zeros((0, 4), np.float32), confidence=np.zeros(0, np.float32),
                   class_id=np.zeros(0, np.int32))

    def __len__(self) -> int:
        return int(self.xyxy.shape[0])

    def __getitem__(self, index: Any) -> Detections:
        """Rows selected by a boolean mask, an index array or a slice; always a new value."""
        if isinstance(index, (int, np.integer)):
            index = [int(index)]
        return Detections(
            xyxy=self.xyxy[index],
            confidence=self.confidence[index],
            class_id=self.class_id[index],
            tracker_id=self.tracker_id[index],
            data={name: values[index] for name, values in self.data.items()},
        )

    @property
    def width(self) -> np.ndarray:
        return self.xyxy[:, 2] - self.xyxy[:, 0]

    @property
    def height(self) -> np.ndarray:
        return self.xyxy[:, 3] - self.xyxy[:, 1]

    @property
    def bottom_center(self) -> np.ndarray:
        """(n, 2) float32: the point between the feet, where people touch the ground."""
        return np.stack([(self.xyxy[:, 0] + self.xyxy[:, 2]) / 2, self.xyxy[:, 3]], axis=1)

    @staticmethod
    def concatenate(parts: Iterable[Detections]) -> Detections:
        parts = [p for p in parts if len(p)]
        if not parts:
            return Detections.empty()
        keys = set(parts[0].data)
        for p in parts[1:]:
            if set(p.data) != keys:
                raise ValueError(f"cannot concatenate Detections with data keys {sorted(keys)} "
                                 f"and {sorted(p.data)}")
        return Detections(
            xyxy=np.concatenate([p.xyxy for p in parts]),
            confidence=np.concatenate([p.confidence for p in parts]),
            class_id=np.concatenate([p.class_id for p in parts]),
            tracker_id=np.concatenate([p.tracker_id for p in parts]),
            data={k: np.concatenate([p.data[k] for p in parts]) for k in keys},
        )


def _column(name: str, values: Any, n: int, dtype: type) -> np.ndarray:
    array = np.asarray(values, dtype=dtype).reshape(-1) if np.ndim(values) <= 1 else np.asarray(values)
    if array.shape != (n,):
        raise ValueError(f"Detections.{name} must be ({n},), got {np.shape(values)}")
    return array
