"""SegmentedVideoWriter: segments roll by pts and each decodes with the right frame count; a slow
encoder never blocks the writer (frames dropped for the recording only, and counted)."""

from __future__ import annotations

import re
import time
from pathlib import Path

import av
import numpy as np
import pytest

from pyuniproc.outputs import (
    AnnotatedVideoWriter,
    RecordingConfig,
    RecordingConfigError,
    SegmentedVideoWriter,
)
from pyuniproc.types import Detections, Frame


def frame(i: int, pts: float | None = None) -> Frame:
    image = np.zeros((120, 160, 3), np.uint8)
    image[:, : (i * 7) % 160] = (40, 90, 160)
    return Frame("cam1", i, i / 10 if pts is None else pts, image)


PERSON = Detections(xyxy=[[20, 20, 60, 100]], confidence=[0.9], class_id=[0], tracker_id=[3])


def frame_count(path: Path) -> int:
    with av.open(str(path)) as container:
        return sum(1 for _ in container.decode(video=0))


def recorder(tmp_path: Path, **options) -> SegmentedVideoWriter:
    """Frames come faster than any encoder here, so tests that count frames use "wait"."""
    return SegmentedVideoWriter(tmp_path / "video", "cam1", fps=10, width=160, height=120, **options)


class SlowEncoder(AnnotatedVideoWriter):
    """The real encoder, made slow: as a CPU-starved machine would run it."""

    delay = 0.03

    def write(self, *args, **kwargs) -> None:
        time.sleep(self.delay)
        super().write(*args, **kwargs)


class BrokenEncoder(AnnotatedVideoWriter):
    def write(self, *args, **kwargs) -> None:
        raise OSError("No space left on device")


def test_segments_roll_at_the_pts_boundary_and_each_decodes(tmp_path):
    video = recorder(tmp_path, segment_seconds=1.0, when_behind="wait")
    for i in range(35):  # pts 0.0 .. 3.4
        assert video.write(frame(i), PERSON, current_fps=10.0)
    video.close()
    assert [frame_count(path) for path in video.segments] == [10, 10, 10, 5]
    assert video.frames_written == 35 and video.frames_dropped == 0
    for seq, path in enumerate(video.segments):
        assert path.parent == tmp_path / "video" / "cam1"
        assert re.fullmatch(rf"cam1-\d{{8}}-\d{{6}}-{seq:04d}\.mp4", path.name)
    assert sorted(video.segments) == video.segments  # names sort in recording order
    assert video.stats()["segments"] == 4


def test_a_gap_in_the_stream_skips_to_the_segment_of_the_next_frame(tmp_path):
    video = recorder(tmp_path, segment_seconds=2.0, when_behind="wait")
    for i in range(5):
        video.write(frame(i, pts=10.0 + i / 10))  # first segment: [10, 12)
    for i in range(5, 8):
        video.write(frame(i, pts=17.5 + i / 10))  # 18.0 .. 18.2: segment [18, 20), none for [12, 18)
    video.write(frame(8, pts=20.0))
    video.close()
    assert [frame_count(path) for path in video.segments] == [5, 3, 1]


def test_without_segment_seconds_one_file_per_run_as_before(tmp_path):
    video = recorder(tmp_path, when_behind="wait")
    for i in range(25):
        video.write(frame(i))
    video.close()
    assert video.segments == [tmp_path / "video" / "cam1.mp4"] and frame_count(video.segments[0]) == 25


def test_a_slow_encoder_never_blocks_the_writer(tmp_path):
    video = recorder(tmp_path, segment_seconds=1.0, queue_frames=4, encoder_factory=SlowEncoder)
    slowest = 0.0
    for i in range(60):
        started = time.perf_counter()
        video.write(frame(i), PERSON)
        slowest = max(slowest, time.perf_counter() - started)
    pending = time.perf_counter()
    video.close(wait=False)  # the end of a camera does not wait for its encoder either
    assert time.perf_counter() - pending < 0.01
    assert slowest < 0.01, f"write() took {slowest * 1000:.1f} ms"
    video.close()
    assert video.frames_dropped > 30  # 60 frames in ~no time, 30 ms each to encode, 4 queued
    assert video.frames_written + video.frames_dropped == 60
    assert sum(frame_count(path) for path in video.segments) == video.frames_written


def test_wait_mode_records_every_frame_by_holding_the_writer(tmp_path):
    video = recorder(tmp_path, queue_frames=2, when_behind="wait", encoder_factory=SlowEncoder)
    started = time.perf_counter()
    for i in range(12):
        assert video.write(frame(i))
    assert time.perf_counter() - started > 0.15  # back pressure
    video.close()
    assert video.frames_dropped == 0 and frame_count(video.segments[0]) == 12


def test_a_failing_encoder_stops_the_recording_not_the_caller(tmp_path):
    video = recorder(tmp_path, encoder_factory=BrokenEncoder)
    video.write(frame(0))
    video.close()
    assert "No space left" in video.stats()["error"] and video.frames_written == 0
    again = recorder(tmp_path / "b", encoder_factory=BrokenEncoder, queue_frames=1)
    results = [again.write(frame(i)) for i in range(20)]
    again.close()
    assert not all(results) and again.frames_dropped == 20


def test_bad_arguments(tmp_path):
    with pytest.raises(ValueError, match="segment_seconds"):
        recorder(tmp_path, segment_seconds=0)
    with pytest.raises(ValueError, match="camera_id"):
        SegmentedVideoWriter(tmp_path, "../cam", fps=10, width=160, height=120)
    video = recorder(tmp_path)
    video.close()
    with pytest.raises(ValueError, match="after close"):
        video.write(frame(0))


def test_recording_config_from_mapping():
    assert RecordingConfig.from_mapping(None) == RecordingConfig()
    config = RecordingConfig.from_mapping(
        {"segment_seconds": 300, "queue_frames": 64, "when_behind": "wait", "crf": 23, "preset": "ultrafast"}
    )
    assert (config.segment_seconds, config.queue_frames, config.when_behind) == (300, 64, "wait")
    assert config.encoder_factory().keywords == {"crf": 23, "preset": "ultrafast", "keyframe_seconds": 2.0}


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"segment_seconds": 0.5}, "recording.segment_seconds"),
        ({"segment_seconds": "5m"}, "recording.segment_seconds"),
        ({"queue_frames": 0}, "recording.queue_frames"),
        ({"queue_frames": 2.5}, "recording.queue_frames"),
        ({"when_behind": "block"}, "recording.when_behind"),
        ({"crf": 60}, "recording.crf"),
        ({"segments": 3}, "recording.segments"),
    ],
)
def test_recording_config_errors_name_the_field(data, field):
    with pytest.raises(RecordingConfigError) as caught:
        RecordingConfig.from_mapping(data)
    assert caught.value.field == field and isinstance(caught.value, ValueError)
