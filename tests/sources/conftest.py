"""Fixtures for source tests: the sample clip, tiny generated clips and a live MPEG-TS server."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path

import av
import numpy as np
import pytest
from sourcekit import VTEST, TsServer, gray_level, write_clip


@pytest.fixture(scope="session")
def vtest_path() -> Path:
    if not VTEST.exists():
        pytest.skip(f"sample footage missing: {VTEST}")
    return VTEST


@pytest.fixture(scope="session")
def numbered_clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """20 frames of 64x48 at 10 fps; frame i is flat gray `gray_level(i)`."""
    images = [np.full((48, 64, 3), gray_level(i), np.uint8) for i in range(20)]
    return write_clip(tmp_path_factory.mktemp("clips") / "numbered.mp4", images)


@pytest.fixture(scope="session")
def red_clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """5 frames of pure red, to prove the RGB channel order."""
    images = [np.zeros((48, 64, 3), np.uint8) for _ in range(5)]
    for image in images:
        image[..., 0] = 255
    return write_clip(tmp_path_factory.mktemp("clips") / "red.mp4", images)


@pytest.fixture(scope="session")
def ts_bytes(vtest_path: Path) -> bytes:
    """First 40 vtest frames as a 192x144 MPEG-2 MPEG-TS stream (keyframe every 5 frames)."""
    buffer = io.BytesIO()
    with av.open(str(vtest_path)) as source, av.open(buffer, "w", format="mpegts") as out:
        stream = out.add_stream("mpeg2video", rate=10)
        stream.width, stream.height, stream.pix_fmt = 192, 144, "yuv420p"
        stream.codec_context.gop_size = 5
        for i, frame in enumerate(source.decode(video=0)):
            if i == 40:
                break
            small = frame.reformat(width=192, height=144, format="yuv420p")
            small.pts = i
            out.mux(stream.encode(small))
        out.mux(stream.encode())
    return buffer.getvalue()


@pytest.fixture
def ts_server(ts_bytes: bytes) -> Iterator[TsServer]:
    server = TsServer(ts_bytes).start()
    yield server
    server.kill()
