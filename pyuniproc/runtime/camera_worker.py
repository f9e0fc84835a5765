"""One decode thread per camera, feeding a small bounded buffer.

Decoding runs in its own thread so one slow or dead camera never blocks the others (PyAV
releases the GIL while FFmpeg decodes). The buffer holds at most `queue_size` frames. When
inference falls behind a live camera (or a file paced in real time), the oldest frame is dropped
(counted as `queue_full`) so latency stays bounded instead of growing without limit; a file read
as fast as possible waits instead, so every one of its frames is processed.
"""

from __future__ import annotations

import logging
import threading
from collections import deque

from pyuniproc.sources import CameraSource
from pyuniproc.types import Frame

log = logging.getLogger(__name__)


class CameraWorker:
    def __init__(self, source: CameraSource, *, queue_size: int, wakeup: threading.Condition,
                 drop_when_full: bool | None = None):
        if queue_size < 1:
            raise ValueError(f"queue_size must be >= 1, got {queue_size!r}")
        self.source = source
        self.camera_id = source.camera_id
        self._frames: deque[Frame] = deque()
        self.queue_size = queue_size
        self.drop_when_full = ((source.is_live or source.realtime) if drop_when_full is None
                               else drop_when_full)
        self._wakeup = wakeup
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"decode-{self.camera_id}", daemon=True)

    @property
    def stats(self):
        return self.source.stats

    def start(self) -> None:
        self._thread.start()

    def _run(self) -> None:
        try:
            for frame in self.source.frames():
                with self._wakeup:
                    while not self.drop_when_full and len(self._frames) >= self.queue_size \
                            and not self.source.stopped:
                        self._wakeup.wait(0.1)
                    if len(self._frames) >= self.queue_size:
                        self._frames.popleft()
                        self.stats.mark_dropped("queue_full")
                    self._frames.append(frame)
                    self._wakeup.notify_all()
        except Exception:  # a bug in one camera's decode must not take the others down
            log.exception("camera %s: decode thread failed", self.camera_id)
        finally:
            self._done.set()
            with self._wakeup:
                self._wakeup.notify_all()

    def pop(self) -> Frame | None:
        """Oldest buffered frame, or None. Call with the shared condition held."""
        if not self._frames:
            return None
        if not self.drop_when_full:
            self._wakeup.notify_all()  # room for a decoder waiting on a full buffer
        return self._frames.popleft()

    def buffered(self) -> int:
        return len(self._frames)

    @property
    def finished(self) -> bool:
        """Decoding ended and every buffered frame was taken."""
        return self._done.is_set() and not self._frames

    def stop(self) -> None:
        self.source.stop()

    def join(self, timeout: float | None = None) -> None:
        if self._thread.ident is not None:  # never started: nothing to wait for
            self._thread.join(timeout)

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()
