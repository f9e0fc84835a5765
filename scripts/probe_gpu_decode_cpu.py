"""Decode-only host CPU per frame for PyNvVideoCodec's decoder options (device probe, issue 9).

Spawns `processes` processes with `threads` decoder threads each (one NVDEC session per thread on the same
file, looping), lets them decode for a warm-up second, then reads every decoder thread's user and kernel
CPU time (/proc/self/task/<tid>/stat) over a window. Variants: the options `NvdecStream` uses (default),
`latency=NATIVE|LOW|ZERO` (PyNvVideoCodec's display-decode latency), a CUDA stream of our own per session,
the pipeline's copy of each frame into a pool slot plus an event wait, and CUDA's spin-wait instead of the
blocking sync `pyuniproc.gpu.cuda_flags` sets. Run on the GPU machine with PyNvVideoCodec on PYTHONPATH and
the MPS daemon started, from the repository root:

    python3 scripts/probe_gpu_decode_cpu.py .gpu-carry/vtest_1080p.mp4 > decode_cpu_probe.log
"""

from __future__ import annotations

import ctypes
import json
import multiprocessing as mp
import os
import sys
import threading
import time

VARIANTS = ["default", "latency=NATIVE", "latency=LOW", "latency=ZERO", "own_stream", "default+copy"]


def task_cpu(tid: int) -> tuple[float, float]:
    """(user, kernel) CPU seconds of one thread of this process."""
    with open(f"/proc/self/task/{tid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    tick = os.sysconf("SC_CLK_TCK")
    return int(fields[11]) / tick, int(fields[12]) / tick


def measure(variant, video, threads, barrier, seconds, torch, nvc, context) -> dict:
    counts, tids = [0] * threads, [0] * threads
    stop, errors = threading.Event(), []
    opened = threading.Barrier(threads + 1)

    def loop(i: int) -> None:
        tids[i] = threading.get_native_id()
        try:
            demuxer = nvc.CreateDemuxer(filename=video)
            options = dict(
                gpuid=0, codec=demuxer.GetNvCodecId(), cudacontext=0, cudastream=0, usedevicememory=True
            )
            if variant.startswith("latency="):
                options["latency"] = getattr(nvc.DisplayDecodeLatencyType, variant.split("=")[1])
            stream = torch.cuda.Stream() if variant == "own_stream" else None
            if stream is not None:
                options.update(cudacontext=context, cudastream=stream.cuda_stream)
            decoder = nvc.CreateDecoder(**options)
            copy_stream = torch.cuda.Stream() if variant == "default+copy" else None
            pool_slot = None
            copied = torch.cuda.Event(blocking=True)
        except BaseException as error:
            errors.append(repr(error))
            opened.abort()
            return
        opened.wait()
        packets = iter(demuxer)
        while not stop.is_set():
            try:
                packet = next(packets)
            except StopIteration:
                demuxer = nvc.CreateDemuxer(filename=video)
                packets = iter(demuxer)
                continue
            for frame in decoder.Decode(packet):
                tensor = torch.from_dlpack(frame)
                if copy_stream is not None:
                    if pool_slot is None:
                        pool_slot = torch.empty(tensor.shape, dtype=tensor.dtype, device="cuda")
                    with torch.cuda.stream(copy_stream):
                        pool_slot.copy_(tensor, non_blocking=True)
                    copied.record(copy_stream)
                    copied.synchronize()
                counts[i] += 1

    workers = [threading.Thread(target=loop, args=(i,), daemon=True) for i in range(threads)]
    for worker in workers:
        worker.start()
    try:
        opened.wait(timeout=120)
    except threading.BrokenBarrierError:
        barrier.wait()
        barrier.wait()
        return {"error": errors[:1]}
    barrier.wait()  # every process decoding
    time.sleep(1.0)
    frames0, cpu0, start = sum(counts), [task_cpu(t) for t in tids], time.perf_counter()
    time.sleep(seconds)
    frames1, cpu1, end = sum(counts), [task_cpu(t) for t in tids], time.perf_counter()
    stop.set()
    for worker in workers:
        worker.join(timeout=10)
    barrier.wait()  # every process stopped before the next variant
    return {
        "frames": frames1 - frames0,
        "seconds": end - start,
        "user_s": sum(b[0] - a[0] for a, b in zip(cpu0, cpu1, strict=True)),
        "sys_s": sum(b[1] - a[1] for a, b in zip(cpu0, cpu1, strict=True)),
    }


def worker_main(index, video, threads, barrier, out, seconds, variants, spin) -> None:
    sys.path.insert(0, os.getcwd())
    from pyuniproc.gpu.cuda_flags import prefer_blocking_sync

    blocking = False if spin else prefer_blocking_sync()  # before the context exists
    import PyNvVideoCodec as nvc
    import torch

    torch.zeros(1, device="cuda")
    context = ctypes.c_void_p()
    ctypes.CDLL("libcuda.so.1").cuCtxGetCurrent(ctypes.byref(context))
    for variant in variants:
        row = measure(variant, video, threads, barrier, seconds, torch, nvc, context.value)
        out.put((index, variant, {**row, "blocking": blocking}))


def run(video: str, processes: int, threads: int, seconds: float, spin: bool) -> None:
    ctx = mp.get_context("spawn")
    barrier, out = ctx.Barrier(processes), ctx.Queue()
    variants = ["default"] if spin else VARIANTS
    workers = [
        ctx.Process(target=worker_main, args=(i, video, threads, barrier, out, seconds, variants, spin))
        for i in range(processes)
    ]
    for worker in workers:
        worker.start()
    rows: dict[str, list[dict]] = {v: [] for v in variants}
    for _ in range(processes * len(variants)):
        _, variant, row = out.get(timeout=300)
        rows[variant].append(row)
    for worker in workers:
        worker.join(timeout=30)
    for variant, parts in rows.items():
        name = "spin" if spin else variant
        if any("error" in r for r in parts):
            print(name, "ERROR", [r for r in parts if "error" in r][:1], flush=True)
            continue
        frames = sum(r["frames"] for r in parts)
        elapsed = max(r["seconds"] for r in parts)
        user, kernel = sum(r["user_s"] for r in parts), sum(r["sys_s"] for r in parts)
        summary = {
            "variant": name,
            "sessions": processes * threads,
            "fps": round(frames / elapsed),
            "cpu_ms_per_frame_user": round(1000 * user / frames, 3),
            "cpu_ms_per_frame_sys": round(1000 * kernel / frames, 3),
            "cores_busy": round((user + kernel) / elapsed, 2),
        }
        print(json.dumps(summary), flush=True)


if __name__ == "__main__":
    clip = sys.argv[1]
    for procs, per_process in ((1, 1), (8, 8)):
        print(f"--- {procs} processes x {per_process} threads", flush=True)
        run(clip, procs, per_process, 2.0, spin=False)
    print("--- 8 x 8, spin-wait context", flush=True)
    run(clip, 8, 8, 2.0, spin=True)
