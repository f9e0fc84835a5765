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
    mosaic = MosaicRecorder(tmp_path, ["cam1", "cam2", "cam3"], width=640, start=False, stale_seconds=5.0)
    assert (mosaic.columns, mosaic.rows, mosaic.tile_width, mosaic.tile_height) == (2, 2, 320, 180)
    mosaic.on_frame(picture("cam1", RED), None)  # 4:3 into 16:9: black bars left and right
    mosaic.on_frame(picture("cam3", BLUE, size=(180, 320)), None)
    grid = mosaic.render()
    assert grid.shape == (360, 640, 3)
    assert tuple(grid[120, 160]) == RED and tuple(grid[120, 5]) == (0, 0, 0)
    assert grid[180:, 320:].max() == 0  # the fourth cell is empty
    assert grid[:180, 320:].any() and not (grid[:180, 320:] == RED).all(axis=2).any()  # cam2: "no signal"
    for i in range(61):  # cam2 goes on for 6 s of stream time: cam1 and cam3 went quiet
        mosaic.on_frame(picture("cam2", BLUE, i), None)
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


def shade(i: int) -> tuple[int, int, int]:
    return (i, 255 - i, 100)


def test_the_video_lasts_as_long_as_the_scene_however_fast_the_frames_come(tmp_path):
    """6 s of two cameras at 10 fps make 30 pictures at 5 fps (6 s of video), read in 0.05 s or in 1.2 s."""
    for pause in (0.0, 0.01):
        mosaic = MosaicRecorder(tmp_path / str(pause), ["cam1", "cam2"], width=320, fps=5.0)
        for i in range(60):
            mosaic.on_frame(picture("cam1", RED, i), None)
            mosaic.on_frame(picture("cam2", BLUE, i), None)
            time.sleep(pause)
        mosaic.close()
        assert (mosaic.writer.frames_written, mosaic.writer.frames_dropped) == (30, 0)
        assert len(decoded(tmp_path / str(pause) / "mosaic.mp4")) == 30


class Captured:
    """An encoder that keeps what it is given: (pts_seconds, picture)."""

    def __init__(self, path, **_):
        self.path, self.pictures = path, []
        CAPTURED.append(self)

    def write(self, frame, tracks=None, *, current_fps=None):
        self.pictures.append((round(frame.pts_seconds, 3), frame.image))

    def close(self):
        pass


CAPTURED: list[Captured] = []


def test_each_picture_shows_every_camera_at_the_same_stream_time(tmp_path):
    CAPTURED.clear()
    mosaic = MosaicRecorder(tmp_path, ["cam1", "cam2"], width=640, fps=5.0, start=False, queue_frames=64,
                            encoder_factory=Captured)
    for i in range(21):  # cam1 2 s ahead of cam2
        mosaic.on_frame(Frame("cam1", i, i / 10, np.full((180, 320, 3), shade(i), np.uint8)), None)
    mosaic.on_frame(Frame("cam2", 0, 0.0, np.full((180, 320, 3), shade(0), np.uint8)), None)
    assert mosaic.advance() == 1  # t = 0 only: cam2 holds the timeline
    for i in range(1, 21):
        mosaic.on_frame(Frame("cam2", i, i / 10, np.full((180, 320, 3), shade(i), np.uint8)), None)
    assert mosaic.advance() == 10  # t = 0.2 ... 2.0
    mosaic.close()
    [encoder] = CAPTURED
    assert [t for t, _ in encoder.pictures] == [round(k / 5, 3) for k in range(11)]
    for t, grid in encoder.pictures:
        assert tuple(grid[120, 160]) == tuple(grid[120, 480]) == shade(round(t * 10)), t


def test_the_timeline_does_not_wait_for_a_camera_that_ended_or_lags_too_far(tmp_path):
    now = [0.0]
    mosaic = MosaicRecorder(tmp_path, ["cam1", "cam2"], width=320, fps=5.0, max_lead_seconds=4.0,
                            clock=lambda: now[0], start=False)
    mosaic.on_frame(picture("cam2", BLUE, 0), None)
    for i in range(101):  # cam1: 10 s
        mosaic.on_frame(picture("cam1", RED, i), None)
    assert mosaic.now == 0 and mosaic.advance() == 31  # cam2 still delivers: cam1 leads by 4 s at most
    assert mosaic.now == pytest.approx(6.2)
    mosaic.end_camera("cam2")
    assert mosaic.advance() == 20 and mosaic.now == pytest.approx(10.2)  # up to cam1's latest frame
    mosaic.close()


def test_the_first_picture_waits_for_every_camera_so_they_start_together(tmp_path):
    now = [0.0]
    mosaic = MosaicRecorder(tmp_path, ["cam1", "cam2"], width=640, fps=5.0, stale_seconds=5.0,
                            clock=lambda: now[0], start=False)
    for i in range(11):
        mosaic.on_frame(Frame("cam1", i, i / 10, np.full((180, 320, 3), shade(i), np.uint8)), None)
    assert mosaic.advance() == 0  # cam2 is still opening
    now[0] = 1.0
    for i in range(11):  # its pts start at 0 too: the same scene time as cam1's
        mosaic.on_frame(Frame("cam2", i, i / 10, np.full((180, 320, 3), shade(i), np.uint8)), None)
    assert mosaic.advance() == 6
    assert tuple(mosaic.render(mosaic.now - 0.2)[120, 480]) == shade(10)
    mosaic.close()


def test_a_camera_that_never_comes_shows_no_signal_after_a_while(tmp_path):
    now = [0.0]
    mosaic = MosaicRecorder(tmp_path, ["cam1", "cam2"], width=640, fps=5.0, stale_seconds=5.0,
                            clock=lambda: now[0], start=False)
    for i in range(11):
        mosaic.on_frame(picture("cam1", RED, i), None)
    assert mosaic.advance() == 0
    now[0] = 6.0
    mosaic.on_frame(picture("cam1", RED, 11), None)
    assert mosaic.advance() == 6
    mosaic.close()


def test_on_frame_is_cheap(tmp_path):
    mosaic = MosaicRecorder(tmp_path, ["cam1"], width=320, fps=20.0)
    image = np.full((240, 320, 3), RED, np.uint8)
    frames = [Frame("cam1", i, i / 1000, image) for i in range(1000)]  # 1 s: 21 pictures
    started = time.perf_counter()
    for frame in frames:
        mosaic.on_frame(frame, None)
    per_call = (time.perf_counter() - started) / 1000
    mosaic.close()
    assert per_call < 50e-6
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
    outputs.write_summary({"cameras": {}})
    assert outputs.paths()["mosaic"] == str(tmp_path / "video" / "mosaic.mp4")  # in the results list
    outputs.close()
    assert len(decoded(tmp_path / "video" / "mosaic.mp4")) == 9  # 0.0 ... 0.4 s at 20 pictures/s
    assert len(decoded(tmp_path / "video" / "cam1.mp4")) == 5


def test_bad_arguments(tmp_path):
    with pytest.raises(ValueError, match="at least one camera"):
        MosaicRecorder(tmp_path, [], start=False)
    with pytest.raises(ValueError, match="fps"):
        MosaicRecorder(tmp_path, ["cam1"], fps=0, start=False)
