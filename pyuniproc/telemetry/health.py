"""Liveness and readiness, as an orchestrator (docker, Kubernetes) asks for them.

Liveness (/healthz) answers "is the process making progress?": the run loop calls `tick()`
every iteration (it wakes at least every 0.2 s even with no frames), so a loop stuck in a
deadlock or a hung inference stops ticking and, after `liveness_timeout_seconds`, /healthz says
503 and the orchestrator can restart the process. It deliberately ignores cameras: a camera
being down is not fixed by restarting us.

Readiness (/readyz) answers "is it doing useful work?": ready while at least one camera is live,
with each camera's status in the body, so a load balancer or a person sees which camera is out.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from pyuniproc.telemetry.metrics import CameraCollector

# The fields of a camera snapshot shown by /readyz (no URI: even redacted it names hosts).
READY_FIELDS = (
    "state",
    "fps",
    "frames_received",
    "frames_processed",
    "dropped_total",
    "read_errors",
    "reconnect_attempts",
    "seconds_since_last_frame",
    "last_error",
)


class Health:
    """Loop heartbeat plus per-camera readiness.

    cameras: where camera snapshots come from (the metrics' `CameraCollector`, so /readyz and
        /metrics always agree).
    liveness_timeout_seconds: see `MetricsSettings.liveness_timeout_seconds`.
    clock: time source (tests inject a fake one).
    """

    def __init__(
        self,
        cameras: CameraCollector,
        *,
        liveness_timeout_seconds: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if not liveness_timeout_seconds > 0:
            raise ValueError(f"liveness_timeout_seconds must be > 0, got {liveness_timeout_seconds!r}")
        self._cameras = cameras
        self.liveness_timeout_seconds = float(liveness_timeout_seconds)
        self._clock = clock
        self._lock = threading.Lock()
        self._last_tick = clock()  # starting up counts as alive for one timeout
        self._ticks = 0
        self._stopped = False

    def tick(self) -> None:
        """The run loop went round once."""
        now = self._clock()
        with self._lock:
            self._last_tick = now
            self._ticks += 1

    def stopped(self) -> None:
        """The run ended on purpose: /healthz stays 200 while outputs are closed."""
        with self._lock:
            self._stopped = True

    def liveness(self) -> tuple[bool, dict[str, Any]]:
        with self._lock:
            since = self._clock() - self._last_tick
            ticks, stopped = self._ticks, self._stopped
        alive = stopped or since <= self.liveness_timeout_seconds
        return alive, {
            "alive": alive,
            "seconds_since_tick": round(since, 3),
            "ticks": ticks,
            "liveness_timeout_seconds": self.liveness_timeout_seconds,
        }

    def readiness(self) -> tuple[bool, dict[str, Any]]:
        cameras = {
            camera_id: {key: snap.get(key) for key in READY_FIELDS if key in snap}
            for camera_id, snap in sorted(self._cameras.snapshots().items())
        }
        live = [camera_id for camera_id, c in cameras.items() if c.get("state") == "live"]
        ready = bool(live)
        return ready, {"ready": ready, "live_cameras": len(live), "cameras": cameras}
