"""Cameras in worker processes: the plan (groups, devices), the parent's accounting, and real runs on
vtest.avi with SSDLite: two workers write what one process writes, and a killed worker leaves the rest."""

import csv
import os
import signal
import threading
import time
from dataclasses import replace
from pathlib import Path

import pytest

from pyuniproc.config.cameras import CameraSpec, Site
from pyuniproc.config.module import load_module_config
from pyuniproc.config.yaml_source import ConfigError
from pyuniproc.runtime.pipeline import Pipeline, RunOptions
from pyuniproc.runtime.report import print_run_report
from pyuniproc.runtime.workers import (
    WORKER_DIED,
    RemoteStats,
    WorkerGroup,
    check_workers,
    plan_groups,
    resolve_workers,
)

ROOT = Path(__file__).resolve().parents[2]
VTEST = ROOT / "samples" / "vtest" / "vtest.avi"


# --- the plan ------------------------------------------------------------------------------------------
def test_cameras_are_dealt_round_robin_and_groups_never_outnumber_cameras():
    groups = plan_groups(["a", "b", "c", "d", "e"], 2)
    assert [g.camera_ids for g in groups] == [("a", "c", "e"), ("b", "d")]
    assert [g.device for g in groups] == [None, None]
    assert [g.camera_ids for g in plan_groups(["a", "b"], 4)] == [("a",), ("b",)]


def test_groups_are_spread_over_the_gpus_and_each_sees_only_its_own():
    groups = plan_groups(["a", "b", "c", "d", "e", "f"], 4, devices=[0, 1])
    assert [(g.index, g.device) for g in groups] == [(0, 0), (1, 1), (2, 0), (3, 1)]
    assert groups[1].environment() == {"CUDA_VISIBLE_DEVICES": "1"}
    # the parent's own CUDA_VISIBLE_DEVICES: device i is its i-th entry
    assert groups[1].environment("3,5") == {"CUDA_VISIBLE_DEVICES": "5"}
    assert WorkerGroup(0, ("a",), None).environment("3,5") == {}
    with pytest.raises(ValueError, match="lists 2"):
        WorkerGroup(0, ("a",), 2).environment("3,5")
    with pytest.raises(ValueError, match="at least one device"):
        plan_groups(["a"], 1, devices=[])


@pytest.mark.parametrize(("setting", "cameras", "devices", "expected"), [
    (1, 4, None, 1), (2, 4, None, 2), (8, 3, None, 3), ("3", 4, None, 3),
    ("auto", 4, None, 1), ("auto", 4, [0], 1), ("auto", 8, [0, 1, 2, 3], 4), ("auto", 2, [0, 1, 2], 2),
])
def test_how_many_groups(setting, cameras, devices, expected):
    assert resolve_workers(setting, cameras=cameras, devices=devices) == expected


@pytest.mark.parametrize("bad", [0, -1, "two", 1.5, True, None])
def test_a_bad_workers_setting_is_refused(bad):
    with pytest.raises(ValueError, match="workers must be a count >= 1 or 'auto'"):
        check_workers(bad)


def test_the_module_setting_is_checked(tmp_path):
    text = (ROOT / "module" / "module.yml").read_text()
    line = "    workers: ${oc.decode:${oc.env:CAMERA_WORKERS, 1}}\n"
    assert line in text
    module = tmp_path / "module" / "module.yml"
    module.parent.mkdir()
    for value, expected in (("2", 2), ("auto", "auto")):
        module.write_text(text.replace(line, f"    workers: {value}\n"))
        assert load_module_config(module).runtime.workers == expected
    module.write_text(text.replace(line, "    workers: 0\n"))
    with pytest.raises(ConfigError, match="parameters.pyuniproc.workers"):
        load_module_config(module)


# --- the parent's accounting ---------------------------------------------------------------------------
def test_a_camera_counts_the_childs_frames_and_the_parents_processing():
    stats = RemoteStats("a", "file.mp4")
    stats.update({"frames_received": 10, "frames_processed": 9, "dropped": {"queue_full": 1},
                  "dropped_total": 1, "state": "live", "fps": 10.0})
    stats.delivered = 9
    stats.mark_processed(7)
    snapshot = stats.snapshot()
    assert (snapshot["frames_received"], snapshot["frames_processed"], snapshot["dropped"]) == (
        10, 7, {"queue_full": 1})
    assert snapshot["state"] == "live"


def test_a_dead_workers_unsent_frames_are_counted():
    stats = RemoteStats("a", "file.mp4")
    stats.update({"frames_received": 12, "dropped": {"stale": 1}, "dropped_total": 1, "state": "live"})
    stats.delivered = 8  # 3 received by the child were neither dropped nor sent
    stats.mark_processed(8)
    stats.mark_dead("worker 1 was killed by SIGKILL")
    snapshot = stats.snapshot()
    assert snapshot["state"] == "dead" and "SIGKILL" in snapshot["last_error"]
    assert snapshot["dropped"] == {"stale": 1, WORKER_DIED: 3}
    assert snapshot["frames_received"] == snapshot["frames_processed"] + snapshot["dropped_total"] == 12


# --- real runs --------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def ssdlite():
    previous = os.environ.get("DETECTOR")
    os.environ["DETECTOR"] = "ssdlite"
    try:
        return load_module_config(ROOT / "module" / "module.yml")
    finally:
        os.environ.pop("DETECTOR") if previous is None else os.environ.update(DETECTOR=previous)


def quiet(module, **runtime):
    """No /metrics server (parallel test runs share the port)."""
    telemetry = replace(module.runtime.telemetry,
                        metrics=replace(module.runtime.telemetry.metrics, enabled=False))
    return replace(module, runtime=replace(module.runtime, telemetry=telemetry, **runtime))


def run(module, cameras, out, **options):
    site = Site(name="test", cameras=tuple(cameras))
    options = RunOptions(out_dir=out, progress=False, watch_module=False, **options)
    return Pipeline(module, site, options).run()


def rows_without_global_ids(tracks_csv: Path) -> dict[str, list[tuple[str, ...]]]:
    by_camera: dict[str, list[tuple[str, ...]]] = {}
    with tracks_csv.open() as f:
        for row in csv.DictReader(f):
            by_camera.setdefault(row["camera_id"], []).append(
                tuple(value for key, value in row.items() if key != "global_id"))
    return by_camera


@pytest.fixture(scope="module")
def one_and_two(tmp_path_factory, ssdlite):
    """Three cameras (time-shifted copies of vtest.avi), 40 frames each, annotated video on."""
    module = quiet(ssdlite)
    cameras = [CameraSpec(id=f"c{i}", uri=str(VTEST), start_seconds=20 * i) for i in range(3)]
    out1, out2 = tmp_path_factory.mktemp("one"), tmp_path_factory.mktemp("two")
    return (out1, run(module, cameras, out1, max_frames=40, workers=1),
            out2, run(module, cameras, out2, max_frames=40, workers=2))


def test_two_workers_write_the_tracks_of_one_process(one_and_two):
    out1, summary1, out2, summary2 = one_and_two
    assert "workers" not in summary1
    assert [(g["cameras"], g["state"], g["exit_code"]) for g in summary2["workers"]] == [
        (["c0", "c2"], "finished", 0), (["c1"], "finished", 0)]
    for camera_id in ("c0", "c1", "c2"):
        camera = summary2["cameras"][camera_id]
        assert (camera["frames_received"], camera["frames_processed"], camera["dropped_total"]) == (40, 40, 0)
        mot = Path("mot") / f"{camera_id}.txt"
        assert (out1 / mot).read_bytes() == (out2 / mot).read_bytes()
    # Per camera every row is the same. Global ids are given in the order fusion decides, which follows
    # the order frames of different cameras arrive: two one-process runs differ there too.
    tracks1 = rows_without_global_ids(out1 / "tracks.csv")
    tracks2 = rows_without_global_ids(out2 / "tracks.csv")
    assert tracks1 == tracks2 and sum(map(len, tracks1.values())) > 200


def test_fusion_pyfuncs_and_outputs_run_in_the_parent_for_every_camera(one_and_two):
    _, summary1, out2, summary2 = one_and_two
    with (out2 / "tracks.csv").open() as f:
        global_ids = {(r["camera_id"], r["global_id"]) for r in csv.DictReader(f) if r["global_id"]}
    assert {camera for camera, _ in global_ids} == {"c0", "c1", "c2"}
    assert sorted(p.name for p in (out2 / "mtmc").iterdir()) == ["c0.txt", "c1.txt", "c2.txt"]
    assert sorted(p.name for p in (out2 / "video").iterdir()) == ["c0.mp4", "c1.mp4", "c2.mp4"]
    events = (out2 / "events.jsonl").read_text()
    assert '"global_id_assigned"' in events
    # the workers' stage timings reach the parent's latency table
    for stage in ("decode_wait", "preprocess", "infer", "track", "embed", "fusion", "output"):
        assert summary2["latency_ms"][stage]["count"] > 0, stage
    assert summary2["latency_ms"]["track"]["count"] == summary1["latency_ms"]["track"]["count"] == 120


def test_a_killed_worker_leaves_the_other_group_running(tmp_path, ssdlite, capsys):
    module = quiet(ssdlite, annotated_video=False)
    cameras = [CameraSpec(id="a", uri=str(VTEST)), CameraSpec(id="b", uri=str(VTEST), start_seconds=30)]
    site = Site(name="test", cameras=tuple(cameras))
    pipeline = Pipeline(module, site, RunOptions(out_dir=tmp_path, progress=False, watch_module=False,
                                                 realtime=True, max_frames=60, workers=2))
    result = {}
    runner = threading.Thread(target=lambda: result.update(pipeline.run()))
    runner.start()
    victim = pipeline.upstream.groups[1]
    # paced cameras are live for the recorder in the parent too (it drops video frames, never waits)
    assert pipeline.upstream.sources["a"].live and pipeline.upstream.sources["b"].live
    deadline = time.monotonic() + 120
    while pipeline.upstream.sources["b"].stats.delivered < 10 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert pipeline.upstream.sources["b"].stats.delivered >= 10, "worker 1 never sent frames"
    os.kill(victim.process.pid, signal.SIGKILL)
    runner.join(180)
    assert not runner.is_alive()
    a, b = result["cameras"]["a"], result["cameras"]["b"]
    assert (a["state"], a["frames_processed"]) == ("finished", 60)
    assert b["state"] == "dead" and "worker 1" in b["last_error"] and "SIGKILL" in b["last_error"]
    assert 10 <= b["frames_processed"] < 60
    assert b["frames_received"] == b["frames_processed"] + b["dropped_total"]
    # every frame the worker had sent was written
    assert len((tmp_path / "mot" / "b.txt").read_text().splitlines()) > 0
    with (tmp_path / "tracks.csv").open() as f:
        written = {int(r["frame"]) for r in csv.DictReader(f) if r["camera_id"] == "b"}
    assert max(written) <= b["frames_processed"]
    groups = {g["group"]: g for g in result["workers"]}
    assert groups[0]["state"] == "finished"
    assert groups[1]["state"] == "died" and groups[1]["exit_code"] == -signal.SIGKILL
    print_run_report(result)  # what `pyuniproc run` prints before it exits with 4
    printed = " ".join(capsys.readouterr().out.split())
    assert "worker 1 died: worker 1 (pid" in printed and "cameras b) was killed by SIGKILL" in printed


def test_workers_that_cannot_start_are_reported_with_their_error(tmp_path, ssdlite):
    """The parent builds no detector: a child that cannot load its model says why, and its cameras
    end dead with that error (here every child fails, so nothing is processed)."""
    module = quiet(replace(ssdlite, detector=replace(ssdlite.detector, model_file="not_the_model.onnx")),
                   annotated_video=False)
    cameras = [CameraSpec(id="a", uri=str(VTEST)), CameraSpec(id="b", uri=str(VTEST))]
    summary = run(module, cameras, tmp_path, max_frames=5, workers=2)
    assert summary["frames_processed"] == 0
    for group in summary["workers"]:
        assert group["state"] == "died" and group["exit_code"] == 1
        assert "not_the_model.onnx" in group["error"] and "Traceback" in group["traceback"]
    assert all(c["state"] == "dead" and "not_the_model.onnx" in c["last_error"]
               for c in summary["cameras"].values())


def test_the_cli_refuses_a_bad_workers_count(tmp_path):
    from pyuniproc.cli import main

    with pytest.raises(SystemExit, match="--workers: workers must be a count >= 1 or 'auto', got 0"):
        main(["run", "--source", f"a={VTEST}", "--out", str(tmp_path), "--workers", "0"])


def test_metrics_and_one_trace_per_frame_come_from_the_parent(tmp_path, monkeypatch):
    """As tests/runtime/test_pipeline_telemetry.py for one process: the workers' stage timings
    (queue, preprocess, detect, track) join each frame's trace in the parent, next to its own stages."""
    import socket
    import sys
    import urllib.request
    from collections import defaultdict

    sys.path.insert(0, str(ROOT / "tests" / "telemetry"))
    from otlpkit import OtlpHttpReceiver

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    receiver = OtlpHttpReceiver()
    try:
        monkeypatch.setenv("TRACING", "true")
        monkeypatch.setenv("TRACING_SAMPLING_RATIO", "1.0")
        monkeypatch.setenv("OTLP_ENDPOINT", receiver.url)
        monkeypatch.setenv("TELEMETRY_PORT", str(port))
        monkeypatch.setenv("DETECTOR", "ssdlite")
        module = load_module_config(ROOT / "module" / "module.yml")
        module = replace(module, runtime=replace(module.runtime, annotated_video=False))
        site = Site(name="t", cameras=(CameraSpec(id="cam1", uri=str(VTEST)),
                                       CameraSpec(id="cam2", uri=str(VTEST), start_seconds=30)))
        pipeline = Pipeline(module, site, RunOptions(out_dir=tmp_path, max_frames=30, progress=False,
                                                     watch_module=False, workers=2))
        runner = threading.Thread(target=pipeline.run)
        runner.start()
        metrics = ""
        deadline = time.monotonic() + 120
        while runner.is_alive() and time.monotonic() < deadline:
            if pipeline.telemetry.url and pipeline.summary()["frames_processed"] >= 10:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
                    metrics = response.read().decode()
                break
            time.sleep(0.1)
        runner.join(120)
        assert 'camera="cam1"' in metrics and 'camera="cam2"' in metrics
        assert 'stage="infer"' in metrics and 'stage="track"' in metrics
        spans = receiver.wait_for(60 * 8, timeout=30)
    finally:
        receiver.close()
    traces = defaultdict(list)
    for span in spans:
        traces[span.trace_id].append(span)
    frames = [t for t in traces.values() if any(s.name == "frame" for s in t)]
    assert len(frames) == 60
    for trace in frames:
        root = next(s for s in trace if s.name == "frame")
        children = {s.name: s for s in trace if s.parent_span_id == root.span_id}
        assert {"queue", "preprocess", "detect", "track", "embed", "fusion", "analytics"} <= set(children)
        assert children["detect"].attributes["batch.size"] >= 1


def test_a_worker_sends_pictures_only_for_the_cameras_the_parent_records():
    import numpy as np

    from pyuniproc.runtime.worker_process import FrameSpans, GroupLink
    from pyuniproc.types import Detections, Frame

    sent = []
    link = GroupLink(sent.append, images_of=frozenset({"recorded"}))
    image = np.zeros((4, 6, 3), np.uint8)
    for camera_id in ("recorded", "not_recorded"):
        link.on_frame(Frame(camera_id, 7, 0.7, image, 1.0), Detections.empty(), {}, FrameSpans())
    assert [(m[1], m[5], m[6] is not None) for m in sent] == [("recorded", (4, 6), True),
                                                              ("not_recorded", (4, 6), False)]


def test_max_seconds_ends_a_grouped_run_like_one_process(tmp_path, ssdlite):
    """The time limit asks the workers to stop; what they processed is all written, every received
    frame is accounted for, and the run reads finished, as a one-process run does."""
    module = quiet(ssdlite, annotated_video=False)
    cameras = [CameraSpec(id="a", uri=str(VTEST)), CameraSpec(id="b", uri=str(VTEST), start_seconds=30)]
    summary = run(module, cameras, tmp_path, realtime=True, max_seconds=15, workers=2)
    assert summary["status"] == "finished"
    assert [g["state"] for g in summary["workers"]] == ["finished", "finished"]
    # CPU workers never touch CUDA: no GPU memory to report, in the run or in either child
    assert summary["gpu_memory_mib"] is None
    assert [g["gpu_memory_mib"] for g in summary["workers"]] == [None, None]
    for camera_id, camera in summary["cameras"].items():
        assert camera["frames_processed"] > 0
        assert camera["frames_received"] == camera["frames_processed"] + camera["dropped_total"]
        # the overload policy decides in the children: their counters reach the parent's summary
        load = summary["overload"]["cameras"][camera_id]
        assert load["detected"] + load["predicted"] == camera["frames_processed"], load
    assert summary["elapsed_seconds"] < 15 + 30


def test_a_silent_workers_live_camera_reads_stalled():
    now = [100.0]
    stats = RemoteStats("a", "rtsp://cam/1", clock=lambda: now[0])
    stats.update({"frames_received": 50, "state": "live", "seconds_since_last_frame": 0.1})
    assert stats.snapshot()["state"] == "live"
    now[0] += 6.0  # nothing from the worker for longer than the 5 s stall timeout
    snapshot = stats.snapshot()
    assert (snapshot["state"], snapshot["seconds_since_last_frame"]) == ("stalled", 6.1)
