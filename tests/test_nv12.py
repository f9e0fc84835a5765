"""NV12 pictures and `Nv12Frame`: the host conversion, shape checks, and the lazy RGB image."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from pyuniproc.nv12 import Nv12Frame, nv12_pixels, nv12_size, nv12_to_rgb
from pyuniproc.types import Frame


def to_nv12(rgb: np.ndarray) -> np.ndarray:
    """(H, W, 3) RGB -> (H * 3 // 2, W) NV12 through OpenCV's I420 (BT.601 limited range)."""
    height, width = rgb.shape[:2]
    i420 = cv2.cvtColor(rgb, cv2.COLOR_RGB2YUV_I420)
    quarter = (height // 2) * (width // 2)
    planes = i420[height:].reshape(-1)
    uv = np.stack([planes[:quarter], planes[quarter:]], axis=-1).reshape(height // 2, width)
    return np.concatenate([i420[:height], uv])


@pytest.fixture
def picture() -> np.ndarray:
    return to_nv12(np.random.default_rng(7).integers(0, 256, (6, 8, 3), dtype=np.uint8))


def test_host_conversion_matches_opencv_within_one_level(picture):
    rgb = nv12_to_rgb(picture)
    assert rgb.shape == (6, 8, 3) and rgb.dtype == np.uint8
    assert np.abs(rgb.astype(int) - cv2.cvtColor(picture, cv2.COLOR_YUV2RGB_NV12)).max() <= 1


def test_black_and_white_limits_are_exact():
    nv12 = np.full((6, 4), 128, np.uint8)
    nv12[:4, :2], nv12[:4, 2:] = 16, 235  # luma: black left, white right; neutral chroma
    rgb = nv12_to_rgb(nv12)
    assert (rgb[:, :2] == 0).all() and (rgb[:, 2:] == 255).all()


@pytest.mark.parametrize("bad", [np.zeros((5, 4), np.uint8), np.zeros((6, 3), np.uint8),
                                 np.zeros((6, 4), np.float32), np.zeros((6, 4, 1), np.uint8)])
def test_shapes_that_are_not_nv12_are_refused_naming_them(bad):
    with pytest.raises(ValueError, match=r"\(H \* 3 // 2, W\) uint8.*got shape"):
        nv12_size(bad)


def test_unknown_colour_matrix_is_refused(picture):
    with pytest.raises(ValueError, match="'bt2020'"):
        nv12_to_rgb(picture, "bt2020")
    with pytest.raises(ValueError, match="'bt2020'"):
        Nv12Frame("cam", 0, 0.0, picture, colour_matrix="bt2020")


def test_a_frame_converts_its_pixels_only_when_its_image_is_read(picture):
    frame = Nv12Frame("cam", 3, 0.3, picture, decoded_at=12.5)
    assert isinstance(frame, Frame) and nv12_pixels(frame) is picture
    assert (frame.camera_id, frame.index, frame.pts_seconds, frame.decoded_at) == ("cam", 3, 0.3, 12.5)
    assert (frame.height, frame.width) == (6, 8) and not frame.has_image
    assert "NV12" in repr(frame) and not frame.has_image
    image = frame.image
    assert frame.has_image and frame.image is image  # converted once, then kept
    np.testing.assert_array_equal(image, nv12_to_rgb(picture))
    with pytest.raises(AttributeError, match="no attribute 'colour'"):
        _ = frame.colour


def test_a_host_frame_has_no_nv12_pixels():
    assert nv12_pixels(Frame("cam", 0, 0.0, np.zeros((4, 4, 3), np.uint8))) is None
