"""How well the detectors see a scenario's people: the best detector score on each GT box.

For every GT row of every camera (every `--every`-th frame) the detector runs with a very low
threshold and the GT box gets the highest score among detections that overlap it by IoU >= 0.5
(0 if none). Reported per camera and per GT box height / visibility bin: median score and recall
at a few thresholds. This separates "the detector cannot see these renderings" (low scores on GT
boxes) from "the tracker loses them" (good scores, poor IDF1).

    python benchmarks/quality/detector_scores.py samples/scenario_default --detector ssdlite
    python benchmarks/quality/detector_scores.py samples/scenario_default --detector nanodet --json s.json
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import av
import numpy as np

from pyuniproc.detect import DEFAULT_MODEL_DIR, box_iou, create_detector
from pyuniproc.evaluation.mot_io import read_mot

KINDS = {"ssdlite": "ssdlite_pedestrian", "nanodet": "nanodet_coco"}
THRESHOLDS = (0.15, 0.3, 0.5)
HEIGHT_BINS = (0, 40, 60, 80, 110, 150, 10_000)
VISIBILITY_BINS = (0.0, 0.5, 0.8, 1.01)


def gt_scores(video: Path, gt_rows: np.ndarray, detector, every: int = 1) -> np.ndarray:
    """(m, 4) per kept GT row: frame, height, visibility, best matching detector score."""
    by_frame: dict[int, np.ndarray] = {}
    for row in gt_rows:
        by_frame.setdefault(int(row[0]), []).append(row)
    out = []
    with av.open(str(video)) as container:
        for index, frame in enumerate(container.decode(video=0)):
            number = index + 1
            if index % every or number not in by_frame:
                continue
            rows = np.array(by_frame[number])
            image = frame.to_ndarray(format="rgb24")
            dets = detector.detect([image])[0]
            boxes = np.stack([rows[:, 2], rows[:, 3], rows[:, 2] + rows[:, 4], rows[:, 3] + rows[:, 5]], 1)
            if len(dets):
                iou = box_iou(boxes.astype(np.float32), dets.xyxy)
                best = np.where(iou >= 0.5, dets.confidence[None, :], 0.0).max(axis=1)
            else:
                best = np.zeros(len(rows))
            for row, score in zip(rows, best, strict=True):
                out.append((number, row[5], row[6], float(score)))
    return np.array(out, np.float64).reshape(-1, 4)


def summarize(scores: np.ndarray) -> dict:
    if not len(scores):
        return {"n": 0}
    s = scores[:, 3]
    return {
        "n": int(len(s)),
        "median_score": round(float(np.median(s)), 3),
        **{f"recall@{t}": round(float(np.mean(s >= t)), 3) for t in THRESHOLDS},
    }


def report(scenario: Path, kind: str, every: int) -> dict:
    detector = create_detector(KINDS[kind], model_dir=DEFAULT_MODEL_DIR, confidence_threshold=0.02)
    result: dict = {"detector": kind, "every": every, "cameras": {}}
    pooled = []
    for gt_file in sorted((scenario / "gt").glob("*.txt")):
        cam = gt_file.stem
        rows = _read_gt_with_visibility(gt_file)
        scores = gt_scores(scenario / "video" / f"{cam}.mp4", rows, detector, every)
        pooled.append(scores)
        entry = summarize(scores)
        entry["by_height"] = {
            f"{lo}-{hi}": summarize(scores[(scores[:, 1] >= lo) & (scores[:, 1] < hi)])
            for lo, hi in zip(HEIGHT_BINS[:-1], HEIGHT_BINS[1:], strict=True)
        }
        entry["by_visibility"] = {
            f"{lo}-{hi:.1f}": summarize(scores[(scores[:, 2] >= lo) & (scores[:, 2] < hi)])
            for lo, hi in zip(VISIBILITY_BINS[:-1], VISIBILITY_BINS[1:], strict=True)
        }
        result["cameras"][cam] = entry
    result["all"] = summarize(np.concatenate(pooled) if pooled else np.zeros((0, 4)))
    return result


def _read_gt_with_visibility(path: Path) -> np.ndarray:
    """(n, 7) frame, id, x, y, w, h, visibility of the scored rows (visibility 1.0 when the file has
    no 9th column)."""
    base = read_mot(path, drop_ignored=True)
    raw = np.loadtxt(path, delimiter=",", ndmin=2)
    raw = raw[raw[:, 6] != 0] if raw.shape[1] >= 7 else raw
    visibility = raw[:, 8] if raw.shape[1] >= 9 and len(raw) == len(base) else np.ones(len(base))
    return np.column_stack([base, visibility])


def print_report(result: dict) -> None:
    print(f"detector {result['detector']} (every {result['every']} frame)")
    head = f"{'':>14} {'n':>6} {'median':>7} " + " ".join(f"{'r@' + str(t):>7}" for t in THRESHOLDS)
    print(head)

    def line(name: str, e: dict) -> None:
        if e["n"]:
            rec = " ".join(f"{e[f'recall@{t}']:>7.3f}" for t in THRESHOLDS)
            print(f"{name:>14} {e['n']:>6} {e['median_score']:>7.3f} {rec}")

    for cam, e in result["cameras"].items():
        line(cam, e)
        for key, sub in e["by_height"].items():
            line(f"h {key}", sub)
        for key, sub in e["by_visibility"].items():
            line(f"vis {key}", sub)
    line("all", result["all"])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("scenario", type=Path)
    parser.add_argument("--detector", choices=sorted(KINDS), default="ssdlite")
    parser.add_argument("--every", type=int, default=2, help="score every n-th frame")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    result = report(args.scenario, args.detector, args.every)
    print_report(result)
    if args.json:
        args.json.write_text(json.dumps(result, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
