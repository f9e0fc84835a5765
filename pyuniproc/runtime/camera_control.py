"""Add and remove cameras of a running `Pipeline` (used by scripts/soak.py).

The pipeline has no public add/remove API yet, so `CameraControl` does it from the outside as a
`FrameObserver`: requests from any thread are queued and applied in `on_summary`, which the run
loop calls between batches on its own thread, so no batch is in flight and nothing iterates the
camera table meanwhile. It uses the pipeline's internals (`_cameras`, `_wakeup`, `_end_camera`);
once `Pipeline.add_camera(spec)` / `Pipeline.remove_camera(camera_id)` exist it calls those
instead. Requests are applied at the pipeline's summary period (`summary_period_seconds`).

A removed camera ends like a camera whose stream ended (pyfuncs get end-of-source, its video is
closed), frames still buffered for it are counted as dropped ("removed"), and its /metrics
series are dropped. A camera id may be added again after its removal.
"""

from __future__ import annotations

import logging
import queue
import threading
from concurrent.futures import Future
from typing import Any

from pyuniproc.config.cameras import CameraSpec
from pyuniproc.runtime.camera_worker import CameraWorker
from pyuniproc.sources import CameraSource
from pyuniproc.types import Detections, Frame

log = logging.getLogger(__name__)

REMOVED_REASON = "removed"
"""Drop reason of the frames still buffered for a camera when it is removed."""


class CameraControl:
    """Queue of camera additions and removals for one pipeline; attach before or during `run()`.

    join_seconds: how long a removal waits for the camera's decode thread to end (a live source
        ends within its poll interval; a file being decoded within one frame).
    """

    def __init__(self, pipeline: Any, *, join_seconds: float = 5.0) -> None:
        self.pipeline = pipeline
        self.join_seconds = join_seconds
        self._requests: queue.Queue[tuple[str, Any, Future]] = queue.Queue()
        self._lock = threading.Lock()
        pipeline.observers.append(self)

    # -- any thread ----------------------------------------------------------------------------

    def add(self, spec: CameraSpec) -> Future:
        """Start a camera; the future resolves (None) once it is running, or raises ValueError."""
        return self._submit("add", spec)

    def remove(self, camera_id: str) -> Future:
        """Stop and forget a camera; the future resolves to its last stats snapshot."""
        return self._submit("remove", camera_id)

    def _submit(self, action: str, argument: Any) -> Future:
        future: Future = Future()
        self._requests.put((action, argument, future))
        return future

    # -- FrameObserver, on the pipeline thread -------------------------------------------------

    def on_frame(self, frame: Frame, tracks: Detections, events: list[dict[str, Any]]) -> None:
        pass

    def on_summary(self, summary: dict[str, Any]) -> None:
        self.apply_pending()

    def apply_pending(self) -> None:
        """Apply queued requests now; only call between batches on the pipeline thread."""
        while True:
            try:
                action, argument, future = self._requests.get_nowait()
            except queue.Empty:
                return
            try:
                result = self._add(argument) if action == "add" else self._remove(argument)
            except Exception as exc:  # reported to the caller, never into the run loop
                future.set_exception(exc)
            else:
                future.set_result(result)

    def _add(self, spec: CameraSpec) -> None:
        pipeline = self.pipeline
        if hasattr(pipeline, "add_camera"):
            return pipeline.add_camera(spec)
        from pyuniproc.runtime.pipeline import CameraRun

        if spec.id in pipeline._cameras:
            raise ValueError(f"camera {spec.id!r} is already running")
        options = pipeline.options
        source = CameraSource(
            spec.id,
            spec.uri,
            realtime=spec.realtime if options.realtime is None else options.realtime,
            loop=spec.loop if options.loop is None else options.loop,
            start_seconds=spec.start_seconds,
            rtsp_transport=spec.rtsp_transport,
            max_frames=options.max_frames,
        )
        worker = CameraWorker(source, queue_size=pipeline.settings.queue_size, wakeup=pipeline._wakeup)
        with pipeline._wakeup:
            pipeline._cameras[spec.id] = CameraRun(spec=spec, worker=worker)
        worker.start()
        log.info("camera %s: added (%s)", spec.id, source.uri)
        return None

    def _remove(self, camera_id: str) -> dict[str, Any]:
        pipeline = self.pipeline
        if hasattr(pipeline, "remove_camera"):
            return pipeline.remove_camera(camera_id)
        camera = pipeline._cameras.get(camera_id)
        if camera is None:
            raise ValueError(f"no camera {camera_id!r} is running")
        camera.worker.stop()
        camera.worker.join(self.join_seconds)
        with pipeline._wakeup:
            leftover = camera.worker.buffered()
            while camera.worker.pop() is not None:
                pass
        if leftover:
            camera.worker.stats.mark_dropped(REMOVED_REASON, leftover)
        if not camera.ended:
            pipeline._end_camera(camera_id, camera)
        with pipeline._wakeup:
            del pipeline._cameras[camera_id]
        pipeline.telemetry.metrics.forget_camera(camera_id)
        log.info("camera %s: removed", camera_id)
        return camera.worker.stats.snapshot()
