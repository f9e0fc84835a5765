"""Make CUDA waits sleep instead of spin, before a process first touches the GPU.

Why: by default a CUDA context spin-waits in every synchronize (stream, event, blocking copy) while it
has fewer contexts than the machine has cores. One pipeline process has a decoder thread per camera that
synchronises once per frame and an inference thread that waits for every batch; with several such
processes on one GPU (`pyuniproc.gpu.shards`) their spinning threads filled the 16 cores of the H100
machine (12 cores busy at ~2,000 frames/s) and starved the threads doing the real work. Blocking sync
(CU_CTX_SCHED_BLOCKING_SYNC) puts a waiting thread to sleep until the GPU signals.

The flag belongs to the device's primary context, which torch and PyNvVideoCodec share; it must be set
before that context is created, so call `prefer_blocking_sync()` first thing in a new process. Done
through the driver library (libcuda) with ctypes: nothing to install, and a no-op without a driver.
"""

from __future__ import annotations

import ctypes
import logging

log = logging.getLogger(__name__)

CU_CTX_SCHED_BLOCKING_SYNC = 0x04


def prefer_blocking_sync(device: int = 0) -> bool:
    """Set blocking sync on `device`'s primary context (this process's visible numbering).

    Returns True when set; False without a CUDA driver or when the context was already active with
    other flags (then CUDA keeps its own choice: correct, only busier)."""
    try:
        cuda = ctypes.CDLL("libcuda.so.1")
    except OSError:
        return False
    handle = ctypes.c_int()
    if cuda.cuInit(0) != 0 or cuda.cuDeviceGet(ctypes.byref(handle), device) != 0:
        return False
    result = cuda.cuDevicePrimaryCtxSetFlags(handle, CU_CTX_SCHED_BLOCKING_SYNC)
    if result != 0:
        log.info("could not set blocking sync on GPU %d (CUresult %d)", device, result)
    return result == 0
