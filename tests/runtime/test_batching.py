"""How many frames go into one detector batch (`runtime.batching.batch_limit`)."""

from __future__ import annotations

from dataclasses import replace

from pyuniproc.runtime.batching import batch_limit


def test_the_cpu_batches_by_the_modules_batch_size(module_config):
    module = replace(module_config, detector=replace(module_config.detector, batch_size=3))
    assert batch_limit(module, "cpu") == 3


def test_the_gpu_batches_across_cameras_by_gpu_batch_size(module_config):
    module = replace(module_config, detector=replace(module_config.detector, batch_size=3),
                     runtime=replace(module_config.runtime, gpu_batch_size=24))
    assert batch_limit(module, "gpu") == 24
    assert batch_limit(module, "cpu") == 3


def test_the_module_batches_the_gpu_wider_than_the_cpu(module_config):
    assert batch_limit(module_config, "gpu") == 32 > batch_limit(module_config, "cpu")
