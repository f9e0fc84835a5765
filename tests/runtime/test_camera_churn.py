"""Cameras added to and removed from a running pipeline (real footage, real weights, fusion on):
everything a removed camera held is released, and every frame it received is accounted for."""

import os
import re
import threading
import time
from dataclasses import replace
from pathlib import Path

import av
import pytest

from pyuniproc.config.cameras import CameraSpec, Site
from pyuniproc.runtime.camera_control import CameraControl
from pyuniproc.runtime.pipeline import Pipeline, RunOptions

VTEST = Path(__file__).resolve().parents[2] / "samples" / "vtest" / "vtest.avi"
CYCLES = 20
SERIES = re.compile(r"^(\w+)\{([^}]*)\}", re.MULTILINE)


def resources() -> dict[str, int]:
    status = Path("/proc/self/status").read_text()
    native = int(re.search(r"^Threads:\s+(\d+)", status, re.MULTILINE).group(1))
    fds = len(os.listdir("/proc/self/fd"))
    return {"threads": threading.active_count(), "native_threads": native, "fds": fds}


def series(pipeline: Pipeline) -> set[str]:
    """Every labelled series of /metrics (name{labels}), as the exposition shows it."""
    text = pipeline.telemetry.metrics.exposition().decode()
    return {f"{name}{{{labels}}}" for name, labels in SERIES.findall(text)}


def wait_until(condition, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)
    return True


@pytest.fixture
def running(module_config, tmp_path):
    """A pipeline with one camera (the sample clip, looped in real time), running in a thread."""
    runtime = module_config.runtime
    telemetry = replace(runtime.telemetry, metrics=replace(runtime.telemetry.metrics, enabled=False))
    module = replace(module_config, runtime=replace(runtime, telemetry=telemetry, summary_period_seconds=0.5))
    site = Site(name="churn", cameras=(CameraSpec(id="base", uri=str(VTEST), realtime=True, loop=True),))
    pipeline = Pipeline(module, site, RunOptions(out_dir=tmp_path, progress=False, watch_module=False))
    result: dict = {}
    thread = threading.Thread(target=lambda: result.update(pipeline.run()), name="test-pipeline")
    thread.start()
    try:
        assert wait_until(lambda: pipeline.summary()["frames_processed"] >= 5, timeout=60)
        yield pipeline, result
    finally:
        pipeline.stop()
        thread.join(60)
    assert not thread.is_alive()


def cycle(pipeline: Pipeline, camera_id: str, frames: int = 3) -> dict:
    """Add a camera (the clip from another point, in real time), let it process `frames`, remove it."""
    spec = CameraSpec(id=camera_id, uri=str(VTEST), realtime=True, loop=True, start_seconds=20.0)
    assert pipeline.add_camera(spec).result(timeout=30) is None
    processed = lambda: pipeline.summary()["cameras"].get(camera_id, {}).get("frames_processed", 0)  # noqa: E731
    assert wait_until(lambda: processed() >= frames, timeout=60)
    return pipeline.remove_camera(camera_id).result(timeout=30)


def test_cameras_added_and_removed_leave_nothing_behind(running, tmp_path):
    pipeline, result = running
    cycle(pipeline, "warmup")  # first use of lazily created pools (encoder, ReID batch, ...)
    assert wait_until(lambda: "warmup" not in " ".join(series(pipeline)), timeout=10)
    time.sleep(1.0)
    baseline, baseline_series = resources(), series(pipeline)

    snapshots = [cycle(pipeline, f"extra{k}") for k in range(CYCLES)]

    for snapshot in snapshots:  # every frame a removed camera received is processed or dropped
        assert snapshot["frames_processed"] >= 3
        assert snapshot["frames_received"] == snapshot["frames_processed"] + sum(snapshot["dropped"].values())
    summary = pipeline.summary()
    assert list(summary["cameras"]) == ["base"]
    assert summary["removed_cameras"]["count"] == CYCLES + 1
    assert sorted(summary["overload"]["cameras"]) == ["base"]
    # Threads (decode, encoder) and files (decoder, MOT, video) of the removed cameras are gone.
    assert wait_until(lambda: resources() == baseline, timeout=15), (resources(), baseline)
    # No /metrics series of a removed camera is left: the same series as before the cycles.
    now = series(pipeline)
    assert not [s for s in now if "extra" in s or "warmup" in s]
    assert now - baseline_series <= {s for s in now if 'camera="base"' in s}, now - baseline_series

    pipeline.stop()
    assert wait_until(lambda: result, timeout=60)
    # Each visit of a camera has its own playable video; the line outputs hold every camera.
    with av.open(str(tmp_path / "video" / "extra7.mp4")) as container:
        assert sum(1 for _ in container.decode(video=0)) >= 3
    assert {f"extra{k}" for k in range(CYCLES)} <= {p.stem for p in (tmp_path / "mot").glob("*.txt")}


def test_a_camera_id_can_come_back_and_bad_requests_fail_alone(running, tmp_path):
    pipeline, _ = running
    control = CameraControl(pipeline)  # the same surface as an object of its own
    first = cycle(pipeline, "door")
    second = cycle(pipeline, "door")
    assert first["frames_processed"] >= 3 and second["frames_processed"] >= 3
    with pytest.raises(ValueError, match="already running"):
        control.add(CameraSpec(id="base", uri=str(VTEST))).result(timeout=30)
    with pytest.raises(ValueError, match="no camera 'nope' is running"):
        control.remove("nope").result(timeout=30)
    with pytest.raises(ValueError, match="camera_id must be letters"):
        control.add(CameraSpec(id="../etc", uri=str(VTEST))).result(timeout=30)
    # A camera that cannot be opened is added, reported dead, and removed like any other.
    assert control.add(CameraSpec(id="broken", uri=str(tmp_path / "missing.mp4"))).result(timeout=30) is None
    assert wait_until(lambda: pipeline.summary()["cameras"]["broken"]["state"] == "dead", timeout=30)
    assert control.remove("broken").result(timeout=30)["frames_received"] == 0
    assert pipeline.summary()["cameras"]["base"]["frames_processed"] > 0  # the run went on meanwhile
    videos = sorted(p.name for p in (tmp_path / "video").glob("door*.mp4"))
    assert videos == ["door.1.mp4", "door.mp4"]
    # Its second visit continues the first's frame numbers and track ids in mot/door.txt.
    rows = [line.split(",")[:2] for line in (tmp_path / "mot" / "door.txt").read_text().splitlines()]
    frames = [int(frame) for frame, _ in rows]
    assert frames == sorted(frames) and frames[-1] > first["frames_processed"]
    pairs = {(int(frame), int(track)) for frame, track in rows}
    assert len(pairs) == len(rows)  # no (frame, id) twice
