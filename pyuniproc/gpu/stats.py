"""What the GPU benchmark samples while it runs: GPU and NVDEC utilisation, GPU memory, CPU time.

NVML (nvidia-ml-py, module `pynvml`) is optional: without it the GPU columns are None. CPU time is read
from /proc through psutil when installed, else from `os.times()` (this process and reaped children only).
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Sequence
from typing import Any

import numpy as np


def percentiles(values: np.ndarray | list[float]) -> dict[str, float | None]:
    values = np.asarray(values, dtype=np.float64)
    if values.size == 0:
        return {"p50": None, "p95": None, "mean": None}
    return {
        "p50": float(np.percentile(values, 50)),
        "p95": float(np.percentile(values, 95)),
        "mean": float(values.mean()),
    }


class GpuSampler:
    """Samples NVML every `period` seconds between `start()` and `stop()` on a daemon thread.

    gpus: NVML indices of the GPUs to sample (the benchmark's); utilisation is their mean, memory their sum.
    """

    def __init__(self, gpus: int | Sequence[int] = 0, period: float = 0.2) -> None:
        self.period = period
        self.gpus = [gpus] if isinstance(gpus, int) else list(gpus)
        self.samples: list[tuple[float, ...]] = []  # time, then per GPU: sm %, nvdec %, memory used MiB
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        try:
            import pynvml

            pynvml.nvmlInit()
            self._nvml: Any = pynvml
            self._handles = [pynvml.nvmlDeviceGetHandleByIndex(i) for i in self.gpus]
        except Exception:
            self._nvml = None

    @property
    def available(self) -> bool:
        return self._nvml is not None

    def device_info(self) -> dict[str, Any]:
        if not self.available:
            return {}
        nvml = self._nvml
        name = nvml.nvmlDeviceGetName(self._handles[0])
        driver = nvml.nvmlSystemGetDriverVersion()
        memory = nvml.nvmlDeviceGetMemoryInfo(self._handles[0])
        decode = lambda v: v.decode() if isinstance(v, bytes) else str(v)  # noqa: E731
        return {
            "name": decode(name),
            "driver": decode(driver),
            "memory_total_mib": memory.total / 2**20,
            "sampled_gpus": len(self._handles),
        }

    def _run(self) -> None:
        nvml = self._nvml
        while not self._stop.wait(self.period):
            try:
                row: list[float] = [time.perf_counter()]
                for handle in self._handles:
                    rates = nvml.nvmlDeviceGetUtilizationRates(handle)
                    decoder = nvml.nvmlDeviceGetDecoderUtilization(handle)
                    memory = nvml.nvmlDeviceGetMemoryInfo(handle)
                    row += [float(rates.gpu), float(decoder[0]), memory.used / 2**20]
                self.samples.append(tuple(row))
            except Exception:
                continue

    def start(self) -> None:
        self.samples = []
        if not self.available:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, daemon=True, name="nvml-sampler")
        self._thread.start()

    def stop(self) -> dict[str, Any]:
        if self._thread is not None:
            self._stop.set()
            self._thread.join()
            self._thread = None
        if not self.samples:
            return {"gpu_util_pct": None, "nvdec_util_pct": None, "gpu_memory_mib": None}
        array = np.array(self.samples)[:, 1:].reshape(len(self.samples), -1, 3)
        return {
            "gpu_util_pct": float(array[:, :, 0].mean()),
            "nvdec_util_pct": float(array[:, :, 1].mean()),
            "gpu_memory_mib": float(array[:, :, 2].sum(axis=1).max()),
            "per_gpu": [
                {
                    "gpu": gpu,
                    "util_pct": float(array[:, i, 0].mean()),
                    "nvdec_pct": float(array[:, i, 1].mean()),
                    "memory_mib": float(array[:, i, 2].max()),
                }
                for i, gpu in enumerate(self.gpus)
            ],
        }


def _cpu_seconds(pids: list[int]) -> float:
    try:
        import psutil
    except ImportError:
        times = os.times()
        return times.user + times.system
    total = 0.0
    for pid in pids:
        try:
            times = psutil.Process(pid).cpu_times()
            total += times.user + times.system
        except Exception:
            continue
    return total


class CpuMeter:
    """CPU seconds used by this process and `child_pids` over an interval, as % of one core and of all."""

    def __init__(self, child_pids: list[int]) -> None:
        self.pids = [os.getpid(), *child_pids]
        self._start = (time.perf_counter(), _cpu_seconds(self.pids))

    def read(self) -> dict[str, float]:
        now, used = time.perf_counter(), _cpu_seconds(self.pids)
        wall = max(1e-9, now - self._start[0])
        cores = (used - self._start[1]) / wall
        return {"cpu_cores_used": cores, "cpu_pct_of_machine": 100.0 * cores / (os.cpu_count() or 1)}
