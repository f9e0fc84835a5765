"""NVIDIA GPU utilisation and memory, read through NVML at scrape time.

nvidia-ml-py (module `pynvml`) is optional: on a machine without it, or without an NVIDIA
driver, `gpu_collector()` returns None and nothing GPU-related is exported (so Grafana's GPU
panels show "No data" instead of a misleading 0). Values are read when Prometheus scrapes,
never from the pipeline loop. The NVML module can be injected, which is how the CPU-only tests
check the exported names.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from types import ModuleType
from typing import Any

from prometheus_client.core import GaugeMetricFamily, InfoMetricFamily
from prometheus_client.registry import Collector

log = logging.getLogger(__name__)


class GpuCollector(Collector):
    """Per GPU: utilisation (0..1), memory used/total bytes, and an info series with its name.

    nvml: the `pynvml` module or anything with the same functions; `nvmlInit` must have
        succeeded already.
    """

    def __init__(self, nvml: Any) -> None:
        self._nvml = nvml
        self._count = int(nvml.nvmlDeviceGetCount())

    def collect(self) -> Iterable[GaugeMetricFamily | InfoMetricFamily]:
        util = GaugeMetricFamily(
            "pyuniproc_gpu_utilization_ratio",
            "Share of the last sample period the GPU was busy (NVML), 0..1",
            labels=["gpu"],
        )
        used = GaugeMetricFamily(
            "pyuniproc_gpu_memory_used_bytes", "GPU memory in use (NVML)", labels=["gpu"]
        )
        total = GaugeMetricFamily(
            "pyuniproc_gpu_memory_total_bytes", "GPU memory in all (NVML)", labels=["gpu"]
        )
        info = InfoMetricFamily("pyuniproc_gpu", "GPU model", labels=["gpu"])
        for index in range(self._count):
            gpu = str(index)
            try:
                handle = self._nvml.nvmlDeviceGetHandleByIndex(index)
                rates = self._nvml.nvmlDeviceGetUtilizationRates(handle)
                memory = self._memory(handle)
                name = self._nvml.nvmlDeviceGetName(handle)
            except Exception as exc:  # a GPU fallen off the bus must not break the scrape
                log.debug("NVML read of GPU %d failed: %s", index, exc)
                continue
            util.add_metric([gpu], float(rates.gpu) / 100.0)
            used.add_metric([gpu], float(memory.used))
            total.add_metric([gpu], float(memory.total))
            info.add_metric([gpu], {"name": name.decode() if isinstance(name, bytes) else str(name)})
        return [util, used, total, info]

    def _memory(self, handle: Any) -> Any:
        """Memory info v2 where the driver has it: its `used` leaves out driver-reserved memory,
        as nvidia-smi does (v1 counts ~0.5 GB reserved on an idle H100 as used)."""
        version = getattr(self._nvml, "nvmlMemory_v2", None)
        if version is not None:
            try:
                return self._nvml.nvmlDeviceGetMemoryInfo(handle, version=version)
            except Exception:  # older driver: NVML_ERROR_FUNCTION_NOT_FOUND / not supported
                pass
        return self._nvml.nvmlDeviceGetMemoryInfo(handle)


def gpu_collector(mode: str = "auto", nvml: ModuleType | Any | None = None) -> GpuCollector | None:
    """A collector when NVML works, else None. mode "off" never touches NVML."""
    if mode == "off":
        return None
    if nvml is None:
        try:
            import pynvml as nvml  # type: ignore[import-not-found,no-redef]
        except ImportError:
            log.debug("nvidia-ml-py not installed: no GPU metrics")
            return None
    try:
        nvml.nvmlInit()
        return GpuCollector(nvml)
    except Exception as exc:  # NVMLError: no driver, no device
        log.info("no GPU metrics: NVML unavailable (%s)", exc)
        return None
