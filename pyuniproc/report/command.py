"""`pyuniproc report`: one self-contained HTML page about a run's cross-camera identities.

    pyuniproc report --run out/demo --cameras samples/demo/cameras.yml
    pyuniproc report --run out/bench --gt samples/scenario_default          # with the metrics table

Reads the run folder's tracks.csv (global ids) and summary.json, the cameras file (topology; with
--gt, the scenario's cameras.yml is used when --cameras is not given) and the cameras' videos
(thumbnails). With --gt the run is scored as `pyuniproc eval` scores it; --metrics takes the JSON of
an earlier `pyuniproc eval --json` instead (its scenario, when still there, is used as --gt is). Scored,
each thumbnail is labelled with the GT person its track covers and ids covering several people are
marked as wrong merges.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from pyuniproc.report.data import load_run
from pyuniproc.report.page import render_page, write
from pyuniproc.report.people import track_people
from pyuniproc.report.thumbs import make_thumbnails
from pyuniproc.runtime.report import results_lines


def register(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "report",
        help="HTML report of a run: identity timelines, topology with hand-overs, thumbnails, metrics",
        description=__doc__.split("\n\n")[0],
    )
    add_arguments(parser)
    parser.set_defaults(func=run)
    return parser


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--run", type=Path, required=True, help="run output folder (tracks.csv, summary.json)"
    )
    parser.add_argument(
        "--cameras", type=Path, default=None, help="cameras file of the run (topology, videos)"
    )
    parser.add_argument(
        "--gt", type=Path, default=None, help="scenario folder with gt/: adds the metrics table"
    )
    parser.add_argument("--metrics", type=Path, default=None, help="an `pyuniproc eval --json` file to show")
    parser.add_argument("--out", type=Path, default=None, help="HTML file to write (default RUN/report.html)")
    parser.add_argument("--title", default=None)
    parser.add_argument("--thumbnails", type=int, default=6, help="most thumbnails per identity (0: none)")


def run(args: argparse.Namespace) -> int:
    try:
        path = write_report(
            args.run,
            out=args.out,
            cameras=args.cameras,
            gt=args.gt,
            metrics_json=args.metrics,
            title=args.title,
            thumbnails=args.thumbnails,
        )
    except (FileNotFoundError, ValueError) as exc:
        print(f"pyuniproc report: {exc}", file=sys.stderr)
        return 2
    print(f"wrote {path}")
    for line in results_lines(run_results(args.run, report=path, metrics_json=args.metrics)):
        print(line)
    return 0


def run_results(run_dir: Path, *, report: Path, metrics_json: Path | None) -> dict[str, str]:
    """Everything the run folder holds, as the run listed it (summary.json), plus scores and report."""
    try:
        outputs = dict(json.loads((run_dir / "summary.json").read_text()).get("outputs") or {})
    except (OSError, ValueError, AttributeError):
        outputs = {"out": str(run_dir)}
    if metrics_json is not None:
        outputs["eval"] = str(metrics_json)
    outputs["report"] = str(report)
    return outputs


def write_report(
    run_dir: str | Path,
    *,
    out: str | Path | None = None,
    cameras: str | Path | None = None,
    gt: str | Path | None = None,
    metrics_json: str | Path | None = None,
    title: str | None = None,
    thumbnails: int = 6,
) -> Path:
    """Build the report of `run_dir` and write it (default `run_dir/report.html`); returns its path.
    The runtime can call this at the end of a run with its out dir and cameras file."""
    run_dir = Path(run_dir)
    metrics = score(run_dir, gt) if gt is not None else None
    if metrics is None and metrics_json is not None:
        metrics = json.loads(Path(metrics_json).read_text())
    gt_dir = gt if gt is not None else _scored_against(metrics)
    if cameras is None and gt_dir is not None and (Path(gt_dir) / "cameras.yml").is_file():
        cameras = Path(gt_dir) / "cameras.yml"
    data = load_run(run_dir, cameras)
    owners = track_people(run_dir, gt_dir) if gt_dir is not None else None
    thumbs = make_thumbnails(data, per_identity=thumbnails, owners=owners) if thumbnails > 0 else {}
    page = render_page(data, thumbs, metrics, title=title, owners=owners)
    return write(out or run_dir / "report.html", page)


def _scored_against(metrics: dict[str, Any] | None) -> Path | None:
    """The scenario an `eval --json` result was scored against, when it is still there (its gt/ says
    which person each track covers, for marking wrong merges)."""
    where = (metrics or {}).get("gt")
    return Path(where) if where and (Path(where) / "gt").is_dir() else None


def score(run_dir: str | Path, gt: str | Path) -> dict[str, Any]:
    """The run scored as `pyuniproc eval --gt GT --pred RUN` scores it."""
    from pyuniproc.evaluation.metrics import evaluate
    from pyuniproc.evaluation.mot_io import load_distractors, load_ground_truth, load_predictions

    truth, n_frames = load_ground_truth(gt)
    local, global_rows, notes = load_predictions(run_dir, sorted(truth))
    result = evaluate(truth, local, global_rows or None, n_frames, distractors=load_distractors(gt))
    result["gt"], result["pred"], result["notes"] = str(gt), str(run_dir), notes
    return result
