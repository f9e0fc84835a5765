"""`pyuniproc serve` end to end: what Savant's source adapters send in over ZeroMQ (savant-rs and PyAV
only, see savantkit), the module YAML's detector, tracker, ReID, fusion and analytics pyfunc on real
footage, and what Savant's sinks read out."""

import gc
import re
import threading
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import savant_rs
import zmq
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from savant_rs.utils import TelemetrySpan
from savantkit import AdapterSink, AdapterSource, Encoded, clip_pictures, encode

from pyuniproc.cli import main
from pyuniproc.config.cameras import Site, load_cameras
from pyuniproc.serve.service import ServeOptions, ServeService
from pyuniproc.telemetry.tracing import FrameTracer
from pyuniproc.transport import FrameMessage, decode_message

REPO = Path(__file__).resolve().parents[2]
DEMO_CAMERAS = REPO / "samples" / "demo" / "cameras.yml"


def wait_until(condition, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.05)


@pytest.fixture
def serve(module_config, tmp_path):
    """Start `ServeService` on ipc sockets in tmp_path (and a sink on its output); yields a handle."""
    runtime = module_config.runtime
    telemetry = replace(runtime.telemetry, metrics=replace(runtime.telemetry.metrics, enabled=False))
    module = replace(module_config, runtime=replace(runtime, telemetry=telemetry, summary_period_seconds=0.5))
    started = []

    def start(site: Site, **options) -> tuple[ServeService, AdapterSink, dict]:
        service = ServeService(module, site, ServeOptions(
            inbound=f"router+bind:ipc://{tmp_path}/in.ipc", outbound=f"pub+bind:ipc://{tmp_path}/out.ipc",
            run_dir=tmp_path / "run", **options))
        result: dict = {}
        thread = threading.Thread(target=lambda: result.update(service.run()), name="test-serve")
        thread.start()
        sink = AdapterSink(f"sub+connect:ipc://{tmp_path}/out.ipc")
        time.sleep(0.3)  # PUB/SUB: the sink joins before anything is published
        started.append((service, thread, sink))
        return service, sink, result

    yield start, f"dealer+connect:ipc://{tmp_path}/in.ipc"
    for service, thread, sink in started:
        service.stop()
        thread.join(60)
        sink.close()


def memory_tracer(service: ServeService) -> InMemorySpanExporter:
    """Trace every frame into memory (the module YAML's tracing is off)."""
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    service.pipeline.telemetry.tracer = FrameTracer(provider)
    return exporter


def send_garbage(endpoint: str, topic: bytes) -> None:
    """Bytes that are no savant-rs message, from another peer (no adapter sends this)."""
    context = zmq.Context.instance()
    socket = context.socket(zmq.DEALER)
    socket.connect(endpoint.split(":", 1)[1])
    socket.send_multipart([topic, b"\x08\x96\x01 not a message \xff\xfe"])
    socket.close(linger=1000)


def people(frame) -> list:
    return [o for o in frame.get_all_objects() if o.namespace == "person_detector" and o.label == "person"]


def test_two_sources_interleaved_with_garbage_eos_and_a_restart(serve):
    start, endpoint = serve
    service, sink, result = start(load_cameras(DEMO_CAMERAS), source_timeout=5.0)
    spans = memory_tracer(service)
    savant_rs.init_noop_tracer()  # the adapters' tracer: W3C contexts on their messages

    pictures = clip_pictures(6, start=120, step=2)
    height, width = pictures[0].shape[:2]
    h264, jpeg = encode(pictures, "h264"), encode(pictures, "jpeg")
    cam1 = AdapterSource(endpoint, "cam1", width=width, height=height, codec="h264")
    cam2 = AdapterSource(endpoint, "cam2", width=width, height=height, codec="jpeg")
    cam3 = AdapterSource(endpoint, "cam3", width=width, height=height, codec="h264")
    sent_spans = []
    for i, (a, b) in enumerate(zip(h264, jpeg, strict=True)):
        if i == 2:  # garbage between frames, of every kind
            send_garbage(endpoint, b"cam1")
            cam1.frame(Encoded(a.data[: len(a.data) // 2], a.pts - 1, None, False))  # truncated access unit
            cam2.frame(b, codec="vp9")  # a codec the module does not take
            cam3.frame(h264[3])  # a new source whose first frame is not a keyframe
        cam1.frame(a)
        span = TelemetrySpan(f"adapter-{i}")
        sent_spans.append((span.trace_id(), span.span_id()))
        cam2.frame(b, internal=True, span_context=span.propagate())
    cam1.end()
    cam2.end()
    cam1.close()
    restarted = AdapterSource(endpoint, "cam1", width=width, height=height, codec="h264")  # a new adapter
    second = encode(clip_pictures(4, start=140, step=2), "h264")
    for picture in second:
        restarted.frame(picture)
    restarted.end()

    wait_until(lambda: (sink.read_one() or True) and sink.received.ends("cam1") == 2
               and sink.received.ends("cam2") == 1, timeout=120)
    for adapter in (restarted, cam2, cam3):
        adapter.close()

    # Per source, in order: every decodable frame, content unchanged, then the end of its stream.
    cam1_items = [(kind, f[0].pts if f else None) for kind, s, f, _ in sink.received.items if s == "cam1"]
    expected = [("frame", p.pts) for p in h264] + [("end", None)]
    expected += [("frame", p.pts) for p in second] + [("end", None)]
    assert cam1_items == expected
    assert [extra for _, extra in sink.received.frames("cam1")] == [p.data for p in h264 + second]
    cam2_frames = sink.received.frames("cam2")
    assert [f.pts for (f, _), _ in cam2_frames] == [p.pts for p in jpeg]
    assert all(f.content.is_internal() and f.content.get_data() == p.data and extra == b""
               for ((f, _), extra), p in zip(cam2_frames, jpeg, strict=True))
    assert sink.received.frames("cam3") == []

    # The module's objects, in the Savant module's namespaces.
    frames = [f for (f, _), _ in sink.received.frames("cam1") + cam2_frames]
    objects = [o for f in frames for o in people(f)]
    assert len(objects) > 10 and all(o.track_id is not None and o.track_box is not None for o in objects)
    attributes = {key for o in objects for key in o.attributes}
    assert {("person_reid", "embedding"), ("mtmc", "global_id"), ("analytics", "dwell_seconds")} <= attributes
    vector = next(o.get_attribute("person_reid", "embedding") for o in objects
                  if ("person_reid", "embedding") in o.attributes).values[0].as_floats()
    assert len(vector) == 1280 and abs(np.linalg.norm(vector) - 1) < 1e-3
    for frame in frames:
        assert frame.get_attribute("default", "people_count").values[0].as_integer() == len(people(frame))
        assert frame.get_attribute("default", "location") is not None  # the adapter's own attribute kept
    # ... which is what `pyuniproc fusion` reads from the Savant module.
    decoded = decode_message(frames[3].to_message())
    assert isinstance(decoded, FrameMessage) and len(decoded.tracks) == len(people(frames[3]))

    # The frames' traces continue the adapter's, and the context goes on with the frame.
    traced = [s for s in spans.get_finished_spans()
              if s.name == "frame" and s.attributes["camera.id"] == "cam2"]
    parents = sorted((f"{s.context.trace_id:032x}", f"{s.parent.span_id:016x}") for s in traced)
    assert parents == sorted(sent_spans)
    assert [ctx["traceparent"].split("-")[1] for (_, ctx), _ in cam2_frames] == [t for t, _ in sent_spans]

    metrics = service.pipeline.telemetry.metrics.exposition().decode()
    assert 'pyuniproc_serve_rejected_total{reason="undecodable"} 1.0' in metrics
    assert 'pyuniproc_camera_frames_dropped_total{camera="cam2",reason="unsupported_codec"} 1.0' in metrics

    service.stop()
    wait_until(lambda: "serve" in result, timeout=60)
    cameras, serve_stats = result["cameras"], result["serve"]
    assert cameras["cam1"]["frames_processed"] == 10 and cameras["cam1"]["dropped"] == {"decode_error": 1}
    assert cameras["cam2"]["frames_processed"] == 6 and cameras["cam2"]["dropped"] == {"unsupported_codec": 1}
    for camera in cameras.values():  # every frame a source sent is accounted for
        assert camera["frames_received"] == camera["frames_processed"] + sum(camera["dropped"].values())
    assert serve_stats["rejected"] == {"undecodable": 1, "decode_error": 1, "unsupported_codec": 1,
                                       "before_keyframe": 1}
    assert serve_stats["unlisted_sources"] == ["cam3"]
    assert serve_stats["published"] == {"frames": 16, "ends": 3}


def rss_mb() -> float:
    return int(re.search(r"^VmRSS:\s+(\d+)", Path("/proc/self/status").read_text(), re.MULTILINE)[1]) / 1024


# The module's default detector (NanoDet): serve's per-source state and the detector's ONNX Runtime
# memory under the varying batch sizes of sources that come and go (its session grew +53-67 MB here
# while ONNX Runtime kept a memory pattern per batch size; off since, pyuniproc/detect/models.py).
def test_memory_stays_flat_over_many_source_starts_and_stops(serve):
    start, endpoint = serve
    service, sink, result = start(Site("churn", ()), source_timeout=0.3)
    pictures = encode([np.full((48, 64, 3), 40 * i, np.uint8) for i in range(2)], "raw-rgba")
    adapters = {f"s{i}": AdapterSource(endpoint, f"s{i}", width=64, height=48, codec="raw-rgba")
                for i in range(3)}

    def ends_published() -> int:
        sink.read_one()
        return sum(1 for item in sink.received.items if item[0] == "end")

    def cycles(n: int) -> None:
        for i in range(n):
            adapter = adapters[f"s{i % 3}"]
            for picture in pictures:
                adapter.frame(picture)
            adapter.end()
            if i % 10 == 9:  # let the sources go quiet: they end, then are removed
                wait_until(lambda: ends_published() == 10, timeout=60)
                time.sleep(0.8)
                sink.received.items.clear()

    try:
        cycles(30)
        gc.collect()
        before, threads = rss_mb(), threading.active_count()
        cycles(120)
        gc.collect()
        wait_until(lambda: not service.ingress._records and not service.pipeline._cameras, timeout=30)
        assert rss_mb() - before < 25, f"RSS grew from {before:.0f} to {rss_mb():.0f} MB"
        assert threading.active_count() <= threads
        events = service.ingress.summary()["source_events"]
        assert events["streams"] == 150 and events["removed"] >= 15 * 3 - 3
    finally:
        for adapter in adapters.values():
            adapter.close()


def test_the_command_serves_until_a_shutdown_with_its_key(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("TELEMETRY_PORT", "0")  # any free port: tests run side by side
    inbound, outbound = f"ipc://{tmp_path}/in.ipc", f"ipc://{tmp_path}/out.ipc"
    args = ["serve", "--module", str(REPO / "module" / "module.yml"), "--in", f"router+bind:{inbound}",
            "--out", f"pub+bind:{outbound}", "--run-dir", str(tmp_path / "run"),
            "--shutdown-auth", "let-me-stop", "--max-seconds", "120"]
    sink = AdapterSink(f"sub+connect:{outbound}")
    pictures = encode(clip_pictures(3, start=200), "jpeg")

    def adapter() -> None:  # the command owns the main thread (its signal handlers)
        source = AdapterSource(f"dealer+connect:{inbound}", "door", width=768, height=576, codec="jpeg")
        # The module binds its publisher (model loading can take seconds on a loaded box), then the sink's
        # subscription needs a moment to arrive: a PUB socket drops what it sends before that.
        wait_until(lambda: (tmp_path / "out.ipc").exists(), timeout=60)
        time.sleep(1.0)
        for picture in pictures:
            source.frame(picture)
        source.shutdown("wrong key")
        source.shutdown("let-me-stop")
        source.close()

    thread = threading.Thread(target=adapter)
    thread.start()
    try:
        code = main(args)
        thread.join(30)
        sink.poll(0.5)
    finally:
        sink.close()
    assert code == 0
    assert [kind for kind, *_ in sink.received.items] == ["frame", "frame", "frame", "end"]
    printed = capsys.readouterr().out
    assert '"shutdown_refused": 1' in printed and '"frames": 3, "ends": 1' in printed
    assert "sources not in the cameras file: door" in printed


def test_a_socket_of_the_wrong_direction_is_refused(tmp_path, capsys):
    code = main(["serve", "--in", f"pub+bind:ipc://{tmp_path}/in.ipc",
                 "--out", f"pub+bind:ipc://{tmp_path}/o.ipc"])
    assert code == 2 and "a reader needs sub, router or rep" in capsys.readouterr().err
