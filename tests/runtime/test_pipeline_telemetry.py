"""The running pipeline sends one trace per frame to a real OTLP receiver and serves metrics and
health while it runs."""

import json
import socket
import sys
import threading
import time
import urllib.request
from collections import defaultdict
from dataclasses import replace
from pathlib import Path

import pytest

from pyuniproc.config.cameras import CameraSpec, Site
from pyuniproc.config.module import load_module_config
from pyuniproc.runtime.overload import OverloadSettings
from pyuniproc.runtime.pipeline import Pipeline, RunOptions

REPO = Path(__file__).resolve().parents[2]
VTEST = REPO / "samples" / "vtest" / "vtest.avi"
sys.path.insert(0, str(REPO / "tests" / "telemetry"))
from otlpkit import OtlpHttpReceiver  # noqa: E402


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def receiver():
    receiver = OtlpHttpReceiver()
    yield receiver
    receiver.close()


def get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def test_traces_metrics_and_health_of_a_real_run(tmp_path, monkeypatch, receiver):
    port = free_port()
    monkeypatch.setenv("TRACING", "true")
    monkeypatch.setenv("TRACING_SAMPLING_RATIO", "1.0")
    monkeypatch.setenv("OTLP_ENDPOINT", receiver.url)
    monkeypatch.setenv("TELEMETRY_PORT", str(port))
    module = load_module_config(REPO / "module" / "module.yml")
    # Paced like cameras, with room to buffer every frame and no overload policy, so every frame is
    # detected and none is dropped on a busy machine.
    module = replace(module, runtime=replace(module.runtime, queue_size=64, overload=OverloadSettings("off")))
    site = Site(name="t", cameras=(CameraSpec(id="cam1", uri=str(VTEST)),
                                   CameraSpec(id="cam2", uri=str(VTEST))))
    pipeline = Pipeline(module, site,
                        RunOptions(out_dir=tmp_path, realtime=True, max_frames=40, progress=False))
    runner = threading.Thread(target=pipeline.run)
    runner.start()
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 15
        status, ready = 0, ""
        while time.monotonic() < deadline:
            status, ready = get(f"{base}/readyz") if pipeline.telemetry.url else (0, "")
            if status == 200 and '"live"' in ready:
                break
            time.sleep(0.2)
        assert status == 200, ready
        assert get(f"{base}/healthz")[0] == 200
        time.sleep(1.0)
        _, metrics = get(f"{base}/metrics")
        assert 'camera="cam1"' in metrics and 'camera="cam2"' in metrics
        assert "pyuniproc_stage_latency_seconds_bucket" in metrics
        assert str(VTEST) not in metrics  # labels are camera ids, never URIs
    finally:
        runner.join(30)
    summary = json.loads((tmp_path / "summary.json").read_text())
    processed = summary["frames_processed"]
    assert processed == 80, summary["cameras"]
    spans = receiver.wait_for(processed * 8, timeout=20)
    traces = defaultdict(list)
    for span in spans:
        traces[span.trace_id].append(span)
    frames = [t for t in traces.values() if any(s.name == "frame" for s in t)]
    assert len(frames) == processed  # one trace per processed frame
    for trace in frames:
        root = next(s for s in trace if s.name == "frame")
        assert root.parent_span_id == ""
        children = {s.name: s for s in trace if s.parent_span_id == root.span_id}
        assert {"queue", "preprocess", "detect", "track", "analytics"} <= set(children)
        assert children["detect"].attributes["batch.size"] >= 1
        assert root.attributes["camera.id"] in ("cam1", "cam2")
