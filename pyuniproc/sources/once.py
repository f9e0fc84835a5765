"""What every camera source shares: `frames()` iterated once, and `stop()` that ends it from any thread."""

from __future__ import annotations

import threading
from collections.abc import Iterator

from pyuniproc.types import Frame


def check_reading(start_seconds: float, max_frames: int | None, first_index: int) -> None:
    """The reading arguments every file source takes; ValueError naming the bad one."""
    if not start_seconds >= 0:
        raise ValueError(f"start_seconds must be >= 0, got {start_seconds!r}")
    if max_frames is not None and (not isinstance(max_frames, int) or max_frames < 1):
        raise ValueError(f"max_frames must be None or an int >= 1, got {max_frames!r}")
    if not isinstance(first_index, int) or first_index < 0:
        raise ValueError(f"first_index must be an int >= 0, got {first_index!r}")


class OneShotSource:
    """Subclasses set `camera_id` and implement `_frames()`; `frames()` hands it out once."""

    camera_id: str

    def __init__(self) -> None:
        self._stop = threading.Event()
        self._started = False
        self._start_lock = threading.Lock()

    def frames(self) -> Iterator[Frame]:
        """Blocking iterator of frames; may be iterated once (a second call is a RuntimeError)."""
        with self._start_lock:
            if self._started:
                raise RuntimeError(f"camera {self.camera_id}: frames() can be iterated only once")
            self._started = True
        return self._frames()

    def _frames(self) -> Iterator[Frame]:
        raise NotImplementedError

    def stop(self) -> None:
        """Make `frames()` end promptly (thread-safe, idempotent)."""
        self._stop.set()

    @property
    def stopped(self) -> bool:
        return self._stop.is_set()
