# ruff: noqa: B023  (the probe threads use their loop iteration's variables and are joined within it)
"""Probe: PyNvVideoCodec's stream-ordered mode (enableasyncallocations) vs the default, host CPU per frame,
frame correctness, and whether Decode holds the GIL.

Run on the GPU machine from the repository root, PyNvVideoCodec on PYTHONPATH, MPS daemon started:
    python3 benchmarks/gpu/session3/probe_stream_ordered.py .gpu-carry/vtest_1080p.mp4
(stream_ordered.log joins two runs: the first with the correctness and GIL probes and the default variants,
the second, after threads were given the CUDA context, with the stream-ordered variants.)
"""

import ctypes
import hashlib
import json
import multiprocessing as mp
import os
import sys
import threading
import time


def task_cpu(tid):
    with open(f"/proc/self/task/{tid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    tick = os.sysconf("SC_CLK_TCK")
    return int(fields[11]) / tick, int(fields[12]) / tick


def make_decoder(nvc, torch, video, variant, context):
    demuxer = nvc.CreateDemuxer(filename=video)
    opts = dict(gpuid=0, codec=demuxer.GetNvCodecId(), cudacontext=0, cudastream=0, usedevicememory=True)
    stream = None
    if variant.startswith("async"):
        stream = torch.cuda.Stream()
        opts.update(cudacontext=context, cudastream=stream.cuda_stream, enableasyncallocations=True)
    return demuxer, nvc.CreateDecoder(**opts), stream


def loop_body(variant, decoder, frame, torch, copy_stream, slots, k, events):
    tensor = torch.from_dlpack(frame)
    if variant == "default+copy":
        slot = slots[k % len(slots)]
        with torch.cuda.stream(copy_stream):
            slot.copy_(tensor, non_blocking=True)
        ev = torch.cuda.Event(blocking=True)
        ev.record(copy_stream)
        ev.synchronize()
    elif variant in ("async+copy", "async+copy+lock"):
        slot = slots[k % len(slots)]
        decoder.WaitOnCUStream(copy_stream.cuda_stream)
        with torch.cuda.stream(copy_stream):
            slot.copy_(tensor, non_blocking=True)
        ev = torch.cuda.Event()
        ev.record(copy_stream)
        events.append(ev)
        if len(events) > 8:
            events.pop(0).synchronize()
    return tensor


def measure(variant, video, threads, barrier, seconds, torch, nvc, context):
    counts, tids = [0] * threads, [0] * threads
    stop, errors = threading.Event(), []
    opened = threading.Barrier(threads + 1)

    def loop(i):
        tids[i] = threading.get_native_id()
        try:
            ctypes.CDLL("libcuda.so.1").cuCtxSetCurrent(
                ctypes.c_void_p(context)
            )  # driver calls on this thread
            demuxer, decoder, _ = make_decoder(nvc, torch, video, variant, context)
            copy_stream = torch.cuda.Stream()
            slots = [None] * 16
            events = []
        except BaseException as error:
            errors.append(repr(error))
            opened.abort()
            return
        opened.wait()
        packets = iter(demuxer)
        k = 0
        while not stop.is_set():
            try:
                packet = next(packets)
            except StopIteration:
                demuxer = nvc.CreateDemuxer(filename=video)
                packets = iter(demuxer)
                continue
            for frame in decoder.Decode(packet):
                if slots[0] is None:
                    t = torch.from_dlpack(frame)
                    for j in range(len(slots)):
                        slots[j] = torch.empty(t.shape, dtype=t.dtype, device="cuda")
                loop_body(variant, decoder, frame, torch, copy_stream, slots, k, events)
                k += 1
                counts[i] += 1

    workers = [threading.Thread(target=loop, args=(i,), daemon=True) for i in range(threads)]
    for w in workers:
        w.start()
    try:
        opened.wait(timeout=120)
    except threading.BrokenBarrierError:
        barrier.wait()
        barrier.wait()
        return {"error": errors[:1]}
    barrier.wait()
    time.sleep(1.0)
    f0, c0, s = sum(counts), [task_cpu(t) for t in tids], time.perf_counter()
    time.sleep(seconds)
    f1, c1, e = sum(counts), [task_cpu(t) for t in tids], time.perf_counter()
    stop.set()
    for w in workers:
        w.join(timeout=10)
    barrier.wait()
    return {
        "frames": f1 - f0,
        "seconds": e - s,
        "user_s": sum(b[0] - a[0] for a, b in zip(c0, c1, strict=False)),
        "sys_s": sum(b[1] - a[1] for a, b in zip(c0, c1, strict=False)),
        "errors": errors[:1],
    }


def worker_main(index, video, threads, barrier, out, seconds, variants):
    sys.path.insert(0, os.getcwd())
    from pyuniproc.gpu.cuda_flags import prefer_blocking_sync

    prefer_blocking_sync()
    import PyNvVideoCodec as nvc
    import torch

    torch.zeros(1, device="cuda")
    context = ctypes.c_void_p()
    ctypes.CDLL("libcuda.so.1").cuCtxGetCurrent(ctypes.byref(context))
    for variant in variants:
        out.put(
            (index, variant, measure(variant, video, threads, barrier, seconds, torch, nvc, context.value))
        )


def run(video, processes, threads, seconds, variants):
    ctx = mp.get_context("spawn")
    barrier, out = ctx.Barrier(processes), ctx.Queue()
    ws = [
        ctx.Process(target=worker_main, args=(i, video, threads, barrier, out, seconds, variants))
        for i in range(processes)
    ]
    for w in ws:
        w.start()
    rows = {v: [] for v in variants}
    for _ in range(processes * len(variants)):
        _, v, r = out.get(timeout=300)
        rows[v].append(r)
    for w in ws:
        w.join(timeout=30)
    for v, parts in rows.items():
        if any("error" in r for r in parts):
            print(
                json.dumps(
                    {
                        "variant": v,
                        "sessions": processes * threads,
                        "ERROR": [r for r in parts if "error" in r][:1],
                    }
                ),
                flush=True,
            )
            continue
        frames = sum(r["frames"] for r in parts)
        el = max(r["seconds"] for r in parts)
        u, k = sum(r["user_s"] for r in parts), sum(r["sys_s"] for r in parts)
        print(
            json.dumps(
                {
                    "variant": v,
                    "sessions": processes * threads,
                    "fps": round(frames / el),
                    "cpu_ms_user": round(1000 * u / frames, 3),
                    "cpu_ms_sys": round(1000 * k / frames, 3),
                    "cores": round((u + k) / el, 2),
                    "errors": [r["errors"] for r in parts if r["errors"]][:1],
                }
            ),
            flush=True,
        )


def correctness(video):
    """Checksums of the first 120 frames copied out in default and async mode must agree."""
    sys.path.insert(0, os.getcwd())
    import PyNvVideoCodec as nvc
    import torch

    torch.zeros(1, device="cuda")
    context = ctypes.c_void_p()
    ctypes.CDLL("libcuda.so.1").cuCtxGetCurrent(ctypes.byref(context))
    sums = {}
    for variant in ("default+copy", "async+copy"):
        demuxer, decoder, _ = make_decoder(nvc, torch, video, variant, context.value)
        copy_stream = torch.cuda.Stream()
        events = []
        slots = None
        k = 0
        for packet in demuxer:
            for frame in decoder.Decode(packet):
                t = torch.from_dlpack(frame)
                if slots is None:
                    slots = [torch.empty(t.shape, dtype=t.dtype, device="cuda") for _ in range(130)]
                loop_body(variant, decoder, frame, torch, copy_stream, slots, k, events)
                k += 1
            if k >= 120:
                break
        torch.cuda.synchronize()
        sums[variant] = [hashlib.md5(slots[i].cpu().numpy().tobytes()).hexdigest()[:8] for i in range(120)]
    same = sum(a == b for a, b in zip(sums["default+copy"], sums["async+copy"], strict=False))
    print(json.dumps({"correctness_frames_equal": same, "of": 120}), flush=True)


def gil_probe(video):
    """A pure-Python counter thread's rate alone and beside one decoding thread (1 session)."""
    sys.path.insert(0, os.getcwd())
    import PyNvVideoCodec as nvc
    import torch

    torch.zeros(1, device="cuda")
    context = ctypes.c_void_p()
    ctypes.CDLL("libcuda.so.1").cuCtxGetCurrent(ctypes.byref(context))
    for variant in ("default", "async"):
        for with_decode in (False, True):
            stop = threading.Event()
            n = [0]
            frames = [0]

            def counter():
                while not stop.is_set():
                    n[0] += 1

            def decode():
                demuxer, decoder, _ = make_decoder(nvc, torch, video, variant, context.value)
                while not stop.is_set():
                    for packet in demuxer:
                        for _f in decoder.Decode(packet):
                            frames[0] += 1
                        if stop.is_set():
                            break
                    demuxer = nvc.CreateDemuxer(filename=video)

            ts = [threading.Thread(target=counter)] + (
                [threading.Thread(target=decode)] if with_decode else []
            )
            for t in ts:
                t.start()
            time.sleep(2.0)
            stop.set()
            for t in ts:
                t.join()
            print(
                json.dumps(
                    {
                        "gil_probe": variant,
                        "decoding": with_decode,
                        "counter_per_s": n[0] // 2,
                        "decoded_fps": frames[0] // 2,
                    }
                ),
                flush=True,
            )


if __name__ == "__main__":
    video = sys.argv[1]

    mp.set_start_method("spawn")
    p = mp.get_context("spawn").Process(target=correctness, args=(video,))
    p.start()
    p.join(120)
    p = mp.get_context("spawn").Process(target=gil_probe, args=(video,))
    p.start()
    p.join(120)
    variants = ["default", "default+copy", "async", "async+copy"]
    run(video, 1, 1, 3.0, variants)
    run(video, 8, 8, 3.0, variants)
