"""MosaicRecorder: a grid of every camera's latest picture, recorded in segments off the pipeline thread."""

from __future__ import annotations

import time

import av
import numpy as np
import pytest

from pyuniproc.outputs import MosaicRecorder, RecordingConfig
from pyuniproc.runtime.outputs import RunOutputs
from pyuniproc.types import Detections, Frame

RED, BLUE = (200, 30, 30), (30, 30, 200)


def picture(
    camera_id: str, color: tuple[int, int, int], i: int = 0, size: tuple[int, int] = (240, 320)
) -> Frame:
    return Frame(camera_id, i, i / 10, np.full((*size, 3), color, np.uint8))


def decoded(path) -> list[np.ndarray]:
    with av.open(str(path)) as container:
        return [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]


def test_grid_layout_letterboxing_no_signal_and_stale_tiles(tmp_path):
    now = [0.0]
    mosaic = MosaicRecorder(
        tmp_path, ["cam1", "cam2", "cam3"], width=640, clock=lambda: now[0], start=False, stale_seconds=5.0
    )
    assert (mosaic.columns, mosaic.rows, mosaic.tile_width, mosaic.tile_height) == (2, 2, 320, 180)
    mosaic.on_frame(picture("cam1", RED), None)  # 4:3 into 16:9: black bars left and right
    mosaic.on_frame(picture("cam3", BLUE, size=(180, 320)), None)
    grid = mosaic.render()
    assert grid.shape == (360, 640, 3)
    assert tuple(grid[120, 160]) == RED and tuple(grid[120, 5]) == (0, 0, 0)
    assert grid[180:, 320:].max() == 0  # the fourth cell is empty
    assert grid[:180, 320:].any() and not (grid[:180, 320:] == RED).all(axis=2).any()  # cam2: "no signal"
    now[0] = 6.0  # cam1 and cam3 went quiet
    assert tuple(mosaic.render()[120, 160]) == tuple(c // 3 for c in RED)
    mosaic.close()


def test_ticks_become_segments_that_decode(tmp_path):
    mosaic = MosaicRecorder(
        tmp_path, ["cam1", "cam2"], width=320, fps=5.0, segment_seconds=1.0, queue_frames=64, start=False
    )
    tracks = Detections(xyxy=[[10, 10, 60, 120]], confidence=[0.9], class_id=[0], tracker_id=[4])
    for i in range(12):
        mosaic.on_frame(picture("cam1", RED, i), tracks)
        mosaic.on_frame(picture("cam2", BLUE, i), None)
        assert mosaic.tick()
    mosaic.close()
    segments = mosaic.writer.segments
    assert [len(decoded(path)) for path in segments] == [5, 5, 2]
    assert all(path.parent == tmp_path / "mosaic" for path in segments)
    assert decoded(segments[0])[0].shape == (90, 320, 3)


def test_the_compositor_thread_paces_itself_and_on_frame_is_cheap(tmp_path):
    mosaic = MosaicRecorder(tmp_path, ["cam1"], width=320, fps=20.0)
    frame = picture("cam1", RED)
    started = time.perf_counter()
    for _ in range(1000):
        mosaic.on_frame(frame, None)
    per_call = (time.perf_counter() - started) / 1000
    time.sleep(0.5)
    mosaic.close()
    assert per_call < 50e-6
    assert 5 <= mosaic.writer.frames_written + mosaic.writer.frames_dropped <= 15
    assert mosaic.writer.segments == [tmp_path / "mosaic.mp4"]


def test_run_outputs_records_the_mosaic_when_configured(tmp_path):
    outputs = RunOutputs(
        tmp_path,
        recording=RecordingConfig(mosaic=True, mosaic_fps=20.0, mosaic_width=320, when_behind="wait"),
        camera_ids=["cam1", "cam2"],
    )
    for i in range(5):
        outputs.write_frame(picture("cam1", RED, i), Detections.empty(), [], fps=10.0)
        outputs.write_frame(picture("cam2", BLUE, i), Detections.empty(), [], fps=10.0)
    time.sleep(0.3)
    outputs.write_summary({"cameras": {}})
    outputs.close()
    assert len(decoded(tmp_path / "video" / "mosaic.mp4")) >= 2
    assert len(decoded(tmp_path / "video" / "cam1.mp4")) == 5


def test_bad_arguments(tmp_path):
    with pytest.raises(ValueError, match="at least one camera"):
        MosaicRecorder(tmp_path, [], start=False)
    with pytest.raises(ValueError, match="fps"):
        MosaicRecorder(tmp_path, ["cam1"], fps=0, start=False)
