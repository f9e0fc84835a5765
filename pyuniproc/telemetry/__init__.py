"""Observability of a pyuniproc process: per-frame traces, Prometheus metrics, health endpoints.

    tracing   one OpenTelemetry trace per frame, a span per stage, OTLP export (HTTP or gRPC),
              W3C context carried to the fusion process (`inject` / `extract`)
    metrics   per-camera health, stage latency histograms, fusion, process and GPU, in an own
              prometheus-client registry
    health    /healthz (the loop ticks) and /readyz (at least one camera live)
    server    Starlette app + uvicorn thread serving /metrics, /healthz, /readyz
    runtime   `Telemetry`, the one object the run loop holds

Deploy-side files: deploy/prometheus (scrape config, alert rules and their tests),
deploy/grafana (provisioning and dashboard). What each shows: docs/observability.md.
"""

from pyuniproc.telemetry.config import (
    MetricsSettings,
    TelemetryConfig,
    TelemetryConfigError,
    TracingSettings,
)
from pyuniproc.telemetry.health import Health
from pyuniproc.telemetry.metrics import LATENCY_BUCKETS, CameraCollector, PipelineMetrics
from pyuniproc.telemetry.runtime import Telemetry
from pyuniproc.telemetry.server import TelemetryServer, create_app, telemetry_routes
from pyuniproc.telemetry.tracing import (
    NOOP_FRAME,
    AnyFrameTrace,
    FrameTrace,
    FrameTracer,
    NoopTracer,
    extract,
    inject,
    setup_tracing,
)

__all__ = [
    "LATENCY_BUCKETS",
    "NOOP_FRAME",
    "AnyFrameTrace",
    "CameraCollector",
    "FrameTrace",
    "FrameTracer",
    "Health",
    "MetricsSettings",
    "NoopTracer",
    "PipelineMetrics",
    "Telemetry",
    "TelemetryConfig",
    "TelemetryConfigError",
    "TelemetryServer",
    "TracingSettings",
    "create_app",
    "extract",
    "inject",
    "setup_tracing",
    "telemetry_routes",
]
