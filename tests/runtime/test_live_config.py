"""Editing the module YAML while a looping camera runs: good edits apply within seconds, bad ones
are reported and change nothing."""

import csv
import json
import re
import shutil
import threading
import time
from pathlib import Path

from pyuniproc.config.cameras import CameraSpec, Site
from pyuniproc.config.module import load_module_config
from pyuniproc.runtime.pipeline import Pipeline, RunOptions

REPO = Path(__file__).resolve().parents[2]
VTEST = REPO / "samples" / "vtest" / "vtest.avi"


def copy_module(tmp_path: Path) -> Path:
    """A module YAML in a project layout of its own, sharing the repo's models and pyfuncs."""
    project = tmp_path / "project"
    (project / "module").mkdir(parents=True)
    shutil.copy(REPO / "module" / "module.yml", project / "module" / "module.yml")
    (project / "module" / "models").symlink_to(REPO / "module" / "models")
    (project / "module" / "pyfuncs").symlink_to(REPO / "module" / "pyfuncs")
    (project / "module" / "__init__.py").write_text("")
    return project / "module" / "module.yml"


def rows_after(tracks_csv: Path, since_frame: int) -> int:
    with tracks_csv.open() as f:
        return sum(1 for row in csv.DictReader(f) if int(row["frame"]) > since_frame)


def wait_for(condition, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.1)
    return False


def test_edits_apply_while_running_and_broken_edits_are_ignored(tmp_path, monkeypatch):
    # Every frame detected: on a busy machine the overload policy would have the tracker coast
    # through some frames, which is not what this test looks at.
    monkeypatch.setenv("OVERLOAD_MODE", "off")
    module_path = copy_module(tmp_path)
    original = module_path.read_text()
    module = load_module_config(module_path)
    site = Site(name="live", cameras=(CameraSpec(id="cam1", uri=str(VTEST), loop=True),))
    out = tmp_path / "out"
    pipeline = Pipeline(module, site, RunOptions(out_dir=out, realtime=True, progress=False))
    pipeline.watcher.interval_seconds = 0.2
    runner = threading.Thread(target=pipeline.run)
    runner.start()
    try:
        assert wait_for(lambda: (out / "tracks.csv").exists() and rows_after(out / "tracks.csv", 0) > 10, 20)

        # 1. A broken edit: the run goes on, the error names file and line, nothing changes.
        module_path.write_text(original.replace("pipeline:", "pipeline: [oops", 1))
        assert wait_for(lambda: pipeline.watcher.status.last_error is not None, 10)
        assert "module.yml:" in pipeline.watcher.status.last_error
        assert runner.is_alive()
        frame_now = pipeline.summary()["cameras"]["cam1"]["last_frame"]
        assert wait_for(lambda: rows_after(out / "tracks.csv", frame_now) > 5, 10), "tracking stopped"

        # 2. A good edit: a detector threshold no person reaches empties the tracks within seconds.
        module_path.write_text(re.sub(r"DETECTION_THRESHOLD, [0-9.]+", "DETECTION_THRESHOLD, 0.999",
                                      original))
        assert wait_for(lambda: pipeline.watcher.status.version == 2, 10)
        assert pipeline.detector.confidence_threshold == 0.999
        switched = pipeline.summary()["cameras"]["cam1"]["last_frame"]
        time.sleep(1.5)
        assert rows_after(out / "tracks.csv", switched) == 0

        # 3. Tracker settings reach the running tracker, which keeps its id counter.
        module_path.write_text(re.sub(r"lost_track_buffer: \d+", "lost_track_buffer: 12", original))
        assert wait_for(lambda: pipeline.watcher.status.version == 3, 10)
        tracker = pipeline._cameras["cam1"].tracker
        assert tracker.lost_track_buffer == 12
        assert tracker._next_id > 1
        assert pipeline.detector.confidence_threshold == module.detector.confidence_threshold
    finally:
        pipeline.stop()
        runner.join(20)
    events = [json.loads(line) for line in (out / "events.jsonl").read_text().splitlines()]
    kinds = [e["kind"] for e in events if e["kind"].startswith("config_")]
    assert kinds == ["config_rejected", "config_reloaded", "config_reloaded"]
