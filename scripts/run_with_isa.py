#!/usr/bin/env python3
"""Run a Python module with the libraries that can be steered limited to one x86 instruction-set level,
to check that results (the quality gate's scores, a scenario's pixels) do not depend on the CPU.

    .venv/bin/python scripts/run_with_isa.py sse4.2 -m pytest tests/quality -q
    .venv/bin/python scripts/run_with_isa.py avx2 -m pyuniproc scenario --seed 11 --out /tmp/s

Levels: `avx2` (no AVX-512 or VNNI paths), `sse4.2` (no AVX at all). Steered, each by its own switch:

- OpenCV: `OPENCV_CPU_DISABLE` (its dispatched SIMD kernels);
- numpy: `NPY_DISABLE_CPU_FEATURES` (its dispatched X86_V3 = AVX2/FMA3 and X86_V4 = AVX-512 loops);
- OpenBLAS (numpy's matmul, lstsq): `OPENBLAS_CORETYPE` (Nehalem = SSE4.2, Haswell = AVX2);
- glibc (libm's exp/log/pow have FMA variants, and the string functions): `GLIBC_TUNABLES` hwcaps;
- FFmpeg through PyAV (decoding, colour conversion, swscale): `av_force_cpu_flags`, called in-process.

Not steerable: ONNX Runtime's MLAS kernels read CPUID and have no switch (its int8 products can be made
exact with the session option `session.x64quantprecision`, see scripts/probe_detector_numerics.py),
and x264 detects the CPU itself (its assembly is bit-exact with its C code by design). The libraries'
own switches only ever remove paths, so `avx2` on a CPU without AVX-512 is the CPU's own default.
"""

from __future__ import annotations

import ctypes
import os
import runpy
import sys
from pathlib import Path

_FFMPEG_SSE42 = 0x1 | 0x2 | 0x8 | 0x10 | 0x40 | 0x80 | 0x100 | 0x200 | 0x1000
"""AV_CPU_FLAG_ MMX, MMXEXT, SSE, SSE2, SSE3, SSSE3, SSE4(.1), SSE42, CMOV."""
_FFMPEG_AVX2 = _FFMPEG_SSE42 | 0x4000 | 0x8000 | 0x10000 | 0x20000 | 0x40000
"""... and AVX, AVX2, FMA3, BMI1, BMI2 (no AVX512 / AVX512ICL)."""
_AVX512 = "AVX_VNNI,AVX512-SKX,AVX512-CLX,AVX512-COMMON,AVX512F"

LEVELS: dict[str, dict[str, str]] = {
    "avx2": {
        "OPENCV_CPU_DISABLE": _AVX512,
        "NPY_DISABLE_CPU_FEATURES": "X86_V4 AVX512_ICL AVX512_SPR",
        "OPENBLAS_CORETYPE": "Haswell",
        "GLIBC_TUNABLES": "glibc.cpu.hwcaps=-AVX512F,-AVX512BW,-AVX512VL,-AVX512DQ,-AVX512CD",
        "PYUNIPROC_FFMPEG_CPU_FLAGS": str(_FFMPEG_AVX2),
    },
    "sse4.2": {
        "OPENCV_CPU_DISABLE": _AVX512 + ",AVX2,FMA3,FP16,AVX",
        "NPY_DISABLE_CPU_FEATURES": "X86_V3 X86_V4 AVX512_ICL AVX512_SPR",
        "OPENBLAS_CORETYPE": "Nehalem",
        "GLIBC_TUNABLES": "glibc.cpu.hwcaps=-AVX512F,-AVX512BW,-AVX512VL,-AVX512DQ,-AVX512CD,-AVX2,-FMA,-AVX",
        "PYUNIPROC_FFMPEG_CPU_FLAGS": str(_FFMPEG_SSE42),
    },
}
_APPLIED = "PYUNIPROC_ISA_LEVEL"


def _force_ffmpeg_flags(flags: int) -> None:
    """Make PyAV's bundled libavutil report only `flags`, before any codec or scaler is set up."""
    import av

    libs = Path(av.__file__).resolve().parent.parent / "av.libs"
    candidates = sorted(libs.glob("libavutil*.so*")) or [Path("libavutil.so")]
    ctypes.CDLL(str(candidates[0])).av_force_cpu_flags(ctypes.c_int(flags))


def main(argv: list[str]) -> None:
    if len(argv) < 3 or argv[0] not in LEVELS or argv[1] != "-m":
        raise SystemExit(f"usage: run_with_isa.py {{{','.join(LEVELS)}}} -m MODULE [ARGS...]")
    level, module, args = argv[0], argv[2], argv[3:]
    if os.environ.get(_APPLIED) != level:
        # numpy, OpenBLAS and glibc read their switches at start-up: start again with them set.
        env = dict(os.environ, **LEVELS[level], **{_APPLIED: level})
        os.execve(sys.executable, [sys.executable, __file__, *argv], env)
    _force_ffmpeg_flags(int(os.environ["PYUNIPROC_FFMPEG_CPU_FLAGS"]))
    settings = "; ".join(f"{name}={value}" for name, value in LEVELS[level].items())
    print(f"run_with_isa: {level}: {settings}", file=sys.stderr)
    sys.argv = [module, *args]
    runpy.run_module(module, run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    main(sys.argv[1:])
