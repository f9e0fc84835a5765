"""Decode only with the native NVDEC loop (pyuniproc/gpu/native_nvdec.py): P processes x S sessions on
T C threads each, frames given back as soon as they arrive. Prints one JSON line per configuration: frames/s,
decoder-thread CPU per frame and where the threads' time went (the loop's counters).

    python benchmarks/gpu/session5/probe_native.py --video clip.mp4 --configs 8x8x1x1,8x12x2x1,...
configs: PROCESSESxSESSIONSxTHREADSxLOOKAHEAD[xPOLL], comma-separated (POLL 1: map finished pictures
only, the default; 0: map at once and wait)."""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import threading
import time


def worker(
    video: str, sessions: int, threads: int, lookahead: int, poll: int, start: float, seconds: float, out
) -> None:
    from pyuniproc.gpu.cuda_flags import prefer_blocking_sync

    prefer_blocking_sync()
    import torch

    from pyuniproc.gpu.native_nvdec import NativeNvdecGroup, annexb_for

    data, codec = annexb_for(video)
    pool = torch.empty((64, 1080 * 3 // 2, 1920), dtype=torch.uint8, device="cuda")
    group = NativeNvdecGroup([data] * sessions, pool, threads=threads, codec=codec, lookahead=lookahead,
                             poll=bool(poll))
    stop = threading.Event()

    def drain() -> None:
        while not stop.is_set():
            rows = group.wait_ready(64, 0.1, 0.0)
            if len(rows):
                group.release(rows["slot"])

    group.start()
    drainer = threading.Thread(target=drain, daemon=True)
    drainer.start()
    time.sleep(max(0.0, start - time.perf_counter()))
    decoded0, cpu0, stats0 = int(group.status()[0].sum()), group.cpu_seconds(), group.stats()
    time.sleep(max(0.0, start + seconds - time.perf_counter()))
    decoded1, failed, _ = group.status()
    cpu1, stats1 = group.cpu_seconds(), group.stats()
    stop.set()
    drainer.join()
    group.stop()
    group.close()
    out.put({"decoded": int(decoded1.sum()) - decoded0, "cpu": cpu1 - cpu0, "failed": failed,
             "stats": {k: stats1[k] - stats0[k] for k in stats1}})


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--video", required=True)
    parser.add_argument("--configs", default="8x8x1x1,8x12x1x1,8x12x2x1,8x12x2x2,8x8x2x2,1x12x1x1")
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--warmup", type=float, default=2.0)
    args = parser.parse_args()
    context = mp.get_context("spawn")
    for config in args.configs.split(","):
        fields = [int(x) for x in config.split("x")]
        processes, sessions, threads, lookahead = fields[:4]
        poll = fields[4] if len(fields) > 4 else 1
        out = context.Queue()
        start = time.perf_counter() + args.warmup + 4.0  # spawn + CUDA start-up
        procs = [context.Process(target=worker, args=(args.video, sessions, threads, lookahead, poll, start,
                                                     args.seconds, out)) for _ in range(processes)]
        for p in procs:
            p.start()
        results = [out.get(timeout=120) for _ in procs]
        for p in procs:
            p.join(timeout=30)
        frames = sum(r["decoded"] for r in results)
        stats = {k: round(sum(r["stats"][k] for r in results), 3) for k in results[0]["stats"]}
        print(json.dumps({
            "config": config, "processes": processes, "sessions_per_process": sessions, "threads": threads,
            "lookahead": lookahead, "poll": poll, "fps": round(frames / args.seconds, 1),
            "cpu_ms_per_frame": round(1000 * sum(r["cpu"] for r in results) / max(frames, 1), 3),
            "failed": [r["failed"] for r in results if r["failed"]], "stats": stats,
        }), flush=True)


if __name__ == "__main__":
    main()
