"""Choose the GPU pipeline's layout: processes x inference workers x batch, and what each lever is worth.

Runs on the GPU machine (see benchmarks/gpu/README.md for how it is carried there). For one detector and
one stream count it builds a `ShardPool` per (processes, workers) layout and measures the pipeline as fast
as possible with the bench's own `measure_pipeline`, plus the decode-only ceiling in both layouts, and
prints one JSON line per measurement; `--out` collects them in a JSON file. The chosen defaults of
`pyuniproc bench-gpu` (processes, streams per process, workers) come from this.

    python scripts/bench_gpu_tuning.py --video .gpu-carry/vtest_1080p.mp4 --out $OUT/tuning.json \
        --layouts 8x1,4x1,8x2 --streams 64
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from pyuniproc.bench import gpu as bench  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    bench.add_arguments(parser)
    parser.add_argument(
        "--layouts", default="8x1,4x1", help="processes x workers per process, comma-separated"
    )
    parser.add_argument(
        "--cases",
        default="scheduled/64/96/64,all/64/96/64,off/64/96/64,scheduled/64/128/64,scheduled/64/96/96",
        help="ReID mode/batch/pool frames/streams on the first layout (the first case on the others)",
    )
    parser.add_argument("--all-cases", action="store_true", help="every case on every layout")
    args = parser.parse_args(argv)
    import torch

    from pyuniproc.gpu.shards import ShardPool
    from pyuniproc.gpu.stats import GpuSampler

    detector = args.detectors.split(",")[0]
    count = int(args.cases.split(",")[0].split("/")[3])
    settings = bench.module_settings(args.module)
    frame_shape = bench.frame_shape_of(args.video, args.decoder)
    sampler = GpuSampler([0])
    results: dict = {"environment": bench.environment(sampler), "detector": detector, "rows": []}

    def emit(row: dict) -> None:
        results["rows"].append(row)
        print("tuning:", json.dumps(row, default=float), flush=True)

    for index, layout in enumerate(args.layouts.split(",")):
        processes, workers = (int(v) for v in layout.split("x"))
        args.workers, args.processes = workers, processes
        spec = bench.shard_spec(detector, args, frame_shape, settings)
        started = time.perf_counter()
        pool = ShardPool(spec, processes, gpus=[0])
        build = {"layout": layout, "build_seconds": time.perf_counter() - started, "workers": pool.info}
        build["reserved_mib_total"] = sum(w["reserved_mib"] or 0 for w in pool.info.values())
        emit({"kind": "build", **build})
        try:
            cases = [case.split("/") for case in args.cases.split(",")]
            if index == 0 and args.ceiling_sharded:
                for streams in sorted({int(c[3]) for c in cases}):
                    row = bench.measure_decode_sharded(
                        pool,
                        args.video,
                        streams,
                        processes,
                        backend=args.decoder,
                        seconds=args.seconds,
                        warmup=args.warmup,
                    )
                    emit({"kind": "ceiling_sharded", **row})
            for reid, batch, pool_frames, streams in cases if index == 0 or args.all_cases else cases[:1]:
                options = bench.pipeline_options(
                    args, 0.0, reid=reid, batch_size=int(batch), pool_frames=int(pool_frames)
                )
                row = bench.measure_pipeline(
                    pool,
                    args.video,
                    int(streams),
                    processes=processes,
                    options=options,
                    backend=args.decoder,
                    seconds=args.seconds,
                    warmup=args.warmup,
                    sampler=sampler,
                )
                emit(
                    {
                        "kind": "pipeline",
                        "layout": layout,
                        "batch": int(batch),
                        "pool": int(pool_frames),
                        **row,
                    }
                )
        finally:
            pool.close()
        torch.cuda.empty_cache()
    if args.ceiling_threads:
        row = bench.measure_decode_ceiling(
            args.video, count, backend=args.decoder, seconds=args.seconds, warmup=args.warmup
        )
        emit({"kind": "ceiling_threads", **row})
    results["settings"] = {k: str(v) for k, v in vars(args).items()}
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(results, indent=1, default=float) + "\n")
    for row in results["rows"]:
        if row["kind"] == "pipeline":
            e2e = row["latency_ms"]["end_to_end"]
            print(
                f"{row['layout']:>5} b{row['batch']:<3} pool{row['pool']:<4} {row['reid_mode']:<9} "
                f"{row['streams']:>3} streams: "
                f"{row['fps_total']:7.0f} fps  p50/p95 {e2e['p50'] or 0:6.1f}/{e2e['p95'] or 0:6.1f} ms  "
                f"batch {row['batch_size_mean'] or 0:5.1f}  crops/frame {row['crops_per_frame']:.2f}  "
                f"GPU {row.get('gpu_util_pct') or 0:3.0f}%  NVDEC {row.get('nvdec_util_pct') or 0:3.0f}%  "
                f"mem {row.get('gpu_memory_mib') or 0:6.0f} MiB  cpu {row.get('cpu_cores_used', 0):4.1f}  "
                f"cpu ms/frame decode {row['cpu_ms_per_frame']['decode']:.2f} "
                f"infer {row['cpu_ms_per_frame']['inference']:.2f}"
            )
        elif row["kind"].startswith("ceiling"):
            print(f"{row['kind']:>16} {row['streams']:>3} streams: {row['decode_fps']:7.0f} fps")
        else:
            print(
                f"build {row['layout']}: {row['build_seconds']:.0f} s, "
                f"reserved {row['reserved_mib_total']:.0f} MiB"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
