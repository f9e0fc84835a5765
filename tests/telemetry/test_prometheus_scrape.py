"""A real Prometheus scrapes a running telemetry server; its HTTP API shows per-camera series moving.

The values come from real `CameraStats` objects fed by a ticking thread (no video needed); the
telemetry server and Prometheus (Debian package `prometheus`) are the real ones. Prometheus also
loads deploy/prometheus/alerts.yml and evaluates it against the live series, and runs every
query of the Grafana dashboard, so a PromQL error in either shows here. Bounded: < 30 s, and
the Prometheus process is always killed.
"""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import threading
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from promqlkit import dashboard_exprs
from telemetrykit import DEPLOY

from pyuniproc.sources.stats import CameraStats
from pyuniproc.telemetry import Telemetry, TelemetryConfig

PROMETHEUS = shutil.which("prometheus")
pytestmark = pytest.mark.skipif(
    PROMETHEUS is None,
    reason="prometheus not found: install the Debian package 'prometheus' (scripts/system-deps.sh)",
)
CAMERAS = ("cam1", "cam2")
DEADLINE_SECONDS = 25.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def ticking_pipeline() -> Iterator[Telemetry]:
    """A telemetry server whose cameras receive ~25 frames/s each until the test ends."""
    stats = {cid: CameraStats(cid, f"rtsp://user:secret@{cid}.local/stream") for cid in CAMERAS}
    config = TelemetryConfig.from_mapping({"metrics": {"port": 0, "gpu": "off"}}, environ={})
    telemetry = Telemetry(
        config, cameras=lambda: {cid: {**s.snapshot(), "queue_depth": 1} for cid, s in stats.items()}
    )
    stop = threading.Event()

    def tick() -> None:
        n = 0
        while not stop.wait(0.04):
            n += 1
            telemetry.tick()
            for cid, s in stats.items():
                s.record_frame()
                t = time.monotonic()
                frame = telemetry.start_frame(cid, n, t - 0.03)
                telemetry.record_stage(frame, cid, "track", t - 0.002, t)
                telemetry.finish_frame(frame, cid, t - 0.03, t, objects=2)
                if n % 10 == 0:
                    s.mark_dropped("queue_full")
            telemetry.metrics.set_fusion_state(active_identities=n % 5, backlog=0)

    thread = threading.Thread(target=tick, daemon=True)
    telemetry.start(strict=True)
    thread.start()
    try:
        yield telemetry
    finally:
        stop.set()
        thread.join(2)
        telemetry.stop()


@pytest.fixture
def prometheus(tmp_path: Path, ticking_pipeline: Telemetry) -> Iterator[str]:
    """Prometheus scraping the pipeline every second; yields its base URL."""
    port = free_port()
    config = tmp_path / "prometheus.yml"
    config.write_text(
        json.dumps(
            {  # JSON is YAML
                "global": {"scrape_interval": "1s", "evaluation_interval": "1s", "scrape_timeout": "900ms"},
                "rule_files": [str(DEPLOY / "prometheus" / "alerts.yml")],
                "scrape_configs": [
                    {
                        "job_name": "pyuniproc",
                        "static_configs": [{"targets": [f"127.0.0.1:{ticking_pipeline.server.port}"]}],
                    }
                ],
            }
        )
    )
    log = (tmp_path / "prometheus.log").open("w")
    process = subprocess.Popen(
        [
            PROMETHEUS,
            f"--config.file={config}",
            f"--storage.tsdb.path={tmp_path / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--log.level=warn",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        _wait(lambda: _get(base + "/-/ready") is not None, "Prometheus ready", time.monotonic() + 15, process)
        yield base
    finally:
        process.terminate()
        try:
            process.wait(5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)
        log.close()


def _get(url: str) -> Any:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            body = response.read()
            return (
                json.loads(body)
                if response.headers.get("Content-Type", "").startswith("application/json")
                else body
            )
    except (OSError, ValueError):
        return None


def query(base: str, promql: str) -> list[dict[str, Any]]:
    reply = _get(f"{base}/api/v1/query?" + urllib.parse.urlencode({"query": promql}))
    assert reply and reply["status"] == "success", (promql, reply)
    return reply["data"]["result"]


def _wait(condition: Any, what: str, deadline: float, process: subprocess.Popen[bytes] | None = None) -> None:
    """Poll `condition` until true; fail at `deadline` (monotonic) or if Prometheus dies."""
    while not condition():
        if process is not None and process.poll() is not None:
            pytest.fail(f"prometheus exited with {process.returncode} while waiting for {what}")
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.2)


def test_prometheus_scrapes_per_camera_series_that_move(prometheus: str) -> None:
    start = time.monotonic()
    deadline = start + DEADLINE_SECONDS

    def received() -> dict[str, float]:
        return {
            r["metric"]["camera"]: float(r["value"][1])
            for r in query(prometheus, 'pyuniproc_camera_frames_received_total{job="pyuniproc"}')
        }

    _wait(lambda: set(received()) == set(CAMERAS), "both cameras' series", deadline)
    first = received()
    _wait(lambda: all(v > first[c] for c, v in received().items()), "the counters to move", deadline)

    up = {r["metric"]["camera"]: r["value"][1] for r in query(prometheus, "pyuniproc_camera_up")}
    assert up == {"cam1": "1", "cam2": "1"}
    states = query(prometheus, "pyuniproc_camera_state == 1")
    assert {(r["metric"]["camera"], r["metric"]["state"]) for r in states} == {
        ("cam1", "live"),
        ("cam2", "live"),
    }
    assert {
        r["metric"]["camera"] for r in query(prometheus, "pyuniproc_end_to_end_latency_seconds_count")
    } == set(CAMERAS)
    assert query(prometheus, "process_resident_memory_bytes")
    # No label anywhere carries the camera URI (or its password).
    series = _get(f"{prometheus}/api/v1/series?" + urllib.parse.urlencode({"match[]": '{job="pyuniproc"}'}))
    assert "secret" not in json.dumps(series)

    # The alert rules load and evaluate cleanly against real series.
    def rules_evaluated() -> list[dict[str, Any]]:
        groups = _get(f"{prometheus}/api/v1/rules")["data"]["groups"]
        rules = [r for g in groups for r in g["rules"]]
        return (
            rules
            if all(r.get("lastEvaluation", "").startswith("20") and r["health"] != "unknown" for r in rules)
            else []
        )

    _wait(lambda: bool(rules_evaluated()), "rule evaluation", deadline)
    rules = rules_evaluated()
    assert len(rules) == 8
    assert all(r["health"] == "ok" for r in rules), [(r["name"], r.get("lastError")) for r in rules]
    assert not [r["name"] for r in rules if r["state"] == "firing"], "healthy cameras fire nothing"

    # Every dashboard query is valid PromQL that Prometheus runs without error.
    for _where, expr in dashboard_exprs(DEPLOY / "grafana" / "dashboards" / "pyuniproc.json"):
        if expr.startswith("label_values("):
            continue
        query(prometheus, expr.replace("$__rate_interval", "5s").replace("$camera", ".*"))
    assert time.monotonic() - start < DEADLINE_SECONDS
