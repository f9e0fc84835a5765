"""The pipeline's seam to its outputs, on real footage with real weights: a camera's `record`
setting reaches the recorder, and a run that fails mid-way still leaves every processed frame in
the (buffered) text outputs."""

from __future__ import annotations

import csv
import json
from dataclasses import replace
from pathlib import Path

import pytest

from pyuniproc.config.cameras import CameraSpec, Site
from pyuniproc.runtime.pipeline import Pipeline, RunOptions

VTEST = Path(__file__).resolve().parents[2] / "samples" / "vtest" / "vtest.avi"


def pipeline(module, cameras, out: Path, **options) -> Pipeline:
    quiet = replace(module, fusion=None, runtime=replace(module.runtime, annotated_video=True))
    site = Site(name="test", cameras=tuple(cameras))
    return Pipeline(quiet, site, RunOptions(out_dir=out, progress=False, **options))


def test_a_camera_with_record_false_gets_no_video(tmp_path, module_config):
    cameras = [CameraSpec(id="shown", uri=str(VTEST)), CameraSpec(id="hidden", uri=str(VTEST), record=False)]
    pipeline(module_config, cameras, tmp_path, max_frames=6).run()
    assert sorted(path.name for path in (tmp_path / "video").glob("*.mp4")) == ["shown.mp4"]
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert set(summary["recording"]) == {"shown"} and summary["recording"]["shown"]["frames_written"] == 6
    assert summary["recording"]["shown"]["when_behind"] == "wait"  # a file read as fast as it decodes
    assert summary["cameras"]["hidden"]["frames_processed"] == 6


class FailsAt:
    """An observer that breaks the run on frame `index` (after that frame's outputs were written)."""

    def __init__(self, index: int) -> None:
        self.index = index

    def on_frame(self, frame, tracks, events) -> None:
        if frame.index == self.index:
            raise RuntimeError("observer failed")

    def on_summary(self, summary) -> None:
        pass


def test_a_run_that_fails_keeps_every_frame_it_processed(tmp_path, module_config):
    run = pipeline(module_config, [CameraSpec(id="cam1", uri=str(VTEST))], tmp_path, max_frames=40)
    run.observers.append(FailsAt(24))
    with pytest.raises(RuntimeError, match="observer failed"):
        run.run()
    with (tmp_path / "tracks.csv").open() as f:
        frames = {int(row["frame"]) for row in csv.DictReader(f)}
    mot = {int(line.split(",")[0]) for line in (tmp_path / "mot" / "cam1.txt").read_text().splitlines()}
    # the failure stops the run; the batches in flight are finished and written on the way out, and
    # every frame summary.json counts is in the files (the buffers reached them at close; the frame
    # the observer failed on was written but is not counted as processed)
    processed = json.loads((tmp_path / "summary.json").read_text())["cameras"]["cam1"]["frames_processed"]
    assert 24 <= processed < 40
    assert 25 in frames and 25 in mot
    assert max(frames) == max(mot) >= processed
