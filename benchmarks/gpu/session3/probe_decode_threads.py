"""Decode-only: does one thread servicing several NVDEC sessions round robin cost less host CPU per frame
than one thread per session? 8 processes; per process T threads x S sessions each (T * S = 8).

Run on the GPU machine from the repository root, PyNvVideoCodec on PYTHONPATH, MPS daemon started:
    python3 benchmarks/gpu/session3/probe_decode_threads.py .gpu-carry/vtest_1080p.mp4
"""

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


def worker(video, threads, per_thread, seconds, barrier, out, copy):
    sys.path.insert(0, os.getcwd())
    from pyuniproc.gpu.cuda_flags import prefer_blocking_sync

    prefer_blocking_sync()
    import PyNvVideoCodec as nvc
    import torch

    torch.zeros(1, device="cuda")
    counts, tids, stop = [0] * threads, [0] * threads, threading.Event()
    opened = threading.Barrier(threads + 1)

    def loop(i):
        tids[i] = threading.get_native_id()
        torch.cuda.set_device(0)
        sessions = []
        for _ in range(per_thread):
            d = nvc.CreateDemuxer(filename=video)
            sessions.append(
                [
                    d,
                    iter(d),
                    nvc.CreateDecoder(
                        gpuid=0, codec=d.GetNvCodecId(), cudacontext=0, cudastream=0, usedevicememory=True
                    ),
                ]
            )
        copy_stream = torch.cuda.Stream()
        ev = torch.cuda.Event(blocking=True)
        slot = None
        opened.wait()
        while not stop.is_set():
            for s in sessions:  # one packet per session per turn
                try:
                    packet = next(s[1])
                except StopIteration:
                    s[0] = nvc.CreateDemuxer(filename=video)
                    s[1] = iter(s[0])
                    continue
                for frame in s[2].Decode(packet):
                    if copy:
                        t = torch.from_dlpack(frame)
                        if slot is None:
                            slot = torch.empty_like(t)
                        with torch.cuda.stream(copy_stream):
                            slot.copy_(t, non_blocking=True)
                        ev.record(copy_stream)
                        ev.synchronize()
                    counts[i] += 1

    ws = [threading.Thread(target=loop, args=(i,), daemon=True) for i in range(threads)]
    for w in ws:
        w.start()
    opened.wait()
    barrier.wait()
    time.sleep(1.0)
    f0, c0, s0 = sum(counts), [task_cpu(t) for t in tids], time.perf_counter()
    time.sleep(seconds)
    f1, c1, s1 = sum(counts), [task_cpu(t) for t in tids], time.perf_counter()
    stop.set()
    for w in ws:
        w.join(10)
    out.put(
        {
            "frames": f1 - f0,
            "seconds": s1 - s0,
            "user": sum(b[0] - a[0] for a, b in zip(c0, c1, strict=False)),
            "sys": sum(b[1] - a[1] for a, b in zip(c0, c1, strict=False)),
        }
    )


if __name__ == "__main__":
    video = sys.argv[1]
    ctx = mp.get_context("spawn")
    for procs, threads, per_thread, copy in (
        (8, 8, 1, True),
        (8, 4, 2, True),
        (8, 2, 4, True),
        (8, 1, 8, True),
        (4, 2, 8, True),
        (16, 1, 4, True),
    ):
        barrier, out = ctx.Barrier(procs), ctx.Queue()
        ps = [
            ctx.Process(target=worker, args=(video, threads, per_thread, 3.0, barrier, out, copy))
            for _ in range(procs)
        ]
        for p in ps:
            p.start()
        rows = [out.get(timeout=300) for _ in ps]
        for p in ps:
            p.join(30)
        frames = sum(r["frames"] for r in rows)
        el = max(r["seconds"] for r in rows)
        u, k = sum(r["user"] for r in rows), sum(r["sys"] for r in rows)
        print(
            json.dumps(
                {
                    "processes": procs,
                    "threads": threads,
                    "sessions_per_thread": per_thread,
                    "sessions": procs * threads * per_thread,
                    "fps": round(frames / el),
                    "cpu_ms_user": round(1000 * u / frames, 3),
                    "cpu_ms_sys": round(1000 * k / frames, 3),
                    "cores": round((u + k) / el, 2),
                }
            ),
            flush=True,
        )
