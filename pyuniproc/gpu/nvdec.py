"""Video decoder sessions that hand out NV12 frames: NVDEC through PyNvVideoCodec, or PyAV on the CPU.

One session per camera (NVDEC runs many sessions at once; the H100 has 7 NVDEC engines). (PyNvVideoCodec's
ThreadedDecoder, which decodes ahead in a C++ thread, was measured on the H100 and decoded 64 streams at
2,100-2,400 frames/s against 5,150 for these sessions, so it is not used.) A session's `read()` returns the
next frame as a (H * 3 // 2, W) uint8 NV12 tensor *view into the decoder's own buffer*: copy it before the
next `read()` (the pipeline copies it into its frame pool at once). Files loop when `loop` is set, so a
short synthetic clip can feed a benchmark of any length.

PyNvVideoCodec is imported only by `NvdecStream`; `PyAvStream` is the CPU stand-in that lets the
pipeline run (and be tested) on a machine without a GPU.
"""

from __future__ import annotations

from collections import deque
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

if TYPE_CHECKING:  # torch is imported where a session needs it: the PyAV stand-in runs without it
    import torch


class NV12Stream(Protocol):
    device: torch.device

    def read(self) -> torch.Tensor | None:
        """Next frame (H * 3 // 2, W) uint8 NV12 on `device`, or None at the end of a non-looping file."""
        ...

    def close(self) -> None: ...


def pynvvideocodec_version() -> str | None:
    try:
        import PyNvVideoCodec as nvc
    except Exception:
        return None
    return str(getattr(nvc, "__version__", "unknown"))


def _as_nv12(frame: Any, device: torch.device) -> torch.Tensor:
    """A PyNvVideoCodec DecodedFrame -> (H * 3 // 2, W) uint8 tensor view on the GPU (no copy)."""
    import torch

    try:
        tensor = torch.from_dlpack(frame)
    except Exception:  # older builds: CUDA array interface only
        tensor = torch.as_tensor(frame, device=device)
    if tensor.dim() == 3 and tensor.shape[-1] == 1:
        tensor = tensor[..., 0]
    if tensor.dim() != 2 or tensor.dtype != torch.uint8:
        raise RuntimeError(
            f"unexpected NV12 frame from PyNvVideoCodec: shape {tuple(tensor.shape)}, {tensor.dtype}"
        )
    return tensor


DECODE_PRIORITIES = ("normal", "high")


def check_decode_priority(priority: str) -> str:
    if priority not in DECODE_PRIORITIES:
        raise ValueError(f"decode priority must be one of {', '.join(DECODE_PRIORITIES)}, got {priority!r}")
    return priority


def _current_cuda_context() -> int:
    """The calling thread's current CUDA context handle (torch's primary context once torch used CUDA)."""
    import ctypes

    handle = ctypes.c_void_p()
    status = ctypes.CDLL("libcuda.so.1").cuCtxGetCurrent(ctypes.byref(handle))
    if status != 0 or not handle.value:
        raise RuntimeError(f"no current CUDA context for an NVDEC session (cuCtxGetCurrent: {status})")
    return int(handle.value)


class NvdecStream:
    """One NVDEC decoder session over one file (H.264/HEVC in MP4/MKV/TS), NV12 frames on the GPU.

    priority "normal": PyNvVideoCodec's defaults (its own context handle, the legacy default stream).
    "high": the session maps frames on a CUDA stream of the device's highest priority, exposed as
    `cuda_stream` so the caller copies frames out on that same stream (ordered after the map, no extra
    sync). Why it exists: under inference load a decoder's post-processing kernels queue behind the
    detector's; decode only beside 4 detecting processes, 8 threads x 1 session decoded 3,851 frames/s on
    normal streams and 4,223 on high-priority ones (fourth GPU session, benchmarks/gpu history).
    In the whole pipeline it did not pay in the same run (64 streams 2,632 -> 2,502 frames/s, 96 streams
    2,120 -> 2,332; same history), so "normal" stays the default and "high" is a bench variant.
    """

    def __init__(
        self, path: Path | str, *, gpu_id: int = 0, loop: bool = True, priority: str = "normal"
    ) -> None:
        import PyNvVideoCodec as nvc
        import torch

        check_decode_priority(priority)
        self._nvc = nvc
        self.path = str(path)
        self.loop = loop
        self.device = torch.device("cuda", gpu_id)
        self.cuda_stream: torch.cuda.Stream | None = None
        context, stream_handle = 0, 0
        if priority == "high":
            torch.cuda.set_device(self.device)
            # torch clamps a large negative priority to the device's highest
            self.cuda_stream = torch.cuda.Stream(self.device, priority=-100)
            context, stream_handle = _current_cuda_context(), self.cuda_stream.cuda_stream
        self._demuxer = nvc.CreateDemuxer(filename=self.path)
        self._decoder = nvc.CreateDecoder(
            gpuid=gpu_id,
            codec=self._demuxer.GetNvCodecId(),
            cudacontext=context,
            cudastream=stream_handle,
            usedevicememory=True,
        )
        self._packets = iter(self._demuxer)
        self._pending: deque[Any] = deque()
        self._ended = False
        self.loops = 0

    def read(self) -> torch.Tensor | None:
        while not self._pending:
            if self._ended:
                return None
            try:
                packet = next(self._packets)
            except StopIteration:
                if not self.loop:
                    self._ended = True
                    continue
                self.loops += 1
                self._demuxer = self._nvc.CreateDemuxer(filename=self.path)
                self._packets = iter(self._demuxer)
                continue
            self._pending.extend(self._decoder.Decode(packet))
        return _as_nv12(self._pending.popleft(), self.device)

    def close(self) -> None:
        self._pending.clear()
        self._decoder = None
        self._demuxer = None


class PyAvStream:
    """CPU stand-in: PyAV decodes, libswscale converts to NV12; frames are tensors on `device`, or host numpy
    arrays when `device` is None (no torch needed: the runtime's NV12 path tested on a CPU machine)."""

    def __init__(
        self, path: Path | str, *, loop: bool = True, device: torch.device | str | None = "cpu"
    ) -> None:
        import av

        self._av = av
        self.path = str(path)
        self.loop = loop
        if device is not None:
            import torch

            device = torch.device(device)
        self.device = device
        self._open()
        self.loops = 0

    def _open(self) -> None:
        self._container = self._av.open(self.path)
        self._frames = self._container.decode(video=0)

    def read(self) -> torch.Tensor | None:
        while True:
            try:
                frame = next(self._frames)
            except StopIteration:
                self._container.close()
                if not self.loop:
                    return None
                self.loops += 1
                self._open()
                continue
            array = np.ascontiguousarray(frame.to_ndarray(format="nv12"))
            if self.device is None:
                return array
            import torch

            return torch.from_numpy(array).to(self.device)

    def close(self) -> None:
        self._container.close()


def open_stream(
    path: Path | str,
    *,
    backend: str = "auto",
    gpu_id: int = 0,
    loop: bool = True,
    priority: str = "normal",
) -> NV12Stream:
    """`NvdecStream` when backend is "nvdec" (or "auto" and PyNvVideoCodec + CUDA are there), else PyAV.
    `priority` is the NVDEC session's CUDA stream priority (`NvdecStream`); PyAV has none."""
    if backend not in ("auto", "nvdec", "pyav"):
        raise ValueError(f"decoder backend must be 'auto', 'nvdec' or 'pyav', got {backend!r}")
    check_decode_priority(priority)
    import torch

    if backend == "nvdec" or (backend == "auto" and torch.cuda.is_available() and pynvvideocodec_version()):
        return NvdecStream(path, gpu_id=gpu_id, loop=loop, priority=priority)
    return PyAvStream(path, loop=loop)
