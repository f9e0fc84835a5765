"""Frame traces exported over OTLP to a real receiver: span tree, attributes, links, propagation."""

from __future__ import annotations

import time
from collections import defaultdict
from dataclasses import replace

import pytest
from opentelemetry import trace
from otlpkit import ReceivedSpan

from pyuniproc.telemetry import NOOP_FRAME, NoopTracer, TelemetryConfig, extract, inject, setup_tracing
from pyuniproc.telemetry.config import TracingSettings
from pyuniproc.telemetry.tracing import FrameTracer

FAST = {"schedule_delay_ms": 50.0}


@pytest.fixture
def tracing():
    """Builds tracers and shuts them all down before the receiver closes (no retries at exit)."""
    made = []

    def make(settings: TracingSettings):
        tracer = setup_tracing(settings)
        made.append(tracer)
        return tracer

    yield make
    for tracer in made:
        tracer.shutdown()


def _simulate_batch(tracer, t: float) -> list:
    """What the loop does for a batch of two frames of two cameras (times in monotonic seconds)."""
    frames = [tracer.start_frame("cam1", 7, t, pts_seconds=0.7), tracer.start_frame("cam2", 3, t + 0.001)]
    for frame in frames:
        frame.stage("decode_wait", t + 0.001, t + 0.002)
    tracer.batch_stage(frames, "preprocess", t + 0.002, t + 0.003)
    tracer.batch_stage(frames, "infer", t + 0.003, t + 0.013)
    tracer.batch_stage(frames, "decode_boxes", t + 0.013, t + 0.014)
    for i, frame in enumerate(frames):
        frame.stage("track", t + 0.014, t + 0.015)
        frame.stage("analytics", t + 0.015, t + 0.016)
        frame.stage("output", t + 0.016, t + 0.017)
        frame.end(t + 0.017, objects=2 + i)
    return frames


def _sampled_flag(traceparent: str) -> bool:
    """W3C trace-flags bit 0 (the SDK may also set bit 1, "random trace id")."""
    version, trace_id, span_id, flags = traceparent.split("-")
    assert version == "00" and len(trace_id) == 32 and len(span_id) == 16
    return bool(int(flags, 16) & 1)


def _by_trace(spans: list[ReceivedSpan]) -> dict[str, list[ReceivedSpan]]:
    traces: dict[str, list[ReceivedSpan]] = defaultdict(list)
    for span in spans:
        traces[span.trace_id].append(span)
    return traces


def _assert_frame_tree(spans: list[ReceivedSpan]) -> ReceivedSpan:
    roots = [s for s in spans if s.name == "frame"]
    assert len(roots) == 1, [s.name for s in spans]
    root = roots[0]
    assert root.parent_span_id == ""
    children = [s for s in spans if s is not root]
    assert all(s.parent_span_id == root.span_id for s in children)
    # Pipeline stage names become the span names: decode_wait->queue, infer->detect, output->publish.
    assert sorted(s.name for s in children) == sorted(
        ["queue", "preprocess", "detect", "decode_boxes", "track", "analytics", "publish"]
    )
    for child in children:
        assert root.start_ns <= child.start_ns <= child.end_ns <= root.end_ns
    return root


def test_one_trace_per_frame_with_stage_children_over_otlp_http(otlp_http, tracing):
    tracer = tracing(TracingSettings(enabled=True, endpoint=otlp_http.url, **FAST))
    t = time.monotonic()
    frames = _simulate_batch(tracer, t)
    assert tracer.force_flush()
    traces = _by_trace(otlp_http.wait_for(16))

    assert len(traces) == 2, "one trace per frame"
    roots = {}
    for spans in traces.values():
        root = _assert_frame_tree(spans)
        roots[root.attributes["camera.id"]] = (root, spans)
    root1, spans1 = roots["cam1"]
    assert root1.attributes == {"camera.id": "cam1", "frame.index": 7, "frame.pts": 0.7, "objects.count": 2}
    assert roots["cam2"][0].attributes["objects.count"] == 3
    assert root1.resource["service.name"] == "pyuniproc"
    # Times come from the loop's monotonic clock, converted to wall-clock nanoseconds.
    assert abs(root1.start_ns - time.time_ns()) < 10e9
    assert root1.end_ns - root1.start_ns == pytest.approx(17e6, abs=2e3)

    detect = next(s for s in spans1 if s.name == "detect")
    assert detect.end_ns - detect.start_ns == pytest.approx(10e6, abs=2e3)  # the batch's whole time
    assert detect.attributes["batch.size"] == 2 and detect.attributes["batch.position"] == 0
    other_root = roots["cam2"][0]
    assert detect.links == [(other_root.trace_id, other_root.span_id)], "linked to the batch's other frame"
    batch_ids = {s.attributes["batch.id"] for _, spans in roots.values() for s in spans if s.name == "detect"}
    assert len(batch_ids) == 1, "both frames' detect spans name the same batch"
    assert frames[0].sampled


def test_fusion_process_joins_the_frame_trace_via_propagated_context(otlp_http, tracing):
    settings = TracingSettings(enabled=True, endpoint=otlp_http.url, **FAST)
    pipeline = tracing(settings)
    fusion = tracing(replace(settings, service_name="pyuniproc-fusion"))  # "another process"
    frame = pipeline.start_frame("cam1", 42, time.monotonic())
    frame.stage("track", time.monotonic(), time.monotonic())
    message = {"camera_id": "cam1", "tracks": [], "trace": inject(frame)}  # what goes into ZeroMQ/Kafka
    frame.end(objects=0)

    assert set(message["trace"]) == {"traceparent"}
    assert _sampled_flag(message["trace"]["traceparent"])
    with fusion.remote_span("fusion", message["trace"], {"fusion.tracks": 0}) as span:
        span.set_attribute("fusion.identities", 1)
    now = time.monotonic()
    fusion.remote_stage("fusion.match", message["trace"], now - 0.002, now)
    pipeline.force_flush()
    fusion.force_flush()
    spans = otlp_http.wait_for(4)

    assert len({s.trace_id for s in spans}) == 1
    root = next(s for s in spans if s.name == "frame")
    remote = {s.name: s for s in spans if s.resource["service.name"] == "pyuniproc-fusion"}
    assert set(remote) == {"fusion", "fusion.match"}
    assert all(s.parent_span_id == root.span_id for s in remote.values())
    assert remote["fusion"].attributes == {"fusion.tracks": 0, "fusion.identities": 1}
    assert extract(message["trace"]) is not None


def test_unsampled_frames_export_nothing_and_fusion_follows_the_decision(otlp_http, tracing):
    base = TracingSettings(enabled=True, endpoint=otlp_http.url, **FAST)
    pipeline = tracing(replace(base, sampling_ratio=0.0))
    fusion = tracing(replace(base, sampling_ratio=1.0, service_name="fusion"))
    frame = pipeline.start_frame("cam1", 1, time.monotonic())
    assert not frame.sampled
    frame.stage("track", 0.0, 1.0)  # no-ops
    carrier = inject(frame)
    assert not _sampled_flag(carrier["traceparent"]), "the negative decision travels too"
    frame.end(objects=1)
    with fusion.remote_span("fusion", carrier):
        pass
    # A sampled control frame proves the receiver works, so the absence above is real.
    control = tracing(base)
    control.start_frame("cam9", 0, time.monotonic()).end(objects=0)
    for tracer in (pipeline, fusion, control):
        tracer.force_flush()
    otlp_http.wait_for(1)
    time.sleep(0.1)
    spans = otlp_http.spans()
    assert [(s.name, s.attributes["camera.id"]) for s in spans] == [("frame", "cam9")]


def test_otlp_grpc_export(otlp_grpc, tracing):
    tracer = tracing(TracingSettings(enabled=True, protocol="grpc", endpoint=otlp_grpc.url, **FAST))
    _simulate_batch(tracer, time.monotonic())
    tracer.force_flush()
    traces = _by_trace(otlp_grpc.wait_for(16))
    assert len(traces) == 2
    for spans in traces.values():
        _assert_frame_tree(spans)


def test_env_endpoint_overrides_the_config(otlp_http, tracing):
    config = TelemetryConfig.from_mapping(
        {"tracing": {"enabled": True, "endpoint": "http://127.0.0.1:9", **FAST}},
        environ={"OTEL_EXPORTER_OTLP_ENDPOINT": otlp_http.url, "OTEL_SERVICE_NAME": "from-env"},
    )
    tracer = tracing(config.tracing)
    tracer.start_frame("cam1", 0, time.monotonic()).end(objects=0)
    tracer.force_flush()
    spans = otlp_http.wait_for(1)
    assert [s.resource["service.name"] for s in spans] == ["from-env"]


def test_tracing_off_is_a_shared_noop():
    tracer = setup_tracing(TracingSettings(enabled=False))
    assert isinstance(tracer, NoopTracer) and not tracer.enabled
    frame = tracer.start_frame("cam1", 0, 0.0)
    assert frame is NOOP_FRAME and not frame.sampled
    frame.stage("track", 0.0, 1.0)
    tracer.batch_stage([frame], "infer", 0.0, 1.0)
    frame.end(1.0, objects=3)
    with frame.span_for("embed") as span:
        assert span is trace.INVALID_SPAN
    with tracer.remote_span("fusion", {"traceparent": "00-" + "1" * 32 + "-" + "2" * 16 + "-01"}):
        pass
    assert inject(frame) == {}
    assert tracer.force_flush()


def test_tracing_off_costs_well_under_a_microsecond_per_stage():
    """The off path must not slow the loop: a frame with 7 stages stays far below 10 us here
    (measured ~0.5 us; the bound is loose for noisy CI machines)."""
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "scripts"))
    from bench_tracing_overhead import run_frames

    off = setup_tracing(TracingSettings(enabled=False))
    run_frames(off, 1000, 4)
    per_frame_ns = min(run_frames(off, 20000, 4) / 20000 * 1e9 for _ in range(3))
    assert per_frame_ns < 10_000


def test_span_for_times_a_block(otlp_http, tracing):
    tracer = tracing(TracingSettings(enabled=True, endpoint=otlp_http.url, **FAST))
    assert isinstance(tracer, FrameTracer)
    frame = tracer.start_frame("cam1", 5)
    with frame.span_for("embed", {"embed.crops": 4}):
        time.sleep(0.002)
    frame.end(objects=4)
    tracer.force_flush()
    spans = otlp_http.wait_for(2)
    embed = next(s for s in spans if s.name == "embed")
    assert embed.attributes == {"embed.crops": 4}
    assert embed.end_ns - embed.start_ns >= 2e6


def test_a_frame_continues_the_trace_it_arrived_with_w3c_or_jaeger():
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = FrameTracer(provider)
    trace_id, span_id = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"
    parents = [
        {"traceparent": f"00-{trace_id}-{span_id}-01", "tracestate": ""},
        {"uber-trace-id": f"{trace_id}:{span_id}:0:1"},  # savant-rs' default propagation format
        {"uber-trace-id": f"{trace_id}%3A{span_id}%3A0%3A1"},
    ]
    for parent in parents:
        tracer.start_frame("cam1", 0, parent=parent).end()
    tracer.start_frame("cam1", 1, parent={"uber-trace-id": "not:a:context"}).end()
    spans = exporter.get_finished_spans()
    for span in spans[:3]:
        assert f"{span.context.trace_id:032x}" == trace_id and f"{span.parent.span_id:016x}" == span_id
    assert spans[3].parent is None and f"{spans[3].context.trace_id:032x}" != trace_id
