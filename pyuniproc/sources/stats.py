"""Per-camera health: one thread-safe object per camera, read by the runtime and the dashboard.

The source thread writes (frames received, errors, reconnects, state); the runtime's batching
thread writes `mark_processed` / `mark_dropped`; any thread may read `snapshot()`. One lock keeps
the numbers of a snapshot consistent with each other.
"""

from __future__ import annotations

import threading
import time
from collections import Counter, deque
from collections.abc import Callable
from typing import Any

from pyuniproc.compat import StrEnum
from pyuniproc.sources.uri import redact_text, redact_uri


class CameraState(StrEnum):
    """Where a camera is in its life.

    connecting: opening (first time or after a loss), including the backoff wait before a retry.
    live: frames are flowing.
    stalled: live, but no frame for `stall_timeout_seconds` (derived when read; the reader also
        gives up on a connection after its read timeout and goes back to connecting).
    dead: the source gave up and its `frames()` has ended: a file that cannot be opened or decoded,
        a truncated or corrupt file, or a live camera that failed `Backoff.max_attempts` times in a row.
    finished: the source ended normally: a file reached its end (without `loop`), `max_frames`
        was reached, or `stop()` was called.
    """

    CONNECTING = "connecting"
    LIVE = "live"
    STALLED = "stalled"
    DEAD = "dead"
    FINISHED = "finished"

    @property
    def is_terminal(self) -> bool:
        return self in (CameraState.DEAD, CameraState.FINISHED)


class CameraStats:
    """Health counters of one camera.

    camera_id: the camera's id.
    uri: the camera URI; kept only to scrub its secrets from error messages, shown redacted.
    stall_timeout_seconds: a live camera with no frame for this long reads as stalled. Lower flags
        trouble sooner; too low flags a camera whose frame rate is just slow.
    fps_window_seconds: the measured fps counts frames of this recent window. Longer is steadier,
        shorter follows changes (and a stop) faster. It reads 0 once frames stop or the camera
        finished; `average_fps` (first to last frame) is what a finished camera delivered.
    clock: time source (tests inject a fake one).
    """

    def __init__(
        self,
        camera_id: str,
        uri: str = "",
        *,
        stall_timeout_seconds: float = 5.0,
        fps_window_seconds: float = 2.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if not stall_timeout_seconds > 0:
            raise ValueError(f"stall_timeout_seconds must be > 0, got {stall_timeout_seconds!r}")
        if not fps_window_seconds > 0:
            raise ValueError(f"fps_window_seconds must be > 0, got {fps_window_seconds!r}")
        self.camera_id = camera_id
        self._raw_uri = uri
        self.uri = redact_uri(uri)
        self.stall_timeout_seconds = float(stall_timeout_seconds)
        self.fps_window_seconds = float(fps_window_seconds)
        self._clock = clock
        self._lock = threading.Lock()
        self._state = CameraState.CONNECTING
        self._frame_times: deque[float] = deque(maxlen=1024)
        self._first_frame_at: float | None = None
        self._last_frame_at: float | None = None
        self._frames_received = 0
        self._frames_processed = 0
        self._dropped: Counter[str] = Counter()
        self._read_errors = 0
        self._reconnect_attempts = 0
        self._consecutive_failures = 0
        self._last_error: str | None = None

    # -- written by the source -------------------------------------------------------------------

    def set_state(self, state: CameraState) -> None:
        """Move to `state`; a terminal state (dead, finished) is never left."""
        with self._lock:
            if not self._state.is_terminal:
                self._state = CameraState(state)

    def record_frame(self, now: float | None = None) -> None:
        """One frame left the source (so the camera is live)."""
        now = self._clock() if now is None else now
        with self._lock:
            self._frames_received += 1
            self._frame_times.append(now)
            if self._first_frame_at is None:
                self._first_frame_at = now
            self._last_frame_at = now
            if not self._state.is_terminal:
                self._state = CameraState.LIVE

    def record_read_error(self, message: str | None = None) -> None:
        """A packet or read failed; `message` (scrubbed here too) becomes last_error."""
        with self._lock:
            self._read_errors += 1
            if message:
                self._last_error = redact_text(message, self._raw_uri)

    def record_error(self, message: str) -> None:
        """Set last_error without counting a read error (open failures, stream ended)."""
        with self._lock:
            self._last_error = redact_text(message, self._raw_uri)

    def set_consecutive_failures(self, n: int) -> None:
        """Length of the current streak of connection attempts that gave no frame."""
        with self._lock:
            self._consecutive_failures = n

    def record_reconnect_attempt(self) -> None:
        with self._lock:
            self._reconnect_attempts += 1

    # -- written by the runtime ------------------------------------------------------------------

    def mark_processed(self, n: int = 1) -> None:
        """`n` frames of this camera went through the pipeline."""
        if n < 0:
            raise ValueError(f"mark_processed n must be >= 0, got {n!r}")
        with self._lock:
            self._frames_processed += n

    def mark_dropped(self, reason: str, n: int = 1) -> None:
        """`n` frames were dropped for `reason` (e.g. "queue_full", "overload")."""
        if n < 0:
            raise ValueError(f"mark_dropped n must be >= 0, got {n!r}")
        if not reason:
            raise ValueError("mark_dropped needs a non-empty reason")
        with self._lock:
            self._dropped[reason] += n

    # -- read by anyone --------------------------------------------------------------------------

    @property
    def state(self) -> CameraState:
        with self._lock:
            return self._effective_state(self._clock())

    @property
    def fps(self) -> float:
        with self._lock:
            return self._fps(self._clock())

    @property
    def average_fps(self) -> float:
        """Frames per second from the first frame to the last: what a finished camera delivered."""
        with self._lock:
            return self._average_fps()

    @property
    def frames_received(self) -> int:
        with self._lock:
            return self._frames_received

    @property
    def frames_processed(self) -> int:
        with self._lock:
            return self._frames_processed

    @property
    def dropped(self) -> Counter[str]:
        """A copy of the drop counts by reason."""
        with self._lock:
            return Counter(self._dropped)

    @property
    def read_errors(self) -> int:
        with self._lock:
            return self._read_errors

    @property
    def reconnect_attempts(self) -> int:
        with self._lock:
            return self._reconnect_attempts

    @property
    def consecutive_failures(self) -> int:
        with self._lock:
            return self._consecutive_failures

    @property
    def last_error(self) -> str | None:
        with self._lock:
            return self._last_error

    @property
    def seconds_since_last_frame(self) -> float | None:
        """None until the first frame."""
        with self._lock:
            return None if self._last_frame_at is None else self._clock() - self._last_frame_at

    def snapshot(self) -> dict[str, Any]:
        """All counters at one instant, JSON-ready (plain str/int/float/None/dict)."""
        with self._lock:
            now = self._clock()
            since = None if self._last_frame_at is None else round(now - self._last_frame_at, 3)
            return {
                "camera_id": self.camera_id,
                "uri": self.uri,
                "state": self._effective_state(now).value,
                "fps": round(self._fps(now), 2),
                "average_fps": round(self._average_fps(), 2),
                "frames_received": self._frames_received,
                "frames_processed": self._frames_processed,
                "dropped": dict(self._dropped),
                "dropped_total": sum(self._dropped.values()),
                "read_errors": self._read_errors,
                "reconnect_attempts": self._reconnect_attempts,
                "consecutive_failures": self._consecutive_failures,
                "last_error": self._last_error,
                "seconds_since_last_frame": since,
            }

    def _effective_state(self, now: float) -> CameraState:
        if (
            self._state is CameraState.LIVE
            and self._last_frame_at is not None
            and now - self._last_frame_at > self.stall_timeout_seconds
        ):
            return CameraState.STALLED
        return self._state

    def _fps(self, now: float) -> float:
        """Frames per second over the frames of the last window (0 once frames stop or it ended)."""
        if self._state.is_terminal:
            return 0.0
        start = now - self.fps_window_seconds
        times = [t for t in self._frame_times if t >= start]
        if len(times) < 2 or times[-1] <= times[0]:
            return 0.0
        return (len(times) - 1) / (times[-1] - times[0])

    def _average_fps(self) -> float:
        """Frames received per second between the first and the last frame (reconnect gaps included);
        unlike `_fps`, it stays once the camera has finished."""
        if self._first_frame_at is None or self._last_frame_at is None or self._frames_received < 2:
            return 0.0
        span = self._last_frame_at - self._first_frame_at
        return (self._frames_received - 1) / span if span > 0 else 0.0

    def __repr__(self) -> str:
        return f"CameraStats({self.snapshot()!r})"
