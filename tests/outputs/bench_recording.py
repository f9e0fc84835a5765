"""What recording costs the pipeline thread: encoding in place vs on the recorder's thread.

    python tests/outputs/bench_recording.py [frames] [width] [height] [fps]

Feeds `frames` frames at `fps` (the pipeline's pace; 0 = as fast as possible) and prints the
pipeline-thread time per frame of `AnnotatedVideoWriter.write` (draw + encode in place, the old
way) and of `SegmentedVideoWriter.write` (queue only), plus how many frames the recorder wrote,
dropped, and how many segments it closed. Not collected by pytest.
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from pyuniproc.outputs import AnnotatedVideoWriter, SegmentedVideoWriter
from pyuniproc.types import Detections, Frame


def frames(n: int, width: int, height: int, fps: float) -> list[Frame]:
    rng = np.random.default_rng(0)
    base = rng.integers(0, 255, (height, width, 3), dtype=np.uint8)
    return [Frame("cam1", i, i / (fps or 10.0), np.roll(base, i * 4, axis=1)) for i in range(n)]


TRACKS = Detections(
    xyxy=[[100, 100, 160, 300], [300, 120, 360, 330]],
    confidence=[0.9, 0.8],
    class_id=[0, 0],
    tracker_id=[1, 2],
)


def run(writer, sequence: list[Frame], fps: float) -> list[float]:
    costs = []
    started = time.perf_counter()
    for i, frame in enumerate(sequence):
        if fps:
            time.sleep(max(0.0, started + i / fps - time.perf_counter()))
        t0 = time.perf_counter()
        writer.write(frame, TRACKS, current_fps=fps or None)
        costs.append(time.perf_counter() - t0)
    return costs


def describe(name: str, costs: list[float]) -> str:
    ms = sorted(c * 1000 for c in costs)
    return f"{name:34s} mean {statistics.fmean(ms):6.2f} ms  p99 {ms[int(len(ms) * 0.99)]:6.2f} ms per frame"


def main(n: int, width: int, height: int, fps: float) -> None:
    sequence = frames(n, width, height, fps)
    with tempfile.TemporaryDirectory() as folder:
        inline = AnnotatedVideoWriter(Path(folder) / "inline.mp4", fps=fps or 10, width=width, height=height)
        print(describe("in place (AnnotatedVideoWriter)", run(inline, sequence, fps)))
        inline.close()
        recorder = SegmentedVideoWriter(
            Path(folder) / "video", "cam1", fps=fps or 10, width=width, height=height, segment_seconds=1.0
        )
        costs = run(recorder, sequence, fps)
        recorder.close()
        stats = recorder.stats()
        print(describe("queued (SegmentedVideoWriter)", costs))
        print(
            f"{'recorder':34s} wrote {stats['frames_written']}, dropped {stats['frames_dropped']}, "
            f"{stats['segments']} segments of 1 s"
        )


if __name__ == "__main__":
    args = sys.argv[1:]
    main(
        int(args[0]) if args else 300,
        int(args[1]) if len(args) > 1 else 768,
        int(args[2]) if len(args) > 2 else 576,
        float(args[3]) if len(args) > 3 else 10.0,
    )
