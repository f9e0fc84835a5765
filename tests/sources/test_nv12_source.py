"""`Nv12Source`: the GPU backend's file source, run here with PyAV making the NV12 pictures on the host
(the stand-in for NVDEC): same frames, numbering and clock as `CameraSource`, RGB within a level or two."""

from __future__ import annotations

import numpy as np
import pytest
from sourcekit import gray_level

from pyuniproc.gpu.nvdec import PyAvStream
from pyuniproc.nv12 import Nv12Frame
from pyuniproc.sources import CameraSource, CameraState
from pyuniproc.sources.nv12_source import Nv12Source, video_geometry

pytestmark = pytest.mark.usefixtures("pyav")  # PyAV makes the NV12 pictures here


def nv12_source(path, **options) -> Nv12Source:
    _, _, fps = video_geometry(path)
    return Nv12Source("cam", str(path), lambda loop: PyAvStream(path, loop=loop, device=None), fps=fps,
                      **options)


def test_frames_match_the_cpu_decoders_in_number_clock_and_pixels(vtest_path):
    cpu = list(CameraSource("cam", str(vtest_path), max_frames=6).frames())
    nv12 = list(nv12_source(vtest_path, max_frames=6).frames())
    assert [f.index for f in nv12] == [f.index for f in cpu] == list(range(6))
    assert [f.pts_seconds for f in nv12] == pytest.approx([f.pts_seconds for f in cpu])
    for a, b in zip(cpu, nv12, strict=True):
        assert isinstance(b, Nv12Frame) and (b.height, b.width) == (a.height, a.width) == (576, 768)
        difference = np.abs(a.image.astype(int) - b.image.astype(int))
        # swscale's rgb24 and the NV12 conversion round differently (measured: mean 1.07, 99th pct 2)
        assert difference.mean() < 1.5 and np.percentile(difference, 99) <= 3


def test_start_offset_first_index_and_end_of_file(numbered_clip):
    source = nv12_source(numbered_clip, start_seconds=0.5, first_index=100)
    frames = list(source.frames())
    assert [f.index for f in frames] == list(range(100, 115))
    assert frames[0].pts_seconds == 0.0 and frames[1].pts_seconds == pytest.approx(0.1)
    assert abs(int(frames[0].image.mean()) - gray_level(5)) <= 3
    assert source.stats.state is CameraState.FINISHED and source.stats.frames_received == 15


def test_loop_goes_on_with_index_and_clock(numbered_clip):
    frames = list(nv12_source(numbered_clip, loop=True, max_frames=25).frames())
    assert [f.index for f in frames] == list(range(25))
    assert frames[24].pts_seconds == pytest.approx(2.4)
    assert abs(int(frames[21].image.mean()) - gray_level(1)) <= 3  # second pass, frame 1


class BrokenReader:
    def __init__(self, pictures: int) -> None:
        self.left = pictures
        self.closed = False

    def read(self):
        if self.left == 0:
            raise RuntimeError("decoder lost the device")
        self.left -= 1
        return np.full((6, 4), 128, np.uint8)

    def close(self) -> None:
        self.closed = True


def test_a_failing_decoder_ends_the_camera_dead_with_its_message():
    reader = BrokenReader(2)
    source = Nv12Source("cam", "clip.mp4", lambda loop: reader, fps=10)
    assert len(list(source.frames())) == 2
    assert source.stats.state is CameraState.DEAD and reader.closed
    assert "decoder lost the device" in source.stats.last_error


@pytest.mark.parametrize(("uri", "options", "message"), [
    ("rtsp://cam.local/stream", {}, "reads video files, not rtsp"),
    ("clip.mp4", {"fps": 0}, "fps must be > 0"),
    ("clip.mp4", {"max_frames": 0}, "max_frames"),
    ("clip.mp4", {"colour_matrix": "srgb"}, "'srgb'"),
])
def test_bad_settings_are_refused(uri, options, message):
    with pytest.raises(ValueError, match=message):
        Nv12Source("cam", uri, lambda loop: BrokenReader(0), **{"fps": 10, **options})


def test_a_camera_rate_from_the_cameras_file_spaces_both_decoders_frames(numbered_clip):
    """A raw .h264 stream has no rate (FFmpeg says 25): the cameras file's `fps` sets it, the same way
    for the NV12 source and the CPU decoder (pts 1 / fps apart, and realtime pacing with them)."""
    from pyuniproc.config.cameras import CameraSpec
    from pyuniproc.gpu.decoders import open_nv12_source

    spec = CameraSpec(id="cam", uri=str(numbered_clip), fps=40.0)
    nv12 = open_nv12_source(spec, "nv12-cpu", realtime=False, loop=False, max_frames=5, first_index=0)
    cpu = CameraSource("cam", str(numbered_clip), max_frames=5, fps=40.0)
    for source in (nv12, cpu):
        assert [f.pts_seconds for f in source.frames()] == pytest.approx([0, 0.025, 0.05, 0.075, 0.1])
    shifted = CameraSource("cam", str(numbered_clip), max_frames=2, fps=40.0, start_seconds=0.1)
    frames = list(shifted.frames())  # frame 4 of the clip comes first, at pts 0
    assert frames[0].pts_seconds == 0.0 and abs(int(frames[0].image.mean()) - gray_level(4)) <= 3
    with pytest.raises(ValueError, match="fps must be > 0"):
        CameraSource("cam", str(numbered_clip), fps=0)
