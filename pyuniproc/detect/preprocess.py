"""Resize and normalise frames into one NCHW batch, the way the source graphs do it.

Both detectors were trained and published with TensorFlow's *legacy* bilinear resize
(`align_corners=False, half_pixel_centers=False`: output pixel i samples input position i * in/out),
which OpenCV's `resize` (half-pixel centres) does not reproduce: on vtest.avi the difference reaches
1.4 after SSD normalisation, enough to move scores. Two numpy implementations of that sampling, equal
bit for bit:

- `resize_bilinear_legacy`: the reference, written like TensorFlow's kernel (four neighbours per
  output pixel, lerp along x on both rows, then along y);
- `resize_legacy_fast`: the same arithmetic done separably (lerp along x on the source rows that are
  needed, then combine them along y), the one the detectors use.

Why numpy and not OpenCV's `warpAffine` (the previous fast path): its result depends on the OpenCV
version and on which SIMD path or IPP variant runs (0.014 levels off the reference with OpenCV 5.1 on
an AVX2 CPU, 5.8 with OpenCV 4.12), so detections and the quality gate moved between machines.
numpy's float32 `subtract`, `multiply` and `add` are correctly rounded IEEE operations whatever the
vector width, and nothing here is a reduction, so these results are the same on every CPU.
`scripts/probe_resize.py` measures the speed of both against OpenCV.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np


@lru_cache(maxsize=64)
def _axis_table(in_size: int, out_size: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For one axis: (out,) int64 lower source index, (out,) int64 upper index, (out,) float32 weight."""
    scale = np.float32(in_size / out_size)
    source = np.arange(out_size, dtype=np.float32) * scale
    lower = np.floor(source).astype(np.int64)
    upper = np.minimum(lower + 1, in_size - 1)
    return lower, upper, (source - lower).astype(np.float32)


@lru_cache(maxsize=64)
def _resize_table(
    in_h: int, in_w: int, out_h: int, out_w: int, channels: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Gather indices and weights for one input/output size pair (cached: cameras keep their size).

    Returns (4, out_h * out_w) int64 flat pixel indices of the top-left, top-right, bottom-left and
    bottom-right neighbours, and the x and y weights repeated per channel, (out_h * out_w * channels,).
    """
    y0, y1, wy = _axis_table(in_h, out_h)
    x0, x1, wx = _axis_table(in_w, out_w)
    corners = [(ys[:, None] * in_w + xs[None, :]).ravel() for ys in (y0, y1) for xs in (x0, x1)]
    shape = (out_h, out_w, channels)
    weight_x = np.broadcast_to(wx[None, :, None], shape).ravel().copy()
    weight_y = np.broadcast_to(wy[:, None, None], shape).ravel().copy()
    return np.stack(corners), weight_x, weight_y


def resize_bilinear_legacy(image: np.ndarray, height: int, width: int) -> np.ndarray:
    """(H, W, C) uint8 -> (height, width, C) float32, TF1 `ResizeBilinear(align_corners=False)` exactly.

    The arithmetic order (lerp along x on both rows, then along y) is TensorFlow's, so results are
    bit-identical to the graph's own preprocessor, not just close. Kept as the plain statement of that
    rule, which `resize_legacy_fast` and the GPU kernels are tested against: one gather of the four
    neighbours of every output pixel, then float32 maths.
    """
    in_h, in_w, channels = image.shape
    corners, weight_x, weight_y = _resize_table(in_h, in_w, height, width, channels)
    pixels = np.take(np.ascontiguousarray(image).reshape(-1, channels), corners, axis=0)
    top_left, top_right, bottom_left, bottom_right = pixels.astype(np.float32).reshape(4, -1)
    top_right -= top_left
    top_right *= weight_x
    top = np.add(top_left, top_right, out=top_left)
    bottom_right -= bottom_left
    bottom_right *= weight_x
    bottom = np.add(bottom_left, bottom_right, out=bottom_left)
    bottom -= top
    bottom *= weight_y
    top += bottom
    return top.reshape(height, width, channels)


@dataclass(frozen=True)
class _SeparablePlan:
    """Where `resize_legacy_fast` reads, for one (in_h, in_w, channels) -> (out_h, out_w) pair."""

    rows: np.ndarray
    """(2 * out_h,) source rows: the upper neighbour of every output row, then the lower one."""
    left: np.ndarray
    """(out_w * channels,) index of the left neighbour's value in a flattened source row."""
    right: np.ndarray
    """(out_w * channels,) the same for the right neighbour."""
    weight_x: np.ndarray
    """(1, out_w * channels) float32 weight of the right neighbour."""
    weight_y: np.ndarray
    """(out_h, 1) float32 weight of the lower row."""


@lru_cache(maxsize=64)
def _separable_plan(in_h: int, in_w: int, out_h: int, out_w: int, channels: int) -> _SeparablePlan:
    y0, y1, wy = _axis_table(in_h, out_h)
    x0, x1, wx = _axis_table(in_w, out_w)
    channel = np.arange(channels)
    return _SeparablePlan(
        rows=np.concatenate([y0, y1]).astype(np.intp),
        left=(x0[:, None] * channels + channel).ravel().astype(np.intp),
        right=(x1[:, None] * channels + channel).ravel().astype(np.intp),
        weight_x=np.repeat(wx, channels)[None, :],
        weight_y=wy[:, None],
    )


def resize_legacy_fast(image: np.ndarray, height: int, width: int) -> np.ndarray:
    """(H, W, C) uint8 -> (height, width, C) float32, bit-identical to `resize_bilinear_legacy`.

    Separable: the 2 * height source rows the output needs are gathered once, their left and right
    neighbours' values (uint8) are lerped along x into float32, and the upper and lower halves of that
    are lerped along y. The operations and their order per output value are the reference's
    (`top = l + (r - l) * wx` on both rows, then `top + (bottom - top) * wy`); only fewer and cheaper
    gathers (bytes of whole rows, not four float pixels per output). The uint8 -> float32 casts happen
    inside the ufuncs, so each step is one pass over memory.
    """
    in_h, in_w, channels = image.shape
    plan = _separable_plan(in_h, in_w, height, width, channels)
    rows = np.take(image, plan.rows, axis=0, mode="clip").reshape(2 * height, in_w * channels)
    left = np.take(rows, plan.left, axis=1, mode="clip")
    right = np.take(rows, plan.right, axis=1, mode="clip")
    lerped = np.subtract(right, left, dtype=np.float32)
    lerped *= plan.weight_x
    np.add(left, lerped, out=lerped)
    top, bottom = lerped[:height], lerped[height:]
    bottom -= top
    bottom *= plan.weight_y
    top += bottom
    return top.reshape(height, width, channels)


def check_images(images: Sequence[np.ndarray], *, name: str = "images", nonempty: bool = False) -> None:
    """Reject anything but (H, W, 3) uint8 RGB pictures (and, with `nonempty`, empty ones), naming the
    offending `name[index]` and its shape."""
    for index, image in enumerate(images):
        if not isinstance(image, np.ndarray) or image.ndim != 3 or image.shape[2] != 3:
            shape = getattr(image, "shape", type(image).__name__)
            raise ValueError(f"{name}[{index}] must be (H, W, 3) uint8 RGB, got shape {shape}")
        if image.dtype != np.uint8:
            raise ValueError(f"{name}[{index}] must be uint8, got {image.dtype}")
        if nonempty and (image.shape[0] == 0 or image.shape[1] == 0):
            raise ValueError(f"{name}[{index}] is empty, shape {image.shape}")


def to_nchw_batch(
    images: Sequence[np.ndarray], size: int, scale: float, bias: float | Sequence[float]
) -> np.ndarray:
    """Frames of any sizes -> (N, 3, size, size) float32 holding `resized * scale + bias[channel]`.

    Every frame is stretched to the square net input (no letterbox), as the source graphs were fed,
    so boxes map back with one scale factor per axis. bias: one value or one per RGB channel.
    """
    check_images(images)
    batch = np.empty((len(images), 3, size, size), dtype=np.float32)
    scale32 = np.float32(scale)
    bias_chw = np.broadcast_to(np.asarray(bias, dtype=np.float32), (3,))[:, None, None]
    for index, image in enumerate(images):
        resized = resize_legacy_fast(image, size, size).transpose(2, 0, 1)
        np.multiply(resized, scale32, out=batch[index])
        batch[index] += bias_chw
    return batch
