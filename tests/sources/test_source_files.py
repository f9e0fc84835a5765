"""File and image-folder sources on real footage: decoding, pacing, loop, seek and failures."""

from __future__ import annotations

import logging
import shutil
import threading
import time
from pathlib import Path

import cv2
import numpy as np
import pytest
from sourcekit import VTEST_FRAMES, frame_number

from pyuniproc.sources import CameraSource, CameraState, SourceError, probe


def test_decodes_every_vtest_frame_as_rgb_with_increasing_pts(vtest_path: Path) -> None:
    source = CameraSource("cam1", str(vtest_path))
    first, indices, pts, decoded_at, shapes = None, [], [], [], set()
    for frame in source.frames():  # keep metadata only: 795 full frames would take 1 GB
        first = frame if first is None else first
        indices.append(frame.index)
        pts.append(frame.pts_seconds)
        decoded_at.append(frame.decoded_at)
        shapes.add((frame.camera_id, frame.image.shape, frame.image.dtype))
    assert indices == list(range(VTEST_FRAMES))
    assert shapes == {("cam1", (576, 768, 3), np.dtype(np.uint8))}
    assert pts[0] == 0.0 and np.all(np.diff(pts) > 0)
    assert pts[-1] == pytest.approx(79.4)
    assert decoded_at == sorted(decoded_at) and decoded_at[0] > 0
    # Channel order: OpenCV reads the same frame as BGR.
    ok, bgr = cv2.VideoCapture(str(vtest_path)).read()
    assert ok and first is not None
    diff_rgb = np.abs(first.image.astype(int) - bgr[..., ::-1].astype(int)).mean()
    diff_bgr = np.abs(first.image.astype(int) - bgr.astype(int)).mean()
    assert diff_rgb < 3 < diff_bgr
    snap = source.stats.snapshot()
    assert snap["state"] == "finished" and snap["frames_received"] == VTEST_FRAMES
    assert snap["read_errors"] == 0 and snap["last_error"] is None


def test_pure_red_video_decodes_red_first(red_clip: Path) -> None:
    image = next(CameraSource("cam1", str(red_clip)).frames()).image
    r, g, b = image.reshape(-1, 3).mean(axis=0)
    assert r > 200 and g < 40 and b < 40


def test_max_frames_ends_finished(vtest_path: Path) -> None:
    source = CameraSource("cam1", str(vtest_path), max_frames=7)
    assert [f.index for f in source.frames()] == list(range(7))
    assert source.stats.state is CameraState.FINISHED


def test_realtime_paces_to_native_rate(vtest_path: Path) -> None:
    source = CameraSource("cam1", str(vtest_path), realtime=True, max_frames=11)
    times = [f.decoded_at for f in source.frames()]
    assert times[10] - times[0] == pytest.approx(1.0, abs=0.15)  # 10 intervals at 10 fps
    assert min(np.diff(times)) > 0.05


def test_loop_continues_index_and_pts(numbered_clip: Path) -> None:
    source = CameraSource("cam1", str(numbered_clip), loop=True, max_frames=50)
    frames = list(source.frames())
    assert [f.index for f in frames] == list(range(50))
    assert [f.pts_seconds for f in frames] == pytest.approx([i / 10 for i in range(50)])
    assert [frame_number(f.image) for f in frames] == [i % 20 for i in range(50)]
    assert source.stats.state is CameraState.FINISHED


def test_start_seconds_skips_and_restarts_the_clock(numbered_clip: Path) -> None:
    source = CameraSource("cam1", str(numbered_clip), start_seconds=1.2, loop=True, max_frames=12)
    frames = list(source.frames())
    # Frames 12..19 play first (pts from 0), then the loop starts again at the file's frame 0.
    assert [frame_number(f.image) for f in frames] == [12, 13, 14, 15, 16, 17, 18, 19, 0, 1, 2, 3]
    assert [f.pts_seconds for f in frames] == pytest.approx([i / 10 for i in range(12)])


def test_start_seconds_seeks_in_real_footage(vtest_path: Path) -> None:
    for frame in CameraSource("ref", str(vtest_path), max_frames=301).frames():
        reference = frame.image  # ends as frame 300, at 30.0 s
    first = next(CameraSource("cam1", str(vtest_path), start_seconds=30.0).frames())
    assert first.pts_seconds == 0.0 and first.index == 0
    assert np.array_equal(first.image, reference)


def test_start_seconds_past_the_end_is_dead(numbered_clip: Path) -> None:
    source = CameraSource("cam1", str(numbered_clip), start_seconds=60.0)
    assert list(source.frames()) == []
    assert source.stats.state is CameraState.DEAD
    assert "no frames at or after start_seconds=60" in (source.stats.last_error or "")


def test_image_folder_in_natural_order_with_fps(tmp_path: Path) -> None:
    for i in range(12):
        image = np.full((30, 40, 3), (i * 20, 0, 255 - i * 20), np.uint8)  # RGB
        assert cv2.imwrite(str(tmp_path / f"img{i}.png"), image[..., ::-1])  # OpenCV writes BGR
    (tmp_path / "readme.txt").write_text("not an image")
    (tmp_path / "img99.jpg").write_bytes(b"broken")
    source = CameraSource("cam1", str(tmp_path), images_fps=5.0, start_seconds=0.4)
    frames = list(source.frames())
    assert [int(f.image[0, 0, 0]) for f in frames] == [i * 20 for i in range(2, 12)]
    assert [int(f.image[0, 0, 2]) for f in frames] == [255 - i * 20 for i in range(2, 12)]
    assert [f.pts_seconds for f in frames] == pytest.approx([i / 5 for i in range(10)])
    assert source.stats.state is CameraState.FINISHED
    assert source.stats.read_errors == 1 and "img99.jpg" in (source.stats.last_error or "")
    info = probe(str(tmp_path), images_fps=5.0)
    assert (info["kind"], info["width"], info["height"], info["frames"], info["fps"]) == (
        "images",
        40,
        30,
        13,
        5.0,
    )


def test_empty_image_folder_is_dead(tmp_path: Path) -> None:
    source = CameraSource("cam1", str(tmp_path))
    assert list(source.frames()) == []
    assert source.stats.state is CameraState.DEAD
    assert "no jpg/png/bmp images" in (source.stats.last_error or "")


def test_missing_file_is_dead_with_a_clear_message(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = tmp_path / "x.mp4"
    source = CameraSource("cam2", str(path))
    with caplog.at_level(logging.INFO, logger="pyuniproc.sources"):
        assert list(source.frames()) == []
    message = f"camera cam2: cannot open '{path}': No such file or directory"
    assert source.stats.state is CameraState.DEAD
    assert source.stats.last_error == message
    assert message in caplog.text
    with pytest.raises(SourceError) as raised:
        probe(str(path), camera_id="cam2")
    assert str(raised.value) == message and raised.value.reason == "No such file or directory"


def test_truncated_file_yields_its_good_frames_then_is_dead(vtest_path: Path, tmp_path: Path) -> None:
    data = vtest_path.read_bytes()
    cut = tmp_path / "cut.avi"
    cut.write_bytes(data[: len(data) // 2])
    source = CameraSource("cam1", str(cut))
    indices = [f.index for f in source.frames()]
    assert 300 < len(indices) < VTEST_FRAMES
    assert indices == list(range(len(indices)))
    snap = source.stats.snapshot()
    assert snap["state"] == "dead"
    assert snap["read_errors"] >= 1
    assert snap["last_error"].startswith(f"camera cam1: incomplete file '{cut}'")
    assert "truncated" in snap["last_error"]


def test_garbage_file_is_dead_with_a_clear_message(tmp_path: Path) -> None:
    path = tmp_path / "garbage.mp4"
    path.write_bytes(np.random.default_rng(0).integers(0, 256, 100_000, dtype=np.uint8).tobytes())
    source = CameraSource("cam1", str(path))
    assert list(source.frames()) == []
    assert source.stats.state is CameraState.DEAD
    assert (
        source.stats.last_error
        == f"camera cam1: cannot open '{path}': Invalid data found when processing input"
    )


def test_probe_describes_a_file(vtest_path: Path) -> None:
    info = probe(str(vtest_path))
    assert info == {
        "kind": "file",
        "uri": str(vtest_path),
        "width": 768,
        "height": 576,
        "fps": 10.0,
        "frames": VTEST_FRAMES,
        "codec": "msmpeg4",
        "duration_seconds": pytest.approx(79.5),
    }


def test_stop_from_another_thread_ends_a_realtime_file_promptly(vtest_path: Path) -> None:
    source = CameraSource("cam1", str(vtest_path), realtime=True, loop=True)
    got: list[int] = []
    consumer = threading.Thread(target=lambda: got.extend(f.index for f in source.frames()))
    consumer.start()
    time.sleep(0.35)
    stopped_at = time.monotonic()
    source.stop()
    consumer.join(1.0)
    assert not consumer.is_alive() and time.monotonic() - stopped_at < 0.3
    assert 2 <= len(got) <= 6
    assert source.stats.state is CameraState.FINISHED


def test_frames_can_be_iterated_once_and_arguments_are_checked(numbered_clip: Path) -> None:
    source = CameraSource("cam1", str(numbered_clip))
    source.frames()
    with pytest.raises(RuntimeError, match="only once"):
        source.frames()
    with pytest.raises(ValueError, match="rtsp_transport must be one of"):
        CameraSource("cam1", "rtsp://h/x", rtsp_transport="http")
    with pytest.raises(ValueError, match="max_frames must be None or an int >= 1, got 0"):
        CameraSource("cam1", str(numbered_clip), max_frames=0)
    with pytest.raises(ValueError, match="start_seconds must be >= 0, got -1"):
        CameraSource("cam1", str(numbered_clip), start_seconds=-1)


def test_path_with_spaces_and_unicode_opens(vtest_path: Path, tmp_path: Path) -> None:
    copy = tmp_path / "cam 1 é.avi"
    shutil.copy(vtest_path, copy)
    assert [f.index for f in CameraSource("cam1", str(copy), max_frames=3).frames()] == [0, 1, 2]
