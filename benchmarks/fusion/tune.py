"""Tune `parameters.fusion` on generated TRAINING scenarios only (never on samples/scenario_default).

One command retunes from scratch - after a new ReID embedder, detector or tracker, or a fusion change:

    python benchmarks/fusion/tune.py --seeds 101,102,103,104,105 --work /tmp/fusion-train \
        --json benchmarks/fusion/tuned.json --apply module/module.yml

1. Each training scenario missing under --work is generated: the committed default's generator
   arguments (samples/scenario_default/scenario.json) with another seed.
2. Each scenario's two streams (`pyuniproc ablation`'s: the real pipeline's tracks + embeddings, and
   the oracle's GT boxes + embeddings) are recorded once and cached under --work; a stream whose
   fingerprint (scenario, ReID weights and crop selection, detector and tracker settings) no longer
   matches the module is recorded again, so a new embedder is picked up without any flag.
3. Each ablation of --ablations is tuned on its own, from the module's values: coordinate descent over
   GRID (`--passes` sweeps). A value replaces the current one only when it raises the objective by more
   than `--tolerance`: replays are deterministic, but decisions near a threshold flip when the input
   moves a little, so gains of a few thousandths on the training streams are noise.
4. Objective: mean multi-camera IDF1 over the training scenarios and both streams, equally weighted
   (the settings should suit the detector we have and a better one).
5. --json keeps every ablation's tuned values, scores and search log (`pyuniproc ablation --tuned`
   replays each row with its own values); --apply writes the travel_time ablation's values (the
   production setting) into the module's `parameters.fusion` block, leaving every other line alone.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from pyuniproc.ablation.capture import (  # noqa: E402
    capture_oracle,
    capture_pipeline,
    fingerprint,
    scenario_site,
)
from pyuniproc.ablation.replay import replay  # noqa: E402
from pyuniproc.ablation.score import Scorer  # noqa: E402
from pyuniproc.ablation.stream import TrackStream  # noqa: E402
from pyuniproc.config.module import load_module_config  # noqa: E402
from pyuniproc.fusion import FusionConfig  # noqa: E402

DEFAULT_SCENARIO = ROOT / "samples" / "scenario_default"
ABLATIONS = ("appearance", "topology", "travel_time")

GRID: dict[str, list[Any]] = {
    # Cosine thresholds: their scale depends on the embedder (different people score ~0.75-0.92 with the
    # ImageNet MobileNetV2, ~0.0-0.1 per tracklet with the person-adapted one), hence the wide range.
    "match_threshold": [0.2, 0.3, 0.35, 0.4, 0.45, 0.5, 0.55, 0.6, 0.65, 0.7, 0.75, 0.8, 0.84, 0.86, 0.88,
                        0.9, 0.92, 0.94, 0.96],
    "appearance_margin": [0.0, 0.01, 0.02, 0.05, 0.1],
    "min_embeddings": [1, 2, 3, 5, 8],
    "decision_seconds": [0.5, 1.0, 2.0, 3.0, 5.0],
    "max_pending_seconds": [1.0, 2.0, 3.0, 4.0, 6.0, 10.0],
    "correction_margin": [0.01, 0.02, 0.05, 0.1, 0.2],
    "split_threshold": [-1.0, 0.1, 0.2, 0.3, 0.5, 0.7, 0.8, 0.85],
    "transition_bonus": [0.0, 0.01, 0.02, 0.03, 0.05, 0.1, 0.2, 0.3],
    "covisibility_bonus": [0.0, 0.02, 0.05, 0.1, 0.2, 0.3],
    "overlap_handoff_seconds": [1.0, 2.0, 4.0, 8.0, 16.0],
    "travel_time_slack_seconds": [0.0, 1.0, 2.0, 4.0],
    "reentry_max_seconds": [8.0, 12.0, 20.0],
    "cooccurrence_tolerance_seconds": [0.1, 0.3, 1.0],
    "tentative_ids": [True, False],
}
USES = {  # settings that do nothing under an ablation are not searched there
    "appearance": set(GRID)
    - {"travel_time_slack_seconds", "transition_bonus", "covisibility_bonus", "overlap_handoff_seconds"},
    "topology": set(GRID) - {"travel_time_slack_seconds"},
    "travel_time": set(GRID),
}

_CASES: list[tuple[str, TrackStream, Scorer, Any]] = []


# ---- training data ------------------------------------------------------------------------------


def training_scenario(seed: int, work: Path) -> Path:
    """work/s<seed>: the default scenario's generator arguments with another seed (made if missing)."""
    from pyuniproc.scenario import ScenarioSpec, generate

    folder = work / f"s{seed}"
    if (folder / "cameras.yml").is_file() and (folder / "gt").is_dir():
        return folder
    spec = json.loads((DEFAULT_SCENARIO / "scenario.json").read_text())["spec"]
    spec = ScenarioSpec(**{**spec, "seed": seed})
    print(f"tune: generating {folder}: {spec.command(folder)}", flush=True)
    generate(spec, folder, show_progress=False)
    return folder


def training_stream(scenario: Path, kind: str, module: Any, keep_stale: bool) -> TrackStream:
    """The scenario's recorded stream, recorded now if missing or stale (see the module docstring)."""
    path = scenario / "streams" / f"{kind}.npz"
    expected = fingerprint(scenario, module, kind)
    if path.is_file():
        stream = TrackStream.load(path)
        if stream.meta.get("fingerprint") == expected:
            return stream
        if keep_stale:
            print(f"tune: WARNING using {path}, recorded with other settings (--keep-stale)", flush=True)
            return stream
        print(f"tune: {path} was recorded with other settings: recording again", flush=True)
    started = time.monotonic()
    if kind == "oracle":
        stream = capture_oracle(scenario, module)
    else:
        stream = capture_pipeline(scenario, module, scenario / "streams" / "capture")
    stream.save(path)
    print(f"tune: recorded {path} in {time.monotonic() - started:.0f} s", flush=True)
    return stream


def _load(items: list[tuple[str, str, str]]) -> None:
    """Worker initialiser: every (name, scenario, stream file) case, loaded once per process."""
    if _CASES:
        return
    scorers: dict[str, tuple[Scorer, Any]] = {}
    for name, scenario, path in items:
        if scenario not in scorers:
            scorers[scenario] = (Scorer(scenario), scenario_site(scenario))
        _CASES.append((name, TrackStream.load(path), *scorers[scenario]))


def _score(args: tuple[int, FusionConfig]) -> tuple[str, float]:
    index, config = args
    name, stream, scorer, site = _CASES[index]
    return name, scorer.multi_camera(replay(stream, site, config).online)["IDF1"]


# ---- search -------------------------------------------------------------------------------------


def valid(config: FusionConfig, key: str, value: Any) -> FusionConfig | None:
    """`config` with key=value, keeping the config's cross-field rules (None if it cannot)."""
    changes = {key: value}
    if key == "match_threshold" and config.split_threshold > value:
        changes["split_threshold"] = min(value, max(v for v in GRID["split_threshold"] if v <= value))
    if key == "decision_seconds" and config.max_pending_seconds < value:
        changes["max_pending_seconds"] = value
    try:
        return replace(config, **changes)
    except ValueError:
        return None


def tune(
    start: FusionConfig,
    ablation: str,
    pool: ProcessPoolExecutor,
    cases: int,
    passes: int,
    tolerance: float,
    keys: list[str] | None = None,
) -> dict[str, Any]:
    """Coordinate descent from `start` for one ablation; returns tuned values, scores and the log."""
    seen: dict[tuple, tuple[float, dict[str, float]]] = {}

    def objective(config: FusionConfig) -> tuple[float, dict[str, float]]:
        key = tuple(sorted(asdict(config).items()))
        if key not in seen:
            scores = dict(pool.map(_score, [(i, config) for i in range(cases)]))
            seen[key] = (sum(scores.values()) / len(scores), scores)
        return seen[key]

    started = time.monotonic()
    best = start.ablation(ablation)
    best_value, best_scores = objective(best)
    log: list[dict[str, Any]] = [{"step": "start", "value": round(best_value, 4)}]
    print(f"tune {ablation}: start {best_value:.4f}", flush=True)
    for sweep in range(passes):
        improved = False
        for key in [k for k in GRID if k in USES[ablation] and (keys is None or k in keys)]:
            tried = {}
            for value in GRID[key]:
                config = valid(best, key, value)
                if config is not None:
                    tried[value] = (objective(config)[0], config)
            value, (score, config) = max(tried.items(), key=lambda item: item[1][0])
            if score > best_value + tolerance:
                best, (best_value, best_scores), improved = config, objective(config), True
            trace = {str(v): round(s, 4) for v, (s, _) in tried.items()}
            print(f"tune {ablation}: pass {sweep + 1} {key:30s} {trace} -> {getattr(best, key)}", flush=True)
            log.append(
                {
                    "step": f"pass {sweep + 1} {key}",
                    "tried": trace,
                    "kept": getattr(best, key),
                    "value": round(best_value, 4),
                }
            )
        if not improved:
            break
    print(f"tune {ablation}: best {best_value:.4f} in {time.monotonic() - started:.0f} s", flush=True)
    return {
        "value": round(best_value, 4),
        "scores": {k: round(v, 4) for k, v in best_scores.items()},
        "tuned": {k: getattr(best, k) for k in GRID},
        "evaluations": len(seen),
        "seconds": round(time.monotonic() - started),
        "log": log,
    }


# ---- writing the module -------------------------------------------------------------------------


def _yaml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return repr(value)


def apply_to_module(path: Path, values: dict[str, Any]) -> None:
    """Set `values` in the module YAML's `parameters.fusion` block, in place: existing keys keep their
    line and trailing comment, missing ones are added at the end of the block; nothing else changes."""
    lines = path.read_text().splitlines(keepends=True)
    start = next((i for i, line in enumerate(lines) if re.match(r"^  fusion:\s*(#.*)?$", line)), None)
    if start is None:
        raise ValueError(f"{path}: no `  fusion:` block under parameters")
    end = start + 1
    while end < len(lines) and (lines[end].startswith("    ") or not lines[end].strip()):
        end += 1
    while end > start + 1 and not lines[end - 1].strip():
        end -= 1
    for key, value in values.items():
        pattern = re.compile(rf"^(    {re.escape(key)}:\s*)([^#\n]*?)(\s*#.*)?(\n?)$")
        for i in range(start + 1, end):
            match = pattern.match(lines[i])
            if match:
                comment = match.group(3) or ""
                lines[i] = f"{match.group(1)}{_yaml_value(value)}{comment}{match.group(4)}"
                break
        else:
            lines.insert(end, f"    {key}: {_yaml_value(value)}\n")
            end += 1
    path.write_text("".join(lines))


# ---- command ------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", default="101,102,103,104,105", help="training scenario seeds")
    parser.add_argument("--work", type=Path, default=Path("/tmp/fusion-train"), help="scenarios + streams")
    parser.add_argument("--module", type=Path, default=ROOT / "module" / "module.yml")
    parser.add_argument("--ablations", default=",".join(ABLATIONS), help="tuned one after another")
    parser.add_argument("--streams", default="pipeline,oracle")
    parser.add_argument(
        "--keys", default=None,
        help="comma-separated GRID settings to search (default: all an ablation uses); e.g. only the "
        "cosine-scale ones after an embedder change when CPU time is short",
    )
    parser.add_argument("--passes", type=int, default=2)
    parser.add_argument("--tolerance", type=float, default=0.003)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument(
        "--start", type=Path, default=None, help="start from the travel_time `tuned` values of this JSON"
    )
    parser.add_argument(
        "--keep-stale", action="store_true", help="use recorded streams even if recorded with other settings"
    )
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument(
        "--apply",
        type=Path,
        default=None,
        metavar="MODULE_YML",
        help="write the travel_time values into this module's parameters.fusion",
    )
    args = parser.parse_args(argv)
    ablations = args.ablations.split(",")
    for name in ablations:
        if name not in ABLATIONS:
            parser.error(f"--ablations: unknown {name!r}; known: {', '.join(ABLATIONS)}")
    keys = args.keys.split(",") if args.keys else list(GRID)
    for key in keys:
        if key not in GRID:
            parser.error(f"--keys: unknown {key!r}; known: {', '.join(GRID)}")

    module = load_module_config(args.module)
    items = []
    for seed in [int(s) for s in args.seeds.split(",")]:
        scenario = training_scenario(seed, args.work)
        for kind in args.streams.split(","):
            training_stream(scenario, kind, module, args.keep_stale)
            items.append((f"s{seed}/{kind}", str(scenario), str(scenario / "streams" / f"{kind}.npz")))
    start = module.fusion or FusionConfig()
    if args.start is not None:
        start = replace(start, **json.loads(args.start.read_text())["ablations"]["travel_time"]["tuned"])

    results = {}
    with ProcessPoolExecutor(args.workers, initializer=_load, initargs=(items,)) as pool:
        for name in ablations:
            results[name] = tune(start, name, pool, len(items), args.passes, args.tolerance, keys)
    doc = {
        "objective": "mean multi-camera IDF1 over " + ", ".join(name for name, *_ in items),
        "module": str(args.module),
        "streams": {name: TrackStream.load(path).meta for name, _, path in items},
        "tolerance": args.tolerance,
        "start": {k: getattr(start, k) for k in GRID},
        "ablations": results,
        "command": "python benchmarks/fusion/tune.py " + " ".join(argv if argv is not None else sys.argv[1:]),
    }
    print(json.dumps({name: r["tuned"] for name, r in results.items()}, indent=1))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(doc, indent=1) + "\n")
    if args.apply and "travel_time" in results:
        apply_to_module(args.apply, results["travel_time"]["tuned"])
        print(f"tune: wrote the travel_time values into {args.apply} (parameters.fusion)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
