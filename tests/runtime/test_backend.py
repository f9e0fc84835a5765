"""`parameters.pyuniproc.backend` / `--backend`: which device runs the detector and the ReID embedder.

The selection is tested here with torch made unimportable (`sys.modules["torch"] = None`) or CUDA faked
present, so it runs on any CPU machine; what the GPU backend computes is tests/gpu/test_runtime_backends.py.
"""

from __future__ import annotations

import sys
from dataclasses import replace

import pytest

from pyuniproc.config.yaml_source import ConfigError
from pyuniproc.gpu import backend as backends
from pyuniproc.runtime.build import build_detector, build_reid, resolve_backend


@pytest.fixture
def no_torch(monkeypatch):
    """This machine as one without torch, whether or not it has it."""
    monkeypatch.setitem(sys.modules, "torch", None)


@pytest.fixture
def cuda_present(monkeypatch):
    monkeypatch.setattr(backends, "gpu_missing", lambda: None)


def test_auto_without_torch_is_the_cpu(no_torch):
    assert backends.gpu_missing() == "torch is not installed"
    assert backends.resolve_backend("auto") == "cpu"
    assert backends.resolve_backend("cpu") == "cpu"


def test_gpu_without_torch_says_what_is_missing_and_how_to_install_it(no_torch):
    missing = r"torch is not installed.*pip install 'pyuniproc\[gpu\]'"
    with pytest.raises(backends.BackendUnavailable, match=missing):
        backends.resolve_backend("gpu")


@pytest.mark.parametrize("name", ["GPU", "cuda", "", None])
def test_unknown_backend_names_are_rejected_quoting_them(name):
    with pytest.raises(ValueError, match=f"got {name!r}"):
        backends.resolve_backend(name)


def test_auto_and_gpu_pick_the_gpu_where_cuda_is_usable(cuda_present):
    assert backends.resolve_backend("auto") == backends.resolve_backend("gpu") == "gpu"
    assert backends.resolve_backend("cpu") == "cpu"


def test_the_flag_overrides_the_module_and_gpu_failures_name_the_field(module_config, no_torch):
    gpu_module = replace(module_config, runtime=replace(module_config.runtime, backend="gpu"))
    assert resolve_backend(gpu_module, "cpu") == "cpu"
    with pytest.raises(ConfigError, match=r"parameters\.pyuniproc\.backend.*torch is not installed"):
        resolve_backend(gpu_module)
    with pytest.raises(ConfigError, match=r"pyuniproc\[gpu\]"):
        resolve_backend(module_config, "gpu")


def test_the_cpu_backend_builds_onnx_runtime_networks(module_config):
    from pyuniproc.detect import OnnxDetector
    from pyuniproc.reid import OnnxEmbedder

    assert isinstance(build_detector(module_config, "cpu"), OnnxDetector)
    assert isinstance(build_reid(module_config, "cpu").embedder, OnnxEmbedder)


def test_factories_take_only_a_resolved_backend(module_config):
    with pytest.raises(ValueError, match="resolve the backend first"):
        build_detector(module_config, "auto")
