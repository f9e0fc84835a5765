"""Choose `parameters.tracker` for the module's detector on the TUNING scenes only (--split train).

    DETECTOR=nanodet python benchmarks/accuracy/tune_tracker.py --work out/accuracy \
        --json benchmarks/accuracy/tune_tracker.json

benchmarks/quality/tune.py's method on the protocol's five tuning scenes instead of one `--split all`
scene, with the module's own detector and CPU precision (int8 by default): each camera's frames go
through the detector once at a low threshold (cached in --work), then each candidate setting filters
the cached boxes, runs ByteTrack and scores per-camera IDF1 (TrackEval), seconds per setting.
Objective: mean per-camera IDF1 over every camera of every tuning scene. Coordinate descent from the
module's values over benchmarks/quality/tune.py's GRID; a change is kept only if it gains more than
--min-gain. Multi-camera IDF1 is checked afterwards with `pyuniproc accuracy --split train`.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import av
import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks" / "quality"))

from tune import GRID, track_all, valid  # noqa: E402  (benchmarks/quality/tune.py)

from pyuniproc.accuracy import protocol  # noqa: E402
from pyuniproc.config.module import load_module_config  # noqa: E402
from pyuniproc.detect import KIND_BY_CONVERTER, create_detector  # noqa: E402
from pyuniproc.evaluation.metrics import evaluate  # noqa: E402
from pyuniproc.evaluation.mot_io import load_distractors, load_ground_truth  # noqa: E402

CACHE_THRESHOLD = 0.05


def detect_scene(scenario: Path, module, cache: Path) -> dict[str, list[tuple[np.ndarray, np.ndarray]]]:
    """Per camera, per frame (xyxy, confidence) at CACHE_THRESHOLD with the module's detector."""
    if cache.is_file():
        with np.load(cache) as z:
            out = {}
            for cam in sorted({k.partition("/")[0] for k in z.files}):
                counts, xyxy, conf = z[f"{cam}/counts"], z[f"{cam}/xyxy"], z[f"{cam}/conf"]
                ends = np.cumsum(counts)
                out[cam] = [(xyxy[e - c:e], conf[e - c:e]) for c, e in zip(counts, ends, strict=True)]
            return out
    spec = module.detector
    detector = create_detector(KIND_BY_CONVERTER[spec.converter], model_dir=spec.model_dir,
                               precision=module.runtime.cpu_precision, confidence_threshold=CACHE_THRESHOLD,
                               nms_iou_threshold=spec.nms_iou_threshold, min_width=spec.min_width,
                               min_height=spec.min_height, intra_op_threads=1)
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


def score(scenes: list[tuple], setting: dict) -> dict:
    idf1, idsw = [], []
    for boxes, gt, n_frames, distractors in scenes:
        result = evaluate(gt, track_all(boxes, setting), None, n_frames, distractors=distractors)
        idf1 += [v["IDF1"] for v in result["cameras"].values()]
        idsw.append(result["combined"]["IDSW"])
    return {"objective": float(np.mean(idf1)), "IDSW": float(np.mean(idsw))}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--work", type=Path, default=Path("out/accuracy"))
    parser.add_argument("--module", type=Path, default=ROOT / "module" / "module.yml")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--min-gain", type=float, default=0.003)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args(argv)
    module = load_module_config(args.module)
    tag = f"{Path(module.detector.model_file).stem}-{module.runtime.cpu_precision}"
    scenes = []
    for scene in protocol.scenes("train"):
        folder = protocol.ensure_scenario(scene, args.work, log=print)
        started = time.monotonic()
        boxes = detect_scene(folder, module, args.work / "detections" / f"{scene.name}-{tag}.npz")
        print(f"{scene.name}: detections ready in {time.monotonic() - started:.0f} s", flush=True)
        gt, n_frames = load_ground_truth(folder)
        scenes.append((boxes, gt, n_frames, load_distractors(folder)))
    setting = {k: module.tracker.params[k] for k in GRID if k in module.tracker.params}
    setting["confidence_threshold"] = module.detector.confidence_threshold
    setting["frame_rate"] = module.tracker.params.get("frame_rate", 10)
    start = best_score = score(scenes, setting)
    best = dict(setting)
    print(f"module's setting: {start}", flush=True)
    log, tried = [], set()
    for _ in range(args.rounds):
        improved = False
        for name, values in GRID.items():
            for value in values:
                candidate = {**best, name: value}
                key = json.dumps(candidate, sort_keys=True)
                if key in tried or not valid(candidate):
                    continue
                tried.add(key)
                result = score(scenes, candidate)
                log.append({"setting": candidate, **result})
                print(f"  {name}={value}: {result['objective']:.4f} (IDSW {result['IDSW']:.1f})", flush=True)
                if result["objective"] > best_score["objective"] + args.min_gain:
                    best, best_score, improved = candidate, result, True
        if not improved:
            break
    print(f"best: {best_score} {json.dumps(best)}")
    if args.json:
        doc = {"command": " ".join(["python", *sys.argv]), "detector": tag,
               "seeds": list(protocol.TUNING_SEEDS), "start": {"setting": setting, **start},
               "best": {"setting": best, **best_score}, "log": log}
        args.json.write_text(json.dumps(doc, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
