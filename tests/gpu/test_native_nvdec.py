"""The native NVDEC decode loop: it builds and explains itself on any machine (CI); it decodes the same
frames as PyNvVideoCodec, in order, with one bad camera not stopping the others, on the GPU machine."""

from __future__ import annotations

import ctypes.util
import os
import time
from pathlib import Path

import numpy as np
import pytest

from pyuniproc.gpu import native_nvdec
from pyuniproc.gpu.native_nvdec import (
    NativeDecodeError,
    annexb_for,
    build_library,
    read_annexb,
    split_access_units,
)

HEADERS = Path("/usr/include/ffnvcodec/dynlink_loader.h")
needs_headers = pytest.mark.skipif(not HEADERS.exists(), reason="ffnvcodec headers (libffmpeg-nvenc-dev)")


@needs_headers
def test_the_library_builds_once_and_says_what_is_missing_without_a_driver(tmp_path):
    built = build_library(out_dir=tmp_path)
    assert built.exists() and built.name.startswith("libnvdec_loop-")
    assert build_library(out_dir=tmp_path) == built  # cached by the source's hash
    library = native_nvdec.load_library(built)
    problem = native_nvdec.driver_error(library)
    if problem is None:  # a machine with the NVIDIA driver: libcuda and libnvcuvid loaded
        assert os.path.exists("/dev/nvidiactl") or ctypes.util.find_library("cuda")
    else:
        assert "libcuda.so.1" in problem or "libnvcuvid.so.1" in problem


def test_a_missing_compiler_or_header_is_named(tmp_path):
    with pytest.raises(NativeDecodeError, match="C compiler"):
        build_library(out_dir=tmp_path, compiler="no-such-cc")
    with pytest.raises(NativeDecodeError, match="libffmpeg-nvenc-dev"):
        build_library(out_dir=tmp_path, include_dir=str(tmp_path))


def test_annexb_input_is_checked_and_containers_are_remuxed(tmp_path, pyav):
    av = pytest.importorskip("av")
    bad = tmp_path / "camera.h264"
    bad.write_bytes(b"not a video stream")
    with pytest.raises(ValueError, match="Annex-B"):
        read_annexb(bad)
    with pytest.raises(FileNotFoundError):
        read_annexb(tmp_path / "absent.h264")

    from pyuniproc.bench.gpu import make_synthetic_video

    video = make_synthetic_video(tmp_path / "clip.mp4", frames=10, width=320, height=240)
    raw = video.with_suffix(".h264")
    assert raw.exists()  # written beside the container for the native loop
    data, codec = annexb_for(video)
    assert codec == "h264" and data == raw.read_bytes() and data[:4] == b"\x00\x00\x00\x01"
    raw.unlink()
    assert annexb_for(video)[0] == data  # no sibling: the container is remuxed the same way
    raw.write_bytes(data)
    with av.open(str(raw)) as container:  # the Annex-B bytes decode to every frame
        assert sum(1 for _ in container.decode(video=0)) == 10


def test_the_stream_is_split_into_one_access_unit_per_picture(tmp_path, pyav):
    av = pytest.importorskip("av")
    from pyuniproc.bench.gpu import make_synthetic_video

    video = make_synthetic_video(tmp_path / "clip.mp4", frames=12, width=320, height=240)
    data = video.with_suffix(".h264").read_bytes()
    offsets = split_access_units(data)
    assert offsets[0] == 0 and offsets[-1] == len(data) and np.all(np.diff(offsets.astype(np.int64)) > 0)
    assert len(offsets) - 1 == 12
    decoder = av.CodecContext.create("h264", "r")
    decoder.thread_count = 1  # no frame threading: a picture comes out of the packet that completes it
    pictures = [
        len(decoder.decode(av.Packet(data[int(begin) : int(end)])))
        for begin, end in zip(offsets[:-1], offsets[1:], strict=True)
    ]
    assert pictures == [1] * 12  # each unit holds one whole picture


def test_an_hevc_container_is_remuxed_as_hevc_and_split_per_picture(tmp_path):
    av = pytest.importorskip("av")
    try:
        av.codec.Codec("libx265", "w")
    except Exception:
        pytest.skip("PyAV built without libx265")
    video = tmp_path / "clip.mp4"
    with av.open(str(video), "w") as writer:
        stream = writer.add_stream("libx265", rate=10)
        stream.width, stream.height, stream.pix_fmt = 128, 96, "yuv420p"
        stream.options = {"x265-params": "log-level=none:bframes=0"}
        for i in range(6):
            image = np.full((96, 128, 3), 40 * i, dtype=np.uint8)
            for packet in stream.encode(av.VideoFrame.from_ndarray(image, format="rgb24")):
                writer.mux(packet)
        for packet in stream.encode():
            writer.mux(packet)
    data, codec = annexb_for(video)
    assert codec == "hevc" and data[:3] in (b"\x00\x00\x00", b"\x00\x00\x01")
    offsets = split_access_units(data, codec)
    decoder = av.CodecContext.create("hevc", "r")
    decoder.thread_count = 1
    pictures = [
        len(decoder.decode(av.Packet(data[int(begin) : int(end)])))
        for begin, end in zip(offsets[:-1], offsets[1:], strict=True)
    ]
    assert pictures == [1] * 6


def test_the_native_loop_wants_a_cuda_pool():
    torch = pytest.importorskip("torch")
    from pyuniproc.gpu.pipeline import PipelineOptions

    with pytest.raises(ValueError, match="uint8 CUDA tensor"):
        native_nvdec.NativeNvdecGroup([b"\x00\x00\x00\x01"], torch.zeros((4, 6, 4), dtype=torch.uint8))
    with pytest.raises(ValueError, match="priority"):
        native_nvdec.NativeNvdecGroup([b"\x00\x00\x00\x01"], torch.zeros((4, 6, 4)), priority="urgent")
    with pytest.raises(ValueError, match="paced"):
        PipelineOptions(decode_loop="native", pace_fps=30)
    with pytest.raises(ValueError, match="decode_loop"):
        PipelineOptions(decode_loop="fast")


# --- on the GPU machine ----------------------------------------------------------------------------------
@pytest.fixture
def annexb_video() -> tuple[str, bytes]:
    """PYUNIPROC_GPU_VIDEO (the 1080p benchmark clip) and its Annex-B bytes (the .h264 beside it)."""
    pytest.importorskip("PyNvVideoCodec")
    video = os.environ.get("PYUNIPROC_GPU_VIDEO")
    if not video:
        pytest.skip("set PYUNIPROC_GPU_VIDEO to a 1080p H.264 file with its .h264 beside it")
    return video, annexb_for(video)[0]


def _drain(group, want: dict[int, int], timeout: float = 20.0) -> dict[int, list]:
    """Takes frames until every session in `want` delivered that many: {session: [(index, frame copy)]}."""
    import torch

    got: dict[int, list] = {s: [] for s in want}
    deadline = time.perf_counter() + timeout
    while any(len(got[s]) < n for s, n in want.items()) and time.perf_counter() < deadline:
        rows = group.wait_ready(16, 0.5, 0.0)
        for session, slot, index in zip(rows["session"], rows["slot"], rows["index"], strict=True):
            if session in got and len(got[session]) < want[session]:
                got[session].append((int(index), group._pool[slot].clone()))
        torch.cuda.synchronize()  # the copies are done before the C threads may write those slots again
        group.release(rows["slot"])
    return got


@pytest.mark.cuda
@pytest.mark.parametrize(
    ("access_units", "priority"),
    [(True, "normal"), (False, "normal"), (False, "high")],
    ids=["whole-pictures", "chunks", "chunks-high-priority"],
)
def test_native_sessions_decode_the_same_frames_as_pynvvideocodec_in_order(
    annexb_video, access_units, priority
):
    import torch

    from pyuniproc.gpu.nvdec import open_stream

    video, data = annexb_video
    reference = open_stream(video, backend="nvdec")
    expected = [reference.read().clone() for _ in range(40)]
    reference.close()
    pool = torch.empty((12, 1080 * 3 // 2, 1920), dtype=torch.uint8, device="cuda")
    # 3 cameras on 2 C threads
    group = native_nvdec.NativeNvdecGroup([data] * 3, pool, threads=2, access_units=access_units,
                                          priority=priority)
    group.start()
    got = _drain(group, {0: 40, 1: 40, 2: 40})
    group.stop()
    decoded, failed, _ = group.status()
    group.close()
    assert not failed
    for session in range(3):
        assert [index for index, _ in got[session]] == list(range(40))
        for (index, frame), want in zip(got[session], expected, strict=True):
            assert torch.equal(frame, want), f"session {session} frame {index} differs"
    assert decoded.min() >= 40


@pytest.mark.cuda
def test_a_broken_or_wrong_sized_camera_fails_alone(annexb_video):
    import torch

    video, data = annexb_video
    garbage = b"\x00\x00\x00\x01" + bytes(np.random.default_rng(0).integers(0, 256, 200_000, dtype=np.uint8))
    pool = torch.empty((8, 1080 * 3 // 2, 1920), dtype=torch.uint8, device="cuda")
    group = native_nvdec.NativeNvdecGroup([data, garbage], pool, threads=1)
    group.start()
    got = _drain(group, {0: 30}, timeout=10.0)
    group.stop()
    _, failed, _ = group.status()
    group.close()
    assert len(got[0]) == 30  # the good camera ran on
    assert 1 in failed and 0 not in failed, failed  # the broken one failed, with a message

    small = torch.empty((4, 360 * 3 // 2, 640), dtype=torch.uint8, device="cuda")
    group = native_nvdec.NativeNvdecGroup([data], small, threads=1)
    group.start()
    deadline = time.perf_counter() + 10
    while not group.status()[1] and time.perf_counter() < deadline:
        time.sleep(0.05)
    _, failed, _ = group.status()
    group.stop()
    group.close()
    assert "1920x1080" in failed[0] and "640x360" in failed[0]
