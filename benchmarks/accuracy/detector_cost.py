"""What each shipped detector costs per frame on this CPU, measured so a shared, loaded box can't skew
the comparison: thread CPU time (not wall time) of preprocess + inference + box decoding, one ONNX
Runtime thread (the runtime's layout on 2 cores: 2 detector workers x 1 thread), variants interleaved
frame by frame over the same frames of a scenario.

    python benchmarks/accuracy/detector_cost.py out/accuracy/scenarios/train-s101-60s --frames 60 \
        --json benchmarks/accuracy/detector_cost.json

Real time on 2 cores needs 4 cameras x 10 fps = 40 frames/s, i.e. at most 2000 ms of CPU per second
for everything (decode ~1.6 ms/frame, tracking, ReID ~2 ms/crop, fusion, outputs): the table says
how much of that the detector takes.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import av
import numpy as np

from pyuniproc.detect import DEFAULT_MODEL_DIR, create_detector

VARIANTS = (("ssdlite_pedestrian", "int8"), ("ssdlite_pedestrian", "fp32"),
            ("nanodet_coco", "int8"), ("nanodet_coco", "fp32"))


def frames(video: Path, count: int) -> list[np.ndarray]:
    out = []
    with av.open(str(video)) as container:
        for frame in container.decode(video=0):
            out.append(frame.to_ndarray(format="rgb24"))
            if len(out) >= count:
                break
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("scenario", type=Path)
    parser.add_argument("--frames", type=int, default=60, help="frames per camera video")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args(argv)
    videos = sorted((args.scenario / "video").glob("*.mp4"))
    images = [image for video in videos for image in frames(video, args.frames)]
    detectors = {f"{k}/{p}": create_detector(k, model_dir=DEFAULT_MODEL_DIR, precision=p, intra_op_threads=1,
                                             confidence_threshold=0.15) for k, p in VARIANTS}
    cpu = {name: [] for name in detectors}
    for det in detectors.values():  # warm-up
        det.detect(images[:2])
    for image in images:
        for name, det in detectors.items():
            t0 = time.thread_time()
            det.detect([image])
            cpu[name].append((time.thread_time() - t0) * 1000)
    rows = {name: {"cpu_ms_per_frame_median": round(float(np.median(v)), 2),
                   "cpu_ms_per_frame_mean": round(float(np.mean(v)), 2),
                   "share_of_2_cores_at_40_fps": round(float(np.mean(v)) * 40 / 2000, 3)}
            for name, v in cpu.items()}
    for name, row in rows.items():
        print(f"{name:26s} {row['cpu_ms_per_frame_median']:6.1f} ms CPU/frame (median), "
              f"{100 * row['share_of_2_cores_at_40_fps']:4.1f} % of 2 cores at 40 frames/s")
    if args.json:
        doc = {"command": " ".join(["python", *sys.argv]), "frames": len(images), "variants": rows}
        args.json.write_text(json.dumps(doc, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
