"""`Telemetry`: the one object the run loop holds (tracer, metrics, health, HTTP server).

Built from `TelemetryConfig`; the loop calls `tick()` once per iteration, `start_frame()` per
frame, `record_stage()` / `record_batch_stage()` with the timings it already measures, and
`finish_frame()` when a frame's outputs are written. Each call feeds both the latency
histograms and the frame's trace, so the two never disagree on stage names or timings.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

from pyuniproc.telemetry.config import TelemetryConfig
from pyuniproc.telemetry.health import Health
from pyuniproc.telemetry.metrics import END_TO_END, CameraProvider, PipelineMetrics
from pyuniproc.telemetry.server import TelemetryServer, create_app
from pyuniproc.telemetry.tracing import AnyFrameTrace, Tracer, setup_tracing

log = logging.getLogger(__name__)


class Telemetry:
    """Tracing + metrics + health for one process.

    cameras: provider of per-camera snapshot dicts (`{camera_id: CameraStats.snapshot()}`,
        optionally with "queue_depth"), read at each scrape and /readyz.
    exporter, nvml: stand-ins for tests and benchmarks (see `setup_tracing`, `gpu_collector`).
    """

    def __init__(
        self,
        config: TelemetryConfig | None = None,
        *,
        cameras: CameraProvider | None = None,
        exporter: Any | None = None,
        nvml: Any | None = None,
    ) -> None:
        self.config = config or TelemetryConfig()
        m = self.config.metrics
        self.tracer: Tracer = setup_tracing(self.config.tracing, exporter=exporter)
        self.metrics = PipelineMetrics(process=m.process, gpu=m.gpu if m.enabled else "off", nvml=nvml)
        self.metrics.watch_cameras(cameras)
        self.health = Health(self.metrics.cameras, liveness_timeout_seconds=m.liveness_timeout_seconds)
        self.server: TelemetryServer | None = None

    def start(self, *, strict: bool = False) -> Telemetry:
        """Start the HTTP server if enabled. A port in use is logged and the run goes on without
        it, unless `strict` (then the OSError propagates)."""
        m = self.config.metrics
        if m.enabled and self.server is None:
            server = TelemetryServer(create_app(self.metrics, self.health), host=m.host, port=m.port)
            try:
                self.server = server.start()
            except OSError as exc:
                if strict:
                    raise
                log.error(
                    "telemetry server cannot listen on %s:%s (%s); running without /metrics",
                    m.host,
                    m.port,
                    exc,
                )
        return self

    @property
    def url(self) -> str | None:
        return self.server.url if self.server else None

    # -- per loop iteration / frame / stage -----------------------------------------------------

    def tick(self) -> None:
        self.health.tick()
        self.metrics.tick()

    def start_frame(
        self,
        camera_id: str,
        frame_index: int,
        decoded_at: float | None = None,
        *,
        pts_seconds: float | None = None,
        parent: Mapping[str, str] | None = None,
    ) -> AnyFrameTrace:
        """`parent`: the trace context the frame arrived with, if any (see `FrameTracer.start_frame`)."""
        return self.tracer.start_frame(camera_id, frame_index, decoded_at, pts_seconds=pts_seconds,
                                       parent=parent)

    def record_stage(
        self, frame: AnyFrameTrace, camera_id: str, stage: str, start: float, end: float
    ) -> None:
        """A per-frame stage timed by the loop (`time.monotonic()` seconds)."""
        self.metrics.observe_stage(stage, end - start, camera_id)
        frame.stage(stage, start, end)

    def record_batch_stage(
        self, frames: Sequence[AnyFrameTrace], camera_ids: Sequence[str], stage: str, start: float, end: float
    ) -> None:
        """A stage run once for a batch: each frame observes (and traces) the batch's whole time."""
        seconds = end - start
        for camera_id in camera_ids:
            self.metrics.observe_stage(stage, seconds, camera_id)
        self.tracer.batch_stage(frames, stage, start, end)

    def finish_frame(
        self,
        frame: AnyFrameTrace,
        camera_id: str,
        decoded_at: float,
        end: float,
        *,
        objects: int | None = None,
    ) -> None:
        """Outputs written: end-to-end latency, and the frame's root span closes."""
        self.metrics.observe_stage(END_TO_END, end - decoded_at, camera_id)
        frame.end(end, objects=objects)

    # -- shutdown ------------------------------------------------------------------------------

    def stop(self) -> None:
        """Flush traces, stop serving. Safe to call twice."""
        self.health.stopped()
        self.tracer.shutdown()
        if self.server is not None:
            self.server.stop()
            self.server = None

    def __enter__(self) -> Telemetry:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
