"""`pyuniproc scenario`: the command line of the benchmark generator."""

from __future__ import annotations

import argparse
import sys

from .generate import ScenarioSpec, generate


def register(subparsers) -> argparse.ArgumentParser:
    """Adds the `scenario` subcommand to a `pyuniproc` argparse subparsers object."""
    parser = subparsers.add_parser(
        "scenario",
        help="render a synthetic multi-camera benchmark with exact ground truth",
        description="Render N cameras of a site where real pedestrians (cut out of vtest.avi) walk between "
        "linked views; writes video/<cam>.mp4, gt/<cam>.txt, cameras.yml, identities.json, README.",
    )
    add_arguments(parser)
    parser.set_defaults(func=run)
    return parser


def add_arguments(parser: argparse.ArgumentParser) -> None:
    d = ScenarioSpec()
    parser.add_argument(
        "--seed", type=int, default=d.seed, help="same seed and arguments -> identical output"
    )
    parser.add_argument("--cameras", type=int, default=d.cameras, help="number of cameras, 2..16")
    parser.add_argument(
        "--people", type=int, default=d.people, help="people in the site, lookalikes included"
    )
    parser.add_argument("--seconds", type=float, default=d.seconds, help="length of every video")
    parser.add_argument("--out", required=True, help="output folder")
    parser.add_argument("--fps", type=float, default=d.fps)
    parser.add_argument("--width", type=int, default=d.width)
    parser.add_argument("--height", type=int, default=d.height)
    parser.add_argument(
        "--distractors",
        type=int,
        default=None,
        help="how many of the people are lookalikes (another person's sprite recoloured); "
        "default people // 6",
    )
    parser.add_argument(
        "--overlaps",
        type=int,
        default=d.overlaps,
        help="pairs of neighbouring cameras whose views overlap (same people seen at once)",
    )
    parser.add_argument(
        "--split",
        choices=("all", "train", "test"),
        default=d.split,
        help="which sprite identities to use: train = people first seen in the first half "
        "of vtest, test = second half",
    )
    parser.add_argument("--crf", type=int, default=d.crf, help="x264 quality (lower = bigger, sharper)")
    parser.add_argument("--workers", type=int, default=None, help="render processes (default: CPU count)")
    parser.add_argument("--quiet", action="store_true", help="no progress display")


def run(args: argparse.Namespace) -> int:
    try:
        spec = ScenarioSpec(
            seed=args.seed,
            cameras=args.cameras,
            people=args.people,
            seconds=args.seconds,
            fps=args.fps,
            width=args.width,
            height=args.height,
            distractors=args.distractors,
            overlaps=args.overlaps,
            split=args.split,
            crf=args.crf,
        )
    except ValueError as err:
        print(f"pyuniproc scenario: {err}", file=sys.stderr)
        return 2
    summary = generate(spec, args.out, workers=args.workers, show_progress=not args.quiet)
    rows = sum(summary["gt_rows"].values())
    print(
        f"wrote {args.out}: {summary['cameras']} cameras x {summary['frames']} frames, "
        f"{summary['people']} people, "
        f"{rows} GT rows in {summary['seconds_total']:.1f} s "
        f"(plan {summary['seconds_plan']:.1f} s, render {summary['seconds_render']:.1f} s)"
    )
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m pyuniproc.scenario")
    add_arguments(parser)
    return run(parser.parse_args(argv))
