"""Host CPU per frame of tracking, before and after the array-state ByteTrack, side by side in one run.

"before" is ByteTrack as it was at commit f67fb98 (`tests/track/reference_bytetrack.py`, frozen),
"after" is `pyuniproc.track.ByteTrack`. Both replay the same detections: synthetic 1080p cameras shaped
like the GPU benchmark's stream (vtest upscaled: ~4-5 people walking, box jitter, missed and partial
detections, false positives, scores above the GPU detector's 0.4 threshold), frames interleaved over the
cameras as a worker process's batches deliver them. Tracker thresholds and the ReID gate/schedule come
from the module YAML, as `pyuniproc bench-gpu` reads them.

Two timings per implementation, each the median over `--rounds` alternating rounds (before, after,
before, ...), so machine load hits both alike:

- tracker: `ByteTrack.update` alone;
- stage: `pyuniproc.gpu.tracking.TrackingStage.update` (tracker + quality gate + embed schedule), what a
  GPU worker's inference thread runs per frame.

Outputs are compared frame by frame (boxes, ids, scores, chosen rows): the run fails if they differ.

    python benchmarks/track/bench_tracker.py [--cameras 8 --frames 300 --rounds 5 --profile after]
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests" / "track"))

from reference_bytetrack import ReferenceByteTrack  # noqa: E402

from pyuniproc.bench.gpu import module_settings  # noqa: E402
from pyuniproc.gpu.tracking import TrackingStage  # noqa: E402
from pyuniproc.track import available_trackers, register_tracker  # noqa: E402
from pyuniproc.types import Detections  # noqa: E402

FRAME = (1080, 1920)
REFERENCE = "bytetrack_f67fb98"


def make_camera(seed: int, frames: int, people: int = 5, min_score: float = 0.4) -> list[Detections]:
    """One camera's detections per frame: `people` walkers 150-350 px tall crossing a 1080p frame."""
    rng = np.random.default_rng(seed)
    height = rng.uniform(150, 350, people)
    width = height * rng.uniform(0.35, 0.5, people)
    x = rng.uniform(0, FRAME[1], people)
    y = rng.uniform(300, FRAME[0] - 200, people)
    vx = rng.choice([-1, 1], people) * rng.uniform(2, 8, people)
    vy = rng.normal(0, 1.0, people)
    hidden = np.zeros((people, frames), np.int8)  # 1 partly (low score), 2 fully (no box)
    for p in range(people):
        for _ in range(rng.integers(0, 4)):
            start, length = rng.integers(0, frames), rng.integers(3, 25)
            hidden[p, start : start + length] = rng.integers(1, 3)
    out = []
    for f in range(frames):
        vx += rng.normal(0, 0.2, people)
        x += vx
        y += vy
        vx = np.where((x < 0) | (x > FRAME[1]), -vx, vx)
        vy = np.where((y < 200) | (y > FRAME[0] - 100), -vy, vy)
        boxes, scores = [], []
        for p in range(people):
            if hidden[p, f] == 2 or rng.random() < 0.05:
                continue
            box = np.array(
                [x[p] - width[p] / 2, y[p] - height[p] / 2, x[p] + width[p] / 2, y[p] + height[p] / 2]
            )
            boxes.append(box + rng.normal(0, 0.04 * width[p], 4))
            scores.append(rng.uniform(0.2, 0.6) if hidden[p, f] == 1 else rng.uniform(0.6, 0.97))
        for _ in range(rng.poisson(0.4)):
            cx, cy, h = rng.uniform(0, FRAME[1]), rng.uniform(200, 900), rng.uniform(80, 300)
            boxes.append(np.array([cx - 0.2 * h, cy - h / 2, cx + 0.2 * h, cy + h / 2]))
            scores.append(rng.uniform(0.2, 0.8))
        keep = [i for i, s in enumerate(scores) if s >= min_score]
        n = len(keep)
        out.append(
            Detections(
                xyxy=np.array([boxes[i] for i in keep], np.float32).reshape(n, 4),
                confidence=np.array([scores[i] for i in keep], np.float32),
                class_id=np.zeros(n, np.int32),
            )
        )
    return out


def replay_order(cameras: int, frames: int, block: int) -> list[tuple[int, int]]:
    """(camera, frame) in the order a worker tracks them: batches of `block` frames per camera."""
    order = []
    for start in range(0, frames, block):
        for camera in range(cameras):
            order.extend((camera, f) for f in range(start, min(frames, start + block)))
    return order


def run_tracker(kind: str, options: dict, scenes, order) -> tuple[float, list]:
    from pyuniproc.track import create_tracker

    trackers = [create_tracker(kind, **options) for _ in scenes]
    outputs = []
    started = time.perf_counter()
    for camera, f in order:
        outputs.append(trackers[camera].update(scenes[camera][f]))
    return time.perf_counter() - started, outputs


def run_stage(kind: str, options: dict, selection: dict, scenes, order) -> tuple[float, list]:
    stage = TrackingStage(tracker_kind=kind, tracker_options=options, selection=selection)
    outputs = []
    started = time.perf_counter()
    for camera, f in order:
        outputs.append(stage.update(camera, f, scenes[camera][f], FRAME))
    return time.perf_counter() - started, outputs


def same(a: Detections, b: Detections) -> bool:
    return (
        np.array_equal(a.xyxy, b.xyxy)
        and np.array_equal(a.tracker_id, b.tracker_id)
        and np.array_equal(a.confidence, b.confidence)
        and np.array_equal(a.class_id, b.class_id)
        and np.array_equal(a.data["detection_index"], b.data["detection_index"])
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--cameras", type=int, default=8, help="cameras of one worker process")
    parser.add_argument("--frames", type=int, default=300, help="frames per camera")
    parser.add_argument("--people", type=int, default=5)
    parser.add_argument("--block", type=int, default=8, help="frames per camera and batch (64 / 8 cameras)")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--module", type=Path, default=REPO / "module" / "module.yml")
    parser.add_argument("--profile", choices=("before", "after"), help="cProfile one stage round of this")
    args = parser.parse_args()

    settings = module_settings(args.module)
    options = settings["tracker_options"]
    selection = settings["reid_selection"]
    if REFERENCE not in available_trackers():
        register_tracker(REFERENCE, ReferenceByteTrack)
    scenes = [make_camera(1000 + c, args.frames, args.people) for c in range(args.cameras)]
    order = replay_order(args.cameras, args.frames, args.block)
    n = len(order)
    detections = sum(len(scenes[c][f]) for c, f in order)
    kinds = {"before": REFERENCE, "after": settings["tracker_kind"]}

    if args.profile:
        profiler = cProfile.Profile()
        profiler.enable()
        run_stage(kinds[args.profile], options, selection, scenes, order)
        profiler.disable()
        pstats.Stats(profiler).sort_stats("tottime").print_stats(25)
        return

    times: dict[tuple[str, str], list[float]] = {}
    results: dict[tuple[str, str], list] = {}
    runners: dict[str, Callable] = {
        "tracker": lambda kind: run_tracker(kind, options, scenes, order),
        "stage": lambda kind: run_stage(kind, options, selection, scenes, order),
    }
    for _ in range(args.rounds):
        for what, runner in runners.items():
            for label, kind in kinds.items():
                seconds, outputs = runner(kind)
                times.setdefault((what, label), []).append(seconds / n * 1000.0)
                results[(what, label)] = outputs

    for i in range(n):
        a, b = results[("tracker", "before")][i], results[("tracker", "after")][i]
        (sa, ra, qa), (sb, rb, qb) = results[("stage", "before")][i], results[("stage", "after")][i]
        if not (same(a, b) and same(sa, sb) and np.array_equal(ra, rb) and np.array_equal(qa, qb)):
            raise SystemExit(f"outputs differ at replayed frame {i} (camera, frame) = {order[i]}")

    tracks = sum(len(t) for t in results[("tracker", "after")])
    print(
        f"{args.cameras} cameras x {args.frames} frames, {detections / n:.2f} detections and "
        f"{tracks / n:.2f} reported tracks per frame; median of {args.rounds} alternating rounds; "
        "outputs identical"
    )
    print(f"{'ms per frame':<34}{'before (f67fb98)':>18}{'after':>10}{'speed-up':>10}")
    rows = {"tracker": "ByteTrack.update", "stage": "TrackingStage.update (+gate+schedule)"}
    for what, name in rows.items():
        before = statistics.median(times[(what, "before")])
        after = statistics.median(times[(what, "after")])
        print(f"{name:<34}{before:>18.3f}{after:>10.3f}{before / after:>9.2f}x")


if __name__ == "__main__":
    main()
