"""NV12 sampling on the device gives the pixels the CPU path (OpenCV NV12 -> RGB, then resize) gives."""

from __future__ import annotations

import pytest

pytest.importorskip("torch")
pytest.importorskip("onnx")

import cv2
import numpy as np
import torch

from pyuniproc.detect.preprocess import resize_bilinear_legacy
from pyuniproc.gpu.image import crop_corners, nv12_crops, nv12_resize_legacy, rgb_resize_legacy, rgb_to_nv12
from pyuniproc.reid import crop_boxes


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


def test_crops_match_crop_boxes_then_cv2_resize(frames):
    nv12 = rgb_to_nv12(frames[0])
    rgb = cv2.cvtColor(nv12, cv2.COLOR_YUV2RGB_NV12)
    boxes = np.array(
        [[100.4, 50.5, 160.2, 210.7], [-5, -5, 30, 40], [700, 500, 900, 700], [10.5, 10.5, 11, 11]],
        np.float32,
    )
    expected = np.stack(
        [
            cv2.resize(np.ascontiguousarray(c), (128, 256), interpolation=cv2.INTER_LINEAR)
            for c in crop_boxes(rgb, boxes)
        ]
    ).transpose(0, 3, 1, 2)
    got = nv12_crops(
        torch.from_numpy(nv12)[None], torch.zeros(4, dtype=torch.int64), torch.from_numpy(boxes), 256, 128
    ).numpy()
    difference = np.abs(got - expected)
    assert difference.max() < 2.0  # OpenCV's uint8 resize uses 11-bit fixed-point weights
    assert difference.mean() < 0.5


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
