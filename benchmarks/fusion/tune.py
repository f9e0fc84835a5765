"""Tune `parameters.fusion` on TRAINING scenarios only (never on samples/scenario_default).

    python benchmarks/fusion/tune.py --train /tmp/fz/train101:/tmp/fz/cache101 \
        --train /tmp/fz/train102:/tmp/fz/cache102 --json benchmarks/fusion/tuning.json

Each --train is SCENARIO_DIR:CACHE_DIR; the cache holds the streams `pyuniproc ablation --cache` recorded
(pipeline.npz and oracle.npz). Objective: mean multi-camera IDF1 over the training scenarios and both
streams (the real pipeline's and the ground-truth-box oracle's, equally weighted, so the settings suit
the detector we have and a better one), with the constraints of `--ablation` (travel_time by default;
`--ablation appearance` tunes the appearance-only baseline on its own, for a fair comparison).
Coordinate descent from the module's values over the grid below, `--passes` times.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import asdict, replace
from pathlib import Path

from pyuniproc.ablation.capture import scenario_site
from pyuniproc.ablation.replay import replay
from pyuniproc.ablation.score import Scorer
from pyuniproc.ablation.stream import TrackStream
from pyuniproc.config.module import load_module_config
from pyuniproc.fusion import FusionConfig

GRID = {
    "match_threshold": [0.76, 0.8, 0.84, 0.86, 0.88, 0.9, 0.92, 0.94, 0.96, 0.98],
    "appearance_margin": [0.0, 0.01, 0.02, 0.04, 0.08],
    "min_embeddings": [1, 2, 3, 5, 8],
    "decision_seconds": [0.5, 1.0, 2.0, 3.0, 5.0],
    "max_pending_seconds": [2.0, 4.0, 6.0, 10.0],
    "split_threshold": [0.5, 0.7, 0.8, 0.85, 0.9],
    "correction_margin": [0.02, 0.05, 0.1, 0.2],
    "travel_time_slack_seconds": [0.0, 0.5, 1.0, 2.0, 4.0],
    "travel_time_bonus": [0.0, 0.02, 0.05, 0.1],
    "covisibility_bonus": [0.0, 0.05, 0.1, 0.2],
    "reentry_max_seconds": [4.0, 8.0, 12.0, 20.0],
    "overlap_handoff_seconds": [1.0, 2.0, 4.0],
    "cooccurrence_tolerance_seconds": [0.1, 0.3, 0.6, 1.0],
    "track_timeout_seconds": [1.0, 2.0, 3.0],
    "window_seconds": [0.25, 0.5, 1.0, 2.0],
    "tentative_ids": [True, False],
}


def valid(config: FusionConfig, key: str, value) -> FusionConfig | None:
    changes = {key: value}
    if key == "match_threshold" and config.split_threshold > value:
        changes["split_threshold"] = value
    if key == "decision_seconds" and config.max_pending_seconds < value:
        changes["max_pending_seconds"] = value
    try:
        return replace(config, **changes)
    except ValueError:
        return None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--train", action="append", required=True, metavar="SCENARIO:CACHE")
    parser.add_argument("--module", default="module/module.yml")
    parser.add_argument("--ablation", default="travel_time")
    parser.add_argument("--streams", default="pipeline,oracle")
    parser.add_argument("--passes", type=int, default=2)
    parser.add_argument("--start", type=Path, default=None, help="start from the `tuned` values of this JSON")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args(argv)

    cases = []
    for item in args.train:
        scenario, cache = item.split(":")
        scorer, site = Scorer(scenario), scenario_site(scenario)
        for kind in args.streams.split(","):
            cases.append((scenario, kind, TrackStream.load(Path(cache) / f"{kind}.npz"), scorer, site))
    module = load_module_config(args.module)
    start = (module.fusion or FusionConfig()).ablation(args.ablation)
    if args.start is not None:
        start = replace(start, **json.loads(args.start.read_text())["tuned"])

    seen: dict[tuple, float] = {}

    def objective(config: FusionConfig) -> tuple[float, dict[str, float]]:
        key = tuple(sorted(asdict(config).items()))
        if key in seen:
            return seen[key]
        scores = {
            f"{Path(s).name}/{k}": scorer.multi_camera(replay(stream, site, config).online)["IDF1"]
            for s, k, stream, scorer, site in cases
        }
        value = sum(scores.values()) / len(scores)
        seen[key] = (value, scores)
        return value, scores

    best = start
    best_value, best_scores = objective(best)
    log = [{"step": "start", "value": best_value, "scores": best_scores}]
    print(f"start {best_value:.4f} {best_scores}", flush=True)
    started = time.monotonic()
    for sweep in range(args.passes):
        improved = False
        for key, values in GRID.items():
            results = []
            for value in values:
                config = valid(best, key, value)
                if config is None:
                    continue
                score, scores = objective(config)
                results.append((score, value, config, scores))
            score, value, config, scores = max(
                results, key=lambda r: (round(r[0], 4), r[1] == getattr(best, key))
            )
            trace = {str(v): round(s, 4) for s, v, _, _ in results}
            print(f"pass {sweep + 1} {key:32s} {trace} -> {value}", flush=True)
            if score > best_value + 1e-4:
                best, best_value, best_scores, improved = config, score, scores, True
            log.append(
                {
                    "step": f"pass {sweep + 1} {key}",
                    "tried": trace,
                    "chosen": getattr(best, key),
                    "value": best_value,
                }
            )
        if not improved:
            break
    tuned = {k: v for k, v in asdict(best).items() if getattr(FusionConfig(), k) != v or k in GRID}
    print(f"best {best_value:.4f} {best_scores} in {time.monotonic() - started:.0f} s")
    print(json.dumps({k: tuned[k] for k in GRID}, indent=1))
    if args.json:
        args.json.write_text(
            json.dumps(
                {
                    "objective": "mean multi-camera IDF1 over "
                    + ", ".join(f"{Path(s).name}/{k}" for s, k, *_ in cases),
                    "ablation": args.ablation,
                    "value": best_value,
                    "scores": best_scores,
                    "tuned": {k: tuned[k] for k in GRID},
                    "log": log,
                },
                indent=1,
            )
            + "\n"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
