#!/usr/bin/env python3
"""Speed and exactness of the detector's TF-legacy bilinear resize: our two numpy kernels against the
OpenCV `warpAffine` path the detectors used before (float32 and uint8), per frame on one core.

For each input size: best and median CPU ms per frame over `--repeats` calls (the process's CPU time,
which other jobs on a shared machine disturb far less than wall time; everything here runs on one
thread), and the largest difference to the exact reference (`resize_bilinear_legacy`). "batch" is the
whole `to_nchw_batch` (resize + scale and bias into the NCHW net input) per frame.

    .venv/bin/python scripts/probe_resize.py [--repeats 300] [--json out/probe_resize.json]

Run it with OPENCV_CPU_DISABLE=AVX2,FMA3,AVX (or on another CPU) to see the OpenCV rows' results move
while the numpy ones stay put.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np

from pyuniproc.bench.machine import machine_info
from pyuniproc.detect.preprocess import resize_bilinear_legacy, resize_legacy_fast, to_nchw_batch

CASES = ((576, 768, 300), (576, 768, 416), (1080, 1920, 300), (360, 640, 416))
"""(input height, input width, net input size): vtest into SSDLite / NanoDet, 1080p, a 640x360 camera."""


def opencv_legacy(image: np.ndarray, size: int, *, whole_levels: bool) -> np.ndarray:
    """The previous fast path: warpAffine with the inverse map x_src = x_dst * in/out (legacy sampling)."""
    in_h, in_w = image.shape[:2]
    inverse_map = np.array([[in_w / size, 0.0, 0.0], [0.0, in_h / size, 0.0]])
    return cv2.warpAffine(
        image if whole_levels else image.astype(np.float32),
        inverse_map,
        (size, size),
        flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
        borderMode=cv2.BORDER_REPLICATE,
    )


def time_call(call: Callable[[], object], repeats: int) -> tuple[float, float]:
    """(best, median) CPU milliseconds of `repeats` calls."""
    seconds = []
    for _ in range(repeats):
        started = time.process_time()
        call()
        seconds.append(time.process_time() - started)
    return min(seconds) * 1e3, statistics.median(seconds) * 1e3


def probe(repeats: int) -> list[dict]:
    rows = []
    rng = np.random.default_rng(0)
    for in_h, in_w, size in CASES:
        image = rng.integers(0, 256, size=(in_h, in_w, 3), dtype=np.uint8)
        exact = resize_bilinear_legacy(image, size, size)
        kernels: dict[str, Callable[[], np.ndarray]] = {
            "numpy reference": lambda image=image, size=size: resize_bilinear_legacy(image, size, size),
            "numpy separable (used)": lambda image=image, size=size: resize_legacy_fast(image, size, size),
            "OpenCV warpAffine float32 (old)": lambda image=image, size=size: opencv_legacy(
                image, size, whole_levels=False
            ),
            "OpenCV warpAffine uint8 (old, int8)": lambda image=image, size=size: opencv_legacy(
                image, size, whole_levels=True
            ),
        }
        for name, kernel in kernels.items():
            diff = float(np.abs(kernel().astype(np.float32) - exact).max())
            best, median = time_call(kernel, repeats)
            rows.append({"input": f"{in_w}x{in_h}", "size": size, "kernel": name, "best_ms": round(best, 3),
                         "median_ms": round(median, 3), "max_abs_diff": diff})
        best, median = time_call(lambda image=image, size=size: to_nchw_batch([image], size, 1 / 127.5, -1.0),
                                 repeats)
        rows.append({"input": f"{in_w}x{in_h}", "size": size, "kernel": "batch: to_nchw_batch (used)",
                     "best_ms": round(best, 3), "median_ms": round(median, 3), "max_abs_diff": 0.0})
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=300)
    parser.add_argument("--json", type=Path, help="also write the rows and the machine here")
    args = parser.parse_args()
    cv2.setNumThreads(1)  # one core, as in a detector worker
    rows = probe(args.repeats)
    print(f"{'input':>10} {'size':>4}  {'kernel':38} {'best CPU ms':>11} {'median':>7} {'max |diff|':>10}")
    for row in rows:
        print(f"{row['input']:>10} {row['size']:>4}  {row['kernel']:38} {row['best_ms']:11.3f} "
              f"{row['median_ms']:7.3f} {row['max_abs_diff']:10.2e}")
    if args.json:
        machine = {**machine_info(), "load_average": os.getloadavg(),
                   "opencv_cpu_disable": os.environ.get("OPENCV_CPU_DISABLE", "")}
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({"machine": machine, "rows": rows}, indent=1) + "\n")


if __name__ == "__main__":
    main()
