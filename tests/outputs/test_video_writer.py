"""The annotated MP4 decodes back with PyAV, closed or killed mid-run."""

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import av
import numpy as np
import pytest

from pyuniproc.outputs import AnnotatedVideoWriter, color_for_id, draw_tracks
from pyuniproc.types import Detections, Frame

REPO = Path(__file__).resolve().parents[2]


def frame(i: int, width: int = 160, height: int = 120) -> Frame:
    image = np.zeros((height, width, 3), np.uint8)
    image[:, : (i * 7) % width] = (40, 90, 160)
    return Frame("cam1", i, i / 10, image)


def person(track_id: int, global_id: int | None = None) -> Detections:
    data = {} if global_id is None else {"global_id": np.array([global_id])}
    return Detections(
        xyxy=[[20, 20, 60, 100]], confidence=[0.9], class_id=[0], tracker_id=[track_id], data=data
    )


def decode(path) -> list[np.ndarray]:
    with av.open(str(path)) as container:
        return [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]


@pytest.mark.parametrize("fragmented", [True, False])
def test_written_video_decodes_with_right_frame_count_and_size(tmp_path, fragmented):
    path = tmp_path / "video" / "cam1.mp4"
    with AnnotatedVideoWriter(path, fps=10, width=160, height=120, fragmented=fragmented) as writer:
        for i in range(12):
            writer.write(frame(i), person(3, global_id=8), current_fps=9.5)
    frames = decode(path)
    assert len(frames) == 12 and frames[0].shape == (120, 160, 3)


def test_frames_of_another_size_and_odd_sizes_are_fitted(tmp_path):
    path = tmp_path / "cam1.mp4"
    with AnnotatedVideoWriter(path, fps=25, width=161, height=121) as writer:
        writer.write(frame(0, 320, 240).image)
        writer.write(frame(1, 161, 121))
    frames = decode(path)
    assert len(frames) == 2 and frames[1].shape == (120, 160, 3)


def test_killed_run_leaves_a_playable_fragmented_file(tmp_path):
    path = tmp_path / "cam1.mp4"
    script = textwrap.dedent(f"""
        import os, signal
        import numpy as np
        from pyuniproc.outputs import AnnotatedVideoWriter
        writer = AnnotatedVideoWriter({str(path)!r}, fps=10, width=160, height=120)
        for i in range(20):
            writer.write(np.full((120, 160, 3), i * 10, np.uint8))
        os.kill(os.getpid(), signal.SIGKILL)  # no close(): the moov atom of a plain MP4 never comes
    """)
    env = dict(os.environ, PYTHONPATH=str(REPO))
    result = subprocess.run(
        [sys.executable, "-c", script], env=env, cwd=tmp_path, capture_output=True, timeout=60
    )
    assert result.returncode == -9, result.stderr.decode()
    frames = decode(path)
    assert len(frames) >= 19 and frames[0].shape == (120, 160, 3)  # the frame in flight may be lost


def test_bad_arguments_are_rejected(tmp_path):
    with pytest.raises(ValueError, match="fps must be > 0"):
        AnnotatedVideoWriter(tmp_path / "a.mp4", fps=0, width=160, height=120)
    with AnnotatedVideoWriter(tmp_path / "b.mp4", fps=10, width=160, height=120) as writer:
        with pytest.raises(ValueError, match="uint8 RGB"):
            writer.write(np.zeros((120, 160), np.uint8))
    with pytest.raises(ValueError, match="after close"):
        writer.write(frame(0))


def test_drawing_uses_one_colour_per_identity_and_leaves_the_input_alone():
    image = np.zeros((120, 160, 3), np.uint8)
    drawn = draw_tracks(image, person(3), label="cam1", fps=12.0)
    assert not image.any() and drawn.any()
    assert tuple(drawn[60, 20]) == color_for_id(3)  # left edge of the box
    regional = draw_tracks(image, person(3, global_id=5))
    assert tuple(regional[60, 20]) == color_for_id(5)  # the global id decides the colour
    assert color_for_id(3) == color_for_id(3) != color_for_id(4)
