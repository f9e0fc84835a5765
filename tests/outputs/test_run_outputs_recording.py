"""RunOutputs records only the cameras it should (annotated_video, the cameras file's `record`, the
backend), never holds a live camera up behind a slow encoder, and counts what the recording dropped
in summary.json and on /metrics while every frame still reaches tracks.csv."""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import pytest

from pyuniproc.outputs import AnnotatedVideoWriter, RecordingConfig
from pyuniproc.runtime.outputs import RunOutputs
from pyuniproc.telemetry.metrics import PipelineMetrics
from pyuniproc.types import Detections, Frame

PERSON = Detections(xyxy=[[20, 20, 60, 100]], confidence=[0.9], class_id=[0], tracker_id=[3])


def frame(camera_id: str, i: int) -> Frame:
    return Frame(camera_id, i, i / 10, np.full((120, 160, 3), i % 255, np.uint8))


class SlowEncoder(AnnotatedVideoWriter):
    """The real encoder, made slow: as x264 for a hundred cameras on one host would run it."""

    delay = 0.1

    def write(self, *args, **kwargs) -> None:
        time.sleep(self.delay)
        super().write(*args, **kwargs)


def run(outputs: RunOutputs, frames: dict[str, int], **write) -> dict:
    for i in range(max(frames.values())):
        for camera_id, count in frames.items():
            if i < count:
                outputs.write_frame(frame(camera_id, i), PERSON, [], fps=10.0, **write)
    outputs.write_summary({"cameras": {}})
    outputs.close()
    return json.loads((outputs.out_dir / "summary.json").read_text())


def videos(out: Path) -> set[str]:
    return {path.name for path in (out / "video").glob("*.mp4")} if (out / "video").exists() else set()


@pytest.mark.parametrize(
    ("annotate", "backend", "record", "recorded"),
    [
        (True, "cpu", {"b": False}, {"a", "c"}),  # opt out
        (False, "cpu", {"b": True}, {"b"}),  # opt in
        ("auto", "cpu", {}, {"a", "b", "c"}),  # auto on the CPU: every camera
        ("auto", "gpu", {"b": True, "c": None}, {"b"}),  # auto on the GPU: only who asks
        (True, "gpu", {"c": False}, {"a", "b"}),  # asked for on the GPU
    ],
)
def test_a_camera_is_recorded_as_its_record_setting_or_the_default_says(
    tmp_path, annotate, backend, record, recorded
):
    outputs = RunOutputs(tmp_path, annotate=annotate, backend=backend, record=record)
    summary = run(outputs, {"a": 3, "b": 3, "c": 3})
    assert videos(tmp_path) == {f"{camera}.mp4" for camera in recorded}
    assert set(summary["recording"]) == recorded
    assert ("video" in outputs.paths()) == bool(recorded)
    # every camera's tracks are written whether recorded or not
    rows = (tmp_path / "tracks.csv").read_text().splitlines()[1:]
    assert sorted({row.split(",")[0] for row in rows}) == ["a", "b", "c"] and len(rows) == 9


def test_a_camera_added_during_the_run_brings_its_own_record_setting(tmp_path):
    outputs = RunOutputs(tmp_path, annotate="auto", backend="gpu")
    outputs.open_camera("late", record=True)
    outputs.open_camera("quiet")  # no setting: the default (off on the GPU)
    run(outputs, {"late": 2, "quiet": 2})
    assert videos(tmp_path) == {"late.mp4"}


def test_a_slow_encoder_drops_recording_frames_of_a_live_camera_and_counts_them(tmp_path):
    outputs = RunOutputs(
        tmp_path,
        recording=RecordingConfig(queue_frames=2),  # when_behind: auto
        encoder_factory=SlowEncoder,
    )
    metrics = PipelineMetrics(process=False, gpu="off")
    metrics.watch_recordings(outputs.recording_stats)
    started = time.monotonic()
    for i in range(30):
        outputs.write_frame(frame("live", i), PERSON, [], fps=10.0, live=True)
    live_seconds = time.monotonic() - started
    for i in range(4):
        outputs.write_frame(frame("file", i), PERSON, [], fps=10.0, live=False)
    scraped = metrics.exposition().decode()
    summary = run(outputs, {"live": 0, "file": 0})

    # waiting for the encoder would have taken 30 x 0.1 s; the live camera was never held up
    assert live_seconds < 1.5
    live, offline = summary["recording"]["live"], summary["recording"]["file"]
    assert live["when_behind"] == "drop" and offline["when_behind"] == "wait"
    assert live["frames_dropped"] >= 20 and live["frames_written"] + live["frames_dropped"] == 30
    assert (offline["frames_written"], offline["frames_dropped"]) == (4, 0)  # offline: every frame
    # the pipeline's outputs have every frame of both cameras
    cameras = [row.split(",")[0] for row in (tmp_path / "tracks.csv").read_text().splitlines()[1:]]
    assert (cameras.count("live"), cameras.count("file")) == (30, 4)
    assert len((tmp_path / "mot" / "live.txt").read_text().splitlines()) == 30
    # /metrics shows the recorders' counters at scrape time
    assert 'pyuniproc_recording_frames_dropped_total{camera="live"}' in scraped
    dropped = float(scraped.split('pyuniproc_recording_frames_dropped_total{camera="live"} ')[1].split()[0])
    assert dropped >= 20
    assert 'pyuniproc_recording_frames_written_total{camera="file"}' in scraped


class SlightlySlowEncoder(SlowEncoder):
    delay = 0.02


def test_when_behind_wait_still_records_every_frame_of_a_live_camera(tmp_path):
    recording = RecordingConfig(queue_frames=2, when_behind="wait")
    outputs = RunOutputs(tmp_path, recording=recording, encoder_factory=SlightlySlowEncoder)
    live = run(outputs, {"live": 12}, live=True)["recording"]["live"]
    assert (live["frames_written"], live["frames_dropped"]) == (12, 0)
