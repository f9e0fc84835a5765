"""The product pipeline's live headline on a GPU machine: `pyuniproc run --backend gpu --decoder nvdec` on N
copies of one clip (looping, paced at `--fps` like live cameras, or as fast as possible), W worker
processes, the module's settings (ReID, fusion, overload policy), and what it costs the machine.

    python scripts/gpu_live_bench.py --clip vtest_1080p.h264 --fps 30 --out results.json \\
        --run realtime 32 8 40 --run loop 8 1 30 [--run MODE CAMERAS WORKERS SECONDS ...]

Each run writes a cameras file (`fps:` gives the raw clip its rate: a raw .h264 stream declares none),
starts `pyuniproc run` and, while it runs, samples `nvidia-smi` (memory, GPU and decoder busy), the host's
CPU use (/proc/stat) and the run's summary.json (rewritten every `summary_period_seconds`). A row holds the
whole run's figures from the final summary.json (frames received / processed / dropped by reason, the
overload policy's counters, latency percentiles over the last 4,096 frames) and a steady window that
leaves the start-up out: from `--warmup` seconds after the first processed frame to the last summary
written before the stop (frames and drops counted between the two snapshots; the worst end-to-end p95 of
the snapshots in the window). Runs on the GPU machine only; the host CPU figures are Linux's.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

MODES = ("realtime", "loop")
GPU_QUERY = "memory.used,utilization.gpu,utilization.decoder"


def cameras_file(path: Path, clip: Path, cameras: int, fps: float, realtime: bool) -> Path:
    lines = ["site: gpu-live", "cameras:"]
    for i in range(1, cameras + 1):
        lines.append(f"  - {{id: c{i}, uri: {json.dumps(str(clip.resolve()))}, fps: {fps:g}, loop: true, "
                     f"realtime: {'true' if realtime else 'false'}}}")
    path.write_text("\n".join(lines) + "\n")
    return path


class Sampler:
    """nvidia-smi, /proc/stat and summary.json, sampled every `period` seconds while a run lasts."""

    def __init__(self, summary: Path, period: float = 1.0) -> None:
        self.summary, self.period = summary, period
        self.gpu: list[tuple[float, float, float, float]] = []  # t, memory MiB, GPU %, decoder %
        self.cpu: list[tuple[float, float]] = []  # t, host CPU busy share (0..1) since the last sample
        self.snapshots: list[tuple[float, dict[str, Any]]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self.started = time.monotonic()

    def __enter__(self) -> Sampler:
        self._thread.start()
        return self

    def __exit__(self, *_: Any) -> None:
        self._stop.set()
        self._thread.join()

    def _loop(self) -> None:
        last = _cpu_times()
        while not self._stop.wait(self.period):
            t = time.monotonic() - self.started
            now = _cpu_times()
            busy, total = now[0] - last[0], now[1] - last[1]
            last = now
            self.cpu.append((t, busy / total if total else 0.0))
            try:
                query = ["nvidia-smi", f"--query-gpu={GPU_QUERY}", "--format=csv,noheader,nounits"]
                out = subprocess.run(query, capture_output=True, text=True, timeout=5).stdout.splitlines()[0]
                self.gpu.append((t, *(float(v) for v in out.split(","))))
            except (OSError, subprocess.SubprocessError, IndexError, ValueError):
                pass
            try:
                self.snapshots.append((t, json.loads(self.summary.read_text())))
            except (OSError, ValueError):
                pass  # not written yet, or caught mid-write


def _cpu_times() -> tuple[float, float]:
    """(busy, total) jiffies of all CPUs since boot."""
    fields = [float(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + fields[4]
    return sum(fields) - idle, sum(fields)


def counts(summary: dict[str, Any]) -> dict[str, Any]:
    cameras = summary.get("cameras") or {}
    dropped: dict[str, int] = {}
    for camera in cameras.values():
        for reason, n in (camera.get("dropped") or {}).items():
            dropped[reason] = dropped.get(reason, 0) + int(n)
    loads = ((summary.get("overload") or {}).get("cameras") or {}).values()
    return {"received": sum(int(c.get("frames_received", 0)) for c in cameras.values()),
            "processed": sum(int(c.get("frames_processed", 0)) for c in cameras.values()),
            "dropped": dropped, "predicted": sum(int(c.get("predicted", 0)) for c in loads),
            "detected": sum(int(c.get("detected", 0)) for c in loads)}


def row_of(mode: str, cameras: int, workers: int, seconds: float, fps: float, summary: dict[str, Any],
           sampler: Sampler, cpu_seconds: float, wall: float, warmup: float) -> dict[str, Any]:
    total = counts(summary)
    latency = summary.get("latency_ms") or {}
    e2e = latency.get("end_to_end") or {}
    row: dict[str, Any] = {
        "mode": mode, "cameras": cameras, "workers": workers, "max_seconds": seconds,
        "camera_fps": fps if mode == "realtime" else None, "status": summary.get("status"),
        "workers_state": sorted({g["state"] for g in summary.get("workers") or []}),
        "elapsed_s": summary.get("elapsed_seconds"), "wall_s": round(wall, 1),
        "frames_received": total["received"], "frames_processed": total["processed"],
        "dropped": total["dropped"], "overload_predicted": total["predicted"],
        "dropped_pct": round(100 * sum(total["dropped"].values()) / max(total["received"], 1), 2),
        "throughput_fps": summary.get("throughput_fps"),
        "e2e_ms_last4096": {k: e2e.get(k) for k in ("p50", "p95", "max", "mean")},
        "stage_p50_ms": {k: (latency.get(k) or {}).get("p50") for k in
                         ("decode_wait", "preprocess", "infer", "track", "embed", "fusion", "output")},
        "run_cpu_s": round(cpu_seconds, 1),
        "run_cpu_cores": round(cpu_seconds / wall, 2) if wall else None,
    }
    firsts = [t for t, s in sampler.snapshots if s.get("frames_processed", 0) > 0]
    steady = [(t, s) for t, s in sampler.snapshots
              if firsts and t >= firsts[0] + warmup and s.get("status") == "running"]
    if len(steady) >= 2:
        (t0, a), (t1, b) = steady[0], steady[-1]
        ca, cb = counts(a), counts(b)
        received = cb["received"] - ca["received"]
        dropped = {r: cb["dropped"].get(r, 0) - ca["dropped"].get(r, 0) for r in cb["dropped"]}
        p95s = [((s.get("latency_ms") or {}).get("end_to_end") or {}).get("p95") or 0.0 for _, s in steady]
        p50s = [((s.get("latency_ms") or {}).get("end_to_end") or {}).get("p50") or 0.0 for _, s in steady]
        span = b["elapsed_seconds"] - a["elapsed_seconds"]
        row["steady"] = {
            "seconds": round(span, 1), "received": received,
            "processed": cb["processed"] - ca["processed"],
            "dropped": {r: n for r, n in dropped.items() if n},
            "dropped_pct": round(100 * sum(dropped.values()) / max(received, 1), 2),
            "predicted": cb["predicted"] - ca["predicted"],
            "processed_fps": round((cb["processed"] - ca["processed"]) / span, 1) if span > 0 else None,
            "e2e_p50_ms_median": round(sorted(p50s)[len(p50s) // 2], 1),
            "e2e_p95_ms_worst": round(max(p95s), 1),
            "e2e_p95_ms_median": round(sorted(p95s)[len(p95s) // 2], 1),
            "host_cpu_busy_pct": _mean([c for t, c in sampler.cpu if t0 <= t <= t1], 100),
            "gpu_busy_pct": _mean([g[2] for g in sampler.gpu if t0 <= g[0] <= t1]),
            "nvdec_busy_pct": _mean([g[3] for g in sampler.gpu if t0 <= g[0] <= t1]),
        }
    row["gpu_memory_max_mib"] = max((g[1] for g in sampler.gpu), default=None)
    if row["gpu_memory_max_mib"] is not None and cameras:
        row["gpu_memory_per_camera_mib"] = round(row["gpu_memory_max_mib"] / cameras, 1)
    last = sampler.snapshots[-1][1] if sampler.snapshots else {}
    # torch's own figures per process (graph pools, caches); nvidia-smi adds contexts and NVDEC surfaces
    row["torch_memory_mib"] = [w.get("gpu_memory_mib") for w in last.get("workers") or []] or \
        [last.get("gpu_memory_mib")]
    return row


def _mean(values: list[float], scale: float = 1.0) -> float | None:
    return round(scale * sum(values) / len(values), 1) if values else None


def run_one(args: argparse.Namespace, mode: str, cameras: int, workers: int,
            seconds: float) -> dict[str, Any]:
    name = f"{mode}-n{cameras}-w{workers}{args.tag}"
    folder = Path(args.work) / name
    folder.mkdir(parents=True, exist_ok=True)
    cams = cameras_file(folder / "cameras.yml", Path(args.clip), cameras, args.fps, mode == "realtime")
    out = folder / "out"
    command = [sys.executable, "-m", "pyuniproc", "run", "--cameras", str(cams), "--out", str(out),
               "--backend", args.backend, "--decoder", args.decoder, "--workers", str(workers), "--loop",
               "--max-seconds", str(seconds), "--no-progress"]
    command += ["--realtime"] if mode == "realtime" else []
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.monotonic()
    with Sampler(out / "summary.json") as sampler, (folder / "log.txt").open("w") as log:
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        try:
            code = process.wait(timeout=seconds + args.grace)
        except subprocess.TimeoutExpired:  # the run and its workers: one process group
            os.killpg(process.pid, signal.SIGKILL)
            code = process.wait()
    wall = time.monotonic() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    try:
        summary = json.loads((out / "summary.json").read_text())
    except (OSError, ValueError):
        summary = {"status": f"no summary (exit {code})"}
    row = row_of(mode, cameras, workers, seconds, args.fps, summary, sampler, cpu, wall, args.warmup)
    row.update(name=name, exit_code=code, tag=args.tag.strip("-") or None)
    if code != 0:
        row["log_tail"] = (folder / "log.txt").read_text()[-600:]
    return row


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clip", required=True, help="the video every camera loops (a raw .h264 for NVDEC)")
    parser.add_argument("--fps", type=float, default=30.0, help="each camera's rate (cameras file `fps`)")
    parser.add_argument("--out", required=True, help="results JSON (rows appended to it if it exists)")
    parser.add_argument("--work", default="/tmp/gpu_live", help="run folders (outputs, logs)")
    parser.add_argument("--decoder", default="nvdec")
    parser.add_argument("--backend", default="gpu", help="cpu: a dry run of this script on a CPU machine")
    parser.add_argument("--warmup", type=float, default=8.0,
                        help="seconds after the first processed frame left out of the steady window")
    parser.add_argument("--grace", type=float, default=45.0,
                        help="seconds past SECONDS before a run that has not ended is killed")
    parser.add_argument("--tag", default="", help="appended to each run's name (e.g. -mps)")
    parser.add_argument("--run", nargs=4, action="append", required=True,
                        metavar=("MODE", "CAMERAS", "WORKERS", "SECONDS"))
    args = parser.parse_args(argv)
    args.tag = f"-{args.tag}" if args.tag else ""
    out = Path(args.out)
    rows = json.loads(out.read_text())["rows"] if out.exists() else []
    for mode, cameras, workers, seconds in args.run:
        if mode not in MODES:
            parser.error(f"MODE must be one of {MODES}, got {mode!r}")
        row = run_one(args, mode, int(cameras), int(workers), float(seconds))
        rows.append(row)
        out.write_text(json.dumps({"device": device(), "rows": rows}, indent=1))
        steady = row.get("steady") or {}
        print(f"{row['name']}: {row['status']} exit {row['exit_code']}; processed {row['frames_processed']} "
              f"of {row['frames_received']} ({row['throughput_fps']} fps), dropped {row['dropped_pct']}% "
              f"{row['dropped']}, predicted {row['overload_predicted']}; e2e {row['e2e_ms_last4096']}; "
              f"steady {json.dumps(steady)}; gpu mem {row['gpu_memory_max_mib']} MiB; cpu "
              f"{row['run_cpu_cores']} cores", flush=True)
    return 0


def device() -> dict[str, Any]:
    try:
        query = ["nvidia-smi", "--query-gpu=name,driver_version,memory.total", "--format=csv,noheader"]
        smi = subprocess.run(query, capture_output=True, text=True, timeout=10).stdout.strip()
    except OSError:
        smi = None
    return {"gpu": smi, "cpus": os.cpu_count(), "python": sys.version.split()[0]}


if __name__ == "__main__":
    sys.exit(main())
