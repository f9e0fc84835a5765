"""Resampling for the scenario renderer, in numpy, so that a scenario's pixels are the same on every CPU.

The quality gate generates its scenario at test time and compares scores with a committed baseline, so
the rendered frames must not depend on the machine. OpenCV's `warpAffine` and `resize` on float32 did:
with OpenCV 5.1 their results change when AVX2/FMA3 are switched off (`OPENCV_CPU_DISABLE`) or when IPP
is (whose code path depends on the CPU), so the same seed gave other videos on other CPUs.

Here every output value is a fixed sequence of float32 multiplies and adds (no reductions, no BLAS);
numpy performs those exactly as IEEE 754 says whatever the vector width, so the result is a function of
the input alone. The rules are the ones the renderer used from OpenCV:

- `warp_scaled`: `warpAffine` of a scale + shift (+ mirror) map, bilinear, reflected borders
  (OpenCV's `BORDER_REFLECT`: ...cba|abc...), sampling the source at integer-aligned positions;
- `resize`: `resize` with half-pixel centres, bilinear when enlarging (`INTER_LINEAR`, edge pixels
  repeated) and pixel-area averaging when shrinking (`INTER_AREA`).
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

Taps = tuple[np.ndarray, np.ndarray]
"""(n_out, k) intp source indices and (n_out, k) float32 weights: output i = sum_j w[i, j] * in[idx[i, j]]."""


def _reflect(index: np.ndarray, size: int) -> np.ndarray:
    """OpenCV's BORDER_REFLECT (edge pixel repeated: -1 -> 0, size -> size - 1) for any distance."""
    period = 2 * size
    index = np.mod(index, period)
    return np.where(index < size, index, period - 1 - index)


def bilinear_taps(source: np.ndarray, size: int, *, border: str) -> Taps:
    """Two taps per output for source positions `source` (float64, in input pixels) on an axis of `size`
    pixels; outside it `border` "reflect" mirrors, "clamp" repeats the edge pixel."""
    lower = np.floor(source)
    weight = (source - lower).astype(np.float32)
    index = np.stack([lower, lower + 1], axis=1).astype(np.intp)
    index = _reflect(index, size) if border == "reflect" else np.clip(index, 0, size - 1)
    return index, np.stack([1 - weight, weight], axis=1)


@lru_cache(maxsize=4096)
def _resize_taps(n_in: int, n_out: int) -> Taps:
    """Taps of `resize` along one axis: bilinear with half-pixel centres when enlarging, the share of
    each input pixel in the output pixel's footprint when shrinking (weights sum to 1 either way)."""
    if n_out >= n_in:
        source = (np.arange(n_out) + 0.5) * (n_in / n_out) - 0.5
        return bilinear_taps(np.maximum(source, 0.0), n_in, border="clamp")
    step = n_in / n_out
    starts = np.arange(n_out) * step
    first = np.floor(starts).astype(np.intp)
    count = int(np.ceil(step)) + 1
    index = first[:, None] + np.arange(count)
    overlap = np.minimum(index + 1, starts[:, None] + step) - np.maximum(index, starts[:, None])
    weight = np.clip(overlap, 0.0, None) / step
    return np.minimum(index, n_in - 1), weight.astype(np.float32)


def apply_taps(image: np.ndarray, taps: Taps, axis: int) -> np.ndarray:
    """Resample `image` (float32) along `axis`: the taps' weighted sum, accumulated in tap order."""
    index, weight = taps
    shape = [1] * image.ndim
    shape[axis] = len(index)
    out = np.take(image, index[:, 0], axis=axis) * weight[:, 0].reshape(shape)
    for tap in range(1, index.shape[1]):
        out += np.take(image, index[:, tap], axis=axis) * weight[:, tap].reshape(shape)
    return out


def resize(image: np.ndarray, width: int, height: int) -> np.ndarray:
    """(h, w, c) float32 -> (height, width, c) float32: area average when shrinking, bilinear when
    enlarging (each axis on its own), as OpenCV's INTER_AREA / INTER_LINEAR."""
    image = np.asarray(image, dtype=np.float32)
    rows = apply_taps(image, _resize_taps(image.shape[0], height), axis=0)
    return apply_taps(rows, _resize_taps(image.shape[1], width), axis=1)


def warp_scaled(
    image: np.ndarray,
    origin: tuple[float, float],
    scale: float,
    size: tuple[int, int],
    *,
    mirror: bool = False,
) -> np.ndarray:
    """(H, W, ...) image -> (height, width, ...) view of it magnified `scale` times from `origin`.

    Output pixel (x, y) samples the source at (x0 + x / scale, y0 + y / scale) bilinearly, or at
    x0 + (width - x) / scale when `mirror`; reflected borders. uint8 in -> uint8 out (rounded half up),
    float32 in -> float32 out.
    """
    width, height = size
    x0, y0 = origin
    columns = np.arange(width, dtype=np.float64)
    source_x = x0 + ((width - columns) if mirror else columns) / scale
    source_y = y0 + np.arange(height, dtype=np.float64) / scale
    pixels = np.asarray(image, dtype=np.float32)
    rows = apply_taps(pixels, bilinear_taps(source_y, image.shape[0], border="reflect"), axis=0)
    out = apply_taps(rows, bilinear_taps(source_x, image.shape[1], border="reflect"), axis=1)
    if image.dtype == np.uint8:
        return np.clip(np.floor(out + np.float32(0.5)), 0, 255).astype(np.uint8)
    return out


def gaussian_blur(image: np.ndarray, sigma: float) -> np.ndarray:
    """(H, W, ...) image blurred by a Gaussian of `sigma` pixels (radius ceil(3 sigma), borders mirrored
    without repeating the edge pixel, OpenCV's default BORDER_REFLECT_101). uint8 in -> uint8 out
    (rounded half up), float32 in -> float32 out. Each axis is a fixed sum of shifted copies."""
    radius = max(1, int(np.ceil(3 * sigma)))
    taps = np.exp(-0.5 * (np.arange(-radius, radius + 1) / sigma) ** 2)
    weights = (taps / taps.sum()).astype(np.float32)
    out = np.asarray(image, dtype=np.float32)
    for axis in (0, 1):
        size = out.shape[axis]
        pad = [(0, 0)] * out.ndim
        pad[axis] = (radius, radius)
        padded = np.pad(out, pad, mode="reflect") if size > radius else np.pad(out, pad, mode="edge")
        window = [slice(None)] * out.ndim
        shifted = []
        for k in range(2 * radius + 1):
            window[axis] = slice(k, k + size)
            shifted.append(padded[tuple(window)])
        out = np.multiply(shifted[0], weights[0])
        term = np.empty_like(out)
        for k in range(1, 2 * radius + 1):
            out += np.multiply(shifted[k], weights[k], out=term)
    if image.dtype == np.uint8:
        return np.clip(np.floor(out + np.float32(0.5)), 0, 255).astype(np.uint8)
    return out
