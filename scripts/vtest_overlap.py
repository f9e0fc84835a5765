"""Real footage, two overlapping views: how often one person seen by both carries one global id.

    python scripts/vtest_overlap.py make --out out/vtest_overlap
    pyuniproc run --cameras out/vtest_overlap/cameras.yml --out out/vtest_overlap/run
    python scripts/vtest_overlap.py score --sample out/vtest_overlap --run out/vtest_overlap/run

`make` cuts samples/vtest/vtest.avi (768x576, one fixed camera) into two cameras: `left` sees source
columns 0-480, `right` columns 288-768 (a shared strip 192 px wide, a quarter of the frame), and
`right` is darker (gain 0.65, gamma 1.15: another exposure, as a second camera of a site would
have). The cameras file declares the overlap and nothing else: no calibration, no links.

`score` reads the run's tracked boxes and global ids (`tracks.csv`: every tracked row, also those
still without a global id), maps every box back to source pixels,
and pairs, frame by frame, a `left` box with a `right` box when they cover the same source pixels
(IoU >= 0.5 in source coordinates, one-to-one by the largest IoU). Each (frame, pair) is one moment
when one person is inside the shared strip of both views; the score is the share of those moments
where both boxes carry the same global id (a row without one, -1, counts as a miss).
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from fractions import Fraction
from pathlib import Path

import numpy as np
from scipy.optimize import linear_sum_assignment

ROOT = Path(__file__).resolve().parents[1]
VIDEO = ROOT / "samples" / "vtest" / "vtest.avi"
VIEWS = {  # camera id -> source columns [x0, x1), gain, gamma
    "left": {"x0": 0, "x1": 480, "gain": 1.0, "gamma": 1.0},
    "right": {"x0": 288, "x1": 768, "gain": 0.65, "gamma": 1.15},
}
IOU = 0.5


def make(out: Path, video: Path = VIDEO, crf: int = 20) -> None:
    """Write out/video/<camera>.mp4, out/cameras.yml and out/views.json."""
    import av

    out.mkdir(parents=True, exist_ok=True)
    (out / "video").mkdir(exist_ok=True)
    tables = {
        camera: np.clip(
            np.round(((np.arange(256) / 255.0) ** v["gamma"]) * v["gain"] * 255), 0, 255
        ).astype(np.uint8)
        for camera, v in VIEWS.items()
    }
    with av.open(str(video)) as source:
        stream_in = source.streams.video[0]
        fps = stream_in.average_rate or Fraction(10)
        containers, streams = {}, {}
        for camera, v in VIEWS.items():
            container = av.open(str(out / "video" / f"{camera}.mp4"), mode="w")
            stream = container.add_stream("libx264", rate=fps)
            stream.width, stream.height, stream.pix_fmt = v["x1"] - v["x0"], stream_in.height, "yuv420p"
            stream.options = {"crf": str(crf), "preset": "veryfast", "threads": "1"}
            containers[camera], streams[camera] = container, stream
        frames = 0
        for frame in source.decode(stream_in):
            rgb = frame.to_ndarray(format="rgb24")
            for camera, v in VIEWS.items():
                crop = np.ascontiguousarray(tables[camera][rgb[:, v["x0"] : v["x1"]]])
                packet = streams[camera].encode(av.VideoFrame.from_ndarray(crop, format="rgb24"))
                containers[camera].mux(packet)
            frames += 1
        for camera, container in containers.items():
            container.mux(streams[camera].encode(None))
            container.close()
    (out / "cameras.yml").write_text(
        "# Made by: python scripts/vtest_overlap.py make (vtest.avi as two overlapping cameras)\n"
        "site: vtest-overlap\ncameras:\n"
        + "".join(f"  - id: {camera}\n    uri: video/{camera}.mp4\n" for camera in VIEWS)
        + "topology:\n  overlaps:\n    - [left, right]\n"
    )
    meta = {"video": str(video), "frames": frames, "views": VIEWS}
    (out / "views.json").write_text(json.dumps(meta, indent=1))
    print(f"wrote {out}: {frames} frames per camera, views {VIEWS}")


def read_tracks(path: Path, cameras: list[str]) -> dict[str, np.ndarray]:
    """camera -> (n, 6) frame, global id (-1 where none yet), x, y, w, h from a run's tracks.csv."""
    found: dict[str, list[list[float]]] = {camera: [] for camera in cameras}
    with open(path, newline="") as f:
        for row in csv.DictReader(f):
            if row["camera_id"] not in found:
                continue
            x1, y1, x2, y2 = (float(row[k]) for k in ("x1", "y1", "x2", "y2"))
            gid = int(row["global_id"]) if row["global_id"] not in ("", None) else -1
            found[row["camera_id"]].append([int(row["frame"]), gid, x1, y1, x2 - x1, y2 - y1])
    return {camera: np.array(rows, np.float64).reshape(-1, 6) for camera, rows in found.items()}


def shared_strip_score(rows: dict[str, np.ndarray], views: dict[str, dict] = VIEWS) -> dict[str, float]:
    """Moments (frame, pair of boxes over the same source pixels) and the share with one global id.

    rows: camera -> (n, 6) frame, global id, x, y, w, h in that camera's pixels."""
    a, b = (np.asarray(rows[c], np.float64).reshape(-1, 6).copy() for c in ("left", "right"))
    a[:, 2] += views["left"]["x0"]
    b[:, 2] += views["right"]["x0"]
    pairs = same = unlabelled = 0
    b_by_frame = {int(f): b[b[:, 0] == f] for f in np.unique(b[:, 0])}
    for f in np.unique(a[:, 0]):
        other = b_by_frame.get(int(f))
        if other is None:
            continue
        mine = a[a[:, 0] == f]
        iou = box_iou(mine[:, 2:6], other[:, 2:6])
        rows_i, cols_j = linear_sum_assignment(-iou)
        for i, j in zip(rows_i, cols_j, strict=True):
            if iou[i, j] < IOU:
                continue
            pairs += 1
            gid_a, gid_b = int(mine[i, 1]), int(other[j, 1])
            unlabelled += gid_a < 0 or gid_b < 0
            same += gid_a == gid_b and gid_a >= 0
    return {
        "moments": pairs,
        "same_global_id": same,
        "share": same / pairs if pairs else float("nan"),
        "moments_without_id": unlabelled,
    }


def box_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(n, m) IoU of (n, 4) and (m, 4) x, y, w, h boxes."""
    ax1, ay1, ax2, ay2 = a[:, 0:1], a[:, 1:2], a[:, 0:1] + a[:, 2:3], a[:, 1:2] + a[:, 3:4]
    bx1, by1, bx2, by2 = b[:, 0], b[:, 1], b[:, 0] + b[:, 2], b[:, 1] + b[:, 3]
    w = np.clip(np.minimum(ax2, bx2) - np.maximum(ax1, bx1), 0, None)
    h = np.clip(np.minimum(ay2, by2) - np.maximum(ay1, by1), 0, None)
    inter = w * h
    union = (ax2 - ax1) * (ay2 - ay1) + (bx2 - bx1) * (by2 - by1) - inter
    return np.where(union > 0, inter / np.maximum(union, 1e-9), 0.0)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    make_parser = commands.add_parser("make", help="write the two-camera sample")
    make_parser.add_argument("--out", type=Path, required=True)
    make_parser.add_argument("--video", type=Path, default=VIDEO)
    score_parser = commands.add_parser("score", help="score a run's global ids on the shared strip")
    score_parser.add_argument("--sample", type=Path, required=True, help="the folder `make` wrote")
    score_parser.add_argument("--run", type=Path, required=True, help="a `pyuniproc run` output folder")
    score_parser.add_argument("--json", type=Path, help="also write the result here")
    args = parser.parse_args(argv)
    if args.command == "make":
        make(args.out, args.video)
        return 0
    views = json.loads((args.sample / "views.json").read_text())["views"]
    result = shared_strip_score(read_tracks(args.run / "tracks.csv", list(views)), views)
    print(
        f"shared strip: {result['same_global_id']} of {result['moments']} moments carry one global id "
        f"({100 * result['share']:.1f} %); {result['moments_without_id']} with a row still unlabelled"
    )
    if args.json:
        args.json.write_text(json.dumps(result, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
