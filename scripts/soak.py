#!/usr/bin/env python3
"""Soak test (a script, not a CI test): N live RTSP cameras for M minutes, cameras added and
removed at runtime, memory / file descriptors / threads sampled all along.

    .venv/bin/python scripts/soak.py --streams 8 --minutes 10 --churn 100
    .venv/bin/python scripts/soak.py --streams 16 --minutes 10 --fps 5

The cameras are real RTSP streams from GStreamer's RTSP server on 127.0.0.1 (Debian packages:
scripts/system-deps.sh), serving the sample footage re-encoded to H.264 (384x288) and repeated to
last the whole run. `--churn K` adds a camera and removes it again K times, spread over the run,
through the pipeline's own API (`Pipeline.add_camera` / `Pipeline.remove_camera`), each with a new
id (churn0, churn1, ...), with cross-camera fusion on (an added camera is not in the site: fusion
takes it as a camera without topology links). Every `--sample-seconds` the process' resident
memory, open file descriptors and threads (Python and native) are written to <out>/soak.csv, and
once a minute to the log; <out>/soak.json holds the figures at the end of the warm-up and at the
end, the medians of every minute, the growth per hour fitted over the run after warm-up, the frame
accounting (per camera, and the totals of the removed cameras), and the verdict. `--tracemalloc`
also diffs Python heap snapshots taken after warm-up and at the end (top 15 growing lines in
soak.json; it slows the run). Exit code 0 when flat and every frame accounted, 1 when not.

"Flat" means: after warm-up, resident memory grows less than --max-rss-growth-mb, file descriptors
by at most --max-fd-growth and threads by at most --max-thread-growth between the first and the
last minute (medians of the samples, which rides out a reconnect or a batch in flight). Memory is
judged on `rss_trimmed_mb`, the RSS right after glibc's malloc_trim(0): cameras that come and go
(decoders, encoders, threads) leave freed C-heap pages that glibc keeps mapped, so the raw RSS
(`rss_mb`, reported too) climbs to a high-water mark that is not a leak; the trimmed RSS is the
memory actually in use.
"""

from __future__ import annotations

import argparse
import csv
import ctypes
import json
import logging
import math
import os
import random
import statistics
import sys
import threading
import time
import tracemalloc
from dataclasses import replace
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests" / "chaos"))

from chaoskit import RtspServer, free_port, rtsp_server_available  # noqa: E402
from rtspclips import VTEST, make_ts  # noqa: E402

from pyuniproc.config.cameras import CameraSpec, Site  # noqa: E402
from pyuniproc.config.module import load_module_config  # noqa: E402
from pyuniproc.runtime.pipeline import Pipeline, RunOptions  # noqa: E402

log = logging.getLogger("soak")
VTEST_FRAMES = 795


def proc_status() -> dict[str, int]:
    values = {}
    for line in Path("/proc/self/status").read_text().splitlines():
        key, _, rest = line.partition(":")
        if key in ("VmRSS", "Threads"):
            values[key] = int(rest.split()[0])
    return {"rss_mb": values["VmRSS"] // 1024, "native_threads": values["Threads"]}


def malloc_trim() -> None:
    """Give the C heap's free pages back to the OS (glibc), so that RSS shows memory in use."""
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except OSError:
        pass


def sample(pipeline: Pipeline, started: float) -> dict[str, float]:
    summary = pipeline.summary()
    cameras = summary["cameras"]
    raw = proc_status()
    malloc_trim()
    return {
        "t": round(time.monotonic() - started, 1),
        **raw,
        "rss_trimmed_mb": proc_status()["rss_mb"],
        "fds": len(os.listdir("/proc/self/fd")),
        "py_threads": threading.active_count(),
        "cameras": len(cameras),
        "live": sum(1 for c in cameras.values() if c["state"] == "live"),
        "frames_processed": summary["frames_processed"],
        "dropped": sum(c["dropped_total"] for c in cameras.values()),
        "e2e_p95_ms": summary["latency_ms"]["end_to_end"].get("p95", 0.0),
    }


def slope_per_hour(rows: list[dict], key: str) -> float:
    xs = [r["t"] for r in rows]
    ys = [r[key] for r in rows]
    if len(xs) < 3:
        return 0.0
    mx, my = statistics.fmean(xs), statistics.fmean(ys)
    den = sum((x - mx) ** 2 for x in xs)
    return 0.0 if den == 0 else sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / den * 3600


def median_of(rows: list[dict], key: str) -> float:
    return statistics.median(r[key] for r in rows) if rows else math.nan


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--streams", type=int, default=8)
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--churn", type=int, default=100, help="cameras added and removed again")
    parser.add_argument("--fps", type=int, default=10, help="frame rate of the served streams")
    parser.add_argument("--sample-seconds", type=float, default=5.0)
    parser.add_argument("--warmup-seconds", type=float, default=60.0)
    parser.add_argument("--out", type=Path, default=Path("/tmp/pyuniproc-soak"))
    parser.add_argument("--module", type=Path, default=REPO / "module" / "module.yml")
    parser.add_argument("--no-video", action="store_true", help="no annotated videos (less disk and CPU)")
    parser.add_argument("--no-fusion", action="store_true", help="no cross-camera fusion")
    parser.add_argument("--tracemalloc", action="store_true", help="diff Python heap snapshots (slower)")
    parser.add_argument("--max-rss-growth-mb", type=float, default=32.0)
    parser.add_argument("--max-fd-growth", type=int, default=4)
    parser.add_argument("--max-thread-growth", type=int, default=2)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    log.setLevel(logging.INFO)
    reason = rtsp_server_available()
    if reason:
        print(f"soak: {reason}", file=sys.stderr)
        return 2
    args.out.mkdir(parents=True, exist_ok=True)
    seconds = args.minutes * 60

    repeat = math.ceil((seconds + 120) * args.fps / VTEST_FRAMES)
    clip = make_ts(
        args.out / "clip.ts", [(VTEST_FRAMES, 384, 288)], fps=args.fps, repeat=repeat, source=VTEST
    )
    mounts = {f"s{i}": clip for i in range(args.streams)} | {"churn": clip}
    server = RtspServer(mounts).start()
    os.environ.setdefault("TELEMETRY_PORT", str(free_port()))
    module = load_module_config(args.module)
    module = replace(
        module, runtime=replace(module.runtime, summary_period_seconds=0.5, annotated_video=not args.no_video)
    )
    if args.no_fusion:
        module = replace(module, fusion=None)
    if args.tracemalloc:
        tracemalloc.start(10)
    log.info("overload policy: %s", module.runtime.overload)
    cameras = tuple(CameraSpec(f"cam{i}", server.url(f"s{i}", "soak:secret")) for i in range(args.streams))
    pipeline = Pipeline(
        module,
        Site("soak", cameras),
        RunOptions(out_dir=args.out / "run", progress=False, watch_module=False),
    )
    result: dict = {}
    runner = threading.Thread(target=lambda: result.update(pipeline.run()), name="soak-pipeline")
    started = time.monotonic()
    runner.start()

    stop = threading.Event()
    churn_log: list[dict] = []

    def churn() -> None:
        if args.churn <= 0:
            return
        window = max(seconds - args.warmup_seconds / 2 - 10, 1.0)
        period = window / args.churn
        stop.wait(args.warmup_seconds / 2)
        rng = random.Random(1)
        for k in range(args.churn):
            if stop.is_set():
                return
            camera_id = f"churn{k}"
            t0 = time.monotonic()
            try:
                pipeline.add_camera(CameraSpec(camera_id, server.url("churn", "soak:secret"))).result(
                    timeout=30
                )
                stop.wait(period * rng.uniform(0.4, 0.6))
                snapshot = pipeline.remove_camera(camera_id).result(timeout=30)
                churn_log.append(
                    {
                        "k": k,
                        "frames": snapshot["frames_received"],
                        "processed": snapshot["frames_processed"],
                        "unaccounted": snapshot["frames_received"]
                        - snapshot["frames_processed"]
                        - snapshot["dropped_total"],
                        "seconds": time.monotonic() - t0,
                    }
                )
            except Exception as exc:  # noqa: BLE001 (reported, the soak goes on)
                churn_log.append({"k": k, "error": repr(exc)})
            stop.wait(max(0.0, t0 + period - time.monotonic()))

    churner = threading.Thread(target=churn, name="soak-churn", daemon=True)
    churner.start()
    rows: list[dict] = []
    heap_after_warmup = None
    with (args.out / "soak.csv").open("w", newline="") as file:
        writer = None
        while time.monotonic() - started < seconds and runner.is_alive():
            row = sample(pipeline, started)
            rows.append(row)
            if args.tracemalloc and heap_after_warmup is None and row["t"] >= args.warmup_seconds:
                heap_after_warmup = tracemalloc.take_snapshot()
            if writer is None:
                writer = csv.DictWriter(file, fieldnames=list(row))
                writer.writeheader()
            writer.writerow(row)
            file.flush()
            if len(rows) % max(1, int(60 / args.sample_seconds)) == 0:
                log.info(
                    "t=%5.0fs rss=%d MB (trimmed %d) fds=%d threads=%d/%d cameras=%d live=%d frames=%d"
                    " dropped=%d p95=%.0f ms",
                    row["t"],
                    row["rss_mb"],
                    row["rss_trimmed_mb"],
                    row["fds"],
                    row["py_threads"],
                    row["native_threads"],
                    row["cameras"],
                    row["live"],
                    row["frames_processed"],
                    row["dropped"],
                    row["e2e_p95_ms"],
                )
            time.sleep(args.sample_seconds)
    heap_diff = None
    if heap_after_warmup is not None:
        end_heap = tracemalloc.take_snapshot()
        heap_diff = {
            "traced_mb_after_warmup": round(
                sum(s.size for s in heap_after_warmup.statistics("filename")) / 2**20, 2
            ),
            "traced_mb_end": round(sum(s.size for s in end_heap.statistics("filename")) / 2**20, 2),
            "top_growth": [str(stat) for stat in end_heap.compare_to(heap_after_warmup, "lineno")[:15]],
        }
    stop.set()
    churner.join(60)
    pipeline.stop()
    runner.join(120)
    server.close()

    after = [r for r in rows if r["t"] >= args.warmup_seconds]
    per_minute = max(1, int(60 / args.sample_seconds))
    first, last = after[:per_minute], after[-per_minute:]
    growth = {
        key: median_of(last, key) - median_of(first, key)
        for key in ("rss_mb", "rss_trimmed_mb", "fds", "py_threads", "native_threads")
    }
    accounting = {
        cid: {
            "received": c["frames_received"],
            "processed": c["frames_processed"],
            "dropped": c["dropped"],
            "unaccounted": c["frames_received"] - c["frames_processed"] - c["dropped_total"],
        }
        for cid, c in (result.get("cameras") or {}).items()
    }
    removed = result.get("removed_cameras") or {}
    if removed:
        accounting["removed cameras"] = {
            "cameras": removed["count"],
            "received": removed["frames_received"],
            "processed": removed["frames_processed"],
            "dropped": removed["dropped"],
            "unaccounted": removed["frames_received"]
            - removed["frames_processed"]
            - sum(removed["dropped"].values()),
        }
    accounted = all(c["unaccounted"] == 0 for c in accounting.values())
    minutes = {}
    for row in after:
        minutes.setdefault(int(row["t"] // 60), []).append(row)
    per_minute_medians = {
        minute: {k: median_of(rows_, k) for k in ("rss_mb", "rss_trimmed_mb", "fds", "native_threads")}
        for minute, rows_ in sorted(minutes.items())
    }
    flat = (
        growth["rss_trimmed_mb"] < args.max_rss_growth_mb
        and growth["fds"] <= args.max_fd_growth
        and max(growth["py_threads"], growth["native_threads"]) <= args.max_thread_growth
    )
    report = {
        "streams": args.streams,
        "minutes": args.minutes,
        "fps": args.fps,
        "churn_requested": args.churn,
        "churn_done": sum(1 for c in churn_log if "error" not in c),
        "churn_errors": [c for c in churn_log if "error" in c][:5],
        "start": rows[0] if rows else None,
        "after_warmup": {
            k: median_of(first, k)
            for k in ("rss_mb", "rss_trimmed_mb", "fds", "py_threads", "native_threads")
        },
        "end": {
            k: median_of(last, k) for k in ("rss_mb", "rss_trimmed_mb", "fds", "py_threads", "native_threads")
        },
        "growth": growth,
        "slope_per_hour": {
            k: round(slope_per_hour(after, k), 2)
            for k in ("rss_mb", "rss_trimmed_mb", "fds", "native_threads")
        },
        "per_minute": per_minute_medians,
        "peak_rss_mb": max((r["rss_mb"] for r in rows), default=None),
        "heap": heap_diff,
        "frames_processed": result.get("frames_processed"),
        "throughput_fps": result.get("throughput_fps"),
        "latency_ms": (result.get("latency_ms") or {}).get("end_to_end"),
        "status": result.get("status"),
        "overload": {k: v for k, v in (result.get("overload") or {}).items() if k != "cameras"}
        | {
            "predicted": sum(
                c["predicted"] for c in (result.get("overload") or {}).get("cameras", {}).values()
            ),
            "detected": sum(
                c["detected"] for c in (result.get("overload") or {}).get("cameras", {}).values()
            ),
        },
        "accounting": accounting,
        "accounted": accounted,
        "flat": flat,
    }
    (args.out / "soak.json").write_text(json.dumps(report, indent=1, default=str))
    print(
        json.dumps(
            {
                k: report[k]
                for k in (
                    "streams",
                    "minutes",
                    "churn_done",
                    "after_warmup",
                    "end",
                    "growth",
                    "slope_per_hour",
                    "peak_rss_mb",
                    "throughput_fps",
                    "accounted",
                    "flat",
                )
            },
            indent=1,
        )
    )
    return 0 if flat and accounted else 1


if __name__ == "__main__":
    sys.exit(main())
