"""Cutting crops: exact boxes, padding, clipping at the frame edge."""

from __future__ import annotations

import numpy as np
import pytest

from pyuniproc.reid import crop_boxes


@pytest.fixture
def image() -> np.ndarray:
    """A 40x60 frame whose pixel (y, x) holds (y, x, 7): every crop tells where it came from."""
    ys, xs = np.mgrid[0:40, 0:60]
    return np.stack([ys, xs, np.full_like(ys, 7)], axis=2).astype(np.uint8)


def test_exact_box_gives_its_pixels(image):
    (crop,) = crop_boxes(image, np.array([[10, 5, 20, 25]], np.float32))
    assert crop.shape == (20, 10, 3)
    assert crop[0, 0].tolist() == [5, 10, 7] and crop[-1, -1].tolist() == [24, 19, 7]


def test_one_crop_per_box_in_order(image):
    crops = crop_boxes(image, np.array([[0, 0, 4, 8], [30, 10, 40, 30]], np.float32))
    assert [c.shape for c in crops] == [(8, 4, 3), (20, 10, 3)]
    assert crops[1][0, 0].tolist() == [10, 30, 7]


def test_pad_grows_the_box_by_a_fraction_of_its_size(image):
    (crop,) = crop_boxes(image, np.array([[20, 10, 30, 30]], np.float32), pad=0.1)  # +1 px x, +2 px y
    assert crop.shape == (24, 12, 3) and crop[0, 0].tolist() == [8, 19, 7]


def test_boxes_are_clipped_to_the_frame(image):
    (crop,) = crop_boxes(image, np.array([[-5, -5, 10, 100]], np.float32))
    assert crop.shape == (40, 10, 3) and crop[0, 0].tolist() == [0, 0, 7]


def test_box_outside_the_frame_gives_a_one_pixel_crop(image):
    crops = crop_boxes(image, np.array([[100, 100, 120, 140], [5, 5, 5, 5]], np.float32))
    assert [c.shape for c in crops] == [(1, 1, 3), (1, 1, 3)]
    assert crops[0][0, 0].tolist() == [39, 59, 7]


def test_no_boxes_no_crops(image):
    assert crop_boxes(image, np.zeros((0, 4), np.float32)) == []


@pytest.mark.parametrize("bad_image", [np.zeros((4, 4), np.uint8), np.zeros((4, 4, 3), np.float32)])
def test_bad_frames_are_rejected(bad_image):
    with pytest.raises(ValueError, match="image must be"):
        crop_boxes(bad_image, np.zeros((1, 4)))


def test_negative_pad_is_rejected(image):
    with pytest.raises(ValueError, match=r"pad must be >= 0, got -0.1"):
        crop_boxes(image, np.zeros((1, 4)), pad=-0.1)
