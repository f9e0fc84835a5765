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


SIZES = [
    (576, 768, 300),  # vtest into SSDLite: downscale by 1.92 x 2.56
    (272, 640, 416),  # a wide camera into NanoDet: upscale in y, downscale in x
    (100, 90, 300),  # upscale both ways: the last output columns clamp to the last input column
    (1080, 1920, 416),
    (1, 2, 4),
    (7, 3, 5),
]


@pytest.mark.parametrize(("in_h", "in_w", "size"), SIZES)
def test_fast_resize_is_the_exact_legacy_kernel_bit_for_bit(in_h, in_w, size):
    image = np.random.default_rng(in_h * in_w).integers(0, 256, size=(in_h, in_w, 3), dtype=np.uint8)
    exact = resize_bilinear_legacy(image, size, size)
    fast = resize_legacy_fast(image, size, size)
    assert fast.dtype == np.float32 and fast.shape == (size, size, 3)
    # Same float32 operations in the same order: equal bits, not just close ones.
    np.testing.assert_array_equal(fast.view(np.uint32), exact.view(np.uint32))


def test_fast_resize_reads_views_of_larger_frames():
    frame = np.random.default_rng(9).integers(0, 256, size=(200, 300, 3), dtype=np.uint8)
    crop = frame[10:150, 20:260]  # not contiguous
    np.testing.assert_array_equal(resize_legacy_fast(crop, 64, 64),
                                  resize_bilinear_legacy(np.ascontiguousarray(crop), 64, 64))


def test_batch_is_the_exact_resize_scaled_and_shifted():
    image = np.random.default_rng(5).integers(0, 256, size=(576, 768, 3), dtype=np.uint8)
    batch = to_nchw_batch([image], 300, scale=1 / 127.5, bias=(-1.0, -0.5, 0.0))
    exact = resize_bilinear_legacy(image, 300, 300).transpose(2, 0, 1)
    expected = exact * np.float32(1 / 127.5) + np.array([-1.0, -0.5, 0.0], np.float32)[:, None, None]
    np.testing.assert_array_equal(batch[0], expected)
