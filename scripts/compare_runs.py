"""Compare the tracks of two `pyuniproc run` output folders (e.g. the GPU backend with NVDEC against the CPU
backend on the same clip): per camera and frame, the number of tracks, the boxes matched one to one by IoU
(Hungarian) and whether matched boxes carry the same track id.

    python scripts/compare_runs.py OUT_CPU OUT_GPU [--max-count-gap 1] [--min-mean-iou 0.95] [--json F]

Exits 1 when a frame's track counts differ by more than --max-count-gap, the matched IoU mean is below
--min-mean-iou, the same-id share is below --min-same-id, or the folders hold different frames.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np
from scipy.optimize import linear_sum_assignment


def read_tracks(folder: Path) -> dict[tuple[str, int], tuple[np.ndarray, np.ndarray]]:
    """{(camera, frame): ((n, 4) float boxes, (n,) int track ids)} from a run folder's tracks.csv."""
    rows: dict[tuple[str, int], list[list[float]]] = defaultdict(list)
    with (folder / "tracks.csv").open(newline="") as file:
        for row in csv.DictReader(file):
            rows[(row["camera_id"], int(row["frame"]))].append(
                [float(row[k]) for k in ("x1", "y1", "x2", "y2")] + [float(row["track_id"])]
            )
    return {key: (np.array(v)[:, :4], np.array(v)[:, 4].astype(np.int64)) for key, v in rows.items()}


def frames_of(folder: Path) -> dict[str, int]:
    """{camera: frames processed} from summary.json (frames with no track have no tracks.csv row)."""
    summary = json.loads((folder / "summary.json").read_text())
    return {camera: int(info["frames_processed"]) for camera, info in summary["cameras"].items()}


def iou_matrix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    lt = np.maximum(a[:, None, :2], b[None, :, :2])
    rb = np.minimum(a[:, None, 2:], b[None, :, 2:])
    inter = np.prod(np.clip(rb - lt, 0, None), axis=2)
    area_a = np.prod(a[:, 2:] - a[:, :2], axis=1)
    area_b = np.prod(b[:, 2:] - b[:, :2], axis=1)
    return inter / np.maximum(area_a[:, None] + area_b[None, :] - inter, 1e-9)


def compare(reference: Path, candidate: Path) -> dict:
    frames = frames_of(reference)
    other_frames = frames_of(candidate)
    ref, cand = read_tracks(reference), read_tracks(candidate)
    empty = (np.zeros((0, 4)), np.zeros(0, np.int64))
    gaps, ious, same = [], [], []
    for camera, count in frames.items():
        for frame in range(1, count + 1):
            (a, ida), (b, idb) = ref.get((camera, frame), empty), cand.get((camera, frame), empty)
            gaps.append(abs(len(a) - len(b)))
            if len(a) and len(b):
                overlap = iou_matrix(a, b)
                rows, cols = linear_sum_assignment(-overlap)
                ious.extend(overlap[rows, cols].tolist())
                same.extend((ida[rows] == idb[cols]).tolist())
    return {
        "frames": frames, "candidate_frames": other_frames,
        "tracks": [sum(len(v[0]) for v in ref.values()), sum(len(v[0]) for v in cand.values())],
        "max_count_gap": int(max(gaps, default=0)),
        "frames_with_count_gap": int(sum(g > 0 for g in gaps)),
        "matched": len(ious),
        "iou_mean": float(np.mean(ious)) if ious else None,
        "iou_min": float(np.min(ious)) if ious else None,
        "same_id": float(np.mean(same)) if same else None,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("reference", type=Path, help="run folder (e.g. the CPU backend's)")
    parser.add_argument("candidate", type=Path, help="run folder (e.g. the GPU backend's)")
    parser.add_argument("--max-count-gap", type=int, default=1)
    parser.add_argument("--min-mean-iou", type=float, default=0.95)
    parser.add_argument("--min-same-id", type=float, default=0.9)
    parser.add_argument("--json", type=Path, help="write the figures here too")
    args = parser.parse_args(argv)
    result = compare(args.reference, args.candidate)
    text = json.dumps(result, indent=1)
    print(text)
    if args.json:
        args.json.write_text(text + "\n")
    problems = []
    if result["frames"] != result["candidate_frames"]:
        problems.append("the runs processed different frames")
    if result["max_count_gap"] > args.max_count_gap:
        problems.append(f"track counts differ by up to {result['max_count_gap']} in a frame")
    if result["iou_mean"] is None or result["iou_mean"] < args.min_mean_iou:
        problems.append(f"matched IoU mean {result['iou_mean']} below {args.min_mean_iou}")
    if result["same_id"] is None or result["same_id"] < args.min_same_id:
        problems.append(f"same track id share {result['same_id']} below {args.min_same_id}")
    for problem in problems:
        print(f"FAIL: {problem}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
