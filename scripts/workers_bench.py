"""Frames/s and CPU time of one `pyuniproc run` pipeline with its cameras in 1 or N worker processes.

    nice -n 5 .venv/bin/python scripts/workers_bench.py --cameras 4 --frames 150 --workers 1 2

Each camera is a copy of samples/vtest/vtest.avi (started 10 s apart), read as fast as possible; the
module is module/module.yml with `--detector` (default ssdlite) and annotated video as `--video` says.
Prints one JSON line per run: wall seconds (process start to summary, worker start-up included), the
summary's throughput, and the CPU seconds of this process and its (joined) worker processes.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import tempfile
import time
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def cpu_seconds() -> float:
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cameras", type=int, default=4)
    parser.add_argument("--frames", type=int, default=150, help="per camera")
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--detector", default="ssdlite")
    parser.add_argument("--video", action="store_true", help="annotated video on (pictures cross processes)")
    args = parser.parse_args()
    os.environ["DETECTOR"] = args.detector
    from pyuniproc.config.cameras import CameraSpec, Site
    from pyuniproc.config.module import load_module_config
    from pyuniproc.runtime.pipeline import Pipeline, RunOptions

    module = load_module_config(ROOT / "module" / "module.yml")
    metrics = replace(module.runtime.telemetry.metrics, enabled=False)  # no port shared with other runs
    telemetry = replace(module.runtime.telemetry, metrics=metrics)
    module = replace(module, runtime=replace(module.runtime, annotated_video=args.video, telemetry=telemetry))
    video = ROOT / "samples" / "vtest" / "vtest.avi"
    site = Site(name="bench", cameras=tuple(CameraSpec(id=f"c{i}", uri=str(video), start_seconds=10 * i)
                                            for i in range(args.cameras)))
    for workers in args.workers:
        with tempfile.TemporaryDirectory() as out:
            wall, cpu = time.monotonic(), cpu_seconds()
            options = RunOptions(out_dir=Path(out), progress=False, watch_module=False,
                                 max_frames=args.frames, workers=workers)
            summary = Pipeline(module, site, options).run()
            wall, cpu = time.monotonic() - wall, cpu_seconds() - cpu
        frames = summary["frames_processed"]
        print(json.dumps({"workers": workers, "cameras": args.cameras, "frames": frames,
                          "wall_s": round(wall, 1), "frames_per_s": round(frames / wall, 1),
                          "summary_fps": summary["throughput_fps"], "cpu_s": round(cpu, 1),
                          "cpu_ms_per_frame": round(1000 * cpu / max(frames, 1), 1),
                          "load_avg_1m": os.getloadavg()[0], "video": args.video}), flush=True)


if __name__ == "__main__":
    main()
