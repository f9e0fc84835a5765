"""Choose `parameters.relink` on the TUNING scenes only (`pyuniproc accuracy --split train`'s).

    python benchmarks/accuracy/tune_relink.py --work out/accuracy --json benchmarks/accuracy/tune_relink.json

Each tuning scene's pipeline is recorded once at the module's settings with relinking off (the
recordings `pyuniproc accuracy --split train` caches are reused), then every candidate setting is
applied to the recordings (`relink_stream`: exactly what the runtime's relink step would write) and
scored: per-camera IDF1, ID switches and fragmentations, and multi-camera IDF1 (fusion replayed).
Objective: the mean over scenes of (mean per-camera IDF1 + multi-camera IDF1) / 2. Coordinate
descent from START over GRID; a change is kept only if it gains more than --tolerance.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from pyuniproc.ablation.capture import scenario_site  # noqa: E402
from pyuniproc.ablation.replay import replay  # noqa: E402
from pyuniproc.ablation.score import Scorer  # noqa: E402
from pyuniproc.accuracy import protocol  # noqa: E402
from pyuniproc.accuracy.measure import record  # noqa: E402
from pyuniproc.accuracy.relink_replay import relink_stream  # noqa: E402
from pyuniproc.config.module import load_module_config  # noqa: E402

SIZE = (int(protocol.DEFAULT_ARGUMENTS["height"]), int(protocol.DEFAULT_ARGUMENTS["width"]))
"""(height, width) of every camera of the protocol's scenes, for the edge rule."""
START: dict[str, Any] = {
    "max_gap_frames": 30,
    "max_distance": 0.5,
    "distance_per_frame": 0.05,
    "max_height_ratio": 1.5,
    "min_cosine": None,
    "min_frames": 3,
    "max_extrapolation_frames": 10,
    "edge_margin": 0.1,
}
GRID: dict[str, list[Any]] = {
    "max_gap_frames": [10, 20, 30, 50, 80, 120],
    "max_distance": [0.25, 0.5, 1.0, 1.5, 2.0],
    "distance_per_frame": [0.0, 0.02, 0.05, 0.1],
    "max_height_ratio": [1.2, 1.35, 1.5, 2.0],
    "min_cosine": [None, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.85, 0.9],  # both embedders' cosine scales
    "min_frames": [1, 3, 5, 10],
    "max_extrapolation_frames": [0, 5, 10, 20],
    "edge_margin": [None, 0.1, 0.25, 0.5],
}


def score(cases: list[tuple[Any, Any, Any, Any]], options: dict[str, Any] | None) -> dict[str, float]:
    """Mean over scenes of per-camera IDF1, IDSW, Frag and multi-camera IDF1 (options None: no relink)."""
    cam, mc, idsw, frag, relinked = [], [], [], [], 0
    for stream, scorer, site, fusion in cases:
        if options is not None:
            sizes = {c: SIZE for c in stream.camera_ids}
            stream, n = relink_stream(stream, sizes, **options)
            relinked += n
        per = scorer.per_camera(stream)
        cameras = [v for c, v in per.items() if c != "all"]
        cam.append(np.mean([v["IDF1"] for v in cameras]))
        idsw.append(sum(v["IDSW"] for v in cameras))
        frag.append(sum(v["Frag"] for v in cameras))
        mc.append(scorer.multi_camera(replay(stream, site, fusion).online)["IDF1"])
    cam_idf1, mc_idf1 = float(np.mean(cam)), float(np.mean(mc))
    return {"objective": (cam_idf1 + mc_idf1) / 2, "cam_IDF1": cam_idf1, "MC_IDF1": mc_idf1,
            "IDSW": float(np.mean(idsw)), "Frag": float(np.mean(frag)), "relinked": relinked}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--work", type=Path, default=Path("out/accuracy"))
    parser.add_argument("--module", type=Path, default=ROOT / "module" / "module.yml")
    parser.add_argument("--passes", type=int, default=2)
    parser.add_argument("--tolerance", type=float, default=0.002)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args(argv)
    module = load_module_config(args.module)
    module = replace(module, relink=None) if hasattr(module, "relink") else module
    cases = []
    for scene in protocol.scenes("train"):
        folder = protocol.ensure_scenario(scene, args.work, log=print)
        stream = record(folder, module, args.work / "streams" / scene.name, log=print)
        cases.append((stream, Scorer(folder), scenario_site(folder), module.fusion))
    log: list[dict[str, Any]] = []
    started = time.monotonic()
    baseline = score(cases, None)
    print(f"no relinking: {baseline}", flush=True)
    best, best_score = dict(START), score(cases, START)
    log.append({"options": dict(best), **best_score})
    print(f"start {best}: {best_score}", flush=True)
    for _ in range(args.passes):
        changed = False
        for key, values in GRID.items():
            for value in values:
                if value == best[key]:
                    continue
                trial = {**best, key: value}
                result = score(cases, trial)
                log.append({"options": trial, **result})
                print(f"{key}={value}: objective {result['objective']:.4f} (cam {result['cam_IDF1']:.4f}, "
                      f"MC {result['MC_IDF1']:.4f}, IDSW {result['IDSW']:.1f}, "
                      f"relinked {result['relinked']})", flush=True)
                if result["objective"] > best_score["objective"] + args.tolerance:
                    best, best_score, changed = trial, result, True
        if not changed:
            break
    print(f"best {best}: {best_score} ({time.monotonic() - started:.0f} s)")
    if args.json:
        doc = {"command": " ".join(["python", *sys.argv]), "seeds": list(protocol.TUNING_SEEDS),
               "detector": module.detector.model_file, "precision": module.runtime.cpu_precision,
               "no_relink": baseline, "best": best, "best_score": best_score, "log": log}
        args.json.write_text(json.dumps(doc, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
