"""`pyuniproc accuracy`: the module's accuracy on held-out scenes, in one command.

    pyuniproc accuracy                      # the 6 test scenes (--split test), ~10-20 min on 2 cores
    pyuniproc accuracy --split train        # the tuning scenes: choose settings here, never on test
    pyuniproc accuracy --seeds 301 --seconds 5 --results /tmp/acc   # a quick look (the CI test)
    pyuniproc accuracy --ablation           # + what each fusion lever adds (replays of the recordings)

Per scene: generated once into --work (kept outside git, reused while the generator and arguments
are unchanged), the pipeline recorded once per settings fingerprint (also kept in --work), scored
per camera and across cameras (see `pyuniproc.accuracy.measure`). Prints the tables and writes
<results>/<name>.json, .md and .html (with the exact command and the machine). The HTML also shows,
per scene, crops of the largest global ids from every camera they were seen in, with the GT person
each covers (a wrong merge is marked). With --ablation each recording is also replayed with the fusion
levers switched one by one (`pyuniproc.accuracy.levers`; seconds per scene, nothing recorded again),
and other result files on the same scenes (detector, embedder runs) are listed beside it.
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

from pyuniproc.accuracy import levers, protocol, report
from pyuniproc.accuracy.gallery import TOP_IDS, Thumbs, cut_thumbnails
from pyuniproc.accuracy.measure import record, score_stream


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
    parser.add_argument("--ablation", action="store_true",
                        help="also replay each recording with the fusion levers switched one by one "
                        "(appearance only, + topology, + travel time, + floor positions, + zones; without "
                        "the decision delay; without corrections) and list other result files on the same "
                        "scenes")
    parser.add_argument("--compare", type=Path, nargs="*", default=None, metavar="JSON",
                        help="with --ablation: result files to list (default: the other .json files in the "
                        "results folder on the same scenes)")
    parser.add_argument("--gallery", type=int, default=TOP_IDS, metavar="N",
                        help="per scene, crops of the N largest global ids in the HTML (0: none; default "
                        "%(default)s)")


def run(args: argparse.Namespace) -> int:
    from pyuniproc.config.module import load_module_config

    try:
        seeds = [int(s) for s in args.seeds.split(",")] if args.seeds else None
        chosen = protocol.scenes(args.split, seeds, args.seconds)
        module = load_module_config(args.module)
        if args.ablation and module.fusion is None:
            raise ValueError(f"--ablation replays fusion, but {args.module} has no parameters.fusion")
        if args.gallery < 0:
            raise ValueError(f"--gallery must be >= 0, got {args.gallery}")
        doc, thumbs = run_protocol(chosen, module, args.work, workers=args.workers, log=_log,
                                   ablation=args.ablation, gallery_ids=args.gallery)
    except (FileNotFoundError, ValueError) as exc:
        print(f"pyuniproc accuracy: {exc}", file=sys.stderr)
        return 2
    doc["command"] = command_line(args)
    folder = args.results or args.work / "results"
    stem = args.name or args.split
    if args.ablation:
        others = args.compare if args.compare is not None else [
            p for p in folder.glob("*.json") if p.name != f"{stem}.json"
        ]
        doc["ablation"]["compare"] = levers.compare_files(list(others), doc)
    print(report.render_text(doc), end="")
    for path in report.write(doc, folder, stem, thumbnails=thumbs):
        print(f"wrote {path}")
    return 0


def run_protocol(chosen: list[protocol.SceneChoice], module: Any, work: Path, *,
                 workers: int | None = None, log: Any = None, ablation: bool = False,
                 gallery_ids: int = TOP_IDS) -> tuple[dict[str, Any], dict[str, Thumbs]]:
    """Generate the missing scenes (all first: rendering forks, and a process running the pipeline's
    threads should not fork), then record and score each (and with `ablation`, replay its levers);
    returns the results document and, per seed, the gallery's crops."""
    started = time.monotonic()
    work = Path(work)
    folders = [protocol.ensure_scenario(scene, work, log=log, workers=workers) for scene in chosen]
    results, rows, thumbs, lever_scores = {}, [], {}, {}
    for scene, folder in zip(chosen, folders, strict=True):
        stream = record(folder, module, work / "streams" / scene.name, log=log)
        result = score_stream(folder, stream, module, gallery_ids=gallery_ids)
        result["scenario"] = str(folder)
        results[str(scene.seed)] = result
        rows.append(report.scene_row(scene.seed, result))
        if gallery_ids and result.get("gallery"):
            thumbs[str(scene.seed)] = cut_thumbnails(folder, result["gallery"])
        if ablation:
            lever_scores[str(scene.seed)] = levers.measure_levers(folder, stream, module.fusion)
        if log:
            mc = rows[-1]["MC-IDF1"]
            log(f"accuracy: seed {scene.seed}: mean per-camera IDF1 {rows[-1]['cam IDF1']:.3f}, "
                f"multi-camera IDF1 {'-' if mc is None else f'{mc:.3f}'}")
    summary = report.summarise(rows)
    spec = asdict(chosen[0].spec) if chosen else {}
    doc = {
        "split": chosen[0].split if chosen else None,
        "seeds": [scene.seed for scene in chosen],
        "scene_arguments": {k: v for k, v in spec.items() if k not in ("seed",)},
        "generator_version": protocol.GENERATOR_VERSION,
        "settings": settings(module),
        "machine": report.machine(),
        "rows": rows,
        "summary": summary,
        "height_bands": report.pooled_bands(list(results.values())),
        "goals": report.goals(summary),
        "scenes": results,
        "seconds": round(time.monotonic() - started, 1),
    }
    if ablation:
        doc["ablation"] = levers.summarise_levers(lever_scores, module.fusion)
    return doc, thumbs


def settings(module: Any) -> dict[str, Any]:
    """What the numbers depend on, in a line each."""
    fusion = module.fusion
    if fusion is None:
        mode = "off"
    elif not fusion.use_topology:
        mode = "appearance only"
    else:
        extras = [name for name, on in (("travel time", fusion.use_travel_time), ("floor positions",
                  fusion.use_floor), ("exit/entry zones", fusion.use_floor and fusion.learn_zones)) if on]
        mode = " + ".join(["topology", *extras])
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
    if getattr(args, "ablation", False):
        parts.append("--ablation")
    if getattr(args, "compare", None):
        parts += ["--compare", *map(str, args.compare)]
    if getattr(args, "gallery", TOP_IDS) != TOP_IDS:
        parts += ["--gallery", str(args.gallery)]
    return shlex.join(parts)


def _log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)
