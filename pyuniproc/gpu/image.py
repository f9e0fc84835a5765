"""Colour conversion and resizing on the GPU: NV12 (what NVDEC returns) or RGB frames -> net inputs and crops.

Two resampling rules, each matching the CPU path it replaces:

- `legacy`: TensorFlow-1 `ResizeBilinear(align_corners=False)` (source position i * in / out), which the two
  detectors were trained with and which `pyuniproc.detect.preprocess.resize_bilinear_legacy` reproduces;
- `half_pixel`: OpenCV `INTER_LINEAR_EXACT` on a crop (source (i + 0.5) * in / out - 0.5, clamped to the
  crop; weights in 256ths, the result rounded to a whole value in fixed point), which the embedder's CPU path
  (`pyuniproc.reid.crops.resize_crops` of `crop_boxes` views) uses: bit for bit the same crop pixels.

NV12 is sampled without first building a full-resolution RGB frame: each output pixel's four taps are
converted to RGB (luma at the tap, the chroma sample under it: nearest chroma, as OpenCV's and
libswscale's NV12 -> RGB do), rounded and clamped to 0..255 like a uint8 RGB frame, then interpolated.
So the result equals "decode to uint8 RGB, then resize" (the CPU path): to float rounding for the
detectors' input, exactly for crops; at the cost of a few gathers per batch instead of a 1080p RGB frame
per camera.

Frames are batched as one uint8 tensor `(B, H * 3 // 2, W)` (luma rows, then interleaved U, V rows).
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import torch

from pyuniproc.nv12 import COLOUR_MATRICES, nv12_size


@lru_cache(maxsize=32)
def _legacy_axis(in_size: int, out_size: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(out,) lower index, upper index, weight for TF legacy bilinear along one axis (float32 maths)."""
    scale = np.float32(in_size / out_size)
    source = np.arange(out_size, dtype=np.float32) * scale
    lower = np.floor(source).astype(np.int64)
    upper = np.minimum(lower + 1, in_size - 1)
    return lower, upper, (source - lower).astype(np.float32)


_AXES: dict[tuple[int, int, str], tuple[torch.Tensor, torch.Tensor, torch.Tensor]] = {}


def _legacy_axis_on(in_size: int, out_size: int, device: torch.device) -> tuple[torch.Tensor, ...]:
    """`_legacy_axis` as device tensors, uploaded once per size pair and device."""
    key = (in_size, out_size, str(device))
    if key not in _AXES:
        _AXES[key] = tuple(torch.from_numpy(a).to(device) for a in _legacy_axis(in_size, out_size))
    return _AXES[key]


def _half_pixel_axis(
    start: torch.Tensor, length: torch.Tensor, out_size: int
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Per crop (n,) start and length (int64) -> (n, out) lower, upper absolute indices and the upper tap's
    weight in 256ths (float32 integers 0..256), as OpenCV's INTER_LINEAR_EXACT computes them: source
    position (i + 0.5) * (1 / (out / in)) - 0.5 in float64, its fraction rounded half to even to 1/256,
    edge samples clamped to the crop's first/last pixel."""
    scale = 1.0 / (out_size / length.to(torch.float64))
    position = (torch.arange(out_size, device=start.device, dtype=torch.float64)[None, :] + 0.5) * scale[
        :, None
    ] - 0.5
    lower = torch.floor(position)
    weight = torch.round((position - lower) * 256.0)
    lower = lower.to(torch.int64)
    last = (length - 1)[:, None]
    low_edge = lower < 0
    high_edge = lower >= last
    weight = torch.where(low_edge | high_edge, torch.zeros_like(weight), weight)
    lower = torch.where(low_edge, torch.zeros_like(lower), lower)
    lower = torch.where(high_edge, last.expand_as(lower), lower)
    upper = torch.minimum(lower + 1, last)
    return lower + start[:, None], upper + start[:, None], weight.to(torch.float32)


def _lerp_exact(
    tl: torch.Tensor, tr: torch.Tensor, bl: torch.Tensor, br: torch.Tensor, wx: torch.Tensor, wy: torch.Tensor
) -> torch.Tensor:
    """OpenCV INTER_LINEAR_EXACT's fixed point on uint8 values held in float32: weights wx, wy in 256ths
    (the lower tap gets 256 - w), the sum in 65536ths rounded half up to a whole value. Every intermediate
    is an integer below 2**24, so float32 holds it exactly (with or without fused multiply-adds)."""
    top = tl * (256.0 - wx) + tr * wx
    bottom = bl * (256.0 - wx) + br * wx
    return torch.floor((top * (256.0 - wy) + bottom * wy + 32768.0) / 65536.0)


def _lerp(
    tl: torch.Tensor, tr: torch.Tensor, bl: torch.Tensor, br: torch.Tensor, wx: torch.Tensor, wy: torch.Tensor
) -> torch.Tensor:
    """TF's order of operations: lerp along x on both rows, then along y."""
    top = tl + (tr - tl) * wx
    bottom = bl + (br - bl) * wx
    return top + (bottom - top) * wy


def _yuv_to_rgb(y: torch.Tensor, u: torch.Tensor, v: torch.Tensor, matrix: str) -> torch.Tensor:
    cy, cvr, cvg, cug, cub = COLOUR_MATRICES[matrix]
    luma = (y - 16.0).clamp_(min=0.0) * cy  # OpenCV clamps luma below black before scaling
    u = u - 128.0
    v = v - 128.0
    rgb = torch.stack([luma + cvr * v, luma + cvg * v + cug * u, luma + cub * u], dim=1)
    return rgb.round_().clamp_(0.0, 255.0)


def split_nv12(frames: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, int, int]:
    """(B, H*3/2, W) uint8 -> luma (B, H, W), chroma (B, H/2, W/2, 2), H, W."""
    if frames.dim() != 3 or frames.dtype != torch.uint8 or frames.shape[1] % 3:
        raise ValueError(
            f"NV12 frames must be (B, H * 3 // 2, W) uint8, got {tuple(frames.shape)} {frames.dtype}"
        )
    height = frames.shape[1] * 2 // 3
    width = frames.shape[2]
    luma = frames[:, :height]
    chroma = frames[:, height:].reshape(frames.shape[0], height // 2, width // 2, 2)
    return luma, chroma, height, width


def nv12_to_rgb_tensor(nv12: torch.Tensor, matrix: str = "bt601") -> torch.Tensor:
    """One (H * 3 // 2, W) uint8 NV12 picture -> (H, W, 3) uint8 RGB where it lives (the chroma sample under
    each pixel, as `pyuniproc.nv12.nv12_to_rgb` converts on the host): what an `Nv12Frame`'s `image` is."""
    height, width = nv12_size(nv12)
    luma = nv12[:height].float()
    chroma = nv12[height:].reshape(height // 2, width // 2, 2)
    chroma = chroma.repeat_interleave(2, dim=0).repeat_interleave(2, dim=1).float()
    rgb = _yuv_to_rgb(luma[None], chroma[None, ..., 0], chroma[None, ..., 1], matrix)[0]  # (3, H, W)
    return rgb.permute(1, 2, 0).to(torch.uint8)


def nv12_resize_legacy(frames: torch.Tensor, out_size: int, matrix: str = "bt601") -> torch.Tensor:
    """Whole NV12 frames -> (B, 3, out, out) float32 RGB 0..255, TF legacy bilinear (the detectors' rule).

    Separable gathers with one index list per axis, shared by every frame of the batch.
    """
    luma, chroma, height, width = split_nv12(frames)
    device = frames.device
    y0, y1, wy = _legacy_axis_on(height, out_size, device)
    x0, x1, wx = _legacy_axis_on(width, out_size, device)
    wx = wx[None, None, :]
    wy = wy[None, :, None]
    rows = (luma.index_select(1, y0), luma.index_select(1, y1))
    crows = (chroma.index_select(1, y0 // 2), chroma.index_select(1, y1 // 2))
    taps = []
    for row, crow in zip(rows, crows, strict=True):
        for x in (x0, x1):
            uv = crow.index_select(2, x // 2).float()  # (B, out, out, 2)
            taps.append(_yuv_to_rgb(row.index_select(2, x).float(), uv[..., 0], uv[..., 1], matrix))
    return _lerp(*taps, wx[:, None], wy[:, None])


def rgb_resize_legacy(frame: torch.Tensor, out_size: int) -> torch.Tensor:
    """(B, H, W, 3) uint8 RGB (frames of one size) -> (B, 3, out, out) float32, TF legacy bilinear."""
    height, width = frame.shape[1], frame.shape[2]
    device = frame.device
    y0, y1, wy = _legacy_axis_on(height, out_size, device)
    x0, x1, wx = _legacy_axis_on(width, out_size, device)
    rows = (frame.index_select(1, y0), frame.index_select(1, y1))
    taps = [row.index_select(2, x).float() for row in rows for x in (x0, x1)]
    out = _lerp(*taps, wx[None, None, :, None], wy[None, :, None, None])
    return out.permute(0, 3, 1, 2)


def crop_corners(xyxy: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """(n, 4) float boxes -> (n, 4) int64 x1, y1, x2, y2 exactly as `pyuniproc.reid.crop_boxes(pad=0)`:
    rounded half to even, clipped into the frame, at least one pixel."""
    corners = torch.round(xyxy.to(torch.float64)).to(torch.int64)
    x1 = corners[:, 0].clamp(0, width - 1)
    y1 = corners[:, 1].clamp(0, height - 1)
    x2 = torch.maximum(torch.minimum(corners[:, 2], torch.full_like(x1, width)), x1 + 1)
    y2 = torch.maximum(torch.minimum(corners[:, 3], torch.full_like(y1, height)), y1 + 1)
    return torch.stack([x1, y1, x2, y2], dim=1)


def nv12_crops(
    frames: torch.Tensor,
    frame_index: torch.Tensor,
    xyxy: torch.Tensor,
    out_height: int,
    out_width: int,
    matrix: str = "bt601",
) -> torch.Tensor:
    """Crops of boxes from NV12 frames -> (n, 3, out_h, out_w) float32 RGB 0..255: whole values equal to
    `pyuniproc.reid.crops.resize_crops` (cv2 INTER_LINEAR_EXACT) of `crop_boxes` of the frame's uint8 RGB.

    frame_index: (n,) int64 row of `frames` each box belongs to; xyxy: (n, 4) pixel boxes of that frame.
    """
    luma, chroma, height, width = split_nv12(frames)
    if len(xyxy) == 0:
        return torch.zeros((0, 3, out_height, out_width), device=frames.device)
    box = crop_corners(xyxy, height, width)
    ys0, ys1, wy = _half_pixel_axis(box[:, 1], box[:, 3] - box[:, 1], out_height)
    xs0, xs1, wx = _half_pixel_axis(box[:, 0], box[:, 2] - box[:, 0], out_width)
    b = frame_index.to(torch.int64)[:, None, None]
    rows = (ys0[:, :, None], ys1[:, :, None])
    cols = (xs0[:, None, :], xs1[:, None, :])
    taps = []
    for r in rows:
        for c in cols:
            uv = chroma[b, r // 2, c // 2].float()  # (n, oh, ow, 2)
            taps.append(_yuv_to_rgb(luma[b, r, c].float(), uv[..., 0], uv[..., 1], matrix))
    return _lerp_exact(*taps, wx[:, None, None, :], wy[:, None, :, None])


def rgb_to_nv12(rgb: np.ndarray) -> np.ndarray:
    """(H, W, 3) uint8 RGB with even H and W -> (H * 3 // 2, W) uint8 NV12 via OpenCV (BT.601 limited).

    For tests and for feeding CPU-decoded frames to the NV12 path."""
    import cv2

    height, width = rgb.shape[:2]
    i420 = cv2.cvtColor(np.ascontiguousarray(rgb), cv2.COLOR_RGB2YUV_I420)
    luma = i420[:height]
    quarter = (height // 2) * (width // 2)
    planes = i420[height:].reshape(-1)
    u = planes[:quarter].reshape(height // 2, width // 2)
    v = planes[quarter:].reshape(height // 2, width // 2)
    uv = np.stack([u, v], axis=-1).reshape(height // 2, width)
    return np.concatenate([luma, uv], axis=0)
