"""`pyuniproc eval`: score a run's outputs against a scenario's ground truth."""

from __future__ import annotations

import argparse
import sys

from .gate import load_baseline, regressions
from .metrics import IOU_THRESHOLD, evaluate, load_trackeval
from .mot_io import load_distractors, load_ground_truth, load_predictions
from .report import render, write_json


def register(subparsers) -> argparse.ArgumentParser:
    """Adds the `eval` subcommand to a `pyuniproc` argparse subparsers object."""
    parser = subparsers.add_parser(
        "eval",
        help="score tracks against ground truth (HOTA, MOTA, IDF1 per camera; multi-camera IDF1)",
        description="Scores OUT/mot/<cam>.txt (per-camera ids) and OUT/mtmc/<cam>.txt or OUT/tracks.csv "
        "(global ids) against GT/gt/<cam>.txt with TrackEval's HOTA, CLEAR and Identity metrics.",
    )
    add_arguments(parser)
    parser.set_defaults(func=run)
    return parser


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--gt", required=True, help="scenario folder holding gt/<camera_id>.txt")
    parser.add_argument(
        "--pred", required=True, help="run output folder holding mot/ and tracks.csv (or mtmc/)"
    )
    parser.add_argument("--json", default=None, help="also write the scores to this JSON file")
    parser.add_argument(
        "--iou",
        type=float,
        default=IOU_THRESHOLD,
        help="IoU a box needs to count as a match for MOTA and IDF1 (HOTA averages 0.05..0.95)",
    )
    add_gate_arguments(parser)


def add_gate_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--baseline",
        default=None,
        help="a JSON from an earlier `eval --json`: exit 1 if per-camera IDF1/HOTA, overall MOTA or "
        "multi-camera IDF1 fell by more than --tolerance",
    )
    parser.add_argument("--tolerance", type=float, default=0.02, help="allowed drop below --baseline")


def run(args: argparse.Namespace) -> int:
    load_trackeval()  # without the `eval` extra, say so before reading anything
    try:
        gt, n_frames = load_ground_truth(args.gt)
        local, global_rows, notes = load_predictions(args.pred, sorted(gt))
        ignored = load_distractors(args.gt)
        result = evaluate(gt, local, global_rows or None, n_frames, threshold=args.iou, distractors=ignored)
    except (FileNotFoundError, ValueError) as err:
        print(f"pyuniproc eval: {err}", file=sys.stderr)
        return 2
    result["gt"], result["pred"], result["notes"] = str(args.gt), str(args.pred), notes
    print(render(result), end="")
    for note in notes:
        print(f"note: {note}")
    if args.json:
        write_json(result, args.json)
    if getattr(args, "baseline", None):
        failed = regressions(result, load_baseline(args.baseline), tolerance=args.tolerance)
        for line in failed:
            print(f"REGRESSION {line}")
        if failed:
            return 1
        print(f"no score fell more than {args.tolerance} below {args.baseline}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m pyuniproc.evaluation")
    add_arguments(parser)
    return run(parser.parse_args(argv))
