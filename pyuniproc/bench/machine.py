"""The machine a benchmark ran on: CPU model, the instruction sets that decide which kernels run, libraries.

Why: the same code ran 2.21x faster than the naive loop on one CPU and 1.72x on another. ONNX Runtime
picks its int8 and float kernels by the CPU (AVX-512 VNNI or AVX-VNNI make int8 dot products one
instruction; plain AVX2 needs three and saturates), so a figure means little without these.
"""

from __future__ import annotations

import os
import platform
from importlib import metadata
from pathlib import Path
from typing import Any

ISA_FLAGS = (
    "sse4_2", "avx", "avx2", "fma", "f16c", "avx512f", "avx512bw", "avx512vl", "avx512_vnni", "avx_vnni",
    "avx512_bf16", "amx_int8",
)
"""The /proc/cpuinfo flags that change which ONNX Runtime (MLAS), OpenCV or numpy kernels run."""

LIBRARIES = ("onnxruntime", "numpy", "opencv-python-headless", "av")


def _cpuinfo(path: Path = Path("/proc/cpuinfo")) -> tuple[str, set[str]]:
    """(model name, flags) of the first CPU in /proc/cpuinfo; ("", empty) where there is none."""
    try:
        text = path.read_text()
    except OSError:
        return "", set()
    model, flags = "", set()
    for line in text.splitlines():
        key, _, value = line.partition(":")
        key = key.strip()
        if key == "model name" and not model:
            model = value.strip()
        elif key == "flags" and not flags:
            flags = set(value.split())
    return model, flags


def int8_dot_product(flags: set[str]) -> str:
    """How MLAS multiplies uint8 activations by int8 weights on this CPU."""
    if "avx512_vnni" in flags or "avx_vnni" in flags:
        return "VNNI (vpdpbusd: exact 32-bit sums)"
    if "avx2" in flags:
        return "AVX2 vpmaddubsw (16-bit pair sums, saturating)"
    return "SSE4.1 or scalar"


def machine_info(cpuinfo: Path = Path("/proc/cpuinfo")) -> dict[str, Any]:
    """CPU model, logical CPUs, the ISA flags of `ISA_FLAGS` it has, the int8 kernel, library versions."""
    model, flags = _cpuinfo(cpuinfo)
    versions = {}
    for name in LIBRARIES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return {
        "cpu_model": model or platform.processor() or platform.machine(),
        "cpus": os.cpu_count(),
        "isa": [flag for flag in ISA_FLAGS if flag in flags],
        "int8_dot_product": int8_dot_product(flags),
        "python": platform.python_version(),
        "libraries": versions,
    }
