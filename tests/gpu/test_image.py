"""NV12 sampling on the device gives the pixels the CPU path (OpenCV NV12 -> RGB, then resize) gives."""

from __future__ import annotations

import pytest

pytest.importorskip("torch")
pytest.importorskip("onnx")

import cv2
import numpy as np
import torch

from pyuniproc.detect.preprocess import resize_bilinear_legacy
from pyuniproc.gpu.image import (
    crop_corners,
    nv12_crops,
    nv12_resize_legacy,
    nv12_to_rgb_tensor,
    rgb_resize_legacy,
    rgb_to_nv12,
)
from pyuniproc.reid import crop_boxes
from pyuniproc.reid.crops import resize_crops


def test_nv12_resize_matches_convert_then_legacy_resize(frames):
    nv12 = np.stack([rgb_to_nv12(f) for f in frames])
    expected = np.stack(
        [
            resize_bilinear_legacy(cv2.cvtColor(f, cv2.COLOR_YUV2RGB_NV12), 300, 300).transpose(2, 0, 1)
            for f in nv12
        ]
    )
    got = nv12_resize_legacy(torch.from_numpy(nv12), 300).numpy()
    assert got.shape == (3, 3, 300, 300)
    difference = np.abs(got - expected)
    assert difference.max() <= 1.0 + 1e-3  # OpenCV rounds its RGB to uint8 one way, we another
    assert difference.mean() < 0.1


def test_rgb_resize_is_bit_exact_with_the_cpu_resize(frames):
    got = rgb_resize_legacy(torch.from_numpy(np.stack(frames)), 416).numpy()
    for frame, out in zip(frames, got, strict=True):
        np.testing.assert_array_equal(out, resize_bilinear_legacy(frame, 416, 416).transpose(2, 0, 1))


def test_crops_are_the_cpu_embedders_crops_bit_for_bit(frames):
    """nv12_crops == resize_crops(crop_boxes(RGB)) (the CPU embedder's INTER_LINEAR_EXACT) on the same uint8
    RGB: boxes inside, past the edges, sub-pixel and 1 pixel, enlarged and shrunk."""
    nv12 = rgb_to_nv12(frames[0])
    rgb = nv12_to_rgb_tensor(torch.from_numpy(nv12)).numpy()  # the per-tap conversion nv12_crops does
    rng = np.random.default_rng(0)
    corners = np.sort(rng.uniform(-20, 790, (40, 2)), axis=1), np.sort(rng.uniform(-20, 600, (40, 2)), axis=1)
    boxes = np.concatenate([
        np.array([[100.4, 50.5, 160.2, 210.7], [-5, -5, 30, 40], [700, 500, 900, 700], [10.5, 10.5, 11, 11],
                  [0, 0, 768, 576], [300, 100, 399, 356]], np.float32),
        np.stack([corners[0][:, 0], corners[1][:, 0], corners[0][:, 1], corners[1][:, 1]], axis=1),
    ]).astype(np.float32)
    for height, width in ((256, 128), (37, 300)):
        expected = resize_crops(crop_boxes(rgb, boxes), height, width)
        got = nv12_crops(torch.from_numpy(nv12)[None], torch.zeros(len(boxes), dtype=torch.int64),
                         torch.from_numpy(boxes), height, width).numpy()
        np.testing.assert_array_equal(got, expected)


def test_crop_corners_are_crop_boxes_corners():
    height, width = 576, 768
    boxes = np.array(
        [[0.5, 1.5, 2.5, 3.5], [-10, -10, -5, -5], [760, 570, 900, 900], [5, 5, 5, 5]], np.float32
    )
    image = np.zeros((height, width, 3), np.uint8)
    expected = [(c.shape[0], c.shape[1]) for c in crop_boxes(image, boxes)]
    corners = crop_corners(torch.from_numpy(boxes), height, width).numpy()
    got = [(y2 - y1, x2 - x1) for x1, y1, x2, y2 in corners]
    assert got == expected
