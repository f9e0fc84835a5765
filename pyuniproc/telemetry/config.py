"""Typed telemetry settings: tracing (OpenTelemetry over OTLP), metrics/health HTTP server.

The settings come from a plain mapping (in the module YAML: ``parameters.pyuniproc.telemetry``,
already resolved by OmegaConf, so ``${oc.env:VAR, default}`` works there) and then the standard
OpenTelemetry environment variables are applied on top, because that is what operators and
docker-compose files set without touching YAML:

    OTEL_SDK_DISABLED=true                 tracing off
    OTEL_TRACES_EXPORTER=none              tracing off
    OTEL_SERVICE_NAME                      service name
    OTEL_TRACES_SAMPLER / _ARG             always_on, always_off, traceidratio,
                                           parentbased_traceidratio (+ ratio in _ARG)
    OTEL_EXPORTER_OTLP_TRACES_PROTOCOL     grpc | http/protobuf (falls back to OTEL_EXPORTER_OTLP_PROTOCOL)
    OTEL_EXPORTER_OTLP_TRACES_ENDPOINT     full URL, used as is; else OTEL_EXPORTER_OTLP_ENDPOINT, a base
                                           URL to which /v1/traces is appended for HTTP
    OTEL_EXPORTER_OTLP_HEADERS             read by the exporter itself

Errors raise `TelemetryConfigError`, which names the field (dotted path) so the module loader
can point at the YAML line.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from typing import Any

PROTOCOLS = ("http/protobuf", "grpc")
DEFAULT_ENDPOINTS = {"http/protobuf": "http://localhost:4318", "grpc": "http://localhost:4317"}
DEFAULT_METRICS_PORT = 9464  # the port OpenTelemetry's Prometheus exporters use by convention


class TelemetryConfigError(ValueError):
    """A telemetry setting that cannot be used; `field` is its dotted path."""

    def __init__(self, field: str, message: str) -> None:
        self.field = field
        self.message = message
        super().__init__(f"field '{field}': {message}")


@dataclass(frozen=True)
class TracingSettings:
    """How frames are traced.

    enabled: off by default; when off, the pipeline pays one method call per frame (see
        scripts/bench_tracing_overhead.py).
    sampling_ratio: share of frames (0..1) that get a trace. Each sampled frame costs a few tens
        of microseconds and one trace in the backend; 1.0 traces everything (debugging), 0.01
        suits a busy site. The fusion process follows the frame's decision.
    service_name: `service.name` of the spans (what Jaeger lists under "Service").
    protocol: "http/protobuf" (port 4318) or "grpc" (port 4317); Jaeger accepts both.
    endpoint: OTLP receiver. For HTTP a base URL (``/v1/traces`` is appended) or a full
        ``.../v1/traces`` URL; for gRPC ``http://host:4317`` (plaintext) or ``https://...``.
        None: the protocol's localhost default.
    traces_endpoint: full URL of the traces endpoint, used exactly as given (wins over
        `endpoint`), as OTEL_EXPORTER_OTLP_TRACES_ENDPOINT is.
    timeout_seconds: per export request; exports run on a background thread, never in the loop.
    max_queue_size: spans buffered for export; when the receiver is slow or away, newer spans
        are dropped rather than blocking the pipeline or growing memory.
    schedule_delay_ms: how often the background thread sends a batch.
    """

    enabled: bool = False
    sampling_ratio: float = 1.0
    service_name: str = "pyuniproc"
    protocol: str = "http/protobuf"
    endpoint: str | None = None
    traces_endpoint: str | None = None
    timeout_seconds: float = 10.0
    max_queue_size: int = 4096
    schedule_delay_ms: float = 1000.0

    def traces_url(self) -> str:
        """The URL the exporter sends to (HTTP: with the /v1/traces path)."""
        if self.traces_endpoint:
            return self.traces_endpoint
        base = self.endpoint or DEFAULT_ENDPOINTS[self.protocol]
        if self.protocol == "grpc" or base.rstrip("/").endswith("/v1/traces"):
            return base
        return base.rstrip("/") + "/v1/traces"


@dataclass(frozen=True)
class MetricsSettings:
    """The HTTP server for /metrics, /healthz and /readyz.

    enabled: serve at all.
    host: listen address; 127.0.0.1 keeps it off the network (set 0.0.0.0 in a container so
        Prometheus in another container can scrape it).
    port: TCP port; 0 picks a free one (tests).
    process: export process CPU and memory (prometheus-client's process collector).
    gpu: "auto" exports NVIDIA GPU utilisation and memory when nvidia-ml-py and a driver are
        present; "off" never loads NVML.
    liveness_timeout_seconds: /healthz answers 503 when the run loop has not ticked for this
        long. Longer tolerates slow model loading or long inferences, shorter restarts a hung
        process sooner.
    """

    enabled: bool = True
    host: str = "127.0.0.1"
    port: int = DEFAULT_METRICS_PORT
    process: bool = True
    gpu: str = "auto"
    liveness_timeout_seconds: float = 30.0


@dataclass(frozen=True)
class TelemetryConfig:
    tracing: TracingSettings = field(default_factory=TracingSettings)
    metrics: MetricsSettings = field(default_factory=MetricsSettings)

    @classmethod
    def from_mapping(
        cls,
        data: Mapping[str, Any] | None,
        *,
        where: str = "telemetry",
        environ: Mapping[str, str] | None = None,
    ) -> TelemetryConfig:
        """Check `data` ({"tracing": {...}, "metrics": {...}}), then apply OTEL_* variables."""
        data = {} if data is None else data
        if not isinstance(data, Mapping):
            raise TelemetryConfigError(where, f"must be a mapping, got {type(data).__name__}")
        _reject_unknown(data, {"tracing", "metrics"}, where)
        tracing = _typed(TracingSettings, data.get("tracing"), f"{where}.tracing")
        metrics = _typed(MetricsSettings, data.get("metrics"), f"{where}.metrics")
        _check_tracing(tracing, f"{where}.tracing")
        _check_metrics(metrics, f"{where}.metrics")
        tracing = apply_otel_env(tracing, os.environ if environ is None else environ)
        return cls(tracing=tracing, metrics=metrics)


def apply_otel_env(settings: TracingSettings, environ: Mapping[str, str]) -> TracingSettings:
    """The standard OTEL_* variables win over the file (see module docstring)."""
    changes: dict[str, Any] = {}
    if _truthy(environ.get("OTEL_SDK_DISABLED")) or environ.get("OTEL_TRACES_EXPORTER", "").lower() == "none":
        changes["enabled"] = False
    if environ.get("OTEL_SERVICE_NAME"):
        changes["service_name"] = environ["OTEL_SERVICE_NAME"]
    sampler = environ.get("OTEL_TRACES_SAMPLER", "").lower()
    if sampler in ("always_on", "parentbased_always_on"):
        changes["sampling_ratio"] = 1.0
    elif sampler in ("always_off", "parentbased_always_off"):
        changes["sampling_ratio"] = 0.0
    elif sampler in ("traceidratio", "parentbased_traceidratio") and environ.get("OTEL_TRACES_SAMPLER_ARG"):
        changes["sampling_ratio"] = _env_ratio(environ["OTEL_TRACES_SAMPLER_ARG"])
    protocol = environ.get("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL") or environ.get("OTEL_EXPORTER_OTLP_PROTOCOL")
    if protocol:
        if protocol not in PROTOCOLS:
            raise TelemetryConfigError(
                "OTEL_EXPORTER_OTLP_PROTOCOL", f"{protocol!r} is not one of {PROTOCOLS}"
            )
        changes["protocol"] = protocol
    if environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"):
        changes["traces_endpoint"] = environ["OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"]  # a full URL, as is
    elif environ.get("OTEL_EXPORTER_OTLP_ENDPOINT"):
        changes["endpoint"] = environ["OTEL_EXPORTER_OTLP_ENDPOINT"]
        changes["traces_endpoint"] = None
    return replace(settings, **changes) if changes else settings


def _truthy(value: str | None) -> bool:
    return (value or "").strip().lower() in ("1", "true", "yes", "on")


def _env_ratio(text: str) -> float:
    try:
        ratio = float(text)
    except ValueError:
        raise TelemetryConfigError(
            "OTEL_TRACES_SAMPLER_ARG", f"expected a number in [0, 1], got {text!r}"
        ) from None
    if not 0.0 <= ratio <= 1.0:
        raise TelemetryConfigError("OTEL_TRACES_SAMPLER_ARG", f"{ratio!r} is out of range [0, 1]")
    return ratio


def _reject_unknown(data: Mapping[str, Any], known: set[str], where: str) -> None:
    for key in data:
        if key not in known:
            raise TelemetryConfigError(f"{where}.{key}", f"unknown setting; known: {sorted(known)}")


def _typed(cls: type, data: Any, where: str) -> Any:
    """Build dataclass `cls` from `data`, checking each value against its default's type."""
    if data is None:
        return cls()
    if not isinstance(data, Mapping):
        raise TelemetryConfigError(where, f"must be a mapping, got {type(data).__name__}")
    known = {f.name: f for f in fields(cls)}
    _reject_unknown(data, set(known), where)
    defaults = cls()
    values: dict[str, Any] = {}
    for key, value in data.items():
        default = getattr(defaults, key)
        path = f"{where}.{key}"
        if isinstance(default, bool):
            if not isinstance(value, bool):
                raise TelemetryConfigError(path, f"expected true or false, got {value!r}")
        elif isinstance(default, (int, float)):
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise TelemetryConfigError(path, f"expected a number, got {value!r}")
            if isinstance(default, int) and int(value) != value:
                raise TelemetryConfigError(path, f"expected a whole number, got {value!r}")
            value = type(default)(value)
        elif value is not None and not isinstance(value, str):
            raise TelemetryConfigError(path, f"expected a string, got {value!r}")
        values[key] = value
    return cls(**values)


def _check_tracing(settings: TracingSettings, where: str) -> None:
    if not 0.0 <= settings.sampling_ratio <= 1.0:
        raise TelemetryConfigError(
            f"{where}.sampling_ratio", f"{settings.sampling_ratio!r} is out of range [0, 1]"
        )
    if settings.protocol not in PROTOCOLS:
        raise TelemetryConfigError(f"{where}.protocol", f"{settings.protocol!r} is not one of {PROTOCOLS}")
    if not settings.service_name:
        raise TelemetryConfigError(f"{where}.service_name", "must not be empty")
    for name in ("timeout_seconds", "schedule_delay_ms"):
        if getattr(settings, name) <= 0:
            raise TelemetryConfigError(f"{where}.{name}", f"must be > 0, got {getattr(settings, name)!r}")
    if settings.max_queue_size < 1:
        raise TelemetryConfigError(
            f"{where}.max_queue_size", f"must be >= 1, got {settings.max_queue_size!r}"
        )


def _check_metrics(settings: MetricsSettings, where: str) -> None:
    if not 0 <= settings.port <= 65535:
        raise TelemetryConfigError(f"{where}.port", f"{settings.port!r} is not a TCP port (0..65535)")
    if settings.gpu not in ("auto", "off"):
        raise TelemetryConfigError(f"{where}.gpu", f"expected 'auto' or 'off', got {settings.gpu!r}")
    if not settings.host:
        raise TelemetryConfigError(f"{where}.host", "must not be empty")
    if settings.liveness_timeout_seconds <= 0:
        raise TelemetryConfigError(
            f"{where}.liveness_timeout_seconds", f"must be > 0, got {settings.liveness_timeout_seconds!r}"
        )
