"""What the tracks with no ground-truth person are, on the TUNING scenes only (--split train).

    python benchmarks/accuracy/false_tracks.py --work /work/acc-adapted [--seeds 101,102]

Runs the module's ByteTrack on the detector boxes tune_tracker.py cached in --work and sorts every
reported track by what its rows are: `true` (most rows match a scored GT person at IoU 0.5), `hidden`
(most rows match a distractor: a person drawn but mostly hidden, forgiven by the scoring), or false.
A false track is then `part` (its box lies mostly inside a person's GT box: a torso or head above the
fence), `duplicate` (it overlaps another reported track), `static` (its centre moved less than
--static-motion of its height over its life: scenery) or `other`. Prints a table per view (street /
vtest) with lifetime, score, height and motion.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np
from scipy.optimize import linear_sum_assignment

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks" / "quality"))

from tune_tracker import detect_scene  # noqa: E402

from pyuniproc.accuracy import protocol  # noqa: E402
from pyuniproc.config.module import load_module_config  # noqa: E402
from pyuniproc.evaluation.mot_io import load_distractors, load_ground_truth  # noqa: E402
from pyuniproc.track import create_tracker  # noqa: E402
from pyuniproc.track.matching import box_iou  # noqa: E402
from pyuniproc.types import Detections  # noqa: E402


def track_camera(frames: list, setting: dict) -> np.ndarray:
    """(n, 7) rows frame, id, x, y, w, h, score of one camera's reported tracks (tune.py's track_all,
    keeping the matched detection's score)."""
    params = {k: v for k, v in setting.items() if k != "confidence_threshold"}
    tracker = create_tracker("bytetrack", **params)
    rows = []
    for index, (boxes, conf) in enumerate(frames):
        keep = conf >= setting["confidence_threshold"]
        n = int(keep.sum())
        dets = Detections(xyxy=boxes[keep], confidence=conf[keep], class_id=np.zeros(n, np.int32))
        out = tracker.update(dets)
        for box, tid, score in zip(out.xyxy, out.tracker_id, out.confidence, strict=True):
            rows.append((index + 1, tid, box[0], box[1], box[2] - box[0], box[3] - box[1], score))
    return np.array(rows, np.float64).reshape(-1, 7)


def xyxy(rows: np.ndarray) -> np.ndarray:
    """(n, 4) xyxy of MOT rows (frame, id, x, y, w, h)."""
    return np.column_stack([rows[:, 2], rows[:, 3], rows[:, 2] + rows[:, 4], rows[:, 3] + rows[:, 5]])


def label_rows(pred: np.ndarray, gt: np.ndarray, hidden: np.ndarray) -> np.ndarray:
    """Per predicted row: 0 false, 1 matches a scored person, 2 matches a distractor, 3 lies inside a
    person (at least 60 % of its area in a GT or distractor box, IoU < 0.5)."""
    out = np.zeros(len(pred), np.int8)
    people = np.concatenate([gt, hidden])
    for frame in np.unique(pred[:, 0]):
        p = np.nonzero(pred[:, 0] == frame)[0]
        g = people[people[:, 0] == frame]
        if not len(g):
            continue
        iou = box_iou(xyxy(pred[p]), xyxy(g))
        rows, cols = linear_sum_assignment(-np.where(iou >= 0.5, iou, 0))
        ok = iou[rows, cols] >= 0.5
        n_scored = int(np.sum(gt[:, 0] == frame))
        out[p[rows[ok]]] = np.where(cols[ok] < n_scored, 1, 2)
        a, b = xyxy(pred[p]), xyxy(g)
        low, high = np.maximum(a[:, None, :2], b[None, :, :2]), np.minimum(a[:, None, 2:], b[None, :, 2:])
        inter_w, inter_h = np.clip(high - low, 0, None).transpose(2, 0, 1)
        inside = (inter_w * inter_h / np.maximum(pred[p, 4] * pred[p, 5], 1e-9)[:, None]).max(axis=1) >= 0.6
        out[p[(out[p] == 0) & inside]] = 3
    return out


def describe(pred: np.ndarray, labels: np.ndarray, scores: np.ndarray, static_motion: float) -> list[dict]:
    """One dict per track id: kind, frames, mean score, median height, motion (max centre distance
    from the first row, in median heights), overlap with other tracks."""
    out = []
    for tid in np.unique(pred[:, 1]):
        m = pred[:, 1] == tid
        rows, lab = pred[m], labels[m]
        centre = rows[:, 2:4] + rows[:, 4:6] / 2
        height = float(np.median(rows[:, 5]))
        motion = float(np.hypot(*(centre - centre[0]).T).max() / height)
        others = pred[(~m) & np.isin(pred[:, 0], rows[:, 0])]
        dup = 0
        for r in rows:
            o = others[others[:, 0] == r[0]]
            if len(o) and box_iou(xyxy(r[None]), xyxy(o)).max() > 0.3:
                dup += 1
        counts = np.bincount(lab, minlength=4)
        if counts[1] * 2 >= len(rows):
            kind = "true"
        elif counts[2] >= counts[0] + counts[3]:
            kind = "hidden"
        elif counts[3] + counts[2] >= counts[0]:
            kind = "part"
        elif dup * 2 >= len(rows):
            kind = "duplicate"
        elif motion < static_motion:
            kind = "static"
        else:
            kind = "other"
        out.append({"kind": kind, "frames": len(rows), "score": float(scores[m].mean()), "height": height,
                    "motion": motion, "x": float(centre[:, 0].mean()), "y": float(centre[:, 1].mean())})
    return out


def id_changes(pred: np.ndarray, gt: np.ndarray, long_gap: int) -> list[str]:
    """Each change of the track covering a GT person (IoU 0.5, one to one per frame), by cause:
    `gap` (the person was uncovered for more than long_gap frames before), `swap` (the new track
    covered another person before), `return` (back to a track this person had before), `new` (a
    track that covered nobody before, after a short gap or none)."""
    owner: dict[int, int] = {}  # pred id -> the GT id it covered last
    history: dict[int, list[tuple[int, int]]] = defaultdict(list)  # GT id -> (frame, pred id)
    for frame in np.unique(gt[:, 0]):
        p, g = pred[pred[:, 0] == frame], gt[gt[:, 0] == frame]
        if not len(p):
            continue
        iou = box_iou(xyxy(g), xyxy(p))
        rows, cols = linear_sum_assignment(-np.where(iou >= 0.5, iou, 0))
        for r, c in zip(rows, cols, strict=True):
            if iou[r, c] >= 0.5:
                history[int(g[r, 1])].append((int(frame), int(p[c, 1])))
    causes = []
    events = sorted((f, gid, tid) for gid, seq in history.items() for f, tid in seq)
    last: dict[int, tuple[int, int]] = {}
    seen: dict[int, set[int]] = defaultdict(set)
    for f, gid, tid in events:
        if gid in last and last[gid][1] != tid:
            if f - last[gid][0] > long_gap:
                causes.append("gap")
            elif tid in seen[gid]:
                causes.append("return")
            elif tid in owner and owner[tid] != gid:
                causes.append("swap")
            else:
                causes.append("new")
        last[gid] = (f, tid)
        seen[gid].add(tid)
        owner[tid] = gid
    return causes


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--work", type=Path, default=Path("out/accuracy"))
    parser.add_argument("--module", type=Path, default=ROOT / "module" / "module.yml")
    parser.add_argument("--seeds", default=",".join(map(str, protocol.TUNING_SEEDS)))
    parser.add_argument("--static-motion", type=float, default=0.5)
    parser.add_argument("--long-gap", type=int, default=10, help="frames: a longer absence is a `gap` change")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args(argv)
    seeds = [int(s) for s in args.seeds.split(",")]
    if set(seeds) & set(protocol.TEST_SEEDS):
        parser.error("test seeds are not looked at here")
    module = load_module_config(args.module)
    tag = f"{Path(module.detector.model_file).stem}-{module.runtime.cpu_precision}"
    setting = dict(module.tracker.params)
    setting.pop("kind", None)
    setting["confidence_threshold"] = module.detector.confidence_threshold
    tracks, changes = [], defaultdict(list)
    for scene in protocol.scenes("train", seeds):
        folder = protocol.ensure_scenario(scene, args.work, log=print)
        boxes = detect_scene(folder, module, args.work / "detections" / f"{scene.name}-{tag}.npz")
        gt, _ = load_ground_truth(folder)
        hidden = load_distractors(folder)
        cameras = json.loads((folder / "scenario.json").read_text())["cameras"]
        views = {c["id"]: c["view"]["source"] for c in cameras}
        for cam, frames in boxes.items():
            rows = track_camera(frames, setting)
            labels = label_rows(rows[:, :6], gt[cam], hidden[cam])
            for t in describe(rows[:, :6], labels, rows[:, 6], args.static_motion):
                tracks.append({"seed": scene.seed, "camera": cam, "view": views[cam], **t})
            changes[views[cam]] += id_changes(rows[:, :6], gt[cam], args.long_gap)
    print(f"{'view':7} {'kind':10} {'tracks':>6} {'rows':>6} {'frames med':>10} {'score med':>9} "
          f"{'height med':>10} {'motion med':>10} {'motion<0.5':>10}")
    by = defaultdict(list)
    for t in tracks:
        by[(t["view"], t["kind"])].append(t)
    for (view, kind), group in sorted(by.items()):
        f = np.array([t["frames"] for t in group])
        s = np.array([t["score"] for t in group])
        h = np.array([t["height"] for t in group])
        mo = np.array([t["motion"] for t in group])
        print(f"{view:7} {kind:10} {len(group):6d} {f.sum():6d} {np.median(f):10.0f} {np.median(s):9.2f} "
              f"{np.median(h):10.0f} {np.median(mo):10.2f} {np.mean(mo < 0.5):10.2f}")
    print("\nchanges of the track covering a GT person, by cause:")
    for view, causes in sorted(changes.items()):
        counts = {c: causes.count(c) for c in ("gap", "swap", "return", "new")}
        print(f"{view:7} {len(causes):4d} " + " ".join(f"{k} {v}" for k, v in counts.items()))
    if args.json:
        counted = {view: {c: causes.count(c) for c in set(causes)} for view, causes in changes.items()}
        doc = {"command": " ".join(["python", *sys.argv]), "tracks": tracks, "changes": counted}
        args.json.write_text(json.dumps(doc, indent=0))
    return 0


if __name__ == "__main__":
    sys.exit(main())
