"""Which frames go into the next detector batch, and what the overload policy does with each.

Frames are taken from the cameras' buffers round robin (one per camera per turn, the turn's first
camera rotating), so every camera gets its share of the detector whatever its frame rate. As a
frame is taken, the overload policy decides: detect, predict only, or drop it as stale (counted,
and the camera's next frame is taken instead), so a batch is never thinned by dropped frames.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

from pyuniproc.runtime.camera_control import CameraRun
from pyuniproc.runtime.overload import STALE_REASON, Action, OverloadPolicy
from pyuniproc.types import Frame

Planned = tuple[Frame, Action]
IDLE_WAIT_SECONDS = 0.2  # nothing buffered: the run loop looks at its clock, edits and requests this often


def batch_limit(module: Any, backend: str) -> int:
    """Frames per detector batch for a `ModuleConfig` on a resolved backend ("cpu" / "gpu"): the module's
    `batch_size` on the CPU, where a batch costs per frame; `parameters.pyuniproc.gpu_batch_size` on the GPU,
    where a batch costs per batch (its copies, kernel launches and box decoding): batch across the cameras."""
    return module.runtime.gpu_batch_size if backend == "gpu" else module.detector.batch_size


class RoundRobin:
    """Batches across the cameras sharing `wakeup` (the condition their decode threads notify)."""

    def __init__(self, wakeup: threading.Condition) -> None:
        self.wakeup = wakeup
        self._next_camera = 0

    def next_batch(
        self,
        cameras: Mapping[str, CameraRun],
        *,
        limit: int,
        wait_seconds: float,
        overload: OverloadPolicy,
        interrupted: Callable[[], bool],
    ) -> list[Planned] | None:
        """Up to `limit` frames; a partial batch after waiting `wait_seconds` for other cameras;
        [] when nothing came within a short wait or `interrupted()` (a stop, a camera request);
        None when every camera has ended and nothing interrupts."""
        deadline = None
        with self.wakeup:
            while True:
                batch = self._take_round_robin(cameras, limit, overload)
                if len(batch) >= limit or (batch and all(c.worker.buffered() == 0 for c in cameras.values())):
                    return batch
                if interrupted():
                    return batch
                if not batch and all(c.worker.finished for c in cameras.values()):
                    return None
                if batch:
                    # A partial batch: wait briefly for other cameras, then go with what we have.
                    deadline = deadline or time.monotonic() + wait_seconds
                    remaining = deadline - time.monotonic()
                    if remaining <= 0:
                        return batch
                    self.wakeup.wait(remaining)
                    return batch + self._take_round_robin(cameras, limit - len(batch), overload)
                self.wakeup.wait(IDLE_WAIT_SECONDS)
                return []

    def _take_round_robin(
        self, cameras: Mapping[str, CameraRun], limit: int, overload: OverloadPolicy
    ) -> list[Planned]:
        ordered = list(cameras.values())
        batch: list[Planned] = []
        taken = bool(ordered)
        while len(batch) < limit and taken:
            taken = False
            for offset in range(len(ordered)):
                if len(batch) >= limit:
                    break
                planned = take(ordered[(self._next_camera + offset) % len(ordered)], overload)
                if planned is not None:
                    batch.append(planned)
                    taken = True
            self._next_camera = (self._next_camera + 1) % len(ordered)
        return batch


def take(camera: CameraRun, overload: OverloadPolicy) -> Planned | None:
    """The camera's oldest buffered frame and what the overload policy does with it; frames the
    policy drops are counted ("stale") and skipped. Only cameras that drop frames when their
    buffer is full (live, or paced in real time) have a latency to bound: a file read as fast as
    possible waits for the pipeline, so each of its frames is detected. Call with `wakeup` held."""
    worker = camera.worker
    while (frame := worker.pop()) is not None:
        if not worker.drop_when_full:
            return frame, Action.DETECT
        age_ms = (time.monotonic() - frame.decoded_at) * 1000
        action = overload.decide(frame.camera_id, age_ms=age_ms, newer_frames=worker.buffered())
        if action is not Action.DROP:
            return frame, action
        worker.stats.mark_dropped(STALE_REASON)
    return None
