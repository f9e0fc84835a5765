"""Which device runs the runtime's networks: `parameters.pyuniproc.backend` (auto, cpu or gpu), resolved once
at start, and the detector and embedder for the resolved backend.

One pipeline, two backends: `pyuniproc run` batches, tracks, selects crops, fuses and writes the same way on
either; only the object behind `Detector.preprocess / infer / postprocess` and `Embedder.embed` differs. The
CPU backend is ONNX Runtime; the GPU backend is `GpuDetector` / `GpuEmbedder` (torch modules built from the
same ONNX weights, fp16, CUDA graphs) fed the host frames and host crops the runtime already has. Embeddings
come back as (n, D) float32 unit rows on the host on both.

Nothing here imports torch unless the backend is "auto" or "gpu" and torch is installed; a machine without
torch resolves "auto" to "cpu" without trying anything else.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

BACKENDS = ("auto", "cpu", "gpu")
GPU_INSTALL_HINT = "pip install 'pyuniproc[gpu]'"


class BackendUnavailable(RuntimeError):
    """The GPU backend was asked for explicitly and cannot run here; the message says what is missing."""


def check_backend_name(backend: str) -> str:
    """`backend` if it is one of BACKENDS, else ValueError quoting it."""
    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {', '.join(BACKENDS)}; got {backend!r}")
    return backend


def gpu_missing() -> str | None:
    """What keeps the GPU backend from running on this machine, in words; None when it can run.

    torch is imported only when it is installed (so a CPU-only install never loads it)."""
    try:
        import torch
    except ImportError:
        return "torch is not installed"
    try:
        import onnx  # noqa: F401
    except ImportError:
        return "the onnx package (which reads the model files) is not installed"
    if not torch.cuda.is_available():
        return f"torch {torch.__version__} sees no CUDA device (a CPU-only build, or no NVIDIA GPU or driver)"
    return None


def resolve_backend(requested: str) -> str:
    """"cpu" or "gpu" for `requested` ("auto": the GPU when torch with CUDA is usable, else the CPU).

    Raises ValueError for an unknown name and BackendUnavailable for "gpu" on a machine that cannot run it."""
    check_backend_name(requested)
    if requested == "cpu":
        return "cpu"
    missing = gpu_missing()
    if missing is None:
        return "gpu"
    if requested == "gpu":
        raise BackendUnavailable(
            f"backend 'gpu' asked for, but {missing}. On a machine with an NVIDIA GPU install the GPU extra "
            f"({GPU_INSTALL_HINT}), or choose backend 'cpu' or 'auto'"
        )
    return "cpu"


def create_detector(kind: str, *, backend: str, model_dir: Path, **options: Any) -> Any:
    """The detector `kind` on a resolved backend ("cpu" or "gpu").

    options: as `pyuniproc.detect.create_detector` (confidence_threshold, nms_iou_threshold, min_width,
    min_height, model_file, intra_op_threads, precision). The GPU ignores the last two (it runs the float
    weights in fp16) and captures its CUDA graphs here, on the calling thread, before any worker thread
    calls it: a capture must not overlap other CUDA work."""
    if backend == "gpu":
        from pyuniproc.gpu.detector import GpuDetector

        options.pop("intra_op_threads", None)
        options.pop("precision", None)
        detector = GpuDetector(kind, model_dir=model_dir, **options)
        detector.net.capture()
        return detector
    if backend != "cpu":
        raise ValueError(f"resolve the backend first: expected 'cpu' or 'gpu', got {backend!r}")
    from pyuniproc.detect import create_detector as create_cpu_detector

    return create_cpu_detector(kind, model_dir=model_dir, **options)


def create_embedder(kind: str, *, backend: str, model_dir: Path, model_file: str | None = None) -> Any:
    """The appearance embedder `kind` on a resolved backend; both give `embed(crops) -> (n, D)` float32 unit
    rows on the host. The GPU one resizes host crops with the CPU one's function (`reid.crops.resize_crops`)
    and runs the net in fp16 with CUDA graphs, captured here."""
    if backend == "gpu":
        from pyuniproc.gpu.detector import GpuEmbedder

        embedder = GpuEmbedder(kind, model_dir=model_dir, model_file=model_file)
        embedder.net.capture()
        return embedder
    if backend != "cpu":
        raise ValueError(f"resolve the backend first: expected 'cpu' or 'gpu', got {backend!r}")
    from pyuniproc.reid import create_embedder as create_cpu_embedder

    return create_cpu_embedder(kind, model_dir=model_dir, model_file=model_file)


def process_gpu_memory() -> dict[str, float] | None:
    """What torch's allocator holds on this process's GPU, in MiB: `allocated` (live tensors), `reserved`
    (cached by the allocator, CUDA-graph pools included) and `peak_reserved` since start; None where this
    process never used CUDA (torch is not even imported for that: a CPU run pays nothing). The CUDA context
    and NVDEC surfaces are outside the allocator: nvidia-smi's per-process figure is larger."""
    torch = sys.modules.get("torch")
    if torch is None or not torch.cuda.is_initialized():
        return None
    mib = 2**20
    return {"allocated": round(torch.cuda.memory_allocated() / mib, 1),
            "reserved": round(torch.cuda.memory_reserved() / mib, 1),
            "peak_reserved": round(torch.cuda.max_memory_reserved() / mib, 1)}


__all__ = [
    "BACKENDS", "GPU_INSTALL_HINT", "BackendUnavailable", "check_backend_name", "create_detector",
    "create_embedder", "gpu_missing", "process_gpu_memory", "resolve_backend",
]
