"""Real footage, two overlapping views: how often one person seen by both carries one global id.

    python scripts/vtest_overlap.py make --out out/vtest_overlap
    pyuniproc run --cameras out/vtest_overlap/cameras.yml --out out/vtest_overlap/run
    python scripts/vtest_overlap.py score --sample out/vtest_overlap --run out/vtest_overlap/run

or, to try fusion settings without running detection again (the pipeline is recorded once per
settings fingerprint, then fusion is replayed as the runtime calls it; `--set KEY=VALUE` as in
`pyuniproc ablation`):

    python scripts/vtest_overlap.py replay --sample out/vtest_overlap --cache out/vtest_overlap/streams

`make` cuts one fixed camera's video (default samples/vtest/vtest.avi, 768x576; `--video` any other)
into two cameras: `left` sees the source's columns 0-62.5 %, `right` 37.5-100 % (for vtest 0-480 and
288-768: a shared strip 192 px wide, a quarter of the frame), and `right` is darker (gain 0.65, gamma
1.15: another exposure, as a second camera of a site would have). The cameras file declares the
overlap and nothing else: no calibration, no links.

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
SHARED = 0.25
"""Share of the source width both views see."""
IOU = 0.5


def views_for(width: int) -> dict[str, dict]:
    """Camera id -> source columns [x0, x1), gain, gamma of the two views of a `width`-pixel source
    (even column bounds: H.264 wants even frame sizes)."""
    half = int(round(width * (1 + SHARED) / 4)) * 2  # each view's width: (1 + SHARED) / 2 of the source
    return {
        "left": {"x0": 0, "x1": half, "gain": 1.0, "gamma": 1.0},
        "right": {"x0": width - half, "x1": width, "gain": 0.65, "gamma": 1.15},
    }


VIEWS = views_for(768)


def make(out: Path, video: Path = VIDEO, crf: int = 20) -> None:
    """Write out/video/<camera>.mp4, out/cameras.yml and out/views.json."""
    import av

    out.mkdir(parents=True, exist_ok=True)
    (out / "video").mkdir(exist_ok=True)
    with av.open(str(video)) as source:
        stream_in = source.streams.video[0]
        fps = stream_in.average_rate or Fraction(10)
        views = views_for(stream_in.width)
        tables = {
            camera: np.clip(
                np.round(((np.arange(256) / 255.0) ** v["gamma"]) * v["gain"] * 255), 0, 255
            ).astype(np.uint8)
            for camera, v in views.items()
        }
        containers, streams = {}, {}
        for camera, v in views.items():
            container = av.open(str(out / "video" / f"{camera}.mp4"), mode="w")
            stream = container.add_stream("libx264", rate=fps)
            stream.width, stream.height, stream.pix_fmt = v["x1"] - v["x0"], stream_in.height, "yuv420p"
            stream.options = {"crf": str(crf), "preset": "veryfast", "threads": "1"}
            containers[camera], streams[camera] = container, stream
        frames = 0
        for frame in source.decode(stream_in):
            rgb = frame.to_ndarray(format="rgb24")
            for camera, v in views.items():
                crop = np.ascontiguousarray(tables[camera][rgb[:, v["x0"] : v["x1"]]])
                packet = streams[camera].encode(av.VideoFrame.from_ndarray(crop, format="rgb24"))
                containers[camera].mux(packet)
            frames += 1
        for camera, container in containers.items():
            container.mux(streams[camera].encode(None))
            container.close()
    (out / "cameras.yml").write_text(
        f"# Made by: python scripts/vtest_overlap.py make ({video.name} as two overlapping cameras)\n"
        f"site: {video.stem}-overlap\ncameras:\n"
        + "".join(f"  - id: {camera}\n    uri: video/{camera}.mp4\n" for camera in views)
        + "topology:\n  overlaps:\n    - [left, right]\n"
    )
    meta = {"video": str(video), "frames": frames, "fps": float(fps), "views": views}
    (out / "views.json").write_text(json.dumps(meta, indent=1))
    print(f"wrote {out}: {frames} frames per camera, views {views}")


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


def strip_moments(rows: dict[str, np.ndarray], views: dict[str, dict] = VIEWS) -> np.ndarray:
    """(n, 3) frame, left global id, right global id of each moment: a `left` box and a `right` box of
    one frame over the same source pixels (IoU >= 0.5 in source coordinates, one-to-one by the largest).

    rows: camera -> (n, 6) frame, global id, x, y, w, h in that camera's pixels."""
    a, b = (np.asarray(rows[c], np.float64).reshape(-1, 6).copy() for c in ("left", "right"))
    a[:, 2] += views["left"]["x0"]
    b[:, 2] += views["right"]["x0"]
    moments = []
    b_by_frame = {int(f): b[b[:, 0] == f] for f in np.unique(b[:, 0])}
    for f in np.unique(a[:, 0]):
        other = b_by_frame.get(int(f))
        if other is None:
            continue
        mine = a[a[:, 0] == f]
        iou = box_iou(mine[:, 2:6], other[:, 2:6])
        rows_i, cols_j = linear_sum_assignment(-iou)
        for i, j in zip(rows_i, cols_j, strict=True):
            if iou[i, j] >= IOU:
                moments.append((f, mine[i, 1], other[j, 1]))
    return np.array(moments, np.float64).reshape(-1, 3)


def shared_strip_score(rows: dict[str, np.ndarray], views: dict[str, dict] = VIEWS) -> dict[str, float]:
    """Moments (see `strip_moments`) and the share with one global id (a row without one, -1, is a miss).

    rows: camera -> (n, 6) frame, global id, x, y, w, h in that camera's pixels."""
    return _share(strip_moments(rows, views))


def _share(moments: np.ndarray) -> dict[str, float]:
    gid_a, gid_b = moments[:, 1], moments[:, 2]
    pairs, same = len(moments), int(((gid_a == gid_b) & (gid_a >= 0)).sum())
    return {
        "moments": pairs,
        "same_global_id": same,
        "share": same / pairs if pairs else float("nan"),
        "moments_without_id": int(((gid_a < 0) | (gid_b < 0)).sum()),
    }


def by_phase(moments: np.ndarray, fps: float, split_seconds: float) -> dict[str, dict[str, float]]:
    """The score of the moments before `split_seconds` of video (while a map is being learned) and after."""
    early = (moments[:, 0] - 1) / fps < split_seconds
    return {
        f"before_{split_seconds:g}s": _share(moments[early]),
        f"after_{split_seconds:g}s": _share(moments[~early]),
    }


def replay_sample(sample: Path, cache: Path, module_path: Path, overrides: list[str]) -> dict:
    """Record the pipeline on `sample` once (cached by settings fingerprint), replay fusion with the
    module's `parameters.fusion` (and `KEY=VALUE` overrides); the shared-strip score, per phase too,
    and fusion's floor report."""
    from pyuniproc.ablation.capture import cached, capture_pipeline, fingerprint
    from pyuniproc.ablation.command import fusion_settings
    from pyuniproc.ablation.replay import replay
    from pyuniproc.config.cameras import load_cameras
    from pyuniproc.config.module import load_module_config

    module = load_module_config(module_path)
    key = fingerprint(sample, module, "pipeline")
    cache.mkdir(parents=True, exist_ok=True)
    stream = cached(
        cache / f"pipeline-{key}.npz", key, lambda: capture_pipeline(sample, module, cache / "capture")
    )
    done = replay(stream, load_cameras(sample / "cameras.yml"), fusion_settings(module.fusion, overrides))
    meta = json.loads((sample / "views.json").read_text())
    moments = strip_moments(done.every, meta["views"])
    return {
        **_share(moments),
        "phases": by_phase(moments, meta.get("fps", 10.0), 20.0),
        "floor": done.floor,
        "decision_delay_max_seconds": done.stats.get("decision_delay_max_seconds"),
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
    replay_parser = commands.add_parser("replay", help="record the pipeline once, replay fusion, score")
    replay_parser.add_argument("--sample", type=Path, required=True, help="the folder `make` wrote")
    replay_parser.add_argument("--cache", type=Path, required=True, help="where recordings are kept")
    replay_parser.add_argument("--module", type=Path, default=ROOT / "module" / "module.yml")
    replay_parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                               help="a fusion setting instead of the module's (repeatable)")
    replay_parser.add_argument("--json", type=Path, help="also write the result here")
    args = parser.parse_args(argv)
    if args.command == "make":
        make(args.out, args.video)
        return 0
    if args.command == "replay":
        result = replay_sample(args.sample, args.cache, args.module, args.set)
        print(json.dumps(result, indent=1))
        if args.json:
            args.json.write_text(json.dumps(result, indent=1) + "\n")
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
