"""NV12 pictures (what video decoders, NVDEC above all, hand out) and `Nv12Frame`, a `Frame` that keeps them.

Layout: one (H * 3 // 2, W) uint8 array per picture: H rows of luma, then H / 2 rows of interleaved U, V
samples (one pair per 2 x 2 pixels). On the GPU backend the pixels stay where NVDEC wrote them (a CUDA tensor)
and the detector and the ReID crops read them there (`pyuniproc.gpu.image`, `triton_image`); the RGB `image`
that annotated video or the live view draw on is made only when something asks for it.

The conversion is the one the GPU kernels use (limited-range YUV, the chroma sample under each pixel, each
channel rounded half to even and clamped like a uint8 frame), so a host copy of an NV12 frame and the GPU's
view of it agree. Nothing here imports torch: host (numpy) NV12 frames work without it.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from pyuniproc.types import Frame

COLOUR_MATRICES: dict[str, tuple[float, float, float, float, float]] = {
    # limited range: (CY, CVR, CVG, CUG, CUB); R = CY max(Y-16, 0) + CVR(V-128),
    # G = CY max(Y-16, 0) + CVG(V-128) + CUG(U-128), B = CY max(Y-16, 0) + CUB(U-128)
    "bt601": (1.164383, 1.596027, -0.812968, -0.391762, 2.017232),
    "bt709": (1.164383, 1.792741, -0.532909, -0.213249, 2.112402),
}
"""Limited-range YUV -> RGB. bt601 is what PyAV's rgb24 and OpenCV's NV12 conversions use for untagged
streams (so GPU and CPU paths see the same pixels); bt709 is right for streams tagged HD."""


def nv12_size(nv12: Any) -> tuple[int, int]:
    """(height, width) of a (H * 3 // 2, W) uint8 NV12 picture (array or tensor); ValueError otherwise."""
    shape = tuple(getattr(nv12, "shape", ()))
    dtype = str(getattr(nv12, "dtype", ""))
    if len(shape) != 2 or shape[0] % 3 or shape[1] % 2 or not dtype.endswith("uint8"):
        raise ValueError(f"an NV12 picture must be (H * 3 // 2, W) uint8 with even H and W, got shape "
                         f"{shape} {dtype or type(nv12).__name__}")
    return shape[0] * 2 // 3, shape[1]


def nv12_to_rgb(nv12: Any, matrix: str = "bt601") -> np.ndarray:
    """(H * 3 // 2, W) uint8 NV12 -> (H, W, 3) uint8 RGB on the host. A numpy array is converted here; a
    torch tensor (a GPU decoder's frame) is converted where it lives; only the RGB result is copied back."""
    if matrix not in COLOUR_MATRICES:
        raise ValueError(f"colour matrix must be one of {', '.join(COLOUR_MATRICES)}, got {matrix!r}")
    height, width = nv12_size(nv12)
    if not isinstance(nv12, np.ndarray):
        from pyuniproc.gpu.image import nv12_to_rgb_tensor

        return nv12_to_rgb_tensor(nv12, matrix).cpu().numpy()
    cy, cvr, cvg, cug, cub = (np.float32(c) for c in COLOUR_MATRICES[matrix])
    luma = np.maximum(nv12[:height].astype(np.float32) - 16, 0) * cy
    chroma = nv12[height:].reshape(height // 2, width // 2, 2).astype(np.float32) - 128
    chroma = chroma.repeat(2, axis=0).repeat(2, axis=1)  # the chroma sample under each pixel
    u, v = chroma[..., 0], chroma[..., 1]
    rgb = np.stack([luma + cvr * v, luma + cvg * v + cug * u, luma + cub * u], axis=-1)
    return np.clip(np.rint(rgb), 0, 255).astype(np.uint8)


class Nv12Frame(Frame):
    """A `Frame` whose pixels are an NV12 picture: `nv12` (H * 3 // 2, W) uint8, a CUDA tensor from NVDEC or a
    host array. `image` (H, W, 3) uint8 RGB is converted on first use and kept; `height` and `width` never
    convert. Stages that can read NV12 (the GPU detector's `preprocess_frames`, the GPU embedder's
    `embed_frames`) use `nv12` and leave `image` unmade, so the hot path never copies a frame to the host.

    `image` is Frame's slot left empty until then: reading an empty slot raises AttributeError, which Python
    turns into a call of `__getattr__`, the one place the conversion happens."""

    __slots__ = ("nv12", "colour_matrix")

    def __init__(self, camera_id: str, index: int, pts_seconds: float, nv12: Any,
                 decoded_at: float = 0.0, colour_matrix: str = "bt601") -> None:
        nv12_size(nv12)
        if colour_matrix not in COLOUR_MATRICES:
            raise ValueError(f"colour matrix must be one of {', '.join(COLOUR_MATRICES)}, "
                             f"got {colour_matrix!r}")
        for name, value in (("camera_id", camera_id), ("index", index), ("pts_seconds", pts_seconds),
                            ("decoded_at", decoded_at), ("nv12", nv12), ("colour_matrix", colour_matrix)):
            object.__setattr__(self, name, value)  # frozen: set once, here

    def __getattr__(self, name: str) -> Any:
        if name != "image":
            raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")
        rgb = nv12_to_rgb(self.nv12, self.colour_matrix)
        object.__setattr__(self, "image", rgb)
        return rgb

    @property
    def has_image(self) -> bool:
        """True once the host RGB copy was made (the hot path should leave it unmade)."""
        try:
            Frame.image.__get__(self)  # the slot itself, not the conversion
        except AttributeError:
            return False
        return True

    @property
    def height(self) -> int:
        return nv12_size(self.nv12)[0]

    @property
    def width(self) -> int:
        return nv12_size(self.nv12)[1]

    def __repr__(self) -> str:
        where = getattr(self.nv12, "device", "host")
        return (f"Nv12Frame(camera_id={self.camera_id!r}, index={self.index}, "
                f"pts_seconds={self.pts_seconds:.3f}, {self.width}x{self.height} NV12 on {where})")


def nv12_pixels(frame: Frame) -> Any | None:
    """The frame's NV12 picture when it has one (an `Nv12Frame`), else None."""
    return frame.nv12 if isinstance(frame, Nv12Frame) else None
