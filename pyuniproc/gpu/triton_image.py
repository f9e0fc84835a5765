"""NV12 -> net input in one GPU kernel each (Triton): the detector's resized frames and the embedder's crops.

Why: `pyuniproc.gpu.image` builds the same tensors from ~40 separate torch ops (gathers, a YUV -> RGB
conversion per tap, the interpolation, normalisation, fp16, channels-last), each writing a full float32
intermediate. Measured on the H100 (scripts/probe_gpu_split.py; figures in benchmarks/gpu history): 50 us
of GPU time per frame for the detector's 300 x 300 input at batch 32, a third of the whole detect step and
more than the NMS. Here each output pixel is computed once, from its four luma and four chroma taps,
straight into the fp16 channels-last input tensor.

The arithmetic is `pyuniproc.gpu.image`'s, step for step: each tap converted to RGB and rounded (half to
even) and clamped like a uint8 frame, TF legacy bilinear for the detector and OpenCV's INTER_LINEAR_EXACT
fixed point (clamped to the crop) for the embedder, then the model's normalisation; compiled without fused
multiply-adds (`enable_fp_fusion=False`), so every multiply and add rounds as the torch ops' do and the
values are equal bit for bit. `tests/gpu/test_triton_image.py` checks that (Triton's interpreter on the
CPU, the compiled kernels on the GPU).

Optional: used only where Triton is installed and the frames are on a CUDA device (`usable`); set
PYUNIPROC_TRITON_IMAGE=0 to use the torch ops instead.
"""

from __future__ import annotations

import os

import torch

from pyuniproc.gpu.image import _legacy_axis_on, crop_corners, split_nv12
from pyuniproc.nv12 import COLOUR_MATRICES

try:  # optional: only the GPU path uses these kernels
    import triton
    import triton.language as tl
except ImportError:  # pragma: no cover - CI has no Triton
    triton = None

BLOCK = 256
INTERPRETED = os.environ.get("TRITON_INTERPRET") == "1"
"""This module's kernels were defined for Triton's CPU interpreter (read at import, as Triton does)."""


def usable(device: torch.device) -> bool:
    """Triton is installed, the device is CUDA (or Triton's CPU interpreter is on) and not switched off."""
    if os.environ.get("PYUNIPROC_TRITON_IMAGE", "1") == "0":
        return False
    if device.type != "cuda" and not INTERPRETED:
        return False
    return triton is not None


if triton is not None:

    @triton.jit
    def _round_half_even(x):
        """torch.round for |x| < 2**22: adding 1.5 * 2**23 leaves no fraction bits, and float32 addition
        rounds half to even (no libdevice: Triton's CPU interpreter has none)."""
        return (x + 12582912.0) - 12582912.0

    @triton.jit
    def _tap_rgb(frames, base, row, col, height, width, cy, cvr, cvg, cug, cub):
        """One tap of an NV12 frame -> (r, g, b) float32, rounded and clamped like a uint8 RGB frame."""
        y = tl.load(frames + base + row * width + col).to(tl.float32)
        chroma = base + (height + row // 2) * width + (col // 2) * 2
        u = tl.load(frames + chroma).to(tl.float32) - 128.0
        v = tl.load(frames + chroma + 1).to(tl.float32) - 128.0
        luma = tl.maximum(y - 16.0, 0.0) * cy
        r = tl.minimum(tl.maximum(_round_half_even(luma + cvr * v), 0.0), 255.0)
        g = tl.minimum(tl.maximum(_round_half_even(luma + cvg * v + cug * u), 0.0), 255.0)
        b = tl.minimum(tl.maximum(_round_half_even(luma + cub * u), 0.0), 255.0)
        return r, g, b

    @triton.jit
    def _lerp(tl_, tr, bl, br, wx, wy):
        top = tl_ + (tr - tl_) * wx
        bottom = bl + (br - bl) * wx
        return top + (bottom - top) * wy

    @triton.jit
    def _lerp_exact(tl_, tr, bl, br, wx, wy):
        """`pyuniproc.gpu.image._lerp_exact`: OpenCV's fixed point, exact integers in float32."""
        top = tl_ * (256.0 - wx) + tr * wx
        bottom = bl * (256.0 - wx) + br * wx
        return tl.floor((top * (256.0 - wy) + bottom * wy + 32768.0) / 65536.0)

    @triton.jit
    def resize_legacy(
        frames, out, y0, y1, wy, x0, x1, wx, height, width, size,
        scale, bias_r, bias_g, bias_b, cy, cvr, cvg, cug, cub, BLOCK: tl.constexpr,
    ):  # fmt: skip
        """Program (block, frame): BLOCK output pixels of one frame -> out (B, size, size, 3) in memory."""
        frame = tl.program_id(1).to(tl.int64)
        pixel = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
        inside = pixel < size * size
        pixel = tl.where(inside, pixel, 0)
        oy, ox = pixel // size, pixel % size
        r0, r1, fy = tl.load(y0 + oy), tl.load(y1 + oy), tl.load(wy + oy)
        c0, c1, fx = tl.load(x0 + ox), tl.load(x1 + ox), tl.load(wx + ox)
        base = frame * (height * 3 // 2) * width
        ar, ag, ab = _tap_rgb(frames, base, r0, c0, height, width, cy, cvr, cvg, cug, cub)
        br_, bg, bb = _tap_rgb(frames, base, r0, c1, height, width, cy, cvr, cvg, cug, cub)
        cr, cg, cb = _tap_rgb(frames, base, r1, c0, height, width, cy, cvr, cvg, cug, cub)
        dr, dg, db = _tap_rgb(frames, base, r1, c1, height, width, cy, cvr, cvg, cug, cub)
        target = out + (frame * size * size + pixel) * 3
        red = _lerp(ar, br_, cr, dr, fx, fy) * scale + bias_r
        green = _lerp(ag, bg, cg, dg, fx, fy) * scale + bias_g
        blue = _lerp(ab, bb, cb, db, fx, fy) * scale + bias_b
        tl.store(target, red.to(out.dtype.element_ty), mask=inside)
        tl.store(target + 1, green.to(out.dtype.element_ty), mask=inside)
        tl.store(target + 2, blue.to(out.dtype.element_ty), mask=inside)

    @triton.jit
    def _half_pixel(o, start, length, out_size):
        """OpenCV INTER_LINEAR_EXACT along one axis of a crop: (lower, upper) absolute indices and the upper
        tap's weight in 256ths (`pyuniproc.gpu.image._half_pixel_axis`)."""
        scale = 1.0 / (out_size / length.to(tl.float64))
        position = (o.to(tl.float64) + 0.5) * scale - 0.5
        lower_f = tl.floor(position)
        fraction = (position - lower_f) * 256.0
        weight = (fraction + 6755399441055744.0) - 6755399441055744.0  # half to even: 1.5 * 2**52
        lower = lower_f.to(tl.int64)
        last = length - 1
        edge = (lower < 0) | (lower >= last)
        weight = tl.where(edge, 0.0, weight)
        lower = tl.where(lower < 0, 0, lower)
        lower = tl.where(lower >= last, last, lower)
        upper = tl.minimum(lower + 1, last)
        return lower + start, upper + start, weight.to(tl.float32)

    @triton.jit
    def crops_half_pixel(
        frames, out, corners, frame_index, height, width, out_h, out_w,
        scale, off_r, off_g, off_b, cy, cvr, cvg, cug, cub, BLOCK: tl.constexpr,
    ):  # fmt: skip
        """Program (block, crop): BLOCK pixels of one crop -> out (n, out_h, out_w, 3) channels-last,
        normalised as the embedder wants ((rgb - offset) * scale)."""
        crop = tl.program_id(1).to(tl.int64)
        pixel = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
        inside = pixel < out_h * out_w
        pixel = tl.where(inside, pixel, 0)
        oy, ox = pixel // out_w, pixel % out_w
        x1 = tl.load(corners + crop * 4)
        y1 = tl.load(corners + crop * 4 + 1)
        x2 = tl.load(corners + crop * 4 + 2)
        y2 = tl.load(corners + crop * 4 + 3)
        r0, r1, fy = _half_pixel(oy, y1, y2 - y1, out_h)
        c0, c1, fx = _half_pixel(ox, x1, x2 - x1, out_w)
        base = tl.load(frame_index + crop) * (height * 3 // 2) * width
        ar, ag, ab = _tap_rgb(frames, base, r0, c0, height, width, cy, cvr, cvg, cug, cub)
        br_, bg, bb = _tap_rgb(frames, base, r0, c1, height, width, cy, cvr, cvg, cug, cub)
        cr, cg, cb = _tap_rgb(frames, base, r1, c0, height, width, cy, cvr, cvg, cug, cub)
        dr, dg, db = _tap_rgb(frames, base, r1, c1, height, width, cy, cvr, cvg, cug, cub)
        target = out + (crop * out_h * out_w + pixel) * 3
        red = (_lerp_exact(ar, br_, cr, dr, fx, fy) - off_r) * scale
        green = (_lerp_exact(ag, bg, cg, dg, fx, fy) - off_g) * scale
        blue = (_lerp_exact(ab, bb, cb, db, fx, fy) - off_b) * scale
        tl.store(target, red.to(out.dtype.element_ty), mask=inside)
        tl.store(target + 1, green.to(out.dtype.element_ty), mask=inside)
        tl.store(target + 2, blue.to(out.dtype.element_ty), mask=inside)


def nv12_resize_normalised(
    frames: torch.Tensor,
    out_size: int,
    scale: float,
    bias: tuple[float, float, float],
    dtype: torch.dtype,
    matrix: str = "bt601",
) -> torch.Tensor:
    """(B, H*3/2, W) uint8 NV12 -> (B, 3, out, out) `dtype` channels-last net input: TF legacy bilinear of
    the RGB frame, times `scale`, plus `bias` per channel (what `GpuDetector.preprocess_nv12` computes)."""
    _, _, height, width = split_nv12(frames)
    frames = frames.contiguous()
    device = frames.device
    y0, y1, wy = _legacy_axis_on(height, out_size, device)
    x0, x1, wx = _legacy_axis_on(width, out_size, device)
    batch = frames.shape[0]
    out = torch.empty(
        (batch, 3, out_size, out_size), dtype=dtype, device=device, memory_format=torch.channels_last
    )
    if batch:
        grid = ((out_size * out_size + BLOCK - 1) // BLOCK, batch)
        resize_legacy[grid](
            frames, out, y0, y1, wy, x0, x1, wx, height, width, out_size,
            float(scale), *(float(b) for b in bias), *COLOUR_MATRICES[matrix],
            BLOCK=BLOCK, enable_fp_fusion=False,
        )  # fmt: skip
    return out


def nv12_crops_normalised(
    frames: torch.Tensor,
    frame_index: torch.Tensor,
    xyxy: torch.Tensor,
    out_height: int,
    out_width: int,
    offsets: tuple[float, float, float],
    scale: float,
    dtype: torch.dtype,
    matrix: str = "bt601",
) -> torch.Tensor:
    """Boxes (n, 4) of NV12 frames -> (n, 3, out_h, out_w) `dtype` channels-last embedder input: OpenCV's
    INTER_LINEAR_EXACT of each crop (`pyuniproc.gpu.image.nv12_crops`), then (rgb - offsets) * scale.
    frame_index: (n,) rows of `frames`, each in 0..B-1 (not checked on the device; the engine passes
    its own)."""
    _, _, height, width = split_nv12(frames)
    frames = frames.contiguous()
    out = torch.empty(
        (len(xyxy), 3, out_height, out_width),
        dtype=dtype,
        device=frames.device,
        memory_format=torch.channels_last,
    )
    if len(xyxy):
        corners = crop_corners(xyxy, height, width).contiguous()
        index = frame_index.to(torch.int64).contiguous()
        grid = ((out_height * out_width + BLOCK - 1) // BLOCK, len(xyxy))
        crops_half_pixel[grid](
            frames, out, corners, index, height, width, out_height, out_width,
            float(scale), *(float(o) for o in offsets), *COLOUR_MATRICES[matrix],
            BLOCK=BLOCK, enable_fp_fusion=False,
        )  # fmt: skip
    return out
