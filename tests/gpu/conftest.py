"""Fixtures of the GPU-path tests. Every test module here needs torch and onnx (each skips cleanly without
them); tests marked `cuda` also need a CUDA device and run on the GPU machine only."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[2]
VTEST = REPO / "samples" / "vtest" / "vtest.avi"
FRAMES = (100, 400, 700)


def _cuda_available() -> bool:
    try:
        import torch
    except ImportError:
        return False
    return torch.cuda.is_available()


def pytest_collection_modifyitems(config, items):
    if _cuda_available():
        return
    skip = pytest.mark.skip(reason="needs a CUDA device (runs on the GPU machine)")
    for item in items:
        if "cuda" in item.keywords:
            item.add_marker(skip)


def pytest_configure(config):
    config.addinivalue_line("markers", "cuda: needs a CUDA device")


@pytest.fixture(scope="session")
def frames() -> list[np.ndarray]:
    """vtest.avi frames 100, 400, 700 as (576, 768, 3) uint8 RGB (decoded by OpenCV: works without PyAV)."""
    import cv2

    capture = cv2.VideoCapture(str(VTEST))
    picked, index = [], 0
    while len(picked) < len(FRAMES):
        ok, bgr = capture.read()
        assert ok, "vtest.avi ended early"
        if index in FRAMES:
            picked.append(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))
        index += 1
    capture.release()
    return picked


@pytest.fixture(scope="session")
def reid_kind() -> str:
    """The embedder kind the shipped module runs (its `nvinfer@attribute_model` file): what the GPU tests
    embed with unless they test every kind."""
    from pyuniproc.config.module import load_module_config
    from pyuniproc.module_files import default_module_file
    from pyuniproc.reid import kind_for_model_file

    return kind_for_model_file(load_module_config(default_module_file()).reid.model_file)
