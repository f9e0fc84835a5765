"""`pyuniproc calibrate`: fit and check the ground-plane calibrations of a cameras file.

    pyuniproc calibrate --cameras site/cameras.yml [--camera cam1] [--json out.json] [--max-error 0.25]

For every camera with a `ground:` entry it prints the homography (image pixels -> plane metres; paste it
back as `homography:` to pin it), and for each point pair where the homography puts the image point and
how far that is from the plane point given (the reprojection error). A calibration whose worst point is
off by more than --max-error metres (a mistyped coordinate, a point not on the ground) fails the command.
Degenerate input - fewer than 4 pairs, points on one line, a camera not in the site - is a config error
naming the camera and the field. Overlapping cameras that are both calibrated are listed: fusion compares
their people's positions on the plane directly.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

DEFAULT_MAX_ERROR = 0.25


def register(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "calibrate",
        help="fit and check each camera's ground-plane calibration (image foot point -> site metres)",
        description=__doc__.split("\n\n")[0],
    )
    parser.add_argument("--cameras", type=Path, required=True, help="cameras file (docs/cameras-file.md)")
    parser.add_argument("--camera", action="append", help="only this camera (repeat for more)")
    parser.add_argument("--json", type=Path, help="also write the result as JSON")
    parser.add_argument(
        "--max-error",
        type=float,
        default=DEFAULT_MAX_ERROR,
        help=f"metres; a point reprojected farther than this fails the check (default {DEFAULT_MAX_ERROR})",
    )
    parser.set_defaults(func=run)
    return parser


def run(args: argparse.Namespace) -> int:
    from pyuniproc.config.cameras import load_cameras  # ConfigError reaches the CLI: file, line, field

    site = load_cameras(args.cameras)
    wanted = args.camera or sorted(site.ground)
    missing = [c for c in wanted if c not in {camera.id for camera in site.cameras}]
    if missing:
        print(f"pyuniproc calibrate: camera(s) {missing} not in {args.cameras}", file=sys.stderr)
        return 2
    result = {"cameras_file": str(args.cameras), "max_error_metres": args.max_error, "cameras": []}
    failed = []
    for camera_id in wanted:
        calibration = site.ground.get(camera_id)
        if calibration is None:
            print(f"{camera_id}: no ground calibration (fusion learns overlapping views' maps from the run)")
            continue
        described = calibration.describe()
        result["cameras"].append(described)
        print(_render(calibration, args.max_error))
        worst = described["max_metres"]
        if worst is not None and worst > args.max_error:
            failed.append(camera_id)
    pairs = [sorted(group) for group in site.topology.overlaps if all(c in site.ground for c in group)]
    result["compared_on_plane"] = pairs
    if pairs:
        print("overlapping cameras compared on the plane: " + ", ".join(" / ".join(p) for p in pairs))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=1) + "\n")
    if failed:
        print(f"pyuniproc calibrate: points off by more than {args.max_error} m in {failed}", file=sys.stderr)
        return 1
    return 0


def _render(calibration, max_error: float) -> str:
    matrix = calibration.matrix
    rows = ", ".join("[" + ", ".join(f"{v + 0.0:.9g}" for v in row) + "]" for row in matrix)
    how = "fitted from points" if calibration.fitted else "declared"
    lines = [f"{calibration.camera_id}: homography ({how}): [{rows}]"]
    errors = calibration.errors()
    if not len(errors):
        lines.append("  no point pairs to check it against")
        return "\n".join(lines)
    mapped = calibration.to_plane(calibration.image_points)
    lines.append("  point   image (px)            plane (m)             reprojected (m)       error (m)")
    for i, (image, plane, where, error) in enumerate(
        zip(calibration.image_points, calibration.plane_points, mapped, errors, strict=True), start=1
    ):
        flag = "  <- off" if error > max_error else ""
        lines.append(
            f"  {i:>5}   [{image[0]:8.2f}, {image[1]:8.2f}]  [{plane[0]:8.3f}, {plane[1]:8.3f}]  "
            f"[{where[0]:8.3f}, {where[1]:8.3f}]  {error:9.4f}{flag}"
        )
    lines.append(f"  rms {float(np.sqrt(np.mean(errors**2))):.4f} m, max {float(errors.max()):.4f} m")
    return "\n".join(lines)
