"""Tune the tracker thresholds and the detector's confidence threshold on a training scenario.

Detection is the slow part and does not depend on the tracker, so each camera's frames go through
the detector once, at a very low threshold, and the boxes are cached (npz). Every candidate setting
then only filters the cached boxes (NMS output filtered at t equals NMS of boxes filtered at t) and
runs ByteTrack and the evaluation, a second or two per setting. The search is coordinate descent
from the module's current values: one parameter at a time over its grid, keep the best, repeat.

Tune on a scenario generated for the purpose with another seed than the committed default one
(the default scenario is for reporting, not for fitting):

    pyuniproc scenario --seed 101 --cameras 4 --people 30 --seconds 60 --overlaps 1 --crf 23 --out /tmp/train
    python benchmarks/quality/tune.py /tmp/train --detector ssdlite
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import av
import numpy as np

from pyuniproc.config.module import load_module_config
from pyuniproc.detect import DEFAULT_MODEL_DIR, create_detector
from pyuniproc.evaluation.metrics import evaluate
from pyuniproc.evaluation.mot_io import load_distractors, load_ground_truth
from pyuniproc.track import create_tracker
from pyuniproc.types import Detections

KINDS = {"ssdlite": "ssdlite_pedestrian", "nanodet": "nanodet_coco"}
REPO = Path(__file__).resolve().parents[2]
CACHE_THRESHOLD = 0.05

GRID = {
    "confidence_threshold": [0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.4],
    "track_high_threshold": [0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4, 0.5, 0.6],
    "new_track_threshold": [0.2, 0.25, 0.3, 0.35, 0.4, 0.45, 0.5, 0.6, 0.7],
    "track_low_threshold": [0.05, 0.1, 0.15, 0.2],
    "match_iou_threshold": [0.6, 0.7, 0.8, 0.85, 0.9, 0.95],
    "second_match_iou_threshold": [0.4, 0.5, 0.6, 0.7],
    "lost_track_buffer": [15, 30, 45, 60, 90, 120, 180, 240],
    "minimum_consecutive_frames": [1, 2, 3],
    "fuse_score": [True, False],
    "weak_start_threshold": [None, 0.15, 0.2, 0.25, 0.3],
    "weak_start_frames": [3, 5, 8],
    "weak_start_motion": [0.0, 0.25, 0.5, 1.0],
}


def detect_all(scenario: Path, kind: str, cache: Path, *, min_width: float, min_height: float) -> dict:
    """Per camera a list (one per frame) of (xyxy (n, 4), confidence (n,)) at CACHE_THRESHOLD."""
    if cache.is_file():
        with np.load(cache) as z:
            out: dict[str, list] = {}
            for key in z.files:
                cam, _, what = key.partition("/")
                if what == "counts":
                    counts = z[key]
                    ends = np.cumsum(counts)
                    xyxy, conf = z[f"{cam}/xyxy"], z[f"{cam}/conf"]
                    out[cam] = [(xyxy[e - c : e], conf[e - c : e]) for c, e in zip(counts, ends, strict=True)]
            return out
    detector = create_detector(KINDS[kind], model_dir=DEFAULT_MODEL_DIR, confidence_threshold=CACHE_THRESHOLD,
                               min_width=min_width, min_height=min_height)
    out, arrays = {}, {}
    for video in sorted((scenario / "video").glob("*.mp4")):
        frames = []
        with av.open(str(video)) as container:
            for frame in container.decode(video=0):
                dets = detector.detect([frame.to_ndarray(format="rgb24")])[0]
                frames.append((dets.xyxy.copy(), dets.confidence.copy()))
        out[video.stem] = frames
        arrays[f"{video.stem}/counts"] = np.array([len(c) for _, c in frames], np.int64)
        arrays[f"{video.stem}/xyxy"] = np.concatenate([x for x, _ in frames]).reshape(-1, 4)
        arrays[f"{video.stem}/conf"] = np.concatenate([c for _, c in frames])
    cache.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(cache, **arrays)
    return out


def track_all(detections: dict, setting: dict) -> dict[str, np.ndarray]:
    """Per camera MOT rows (frame, id, x, y, w, h) as the pipeline would write them."""
    params = {k: v for k, v in setting.items() if k != "confidence_threshold"}
    threshold = setting["confidence_threshold"]
    out = {}
    for cam, frames in detections.items():
        tracker = create_tracker("bytetrack", **params)
        rows = []
        for index, (xyxy, conf) in enumerate(frames):
            keep = conf >= threshold
            n = int(keep.sum())
            dets = Detections(xyxy=xyxy[keep], confidence=conf[keep], class_id=np.zeros(n, np.int32))
            tracks = tracker.update(dets)
            for box, tid in zip(tracks.xyxy, tracks.tracker_id, strict=True):
                if tid >= 0:
                    rows.append((index + 1, tid, box[0], box[1], box[2] - box[0], box[3] - box[1]))
        out[cam] = np.array(rows, np.float64).reshape(-1, 6)
    return out


def valid(setting: dict) -> bool:
    low, high = setting["track_low_threshold"], setting["track_high_threshold"]
    new = setting["new_track_threshold"]
    weak = setting.get("weak_start_threshold")
    return low <= high <= new and (weak is None or low <= weak < new)


def score(detections: dict, gt, n_frames, distractors, setting) -> dict:
    """Scores of `setting` with each detector's cached boxes; the objective is the mean
    per-camera IDF1 over cameras and detectors (one module setting serves both detectors)."""
    out: dict = {"objective": 0.0}
    for kind, boxes in detections.items():
        result = evaluate(gt, track_all(boxes, setting), None, n_frames, distractors=distractors)
        per = result["cameras"]
        out[kind] = {
            "IDF1": {c: round(per[c]["IDF1"], 4) for c in per},
            "HOTA": {c: round(per[c]["HOTA"], 4) for c in per},
            "MOTA": {c: round(per[c]["MOTA"], 4) for c in per},
            "combined": {k: round(result["combined"][k], 4) for k in ("IDF1", "HOTA", "MOTA", "IDSW")},
        }
        out["objective"] += float(np.mean([per[c]["IDF1"] for c in per])) / len(detections)
    return out


def _idf1(result: dict) -> str:
    return " ".join(f"{k}: {json.dumps(v['IDF1'])}" for k, v in result.items() if k != "objective")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("scenario", type=Path)
    parser.add_argument("--detector", default="ssdlite",
                        help="ssdlite, nanodet or both (ssdlite,nanodet): the objective averages them")
    parser.add_argument("--min-gain", type=float, default=0.003,
                        help="a change is kept only if it raises the objective by more than this")
    parser.add_argument("--module", type=Path, default=REPO / "module" / "module.yml")
    parser.add_argument("--cache-dir", type=Path, help="detections caches (default: the scenario folder)")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)

    module = load_module_config(args.module)
    spec = module.detector
    detections = {}
    for kind in args.detector.split(","):
        if kind not in KINDS:
            parser.error(f"unknown detector {kind!r}; known: {sorted(KINDS)}")
        cache = (args.cache_dir or args.scenario) / f"detections-{kind}.npz"
        started = time.perf_counter()
        detections[kind] = detect_all(args.scenario, kind, cache, min_width=spec.min_width,
                                      min_height=spec.min_height)
        print(f"{kind} detections: {time.perf_counter() - started:.0f} s ({cache})", flush=True)
    gt, n_frames = load_ground_truth(args.scenario)
    distractors = load_distractors(args.scenario)

    setting = {k: module.tracker.params[k] for k in GRID if k in module.tracker.params}
    setting.setdefault("fuse_score", True)
    setting["confidence_threshold"] = spec.confidence_threshold
    setting["frame_rate"] = module.tracker.params.get("frame_rate", 10)
    start = score(detections, gt, n_frames, distractors, setting)
    print(f"module's setting: {start['objective']:.4f} {_idf1(start)}", flush=True)
    best, best_score = dict(setting), start
    tried = {}
    for _ in range(args.rounds):
        improved = False
        for name, values in GRID.items():
            for value in values:
                candidate = {**best, name: value}
                key = json.dumps(candidate, sort_keys=True)
                if key in tried or not valid(candidate):
                    continue
                tried[key] = result = score(detections, gt, n_frames, distractors, candidate)
                if result["objective"] > best_score["objective"] + args.min_gain:
                    best, best_score, improved = candidate, result, True
                    print(f"  {name}={value}: {result['objective']:.4f} {_idf1(result)}", flush=True)
        if not improved:
            break
    print(f"best ({len(tried)} settings tried): {best_score['objective']:.4f}")
    print(json.dumps(best, indent=1))
    print(json.dumps(best_score, indent=1))
    if args.json:
        args.json.write_text(json.dumps({"start": {"setting": setting, **start},
                                         "best": {"setting": best, **best_score}}, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
