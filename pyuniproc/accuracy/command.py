"""`pyuniproc accuracy`: the module's accuracy on held-out scenes, in one command.

    pyuniproc accuracy                      # the 6 test scenes (--split test), ~10-20 min on 2 cores
    pyuniproc accuracy --split train        # the tuning scenes: choose settings here, never on test
    pyuniproc accuracy --seeds 301 --seconds 5 --results /tmp/acc   # a quick look (the CI test)

Per scene: generated once into --work (kept outside git, reused while the generator and arguments
are unchanged), the pipeline recorded once per settings fingerprint (also kept in --work), scored
per camera and across cameras (see `pyuniproc.accuracy.measure`). Prints the tables and writes
<results>/<name>.json, .md and .html (with the exact command and the machine).
"""

from __future__ import annotations

import argparse
import os
import shlex
import sys
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

from pyuniproc.accuracy import protocol, report
from pyuniproc.accuracy.measure import measure_scene


def register(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "accuracy",
        help="score the module on the protocol's held-out scenes (per-camera and multi-camera IDF1, ...)",
        description=__doc__.split("\n\n")[0],
    )
    add_arguments(parser)
    parser.set_defaults(func=run)
    return parser


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--split", choices=sorted(protocol.SPLIT_SEEDS), default="test",
                        help="test: the held-out scenes (default); train: the tuning scenes")
    parser.add_argument("--seeds", default=None,
                        help="comma-separated seeds instead of the split's list (e.g. 301,302)")
    parser.add_argument("--seconds", type=float, default=None,
                        help=f"scene length (default {protocol.DEFAULT_ARGUMENTS['seconds']:g}, the default "
                        "scenario's); shorter for quick looks")
    parser.add_argument("--module", type=Path, default=Path("module/module.yml"), help="module YAML")
    parser.add_argument("--work", type=Path, default=Path("out/accuracy"),
                        help="cache of generated scenes and pipeline recordings (outside git)")
    parser.add_argument("--results", type=Path, default=None,
                        help="folder for <name>.json/.md/.html (default: <work>/results)")
    parser.add_argument("--name", default=None, help="file stem of the results (default: the split)")
    parser.add_argument("--workers", type=int, default=None, help="scene render processes (default: CPUs)")


def run(args: argparse.Namespace) -> int:
    from pyuniproc.config.module import load_module_config

    try:
        seeds = [int(s) for s in args.seeds.split(",")] if args.seeds else None
        chosen = protocol.scenes(args.split, seeds, args.seconds)
        module = load_module_config(args.module)
        doc = run_protocol(chosen, module, args.work, workers=args.workers, log=_log)
    except (FileNotFoundError, ValueError) as exc:
        print(f"pyuniproc accuracy: {exc}", file=sys.stderr)
        return 2
    doc["command"] = command_line(args)
    print(report.render_text(doc), end="")
    folder = args.results or args.work / "results"
    for path in report.write(doc, folder, args.name or args.split):
        print(f"wrote {path}")
    return 0


def run_protocol(chosen: list[protocol.SceneChoice], module: Any, work: Path, *,
                 workers: int | None = None, log: Any = None) -> dict[str, Any]:
    """Generate the missing scenes (all first: rendering forks, and a process running the pipeline's
    threads should not fork), then record and score each; returns the results document."""
    started = time.monotonic()
    work = Path(work)
    folders = [protocol.ensure_scenario(scene, work, log=log, workers=workers) for scene in chosen]
    results, rows = {}, []
    for scene, folder in zip(chosen, folders, strict=True):
        result = measure_scene(folder, module, work / "streams" / scene.name, log=log)
        result["scenario"] = str(folder)
        results[str(scene.seed)] = result
        rows.append(report.scene_row(scene.seed, result))
        if log:
            mc = rows[-1]["MC-IDF1"]
            log(f"accuracy: seed {scene.seed}: mean per-camera IDF1 {rows[-1]['cam IDF1']:.3f}, "
                f"multi-camera IDF1 {'-' if mc is None else f'{mc:.3f}'}")
    summary = report.summarise(rows)
    spec = asdict(chosen[0].spec) if chosen else {}
    return {
        "split": chosen[0].split if chosen else None,
        "seeds": [scene.seed for scene in chosen],
        "scene_arguments": {k: v for k, v in spec.items() if k not in ("seed",)},
        "settings": settings(module),
        "machine": report.machine(),
        "rows": rows,
        "summary": summary,
        "height_bands": report.pooled_bands(list(results.values())),
        "goals": report.goals(summary),
        "scenes": results,
        "seconds": round(time.monotonic() - started, 1),
    }


def settings(module: Any) -> dict[str, Any]:
    """What the numbers depend on, in a line each."""
    fusion = module.fusion
    if fusion is None:
        mode = "off"
    elif fusion.use_travel_time:
        mode = "topology + travel time"
    else:
        mode = "topology" if fusion.use_topology else "appearance only"
    return {
        "module": str(module.path),
        "detector": module.detector.model_file,
        "cpu_precision": module.runtime.cpu_precision,
        "confidence_threshold": module.detector.confidence_threshold,
        "tracker": {"kind": module.tracker.kind, **module.tracker.params},
        "reid": module.reid.model_file if module.reid else None,
        "reid_selection": dict(module.reid.selection) if module.reid else None,
        "fusion": mode,
    }


ENVIRONMENT = ("DETECTOR", "CPU_PRECISION", "DETECTION_THRESHOLD", "TRACK_HIGH_THRESHOLD", "FUSION_ABLATION")
"""Environment overrides the module YAML reads that change the scores: recorded with the command."""


def command_line(args: argparse.Namespace) -> str:
    env = [f"{name}={os.environ[name]}" for name in ENVIRONMENT if os.environ.get(name)]
    parts = [*env, "pyuniproc", "accuracy", "--split", args.split]
    if args.seeds:
        parts += ["--seeds", args.seeds]
    if args.seconds is not None:
        parts += ["--seconds", f"{args.seconds:g}"]
    parts += ["--module", str(args.module), "--work", str(args.work)]
    if args.results is not None:
        parts += ["--results", str(args.results)]
    if args.name:
        parts += ["--name", args.name]
    return shlex.join(parts)


def _log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)
