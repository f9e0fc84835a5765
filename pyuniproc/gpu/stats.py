"""What the GPU benchmark samples while it runs: GPU and NVDEC utilisation, GPU memory, CPU time.

NVML (nvidia-ml-py, module `pynvml`) is optional: without it the GPU columns are None. CPU time is read
from /proc through psutil when installed, else from `os.times()` (this process and reaped children only).
"""

from __future__ import annotations

import os
import threading
import time
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
    """Samples NVML every `period` seconds between `start()` and `stop()` on a daemon thread."""

    def __init__(self, gpu_index: int = 0, period: float = 0.2) -> None:
        self.period = period
        self.samples: list[tuple[float, float, float, float]] = []  # time, sm %, nvdec %, memory used MiB
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        try:
            import pynvml

            pynvml.nvmlInit()
            self._nvml: Any = pynvml
            self._handle = pynvml.nvmlDeviceGetHandleByIndex(gpu_index)
        except Exception:
            self._nvml = None

    @property
    def available(self) -> bool:
        return self._nvml is not None

    def device_info(self) -> dict[str, Any]:
        if not self.available:
            return {}
        nvml = self._nvml
        name = nvml.nvmlDeviceGetName(self._handle)
        driver = nvml.nvmlSystemGetDriverVersion()
        memory = nvml.nvmlDeviceGetMemoryInfo(self._handle)
        decode = lambda v: v.decode() if isinstance(v, bytes) else str(v)  # noqa: E731
        return {"name": decode(name), "driver": decode(driver), "memory_total_mib": memory.total / 2**20}

    def _run(self) -> None:
        nvml = self._nvml
        while not self._stop.wait(self.period):
            try:
                rates = nvml.nvmlDeviceGetUtilizationRates(self._handle)
                decoder = nvml.nvmlDeviceGetDecoderUtilization(self._handle)
                memory = nvml.nvmlDeviceGetMemoryInfo(self._handle)
                self.samples.append(
                    (time.perf_counter(), float(rates.gpu), float(decoder[0]), memory.used / 2**20)
                )
            except Exception:
                continue

    def start(self) -> None:
        self.samples = []
        if not self.available:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, daemon=True, name="nvml-sampler")
        self._thread.start()

    def stop(self) -> dict[str, float | None]:
        if self._thread is not None:
            self._stop.set()
            self._thread.join()
            self._thread = None
        if not self.samples:
            return {"gpu_util_pct": None, "nvdec_util_pct": None, "gpu_memory_mib": None}
        array = np.array(self.samples)
        return {
            "gpu_util_pct": float(array[:, 1].mean()),
            "nvdec_util_pct": float(array[:, 2].mean()),
            "gpu_memory_mib": float(array[:, 3].max()),
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
