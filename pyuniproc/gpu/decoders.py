"""Which decoder feeds `pyuniproc run`'s cameras, chosen once at start (`--decoder`, default auto).

- "cpu": today's `CameraSource` (PyAV decodes to host RGB frames), on either backend;
- "nvdec": NVDEC, frames kept on the GPU as NV12 (`Nv12Source` over `NativeNvdecStream`, the native decode
  loop, or PyNvVideoCodec's `NvdecStream` where the loop cannot load); the GPU detector and embedder then
  read the NV12 pixels on the GPU and the host RGB image is made only when something draws on it;
- "nv12-cpu": PyAV converting to NV12 on the host: the NVDEC path's frames without a GPU (tests; checking a
  machine);
- "auto": "nvdec" when the backend is the GPU and NVDEC can run here, else "cpu".

NV12 decoding covers video files; live cameras (RTSP, streams, webcams) and image folders stay on
`CameraSource` whatever the choice (`open_nv12_source` returns None for them).

Nothing here imports torch until an NVDEC session is opened or its availability is asked.
"""

from __future__ import annotations

import logging
import os
from typing import Any

from pyuniproc.sources.uri import SourceKind, parse_uri

log = logging.getLogger(__name__)

DECODERS = ("auto", "cpu", "nvdec", "nv12-cpu")


class DecoderUnavailable(RuntimeError):
    """NVDEC was asked for explicitly and cannot run here; the message says what is missing."""


def check_decoder_name(decoder: str) -> str:
    if decoder not in DECODERS:
        raise ValueError(f"decoder must be one of {', '.join(DECODERS)}; got {decoder!r}")
    return decoder


def nvdec_kind() -> tuple[str | None, str]:
    """("native" | "pynvvideocodec", "") when NVDEC can decode here, else (None, what is missing).

    The native loop needs its library (PYUNIPROC_NVDEC_LOOP, or built from source: a C compiler and
    ffnvcodec's headers) and the driver's libcuda / libnvcuvid; PyNvVideoCodec is the fallback."""
    try:
        import torch
    except ImportError:
        return None, "torch is not installed"
    if not torch.cuda.is_available():
        return None, f"torch {torch.__version__} sees no CUDA device"
    from pyuniproc.gpu.native_nvdec import NativeDecodeError, driver_error, load_library
    from pyuniproc.gpu.nvdec import pynvvideocodec_version

    try:
        problem = driver_error(load_library())
    except (NativeDecodeError, OSError) as exc:
        problem = str(exc)
    if problem is None:
        return "native", ""
    if pynvvideocodec_version():
        return "pynvvideocodec", ""
    return None, f"the native NVDEC loop cannot run ({problem}) and PyNvVideoCodec is not installed"


def resolve_decoder(requested: str, backend: str) -> str:
    """"cpu", "nvdec-native", "nvdec-pynvvideocodec" or "nv12-cpu" for `requested` on the resolved `backend`.
    Raises ValueError for an unknown name, DecoderUnavailable for "nvdec" where it cannot run."""
    check_decoder_name(requested)
    if requested in ("cpu", "nv12-cpu"):
        return requested
    if requested == "auto" and backend != "gpu":
        return "cpu"
    kind, missing = nvdec_kind()
    if kind is not None:
        return f"nvdec-{kind}"
    if requested == "nvdec":
        raise DecoderUnavailable(f"decoder 'nvdec' asked for, but {missing}")
    log.info("NVDEC not used (%s): cameras decode on the CPU", missing)
    return "cpu"


def open_nv12_source(spec: Any, decoder: str, *, realtime: bool, loop: bool, max_frames: int | None,
                     first_index: int) -> Any | None:
    """An `Nv12Source` for camera `spec` (a `CameraSpec`) on the resolved `decoder`; None when the decoder
    is "cpu" or the camera is not a video file (it then uses `CameraSource`)."""
    if decoder == "cpu":
        return None
    uri = parse_uri(spec.uri)
    if uri.kind is not SourceKind.FILE:
        return None
    from pyuniproc.sources.nv12_source import Nv12Source, video_geometry

    path = uri.target
    if not os.path.exists(path):
        raise ValueError(f"camera {spec.id}: video not found: {uri.redacted}")
    width, height, fps = video_geometry(path)
    fps = spec.fps or fps  # the cameras file's rate wins (a raw .h264 stream declares none)

    def open_reader(looping: bool) -> Any:
        if decoder == "nvdec-native":
            from pyuniproc.gpu.native_nvdec import NativeNvdecStream

            return NativeNvdecStream(path, width=width, height=height, loop=looping)
        if decoder == "nvdec-pynvvideocodec":
            from pyuniproc.gpu.nvdec import NvdecStream

            return _Copied(NvdecStream(path, loop=looping))
        from pyuniproc.gpu.nvdec import PyAvStream

        return PyAvStream(path, loop=looping, device=None)

    return Nv12Source(spec.id, spec.uri, open_reader, fps=fps, realtime=realtime, loop=loop,
                      start_seconds=spec.start_seconds, max_frames=max_frames, first_index=first_index)


class _Copied:
    """PyNvVideoCodec hands out views into the decoder's own buffer, valid until the next read: each frame
    is copied (on the GPU) so it can wait in the camera's queue."""

    def __init__(self, stream: Any) -> None:
        self.stream = stream

    def read(self) -> Any | None:
        frame = self.stream.read()
        return None if frame is None else frame.clone()

    def close(self) -> None:
        self.stream.close()
