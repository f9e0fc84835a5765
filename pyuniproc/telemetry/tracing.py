"""One OpenTelemetry trace per frame, with a child span per pipeline stage.

Shape of a frame's trace (what Jaeger shows)::

    frame                       camera.id, frame.index, frame.pts, objects.count
    ├── queue                   decoded -> taken into a batch (pipeline stage "decode_wait")
    ├── preprocess              batch.size, batch.id, batch.position  (+ links, see below)
    ├── detect                  (pipeline stage "infer")
    ├── decode_boxes
    ├── track
    ├── embed
    ├── analytics
    ├── publish                 (pipeline stage "output")
    └── fusion                  started in the fusion process from the propagated context

Batched stages. One inference serves N frames of several cameras. Each frame's trace gets its
own child span with the batch's real start and end (the time that frame really spent there),
attributes ``batch.size``, ``batch.id`` (a per-process counter, searchable in Jaeger) and
``batch.position``, and span links to the other frames of the batch. Why not one "batch" span in
its own trace, linked from the frames: a trace per frame is then incomplete (the detector time,
usually the largest, would sit in another trace), and Jaeger draws links only as references.
The cost, N spans instead of one, is paid only for sampled frames.

Timestamps. The pipeline measures stages with ``time.monotonic()``; the API takes those same
seconds and converts them once (offset to the wall clock taken at setup), so the lead can add
spans after the fact from the timings the loop already has, without timing anything twice.

Cost. Tracing off: `NoopTracer` returns one shared `NOOP_FRAME` whose methods do nothing.
On but not sampled: one SDK root span (ids plus the sampler's decision) and nothing per stage;
the trace context is still kept so the fusion process makes the same (negative) decision.
Numbers: scripts/bench_tracing_overhead.py.

Propagation. `inject(frame)` gives a W3C ``traceparent`` dict to put into a ZeroMQ or Kafka
message (headers or a metadata field); the receiving process calls `extract(carrier)` or
`FrameTracer.remote_span(...)`, and its spans join the frame's trace.
"""

from __future__ import annotations

import itertools
import logging
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter
from opentelemetry.sdk.trace.sampling import ParentBased, TraceIdRatioBased
from opentelemetry.trace import Link, Span
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from pyuniproc import __version__
from pyuniproc.telemetry.config import TracingSettings

log = logging.getLogger(__name__)

ROOT_SPAN = "frame"
# Pipeline stage names (pyuniproc.runtime.pipeline.STAGES) -> span names; others pass unchanged.
STAGE_SPAN_NAMES: dict[str, str] = {"decode_wait": "queue", "infer": "detect", "output": "publish"}
_PROPAGATOR = TraceContextTextMapPropagator()
Attributes = Mapping[str, str | bool | int | float]


class _Clock:
    """Maps `time.monotonic()` seconds onto epoch nanoseconds, as OTLP wants them."""

    def __init__(self) -> None:
        self.offset_ns = time.time_ns() - time.monotonic_ns()

    def ns(self, monotonic_seconds: float | None) -> int:
        if monotonic_seconds is None:
            return time.time_ns()
        return int(monotonic_seconds * 1e9) + self.offset_ns


class FrameTrace:
    """The trace of one sampled frame: its root span plus the context its stages hang from."""

    __slots__ = ("_tracer", "_clock", "span", "_context", "camera_id")
    sampled = True

    def __init__(self, tracer: trace.Tracer, clock: _Clock, span: Span, camera_id: str) -> None:
        self._tracer = tracer
        self._clock = clock
        self.span = span
        self._context = trace.set_span_in_context(span)
        self.camera_id = camera_id

    def stage(
        self,
        name: str,
        start: float,
        end: float,
        attributes: Attributes | None = None,
        links: Sequence[Link] | None = None,
    ) -> None:
        """A finished stage, from the loop's own `time.monotonic()` start and end."""
        span = self._tracer.start_span(
            STAGE_SPAN_NAMES.get(name, name),
            context=self._context,
            start_time=self._clock.ns(start),
            attributes=attributes,
            links=links,
        )
        span.end(end_time=self._clock.ns(end))

    @contextmanager
    def span_for(self, name: str, attributes: Attributes | None = None) -> Iterator[Span]:
        """Time a block as a stage span (for code that does not measure itself)."""
        span = self._tracer.start_span(
            STAGE_SPAN_NAMES.get(name, name), context=self._context, attributes=attributes
        )
        try:
            yield span
        finally:
            span.end()

    def set_attribute(self, key: str, value: str | bool | int | float) -> None:
        self.span.set_attribute(key, value)

    def end(self, end: float | None = None, *, objects: int | None = None) -> None:
        """Close the frame's root span (`end`: monotonic seconds; None = now)."""
        if objects is not None:
            self.span.set_attribute("objects.count", int(objects))
        self.span.end(end_time=self._clock.ns(end))

    def carrier(self) -> dict[str, str]:
        carrier: dict[str, str] = {}
        _PROPAGATOR.inject(carrier, context=self._context)
        return carrier


class _UnsampledFrameTrace:
    """A frame the sampler skipped: nothing is recorded, but its context still propagates."""

    __slots__ = ("span", "camera_id")
    sampled = False

    def __init__(self, span: Span | None, camera_id: str = "") -> None:
        self.span = span
        self.camera_id = camera_id

    def stage(
        self,
        name: str,
        start: float,
        end: float,
        attributes: Attributes | None = None,
        links: Sequence[Link] | None = None,
    ) -> None:
        return None

    @contextmanager
    def span_for(self, name: str, attributes: Attributes | None = None) -> Iterator[Span]:
        yield trace.INVALID_SPAN

    def set_attribute(self, key: str, value: str | bool | int | float) -> None:
        return None

    def end(self, end: float | None = None, *, objects: int | None = None) -> None:
        return None

    def carrier(self) -> dict[str, str]:
        if self.span is None:
            return {}
        carrier: dict[str, str] = {}
        _PROPAGATOR.inject(carrier, context=trace.set_span_in_context(self.span))
        return carrier


NOOP_FRAME = _UnsampledFrameTrace(None)
AnyFrameTrace = FrameTrace | _UnsampledFrameTrace


def inject(frame: AnyFrameTrace) -> dict[str, str]:
    """W3C trace context of `frame` ({"traceparent": "00-<trace>-<span>-<flags>"}); {} when off."""
    return frame.carrier()


def extract(carrier: Mapping[str, str] | None) -> Context:
    """The context sent by `inject`, as a parent for spans in this process. Also reads Jaeger's
    `uber-trace-id` header, the format savant-rs propagates by default (Savant's adapters and module)."""
    carrier = dict(carrier or {})
    if "traceparent" not in carrier and JAEGER_HEADER in carrier:
        return _jaeger_context(carrier[JAEGER_HEADER])
    return _PROPAGATOR.extract(carrier)


JAEGER_HEADER = "uber-trace-id"


def _jaeger_context(value: str) -> Context:
    """`{trace id}:{span id}:{parent span id}:{flags}` (hex; Jaeger's propagation format) -> a context
    whose remote span is the parent; an empty context when the value is malformed."""
    parts = str(value).strip().replace("%3A", ":").replace("%3a", ":").split(":")
    try:
        trace_id, span_id, flags = int(parts[0], 16), int(parts[1], 16), int(parts[3], 16)
    except (IndexError, ValueError):
        return Context()
    if not trace_id or not span_id or trace_id >> 128 or span_id >> 64:
        return Context()
    parent = trace.SpanContext(trace_id=trace_id, span_id=span_id, is_remote=True,
                               trace_flags=trace.TraceFlags(flags & trace.TraceFlags.SAMPLED))
    return trace.set_span_in_context(trace.NonRecordingSpan(parent))


class FrameTracer:
    """Starts frame traces. Build with `setup_tracing`; one per process."""

    enabled = True

    def __init__(self, provider: TracerProvider) -> None:
        self.provider = provider
        self._tracer = provider.get_tracer("pyuniproc", __version__)
        self._clock = _Clock()
        self._batch_ids = itertools.count(1)

    def start_frame(
        self,
        camera_id: str,
        frame_index: int,
        started: float | None = None,
        *,
        pts_seconds: float | None = None,
        attributes: Attributes | None = None,
        parent: Mapping[str, str] | None = None,
    ) -> AnyFrameTrace:
        """Open the root span of one frame (`started`: monotonic seconds, e.g. Frame.decoded_at).
        `parent`: the trace context the frame arrived with (e.g. a Savant message's span context);
        the frame's span then continues that trace, and the sampler follows its decision."""
        attrs: dict[str, Any] = {"camera.id": camera_id, "frame.index": int(frame_index)}
        if pts_seconds is not None:
            attrs["frame.pts"] = float(pts_seconds)
        if attributes:
            attrs.update(attributes)
        # A new root per frame unless the frame came with a context: an empty context, so no current
        # span of this thread becomes the parent.
        context = extract(parent) if parent else Context()
        span = self._tracer.start_span(
            ROOT_SPAN, context=context, start_time=self._clock.ns(started), attributes=attrs
        )
        if not span.is_recording():
            return _UnsampledFrameTrace(span, camera_id)
        return FrameTrace(self._tracer, self._clock, span, camera_id)

    def batch_stage(self, frames: Sequence[AnyFrameTrace], name: str, start: float, end: float) -> None:
        """One stage that ran once for a batch: a span in each sampled frame's trace (module doc)."""
        sampled = [(i, f) for i, f in enumerate(frames) if f.sampled]
        if not sampled:
            return
        batch_id = next(self._batch_ids)
        contexts = [f.span.get_span_context() for _, f in sampled]  # type: ignore[union-attr]
        for (position, frame), own in zip(sampled, contexts, strict=True):
            links = [Link(ctx) for ctx in contexts if ctx is not own]
            frame.stage(
                name,
                start,
                end,
                {"batch.size": len(frames), "batch.id": batch_id, "batch.position": position},
                links=links,
            )

    @contextmanager
    def remote_span(
        self, name: str, carrier: Mapping[str, str] | None, attributes: Attributes | None = None
    ) -> Iterator[Span]:
        """A span in another process (e.g. fusion) that joins the trace `carrier` came from.

        With an empty or missing carrier it becomes a root sampled by this process' ratio.
        """
        span = self._tracer.start_span(name, context=extract(carrier), attributes=attributes)
        try:
            yield span
        finally:
            span.end()

    def remote_stage(
        self,
        name: str,
        carrier: Mapping[str, str] | None,
        start: float,
        end: float,
        attributes: Attributes | None = None,
    ) -> None:
        """Like `remote_span`, for a stage already timed with `time.monotonic()`."""
        span = self._tracer.start_span(
            name, context=extract(carrier), start_time=self._clock.ns(start), attributes=attributes
        )
        span.end(end_time=self._clock.ns(end))

    def force_flush(self, timeout_seconds: float = 5.0) -> bool:
        """Send what is buffered now (tests, before exit)."""
        return self.provider.force_flush(int(timeout_seconds * 1000))

    def shutdown(self) -> None:
        """Flush and stop the export thread."""
        self.provider.shutdown()


class NoopTracer:
    """Tracing off: the same calls, doing nothing; `start_frame` returns the shared `NOOP_FRAME`."""

    enabled = False

    def start_frame(
        self,
        camera_id: str,
        frame_index: int,
        started: float | None = None,
        *,
        pts_seconds: float | None = None,
        attributes: Attributes | None = None,
        parent: Mapping[str, str] | None = None,
    ) -> AnyFrameTrace:
        return NOOP_FRAME

    def batch_stage(self, frames: Sequence[AnyFrameTrace], name: str, start: float, end: float) -> None:
        return None

    @contextmanager
    def remote_span(
        self, name: str, carrier: Mapping[str, str] | None, attributes: Attributes | None = None
    ) -> Iterator[Span]:
        yield trace.INVALID_SPAN

    def remote_stage(
        self,
        name: str,
        carrier: Mapping[str, str] | None,
        start: float,
        end: float,
        attributes: Attributes | None = None,
    ) -> None:
        return None

    def force_flush(self, timeout_seconds: float = 5.0) -> bool:
        return True

    def shutdown(self) -> None:
        return None


Tracer = FrameTracer | NoopTracer


def setup_tracing(settings: TracingSettings, *, exporter: SpanExporter | None = None) -> Tracer:
    """A tracer for `settings` (see `TelemetryConfig.from_mapping` for env overrides).

    exporter: replaces the OTLP exporter (benchmarks); normally built from protocol/endpoint.
    The provider is not installed as the global one, so several can coexist (tests) and
    libraries' own instrumentation does not change the per-frame trace shape.
    """
    if not settings.enabled:
        return NoopTracer()
    resource = Resource.create({"service.name": settings.service_name, "service.version": __version__})
    provider = TracerProvider(
        resource=resource, sampler=ParentBased(TraceIdRatioBased(settings.sampling_ratio))
    )
    provider.add_span_processor(
        BatchSpanProcessor(
            exporter or _otlp_exporter(settings),
            max_queue_size=settings.max_queue_size,
            schedule_delay_millis=settings.schedule_delay_ms,
            max_export_batch_size=min(512, settings.max_queue_size),
        )
    )
    log.info(
        "tracing on: %s %s, sampling %.3g, service %s",
        settings.protocol,
        settings.traces_url(),
        settings.sampling_ratio,
        settings.service_name,
    )
    return FrameTracer(provider)


def _otlp_exporter(settings: TracingSettings) -> SpanExporter:
    """Imported here so a run with tracing off never loads the exporters (or gRPC)."""
    url = settings.traces_url()
    if settings.protocol == "grpc":
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter as GrpcExporter

        return GrpcExporter(
            endpoint=url, insecure=not url.startswith("https://"), timeout=settings.timeout_seconds
        )
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter as HttpExporter

    return HttpExporter(endpoint=url, timeout=settings.timeout_seconds)


__all__ = [
    "NOOP_FRAME",
    "ROOT_SPAN",
    "STAGE_SPAN_NAMES",
    "AnyFrameTrace",
    "FrameTrace",
    "FrameTracer",
    "NoopTracer",
    "Tracer",
    "extract",
    "inject",
    "setup_tracing",
]
