"""The naive peer loop `pyuniproc bench` compares against.

What a first attempt usually looks like: cameras one after another, OpenCV's VideoCapture,
one ONNX Runtime call per frame, Roboflow's ByteTrack (`trackers`, the successor of
supervision's tracker). It uses the same ONNX model and box decoder as pyuniproc, so the
difference measured is the runtime's, not the model's.

Runs as its own process (`python -m pyuniproc.bench.naive`), normally from the bench venv
(`make bench` builds it), because `trackers` pulls in the GUI build of OpenCV. Prints JSON.
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np


def run(video: str, cameras: int, frames: int, model_dir: str, threshold: float) -> dict:
    import cv2
    import supervision as sv
    from trackers import ByteTrackTracker

    from pyuniproc.detect import create_detector

    detector = create_detector("ssdlite_pedestrian", model_dir=model_dir, confidence_threshold=threshold)
    timings: dict[str, list[float]] = {"decode": [], "detect": [], "track": [], "end_to_end": []}
    processed = 0
    started = time.perf_counter()
    for _ in range(cameras):
        capture = cv2.VideoCapture(video)
        tracker = ByteTrackTracker(frame_rate=10)
        for _ in range(frames):
            t0 = time.perf_counter()
            ok, bgr = capture.read()
            if not ok:
                break
            rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
            t1 = time.perf_counter()
            detections = detector.detect([rgb])[0]
            t2 = time.perf_counter()
            tracker.update(sv.Detections(xyxy=detections.xyxy.astype(np.float32),
                                         confidence=detections.confidence, class_id=detections.class_id))
            t3 = time.perf_counter()
            for stage, seconds in (("decode", t1 - t0), ("detect", t2 - t1), ("track", t3 - t2),
                                   ("end_to_end", t3 - t0)):
                timings[stage].append(seconds * 1000)
            processed += 1
        capture.release()
    elapsed = time.perf_counter() - started
    return {
        "frames_processed": processed,
        "elapsed_seconds": elapsed,
        "throughput_fps": processed / elapsed,
        "latency_ms": {stage: {"p50": float(np.percentile(v, 50)), "p95": float(np.percentile(v, 95)),
                               "mean": float(np.mean(v))} for stage, v in timings.items() if v},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--video", required=True)
    parser.add_argument("--cameras", type=int, default=4)
    parser.add_argument("--frames", type=int, default=200)
    parser.add_argument("--model-dir", required=True)
    parser.add_argument("--threshold", type=float, default=0.4)
    args = parser.parse_args()
    print(json.dumps(run(args.video, args.cameras, args.frames, args.model_dir, args.threshold)))


if __name__ == "__main__":
    main()
