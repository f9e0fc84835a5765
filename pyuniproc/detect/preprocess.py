"""Resize and normalise frames into one NCHW batch, the way the source graphs do it.

Both detectors were trained and published with TensorFlow's *legacy* bilinear resize
(`align_corners=False, half_pixel_centers=False`: output pixel i samples input position i * in/out),
which OpenCV's `resize` (half-pixel centres) does not reproduce: on vtest.avi the difference reaches
1.4 after SSD normalisation, enough to move scores. Two implementations of that sampling:

- `resize_bilinear_legacy`: numpy, bit-exact with TensorFlow's kernel (the reference; ~1.4 ms per
  768x576 -> 300x300 frame on one core);
- `resize_legacy_fast`: OpenCV's `warpAffine` on float32 with the inverse map x_src = x_dst * in/out,
  which is the legacy sampling; equal to the reference within float rounding (~1e-5) and ~2x faster
  (0.65 ms). The float models get this one.
- the same warpAffine on uint8 (`whole_levels=True`): 0.25 ms, but the result is rounded to whole
  levels, which moves the float SSD's raw heads by up to 0.12. The int8 models quantise their input
  to steps of 1.0 (SSDLite) and 1.08 (NanoDet) levels anyway (MODELS.json `input_step_levels`), so
  for them the rounding is within what the network sees; the detectors pick this path then.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache

import cv2
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
    bit-identical to the graph's own preprocessor, not just close. One gather of the four neighbours
    and in-place float32 arithmetic: about 1.4 ms for 768x576 -> 300x300 on one core.
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


def resize_legacy_fast(
    image: np.ndarray, height: int, width: int, *, whole_levels: bool = False
) -> np.ndarray:
    """(H, W, C) uint8 -> (height, width, C) with TF1 legacy bilinear sampling, via OpenCV: float32,
    or uint8 rounded to whole levels when `whole_levels`.

    Output pixel (x, y) samples the input at (x * W / width, y * H / height), no half-pixel shift;
    replicated borders match the legacy kernel's clamp to the last row and column.
    """
    in_h, in_w = image.shape[:2]
    inverse_map = np.array([[in_w / width, 0.0, 0.0], [0.0, in_h / height, 0.0]])
    return cv2.warpAffine(
        image if whole_levels else image.astype(np.float32),
        inverse_map,
        (width, height),
        flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
        borderMode=cv2.BORDER_REPLICATE,
    )


def check_images(images: Sequence[np.ndarray]) -> None:
    """Reject anything but (H, W, 3) uint8 frames, naming the offending index and shape."""
    for index, image in enumerate(images):
        if not isinstance(image, np.ndarray) or image.ndim != 3 or image.shape[2] != 3:
            shape = getattr(image, "shape", type(image).__name__)
            raise ValueError(f"images[{index}] must be (H, W, 3) uint8 RGB, got shape {shape}")
        if image.dtype != np.uint8:
            raise ValueError(f"images[{index}] must be uint8, got {image.dtype}")


def to_nchw_batch(
    images: Sequence[np.ndarray],
    size: int,
    scale: float,
    bias: float | Sequence[float],
    *,
    whole_levels: bool = False,
) -> np.ndarray:
    """Frames of any sizes -> (N, 3, size, size) float32 holding `resized * scale + bias[channel]`.

    Every frame is stretched to the square net input (no letterbox), as the source graphs were fed,
    so boxes map back with one scale factor per axis. bias: one value or one per RGB channel.
    whole_levels: resize in uint8 (for models that quantise their input to >= 1 level anyway).
    """
    check_images(images)
    batch = np.empty((len(images), 3, size, size), dtype=np.float32)
    scale32 = np.float32(scale)
    bias_chw = np.broadcast_to(np.asarray(bias, dtype=np.float32), (3,))[:, None, None]
    for index, image in enumerate(images):
        resized = resize_legacy_fast(image, size, size, whole_levels=whole_levels).transpose(2, 0, 1)
        np.multiply(resized, scale32, out=batch[index], casting="unsafe")
        batch[index] += bias_chw
    return batch
