"""GPU-side capacity of one BatchEngine (no decoding): detect graph replays on resident NV12 frames, then
the bare detector net eager / captured / torch.compile'd, to see whether GPU compute bounds the pipeline.

Run on the GPU machine from the repository root (MPS daemon started):
    python3 benchmarks/gpu/session3/probe_engine.py
"""

import json
import multiprocessing as mp
import os
import sys
import time

sys.path.insert(0, os.getcwd())


def engine_rate(proc, seconds, out, barrier):
    from pyuniproc.gpu.cuda_flags import prefer_blocking_sync

    prefer_blocking_sync()
    import torch

    from pyuniproc.gpu.detector import GpuDetector, GpuEmbedder
    from pyuniproc.gpu.engine import BatchEngine

    det = GpuDetector(
        "ssdlite_pedestrian", model_dir="module/models/person_detector", confidence_threshold=0.4
    )
    emb = GpuEmbedder("mobilenetv2_imagenet", model_dir="module/models/person_reid")
    eng = BatchEngine(det, emb, (1620, 1920))
    eng.frames.copy_(torch.randint(0, 255, eng.frames.shape, dtype=torch.uint8, device="cuda"))
    stream = torch.cuda.Stream()
    res = {}
    with torch.cuda.stream(stream):
        for n in (64, 32):
            for _ in range(3):
                eng.detect_frames(n)
            barrier.wait()
            t = time.perf_counter()
            k = 0
            while time.perf_counter() - t < seconds:
                eng.detect_frames(n)
                k += 1
            res[n] = k * n / (time.perf_counter() - t)
    out.put((proc, res))


def net_variants():
    import torch

    from pyuniproc.gpu.detector import GpuDetector

    det = GpuDetector("ssdlite_pedestrian", model_dir="module/models/person_detector", cuda_graphs=False)
    m = det.net.module
    x = torch.randn(64, 3, 300, 300, device="cuda").half().contiguous(memory_format=torch.channels_last)

    def rate(fn, iters=50):
        for _ in range(5):
            fn()
        torch.cuda.synchronize()
        t = time.perf_counter()
        for _ in range(iters):
            fn()
        torch.cuda.synchronize()
        return iters * 64 / (time.perf_counter() - t)

    with torch.no_grad():
        print(json.dumps({"net": "eager", "fps": round(rate(lambda: m(x)))}), flush=True)
        g = torch.cuda.CUDAGraph()
        s = torch.cuda.Stream()
        s.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(s):
            for _ in range(2):
                m(x)
        torch.cuda.current_stream().wait_stream(s)
        with torch.cuda.graph(g):
            m(x)
        print(json.dumps({"net": "cuda graph", "fps": round(rate(g.replay))}), flush=True)
        try:
            import triton  # noqa

            c = torch.compile(m)
            t0 = time.perf_counter()
            c(x)
            print(json.dumps({"compile_s": round(time.perf_counter() - t0, 1)}), flush=True)
            print(json.dumps({"net": "compiled", "fps": round(rate(lambda: c(x)))}), flush=True)
            g2 = torch.cuda.CUDAGraph()
            with torch.cuda.stream(s):
                for _ in range(2):
                    c(x)
            torch.cuda.current_stream().wait_stream(s)
            with torch.cuda.graph(g2):
                c(x)
            print(json.dumps({"net": "compiled + cuda graph", "fps": round(rate(g2.replay))}), flush=True)
        except Exception as e:
            print(json.dumps({"compile_error": repr(e)[:500]}), flush=True)


if __name__ == "__main__":
    ctx = mp.get_context("spawn")
    for procs in (1, 4, 8):
        out, barrier = ctx.Queue(), ctx.Barrier(procs)
        ps = [ctx.Process(target=engine_rate, args=(i, 3.0, out, barrier)) for i in range(procs)]
        for p in ps:
            p.start()
        rows = [out.get(timeout=300) for _ in ps]
        for p in ps:
            p.join(60)
        total = {n: round(sum(r[n] for _, r in rows)) for n in (64, 32)}
        print(json.dumps({"engine_detect_processes": procs, "fps_by_batch": total}), flush=True)
    p = ctx.Process(target=net_variants)
    p.start()
    p.join(600)
