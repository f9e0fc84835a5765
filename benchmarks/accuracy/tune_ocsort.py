"""Choose ByteTrack's OC-SORT occlusion rules on the TUNING scenes only; score them on others unchanged.

    python benchmarks/accuracy/tune_ocsort.py --work /work/acc-adapted --json tune_ocsort.json
    python benchmarks/accuracy/tune_ocsort.py --work /work/acc-adapted --seeds 111,112,113,114,115 \
        --settings tune_ocsort.json --json val_ocsort.json

The tracker alone on the detector boxes tune_tracker.py cached in --work (the module's detector and
precision), as tune_tracker.py scores it: each setting runs ByteTrack per camera and is scored with
TrackEval. Reported per setting: mean per-camera IDF1 over every camera (the objective), the same over
the vtest (good-background) cameras, ID switches (total, and camera mean as % of GT tracks) and the
vtest cameras' identity changes by cause (false_tracks.py's id_changes). Without --settings the
candidates are the module's setting plus each rule alone, a momentum grid, and the best momentum with
the other rules; the best by the objective is written as "best". With --settings (a JSON this script
wrote) its "best" and "start" are scored as they are: nothing is fitted on those seeds.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections import Counter
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks" / "quality"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from false_tracks import id_changes  # noqa: E402
from tune import track_all  # noqa: E402  (benchmarks/quality/tune.py)
from tune_tracker import detect_scene  # noqa: E402

from pyuniproc.accuracy import protocol  # noqa: E402
from pyuniproc.config.module import load_module_config  # noqa: E402
from pyuniproc.evaluation.metrics import evaluate  # noqa: E402
from pyuniproc.evaluation.mot_io import load_distractors, load_ground_truth  # noqa: E402

OFF = {"momentum_weight": 0.0, "momentum_frames": 3, "observation_reupdate": False,
       "recovery_match_iou_threshold": None}
MOMENTUM_WEIGHTS = (0.1, 0.2, 0.3, 0.4)
MOMENTUM_FRAMES = (1, 2, 3, 5)
RECOVERY = (0.6, 0.7, 0.8)
LONG_GAP = 10  # frames (1 s at the scenes' 10 fps), as the diagnosis counted


def score(scenes: list[dict], setting: dict) -> dict:
    """Per-camera and vtest-camera scores of one setting over the scenes, with per-seed figures."""
    idf1, vtest_idf1, idsw_pct, idsw, causes, per_seed = [], [], [], 0, Counter(), {}
    for scene in scenes:
        tracks = track_all(scene["boxes"], setting)
        result = evaluate(scene["gt"], tracks, None, scene["n_frames"], distractors=scene["distractors"])
        cams = result["cameras"]
        seed_idf1 = [cams[c]["IDF1"] for c in cams]
        seed_vtest = [cams[c]["IDF1"] for c in cams if scene["views"][c] == "vtest"]
        idf1 += seed_idf1
        vtest_idf1 += seed_vtest
        idsw_pct += [cams[c]["IDSW_pct_gt_tracks"] for c in cams]
        idsw += sum(cams[c]["IDSW"] for c in cams)
        vtest_idsw = sum(cams[c]["IDSW"] for c in cams if scene["views"][c] == "vtest")
        for cam in cams:
            if scene["views"][cam] == "vtest":
                causes.update(id_changes(tracks[cam], scene["gt"][cam], LONG_GAP))
        per_seed[scene["seed"]] = {"IDF1": round(float(np.mean(seed_idf1)), 4),
                                   "vtest_IDF1": round(float(np.mean(seed_vtest)), 4),
                                   "IDSW": int(sum(cams[c]["IDSW"] for c in cams)),
                                   "vtest_IDSW": int(vtest_idsw)}
    return {"objective": round(float(np.mean(idf1)), 4), "vtest_IDF1": round(float(np.mean(vtest_idf1)), 4),
            "IDSW": int(idsw), "IDSW_pct_gt_tracks": round(float(np.mean(idsw_pct)), 1),
            "vtest_IDSW": int(sum(s["vtest_IDSW"] for s in per_seed.values())),
            "vtest_changes": {c: causes[c] for c in ("swap", "return", "gap", "new")}, "per_seed": per_seed}


def candidates(start: dict, best_momentum: dict | None) -> list[dict]:
    """Stage 1 (best_momentum None): each rule alone and the momentum grid; stage 2: combinations."""
    if best_momentum is None:
        out = [{**start, "observation_reupdate": True}]
        out += [{**start, "recovery_match_iou_threshold": r} for r in RECOVERY]
        out += [{**start, "momentum_weight": w, "momentum_frames": k}
                for w in MOMENTUM_WEIGHTS for k in MOMENTUM_FRAMES]
        return out
    out = []
    for reupdate in (False, True):
        for recovery in (None, *RECOVERY):
            out.append({**best_momentum, "observation_reupdate": reupdate,
                        "recovery_match_iou_threshold": recovery})
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--work", type=Path, default=Path("out/accuracy"))
    parser.add_argument("--module", type=Path, default=ROOT / "module" / "module.yml")
    parser.add_argument("--seeds", default=",".join(map(str, protocol.TUNING_SEEDS)))
    parser.add_argument("--settings", type=Path, default=None, help="score this JSON's start and best only")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args(argv)
    seeds = [int(s) for s in args.seeds.split(",")]
    if set(seeds) & set(protocol.TEST_SEEDS) or any(s >= 300 for s in seeds):
        parser.error("test seeds are not looked at here")
    if args.settings is None and set(seeds) != set(protocol.TUNING_SEEDS):
        parser.error("settings are chosen on the tuning seeds only; pass --settings to score other seeds")
    module = load_module_config(args.module)
    tag = f"{Path(module.detector.model_file).stem}-{module.runtime.cpu_precision}"
    scenes = []
    for scene in protocol.scenes("train", seeds):
        folder = protocol.ensure_scenario(scene, args.work, log=print)
        gt, n_frames = load_ground_truth(folder)
        cameras = json.loads((folder / "scenario.json").read_text())["cameras"]
        cache = args.work / "detections" / f"{scene.name}-{tag}.npz"
        scenes.append({"seed": scene.seed, "gt": gt, "n_frames": n_frames,
                       "distractors": load_distractors(folder),
                       "views": {c["id"]: c["view"]["source"] for c in cameras},
                       "boxes": detect_scene(folder, module, cache)})
    started = time.process_time()
    log = []

    def run(setting: dict) -> dict:
        result = {"setting": setting, **score(scenes, setting)}
        log.append(result)
        print(f"{json.dumps({k: setting[k] for k in OFF})}: IDF1 {result['objective']:.4f} vtest "
              f"{result['vtest_IDF1']:.4f} IDSW {result['IDSW']} ({result['IDSW_pct_gt_tracks']} %) "
              f"vtest {result['vtest_changes']}", flush=True)
        return result

    if args.settings is not None:
        chosen = json.loads(args.settings.read_text())
        start, best = run(chosen["start"]["setting"]), run(chosen["best"]["setting"])
    else:
        setting = {k: v for k, v in module.tracker.params.items() if k != "kind"}
        setting["confidence_threshold"] = module.detector.confidence_threshold
        setting = {**setting, **OFF}
        start = best = run(setting)
        momentum = [run(c) for c in candidates(setting, None)]
        with_momentum = [r for r in momentum if r["setting"]["momentum_weight"] > 0] + [start]
        best_momentum = max(with_momentum, key=lambda r: r["objective"])["setting"]
        for candidate in candidates(setting, best_momentum):
            if candidate != best_momentum:
                run(candidate)
        best = max(log, key=lambda r: r["objective"])
    print(f"start {start['objective']:.4f} -> best {best['objective']:.4f} {json.dumps(best['setting'])}")
    if args.json:
        doc = {"command": " ".join(["python", *sys.argv]), "detector": tag, "seeds": seeds,
               "load_average": os.getloadavg(), "cpu_seconds": round(time.process_time() - started),
               "start": start, "best": best, "log": log}
        args.json.write_text(json.dumps(doc, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
