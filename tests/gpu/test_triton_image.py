"""The fused NV12 -> net input kernels give the torch ops' values: on the CPU through Triton's interpreter,
on the GPU compiled (and fed to the real detector and embedder)."""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest

pytest.importorskip("torch")
pytest.importorskip("triton")

import torch

from pyuniproc.gpu import triton_image
from pyuniproc.gpu.image import nv12_crops, nv12_resize_legacy

SCALE, BIAS = 1 / 127.5, (-1.0, -1.0, -1.0)  # the detectors' normalisation
OFFSETS, CROP_SCALE = (123.675, 116.28, 103.53), 0.0171  # an embedder's


@pytest.fixture
def interpreted(monkeypatch):
    """A fresh copy of the module, its kernels run by Triton's CPU interpreter (read at definition)."""
    monkeypatch.setenv("TRITON_INTERPRET", "1")
    spec = importlib.util.spec_from_file_location("triton_image_interpreted", triton_image.__file__)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _frames(batch: int, height: int, width: int, seed: int = 0) -> torch.Tensor:
    rng = np.random.default_rng(seed)
    return torch.from_numpy(rng.integers(0, 256, (batch, height * 3 // 2, width), dtype=np.uint8))


def _reference_input(frames: torch.Tensor, size: int) -> torch.Tensor:
    return (
        nv12_resize_legacy(frames, size) * SCALE
        + torch.tensor(BIAS, device=frames.device)[None, :, None, None]
    )


def _reference_crops(frames, frame_index, boxes, height, width) -> torch.Tensor:
    crops = nv12_crops(frames, frame_index, boxes, height, width)
    return (crops - torch.tensor(OFFSETS, device=frames.device)[None, :, None, None]) * CROP_SCALE


# boxes inside, on and past the frame's edges, and a 1-pixel one
BOXES = [
    [10.3, 5.7, 60.2, 80.9],
    [0.0, 0.0, 159.0, 89.0],
    [150.0, 80.0, 170.0, 100.0],
    [40.0, 40.0, 40.4, 40.2],
]


def test_the_interpreted_kernels_match_the_torch_ops(interpreted):
    frames = _frames(2, 90, 160)
    fused = interpreted.nv12_resize_normalised(frames, 30, SCALE, BIAS, torch.float32)
    assert fused.shape == (2, 3, 30, 30) and fused.is_contiguous(memory_format=torch.channels_last)
    assert torch.equal(fused, _reference_input(frames, 30))

    boxes, frame_index = torch.tensor(BOXES), torch.tensor([0, 1, 1, 0])
    crops = interpreted.nv12_crops_normalised(
        frames, frame_index, boxes, 16, 8, OFFSETS, CROP_SCALE, torch.float32
    )
    assert crops.shape == (4, 3, 16, 8) and crops.is_contiguous(memory_format=torch.channels_last)
    assert torch.equal(crops, _reference_crops(frames, frame_index, boxes, 16, 8))
    empty = interpreted.nv12_crops_normalised(
        frames, frame_index[:0], boxes[:0], 16, 8, OFFSETS, 1.0, torch.float32
    )
    assert empty.shape == (0, 3, 16, 8)


def test_the_kernels_are_used_only_on_cuda_and_can_be_switched_off(interpreted, monkeypatch):
    assert not triton_image.usable(torch.device("cpu"))
    assert interpreted.usable(torch.device("cpu"))  # the interpreter takes CPU tensors
    assert triton_image.usable(torch.device("cuda"))
    monkeypatch.setenv("PYUNIPROC_TRITON_IMAGE", "0")
    assert not triton_image.usable(torch.device("cuda"))


# --- on the GPU machine ----------------------------------------------------------------------------------
@pytest.mark.cuda
def test_the_compiled_kernels_match_the_torch_ops_on_1080p_frames():
    if not torch.cuda.is_available():
        pytest.skip("needs a CUDA device (runs on the GPU machine)")
    frames = _frames(4, 1080, 1920, seed=1).cuda()
    fused = triton_image.nv12_resize_normalised(frames, 300, SCALE, BIAS, torch.float32)
    reference = _reference_input(frames, 300)
    assert torch.equal(fused, reference)  # no fused multiply-adds: every step rounds as torch's does
    half = triton_image.nv12_resize_normalised(frames, 300, SCALE, BIAS, torch.float16)
    assert torch.equal(half, reference.half())

    rng = np.random.default_rng(2)
    corners = (
        np.sort(rng.uniform(-20, 1940, (64, 2)), axis=1),
        np.sort(rng.uniform(-20, 1100, (64, 2)), axis=1),
    )
    boxes = torch.tensor(
        np.stack([corners[0][:, 0], corners[1][:, 0], corners[0][:, 1], corners[1][:, 1]], 1),
        dtype=torch.float32,
        device="cuda",
    )
    frame_index = torch.tensor(rng.integers(0, 4, 64), device="cuda")
    crops = triton_image.nv12_crops_normalised(
        frames, frame_index, boxes, 256, 128, OFFSETS, CROP_SCALE, torch.float32
    )
    reference = _reference_crops(frames, frame_index, boxes, 256, 128)
    assert torch.equal(crops, reference)


def test_the_detector_and_embedder_take_their_inputs_from_the_kernels(interpreted, monkeypatch, reid_kind):
    from pyuniproc.detect import DEFAULT_MODEL_DIR
    from pyuniproc.gpu import detector as detector_module
    from pyuniproc.gpu.detector import GpuDetector, GpuEmbedder
    from pyuniproc.reid import DEFAULT_MODEL_DIR as REID_DIR

    frames = _frames(2, 72, 96, seed=3)
    boxes, frame_index = torch.tensor([[5.0, 6.0, 40.0, 70.0], [50.0, 0.0, 96.0, 72.0]]), torch.tensor([0, 1])
    detector = GpuDetector("ssdlite_pedestrian", model_dir=DEFAULT_MODEL_DIR, device="cpu")
    embedder = GpuEmbedder(reid_kind, model_dir=REID_DIR, device="cpu")
    plain_input = detector.preprocess_nv12(frames)
    plain_crops = embedder.crops_nv12(frames, frame_index, boxes)
    monkeypatch.setattr(detector_module, "triton_image", interpreted)  # CPU tensors, interpreted kernels
    fused_input = detector.preprocess_nv12(frames)
    fused_crops = embedder.crops_nv12(frames, frame_index, boxes)
    assert fused_input.is_contiguous(memory_format=torch.channels_last)
    assert torch.equal(fused_input, plain_input) and torch.equal(fused_crops, plain_crops)
    reference = embedder._embed_rgb(
        nv12_crops(frames, frame_index, boxes, embedder.input_height, embedder.input_width)
    )
    assert torch.allclose(embedder.embed_nv12(frames, frame_index, boxes), reference, atol=1e-6)
