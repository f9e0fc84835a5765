"""The HTTP server: /metrics, /healthz, /readyz over a real socket; `Telemetry` end to end."""

from __future__ import annotations

import json
import socket
import time
import urllib.error
import urllib.request

import pytest
from telemetrykit import camera_snapshot

from pyuniproc.telemetry import (
    Health,
    PipelineMetrics,
    Telemetry,
    TelemetryConfig,
    TelemetryServer,
    create_app,
)


def get(url: str, accept: str | None = None) -> tuple[int, str, str]:
    request = urllib.request.Request(url, headers={"Accept": accept} if accept else {})
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, response.headers["Content-Type"], response.read().decode()
    except urllib.error.HTTPError as err:
        return err.code, err.headers["Content-Type"], err.read().decode()


@pytest.fixture
def cameras():
    return {"cam1": camera_snapshot(), "cam2": camera_snapshot(camera_id="cam2", state="dead", fps=0.0)}


@pytest.fixture
def served(cameras):
    metrics = PipelineMetrics(process=False, gpu="off")
    metrics.watch_cameras(lambda: cameras)
    now = [0.0]
    health = Health(metrics.cameras, liveness_timeout_seconds=5, clock=lambda: now[0])
    with TelemetryServer(create_app(metrics, health), port=0) as server:
        yield server, now, health


def test_metrics_endpoint_serves_the_text_format(served):
    server, _, _ = served
    status, content_type, body = get(server.url + "/metrics")
    assert status == 200 and content_type.startswith("text/plain")
    assert 'pyuniproc_camera_up{camera="cam1"} 1.0' in body
    status, content_type, body = get(server.url + "/metrics", accept="application/openmetrics-text")
    assert content_type.startswith("application/openmetrics-text") and body.rstrip().endswith("# EOF")


def test_readyz_lists_cameras_and_is_ready_while_one_is_live(served, cameras):
    server, _, _ = served
    status, _, body = get(server.url + "/readyz")
    report = json.loads(body)
    assert status == 200 and report["ready"] and report["live_cameras"] == 1
    assert report["cameras"]["cam2"]["state"] == "dead"
    assert report["cameras"]["cam1"]["fps"] == 9.5
    assert "uri" not in report["cameras"]["cam1"] and "hunter2" not in body
    cameras["cam1"] = camera_snapshot(state="stalled")
    status, _, body = get(server.url + "/readyz")
    assert status == 503 and json.loads(body)["ready"] is False


def test_healthz_follows_the_loop_heartbeat(served):
    server, now, health = served
    assert get(server.url + "/healthz")[0] == 200  # starting up counts as alive
    now[0] = 4.0
    health.tick()
    now[0] = 8.0
    status, _, body = get(server.url + "/healthz")
    assert status == 200 and json.loads(body)["ticks"] == 1
    now[0] = 9.5  # 5.5 s without a tick > 5 s timeout
    status, _, body = get(server.url + "/healthz")
    assert status == 503 and json.loads(body)["alive"] is False
    health.stopped()  # an orderly end is not a hang
    assert get(server.url + "/healthz")[0] == 200


def test_unknown_path_is_404(served):
    server, _, _ = served
    assert get(server.url + "/nope")[0] == 404


def test_listens_on_localhost_and_a_taken_port_raises(served):
    server, _, _ = served
    assert server.host == "127.0.0.1" and server.port > 0
    other = TelemetryServer(
        create_app(
            PipelineMetrics(process=False, gpu="off"),
            Health(PipelineMetrics(process=False, gpu="off").cameras),
        ),
        port=server.port,
    )
    with pytest.raises(OSError):
        other.start()


def test_telemetry_facade_serves_and_survives_a_taken_port(cameras):
    config = TelemetryConfig.from_mapping({"metrics": {"port": 0, "gpu": "off"}}, environ={})
    with Telemetry(config, cameras=lambda: cameras) as telemetry:
        telemetry.tick()
        frame = telemetry.start_frame("cam1", 0, time.monotonic())
        t = time.monotonic()
        telemetry.record_batch_stage([frame], ["cam1"], "infer", t - 0.02, t - 0.01)
        telemetry.record_stage(frame, "cam1", "track", t - 0.01, t)
        telemetry.finish_frame(frame, "cam1", t - 0.03, t, objects=2)
        status, _, body = get(telemetry.url + "/metrics")
        assert status == 200
        assert 'pyuniproc_stage_latency_seconds_count{camera="cam1",stage="infer"} 1.0' in body
        assert 'pyuniproc_end_to_end_latency_seconds_count{camera="cam1"} 1.0' in body
        assert "pyuniproc_loop_iterations_total 1.0" in body
        port = telemetry.server.port
        taken = TelemetryConfig.from_mapping({"metrics": {"port": port, "gpu": "off"}}, environ={})
        with Telemetry(taken) as second:  # logs an error, runs without a server
            assert second.url is None
        with pytest.raises(OSError):
            Telemetry(taken).start(strict=True)
    with socket.socket() as probe, pytest.raises(ConnectionRefusedError):  # stopped: nobody listens
        probe.connect(("127.0.0.1", port))


def test_metrics_can_be_switched_off():
    config = TelemetryConfig.from_mapping({"metrics": {"enabled": False}}, environ={})
    with Telemetry(config) as telemetry:
        assert telemetry.url is None and telemetry.metrics.gpu is None
