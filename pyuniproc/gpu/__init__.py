"""The NVIDIA GPU path of pyuniproc: optional, picked automatically when CUDA is present.

- `onnx_torch`: our ONNX files -> torch modules (one small converter for the ops our graphs use);
- `net.TorchNet`: fp16, channels_last, batch buckets captured as CUDA graphs;
- `image`: NV12 (NVDEC's output) -> net inputs and ReID crops on the GPU, same resampling as the CPU path;
- `postprocess`: the detectors' decoders in torch (boxes stay on the GPU for the crops);
- `static_decode`: the same decoders with fixed shapes (top-k + Cluster-NMS), capturable in a CUDA graph;
- `detector.GpuDetector` / `GpuEmbedder`: same interfaces as the CPU detector and embedder;
- `engine.BatchEngine`: one worker's static batch and graphs (detect + decode in one replay, crops +
  embed in another);
- `nvdec`: PyNvVideoCodec decoder sessions, one per camera;
- `tracking.TrackingStage`: per-camera ByteTrack and the CPU runtime's ReID choice (quality gate + embed
  schedule), so only the tracks due for an embedding are cropped and embedded;
- `pipeline.GpuPipeline`: decode threads -> batched detect -> track -> scheduled embed, for one process's
  cameras;
- `shards.ShardPool`: cameras spread over worker processes (each its own decoders, batches, trackers and
  GIL), on one GPU or alternating over several; `cuda_flags` makes their CUDA waits sleep, not spin;
- `stats`, `report`, `parity`: what `pyuniproc bench-gpu` measures and writes.

- `backend`: `parameters.pyuniproc.backend` (auto / cpu / gpu) resolved at start, and the detector and
  embedder `pyuniproc run` uses on the resolved backend.

Nothing here imports torch until asked: `create_detector_auto` returns the CPU detector on a machine
without torch or CUDA, so CI and CPU deployments never need the GPU packages.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any


def gpu_available() -> bool:
    """True when torch with a usable CUDA device and the `onnx` package are importable."""
    from pyuniproc.gpu.backend import gpu_missing

    return gpu_missing() is None


def create_detector_auto(kind: str, *, model_dir: Path, backend: str = "auto", **options: Any) -> Any:
    """The detector `kind` on the GPU when one is usable (backend "auto"), else the onnxruntime one.

    backend: "auto", "gpu" (fail without CUDA, saying what is missing) or "cpu". options: as
    `pyuniproc.detect.create_detector` (confidence_threshold, nms_iou_threshold, min_width, min_height,
    model_file, intra_op_threads, precision; the last two only matter on the CPU).
    """
    from pyuniproc.gpu.backend import create_detector, resolve_backend

    return create_detector(kind, backend=resolve_backend(backend), model_dir=model_dir, **options)


__all__ = ["create_detector_auto", "gpu_available"]
