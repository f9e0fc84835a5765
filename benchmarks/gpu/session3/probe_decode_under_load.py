"""Decode only, 8 processes x (threads x sessions per thread), with and without a GPU inference load
(4 processes replaying the detect graph continuously). Per frame: time inside Decode and in the copy sync.

Run on the GPU machine from the repository root, PyNvVideoCodec on PYTHONPATH, MPS daemon started:
    python3 benchmarks/gpu/session3/probe_decode_under_load.py .gpu-carry/vtest_1080p.mp4
        -> decode_under_load.log: layouts 8 x 1, 1 x 8, 2 x 4 without, then with the load (that run
           stopped at 1 x 8 under load, which decoded nothing; it held each frame's references until
           the next Decode, now dropped at once)
    python3 benchmarks/gpu/session3/probe_decode_under_load.py .gpu-carry/vtest_1080p.mp4 --variants
        -> decode_under_load_variants.log: under the load only, 1 x 8 and 2 x 4 sessions per thread on
           the legacy default stream, on a CUDA stream of each session's own, and with low display latency
    python3 benchmarks/gpu/session3/probe_decode_under_load.py .gpu-carry/vtest_1080p.mp4 --priority
        -> decode_under_load_priority.log: under the load, sessions on streams of the highest priority,
           then the same with the 4 load processes limited to 70 % of the SMs (MPS)
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
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def load_main(stop_at, sm_percent=None):
    sys.path.insert(0, os.getcwd())
    if sm_percent:  # an MPS client's share of the SMs; must be set before CUDA starts
        os.environ["CUDA_MPS_ACTIVE_THREAD_PERCENTAGE"] = str(sm_percent)
    from pyuniproc.gpu.cuda_flags import prefer_blocking_sync

    prefer_blocking_sync()
    import torch

    from pyuniproc.gpu.detector import GpuDetector
    from pyuniproc.gpu.engine import BatchEngine

    det = GpuDetector(
        "ssdlite_pedestrian", model_dir="module/models/person_detector", confidence_threshold=0.4
    )
    eng = BatchEngine(det, None, (1620, 1920))
    eng.frames.copy_(torch.randint(0, 255, eng.frames.shape, dtype=torch.uint8, device="cuda"))
    with torch.cuda.stream(torch.cuda.Stream()):
        while time.time() < stop_at.value:
            eng.detect_frames(32)


def worker(video, threads, per_thread, seconds, barrier, out, variant="default"):
    sys.path.insert(0, os.getcwd())
    from pyuniproc.gpu.cuda_flags import prefer_blocking_sync

    prefer_blocking_sync()
    import PyNvVideoCodec as nvc
    import torch

    torch.zeros(1, device="cuda")
    counts = [0] * threads
    tids = [0] * threads
    stop = threading.Event()
    t_dec = [0.0] * threads
    t_sync = [0.0] * threads
    opened = threading.Barrier(threads + 1)

    def loop(i):
        tids[i] = threading.get_native_id()
        torch.cuda.set_device(0)
        torch.zeros(1, device="cuda")
        sessions = []
        keep = []
        for _ in range(per_thread):
            d = nvc.CreateDemuxer(filename=video)
            opts = dict(gpuid=0, codec=d.GetNvCodecId(), cudacontext=0, cudastream=0, usedevicememory=True)
            if variant in ("own_stream", "high_priority"):
                import ctypes

                ctx = ctypes.c_void_p()
                ctypes.CDLL("libcuda.so.1").cuCtxGetCurrent(ctypes.byref(ctx))
                # torch maps a large negative priority to the device's highest
                st = torch.cuda.Stream(priority=-100 if variant == "high_priority" else 0)
                keep.append(st)
                opts.update(cudacontext=ctx.value, cudastream=st.cuda_stream)
            if variant == "low_latency":
                opts["latency"] = nvc.DisplayDecodeLatencyType.LOW
            sessions.append([d, iter(d), nvc.CreateDecoder(**opts)])
        cs = torch.cuda.Stream(priority=-100 if variant == "high_priority" else 0)
        ev = torch.cuda.Event(blocking=True)
        slot = None
        opened.wait()
        while not stop.is_set():
            for s in sessions:
                try:
                    packet = next(s[1])
                except StopIteration:
                    s[0] = nvc.CreateDemuxer(filename=video)
                    s[1] = iter(s[0])
                    continue
                a = time.perf_counter()
                frames = s[2].Decode(packet)
                b = time.perf_counter()
                t_dec[i] += b - a
                for frame in frames:
                    t = torch.from_dlpack(frame)
                    if slot is None:
                        slot = torch.empty_like(t)
                    a = time.perf_counter()
                    with torch.cuda.stream(cs):
                        slot.copy_(t, non_blocking=True)
                    ev.record(cs)
                    ev.synchronize()
                    t_sync[i] += time.perf_counter() - a
                    counts[i] += 1
                    del t
                del frames

    ws = [threading.Thread(target=loop, args=(i,), daemon=True) for i in range(threads)]
    for w in ws:
        w.start()
    opened.wait()
    barrier.wait()
    time.sleep(1.0)
    f0 = sum(counts)
    c0 = sum(task_cpu(t) for t in tids)
    d0 = sum(t_dec)
    s0 = sum(t_sync)
    w0 = time.perf_counter()
    time.sleep(seconds)
    f1 = sum(counts)
    c1 = sum(task_cpu(t) for t in tids)
    d1 = sum(t_dec)
    s1 = sum(t_sync)
    w1 = time.perf_counter()
    stop.set()
    for w in ws:
        w.join(10)
    out.put({"frames": f1 - f0, "seconds": w1 - w0, "cpu": c1 - c0, "decode_s": d1 - d0, "sync_s": s1 - s0})


LAYOUTS = ((8, 1, "default"), (1, 8, "default"), (2, 4, "default"))
VARIANTS = (
    (8, 1, "default"),
    (1, 8, "default"),
    (1, 8, "own_stream"),
    (1, 8, "low_latency"),
    (2, 4, "own_stream"),
)
# --priority: sessions (and the copy) on a stream of the device's highest priority, so the decoder's
# post-processing kernels need not queue behind inference; then the same with the inference processes
# held to a share of the SMs by MPS
PRIORITY_VARIANTS = (
    (8, 1, "default"),
    (1, 8, "own_stream"),
    (1, 8, "high_priority"),
    (2, 4, "high_priority"),
    (8, 1, "high_priority"),
)


def measure(ctx, video, loaded, threads, per_thread, variant) -> None:
    """One layout over 8 processes; prints a JSON line."""
    barrier, out = ctx.Barrier(8), ctx.Queue()
    ps = [
        ctx.Process(target=worker, args=(video, threads, per_thread, 3.0, barrier, out, variant))
        for _ in range(8)
    ]
    for p in ps:
        p.start()
    row = {"gpu_load": loaded, "threads": threads, "sessions_per_thread": per_thread, "variant": variant}
    try:
        rows = [out.get(timeout=60) for _ in ps]
    except Exception as e:
        print(json.dumps({**row, "error": repr(e)}), flush=True)
        for p in ps:
            p.kill()
        return
    for p in ps:
        p.join(30)
    fr = sum(r["frames"] for r in rows)
    el = max(r["seconds"] for r in rows)
    per_frame = 1000 / max(fr, 1)
    print(
        json.dumps(
            {
                **row,
                "fps": round(fr / el),
                "cpu_ms": round(per_frame * sum(r["cpu"] for r in rows), 3),
                "decode_call_ms_per_frame": round(per_frame * sum(r["decode_s"] for r in rows), 3),
                "copy_sync_ms_per_frame": round(per_frame * sum(r["sync_s"] for r in rows), 3),
            }
        ),
        flush=True,
    )


if __name__ == "__main__":
    video = sys.argv[1]
    variants = "--variants" in sys.argv[2:]
    priority = "--priority" in sys.argv[2:]
    ctx = mp.get_context("spawn")
    passes = [(False, None), (True, None)]
    layouts = LAYOUTS
    if variants:
        passes, layouts = [(True, None)], VARIANTS
    if priority:
        passes, layouts = [(True, None), (True, 70)], PRIORITY_VARIANTS
    for loaded, sm_percent in passes:
        loaders = []
        if loaded:
            print(json.dumps({"load_processes": 4, "load_sm_percent": sm_percent or 100}), flush=True)
            stop_at = ctx.Value("d", time.time() + 600)
            loaders = [ctx.Process(target=load_main, args=(stop_at, sm_percent)) for _ in range(4)]
            for p in loaders:
                p.start()
            time.sleep(40)  # graphs captured, replaying
        for threads, per_thread, variant in layouts:
            measure(ctx, video, loaded, threads, per_thread, variant)
        if loaded:
            stop_at.value = 0
            for p in loaders:
                p.join(60)
