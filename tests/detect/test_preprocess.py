"""The legacy TF resize the source graphs were fed with, and the NCHW batch built from frames."""

import numpy as np
import pytest

from pyuniproc.detect.preprocess import resize_bilinear_legacy, resize_legacy_fast, to_nchw_batch


def test_downscale_samples_at_left_edges_not_pixel_centres():
    row = np.array([[[0] * 3, [10] * 3, [20] * 3, [30] * 3]], dtype=np.uint8)  # (1, 4, 3)
    # Output pixel i samples input position 2 * i: pixels 0 and 2, no blending (OpenCV would give 5, 25).
    np.testing.assert_array_equal(resize_bilinear_legacy(row, 1, 2)[0, :, 0], [0, 20])


def test_upscale_interpolates_and_clamps_at_the_far_edge():
    row = np.array([[[0] * 3, [100] * 3]], dtype=np.uint8)  # (1, 2, 3)
    np.testing.assert_array_equal(resize_bilinear_legacy(row, 1, 4)[0, :, 0], [0, 50, 100, 100])


def test_batch_of_frames_of_different_sizes_is_one_nchw_array():
    frames = [np.full((576, 768, 3), 255, np.uint8), np.zeros((240, 320, 3), np.uint8)]
    batch = to_nchw_batch(frames, 300, scale=1 / 127.5, bias=-1.0)
    assert batch.shape == (2, 3, 300, 300) and batch.dtype == np.float32
    np.testing.assert_allclose(batch[0], 1.0, atol=1e-6)
    np.testing.assert_allclose(batch[1], -1.0)


def test_per_channel_bias_follows_rgb_order():
    frame = np.zeros((4, 4, 3), np.uint8)
    batch = to_nchw_batch([frame], 2, scale=1.0, bias=(-1.0, -2.0, -3.0))
    assert batch[0, :, 0, 0].tolist() == [-1.0, -2.0, -3.0]


@pytest.mark.parametrize("bad", [np.zeros((10, 10), np.uint8), np.zeros((10, 10, 4), np.uint8),
                                 np.zeros((10, 10, 3), np.float32)])
def test_rejects_frames_that_are_not_hw3_uint8(bad):
    with pytest.raises(ValueError, match=r"images\[1\]"):
        to_nchw_batch([np.zeros((10, 10, 3), np.uint8), bad], 8, 1.0, 0.0)


def test_fast_resize_samples_like_the_exact_legacy_kernel():
    rng = np.random.default_rng(3)
    for in_h, in_w, size in ((576, 768, 300), (272, 640, 416), (100, 90, 300)):
        image = rng.integers(0, 256, size=(in_h, in_w, 3), dtype=np.uint8)
        exact = resize_bilinear_legacy(image, size, size)
        fast = resize_legacy_fast(image, size, size)
        assert fast.dtype == np.float32 and fast.shape == (size, size, 3)
        # Float rounding only, never the ~175-level shift of half-pixel-centre resizing.
        assert np.abs(fast - exact).max() <= 1e-3


def test_whole_level_resize_is_the_float_resize_rounded():
    rng = np.random.default_rng(5)
    image = rng.integers(0, 256, size=(576, 768, 3), dtype=np.uint8)
    levels = resize_legacy_fast(image, 300, 300, whole_levels=True)
    exact = resize_bilinear_legacy(image, 300, 300)
    assert levels.dtype == np.uint8
    assert np.abs(levels.astype(np.float32) - exact).max() <= 1.0
    batch = to_nchw_batch([image], 300, scale=1 / 127.5, bias=-1.0, whole_levels=True)
    np.testing.assert_allclose(batch[0], levels.transpose(2, 0, 1) / 127.5 - 1.0, atol=1e-6)
