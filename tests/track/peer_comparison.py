"""Hand-run comparison of our ByteTrack with peers on synthetic jittery crowds (not a test).

Peers, each optional: Roboflow `trackers` (ByteTrackTracker, needs `trackers` and `supervision`)
and the reference ifzhang/ByteTrack (`yolox/tracker/*.py` from a checkout, needs `lap`; its torch
and cython_bbox imports are stubbed here). Keep them out of the project venv, e.g.:

    python3 -m venv /tmp/peervenv && /tmp/peervenv/bin/pip install "trackers>=2.6,<2.7" supervision lap
    PYTHONPATH=. /tmp/peervenv/bin/python tests/track/peer_comparison.py --reference /path/to/ByteTrack

Scenes: people 40-70 px wide walking through a shared horizontal band (so paths cross), box corners
jittered by 4 % of width, 3 % missed detections, partial occlusions (score 0.15-0.55), full
occlusions (no box for 3-20 frames), and false positives. Metrics over all seeds: identity switches
(CLEAR-MOT IDSW), MOTA and IDF1 at IoU >= 0.5 against the true boxes.
"""

from __future__ import annotations

import argparse
import sys
import types
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
from scipy.optimize import linear_sum_assignment

from pyuniproc.track import ByteTrack
from pyuniproc.track.matching import box_iou
from pyuniproc.types import Detections

Scene = list[tuple[np.ndarray, np.ndarray, Detections]]  # per frame: gt xyxy (k, 4), gt ids (k,), dets
Run = Callable[[Scene], list[tuple[np.ndarray, np.ndarray]]]  # per frame: boxes (n, 4), ids (n,)


def make_scene(seed: int, people: int = 10, frames: int = 300, jitter: float = 0.04) -> Scene:
    rng = np.random.default_rng(seed)
    width = rng.uniform(40, 70, people)
    x = rng.uniform(0, 1280, people)
    y = rng.uniform(330, 400, people)
    vx = rng.choice([-1, 1], people) * rng.uniform(1.5, 6, people)
    vy = rng.normal(0, 0.3, people)
    occluded = np.zeros((people, frames), dtype=np.int8)  # 1 partial, 2 full
    for p in range(people):
        for _ in range(rng.integers(0, 3)):
            start, length = rng.integers(0, frames), rng.integers(3, 21)
            occluded[p, start : start + length] = rng.integers(1, 3)
    scene: Scene = []
    for f in range(frames):
        vx += rng.normal(0, 0.1, people)
        x += vx
        y += vy
        vx = np.where((x < 0) | (x > 1280), -vx, vx)
        gt = np.stack([x - width / 2, y - 1.2 * width, x + width / 2, y + 1.2 * width], axis=1)
        boxes, scores = [], []
        for p in range(people):
            if occluded[p, f] == 2 or rng.random() < 0.03:
                continue
            boxes.append(gt[p] + rng.normal(0, jitter * width[p], 4))
            scores.append(rng.uniform(0.15, 0.55) if occluded[p, f] == 1 else rng.uniform(0.65, 0.95))
        for _ in range(rng.poisson(0.3)):
            cx, cy, w = rng.uniform(0, 1280), rng.uniform(200, 500), rng.uniform(30, 70)
            boxes.append(np.array([cx - w / 2, cy - 1.2 * w, cx + w / 2, cy + 1.2 * w]))
            scores.append(rng.uniform(0.1, 0.75))
        n = len(boxes)
        dets = Detections(xyxy=np.array(boxes).reshape(n, 4), confidence=scores, class_id=np.zeros(n))
        scene.append((gt, np.arange(people), dets))
    return scene


def run_ours(scene: Scene) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    tracker = ByteTrack()
    for _, _, dets in scene:
        out = tracker.update(dets)
        yield out.xyxy, out.tracker_id


def run_roboflow(scene: Scene) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    import supervision as sv
    from trackers import ByteTrackTracker

    tracker = ByteTrackTracker()  # its defaults: high 0.6, activation 0.7, 2 frames, IoU >= 0.1
    for _, _, dets in scene:
        out = tracker.update(sv.Detections(xyxy=dets.xyxy.copy(), confidence=dets.confidence.copy()))
        keep = out.tracker_id >= 0
        yield out.xyxy[keep], out.tracker_id[keep]


def load_reference(checkout: Path, plus_one: bool) -> Callable[[Scene], Iterator]:
    """The reference BYTETracker, with torch and cython_bbox stubbed (numpy >= 1.24 lacks np.float)."""
    np.float = float  # type: ignore[attr-defined]
    sys.modules.setdefault("torch", types.ModuleType("torch"))
    sys.modules.setdefault("torch.nn", types.ModuleType("torch.nn"))
    sys.modules.setdefault("torch.nn.functional", types.ModuleType("torch.nn.functional"))
    bbox = types.ModuleType("cython_bbox")
    bbox.bbox_overlaps = lambda a, b: _iou_plus_one(a, b) if plus_one else box_iou(a, b)  # type: ignore
    sys.modules["cython_bbox"] = bbox
    sys.path.insert(0, str(checkout))
    for name in [m for m in sys.modules if m.startswith("yolox")]:
        del sys.modules[name]
    from yolox.tracker.basetrack import BaseTrack
    from yolox.tracker.byte_tracker import BYTETracker

    def run(scene: Scene) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        BaseTrack._count = 0
        args = types.SimpleNamespace(track_thresh=0.6, track_buffer=30, match_thresh=0.8, mot20=False)
        tracker = BYTETracker(args, frame_rate=30)
        for _, _, dets in scene:
            results = np.concatenate([dets.xyxy, dets.confidence[:, None]], axis=1).astype(np.float64)
            tracks = tracker.update(results, (720, 1280), (720, 1280))
            yield np.array([t.tlbr for t in tracks]).reshape(-1, 4), np.array([t.track_id for t in tracks])

    return run


def _iou_plus_one(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """cython_bbox's IoU: inclusive pixel corners (+1 on width and height)."""
    a, b = np.asarray(a, float).reshape(-1, 4).copy(), np.asarray(b, float).reshape(-1, 4).copy()
    a[:, 2:] += 1
    b[:, 2:] += 1
    return box_iou(a, b)


def score(scene: Scene, outputs: list[tuple[np.ndarray, np.ndarray]]) -> dict[str, float]:
    switches = misses = false_positives = gt_total = pred_total = 0
    last_id: dict[int, int] = {}
    pair_counts: dict[tuple[int, int], int] = {}
    for (gt, gt_ids, _), (boxes, ids) in zip(scene, outputs, strict=True):
        iou = box_iou(gt, boxes)
        rows, cols = linear_sum_assignment(-iou)
        good = iou[rows, cols] >= 0.5
        rows, cols = rows[good], cols[good]
        gt_total += len(gt)
        pred_total += len(boxes)
        misses += len(gt) - len(rows)
        false_positives += len(boxes) - len(rows)
        for r, c in zip(rows, cols, strict=True):
            g, t = int(gt_ids[r]), int(ids[c])
            switches += g in last_id and last_id[g] != t
            last_id[g] = t
            pair_counts[g, t] = pair_counts.get((g, t), 0) + 1
    gts = sorted({g for g, _ in pair_counts})
    tracks = sorted({t for _, t in pair_counts})
    counts = np.zeros((len(gts), len(tracks)))
    for (g, t), k in pair_counts.items():
        counts[gts.index(g), tracks.index(t)] = k
    rows, cols = linear_sum_assignment(-counts)
    id_true_positives = counts[rows, cols].sum()
    return {
        "IDSW": switches,
        "MOTA": 1 - (misses + false_positives + switches) / gt_total,
        "IDF1": 2 * id_true_positives / (gt_total + pred_total),
        "ids": len({t for _, t in pair_counts}),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=20)
    parser.add_argument("--people", type=int, default=10)
    parser.add_argument("--jitter", type=float, default=0.04, help="box noise, fraction of width")
    parser.add_argument("--reference", type=Path, help="checkout of ifzhang/ByteTrack")
    options = parser.parse_args()
    runs: dict[str, Run] = {"ours": run_ours}
    try:
        import trackers  # noqa: F401

        runs["roboflow trackers ByteTrackTracker"] = run_roboflow
    except ImportError:
        print("trackers not installed: skipping Roboflow's ByteTrackTracker")
    if options.reference:
        runs["reference ByteTrack, continuous IoU"] = load_reference(options.reference, plus_one=False)
        runs["reference ByteTrack, cython_bbox +1 IoU"] = load_reference(options.reference, plus_one=True)
    scenes = [make_scene(seed, options.people, jitter=options.jitter) for seed in range(options.seeds)]
    outputs = {name: [list(run(scene)) for scene in scenes] for name, run in runs.items()}
    print(
        f"{len(scenes)} scenes x {len(scenes[0])} frames x {options.people} people, jitter {options.jitter}"
    )
    print(f"{'tracker':42s} {'IDSW':>6s} {'MOTA':>7s} {'IDF1':>7s} {'ids':>6s}")
    for name, per_scene in outputs.items():
        scores = [score(scene, out) for scene, out in zip(scenes, per_scene, strict=True)]
        idsw = sum(s["IDSW"] for s in scores)
        mota = np.mean([s["MOTA"] for s in scores])
        idf1 = np.mean([s["IDF1"] for s in scores])
        ids = sum(s["ids"] for s in scores)
        print(f"{name:42s} {idsw:6d} {mota:7.3f} {idf1:7.3f} {ids:6d}")
    if options.reference:
        reference = outputs["reference ByteTrack, continuous IoU"]
        same = total = consistent = 0
        for ours_scene, ref_scene in zip(outputs["ours"], reference, strict=True):
            pairs: set[tuple[int, int]] = set()
            for (a, a_ids), (b, b_ids) in zip(ours_scene, ref_scene, strict=True):
                total += 1
                order_a, order_b = np.lexsort(a.T[::-1]), np.lexsort(b.T[::-1])
                if a.shape == b.shape and np.allclose(a[order_a], b[order_b], atol=1e-3):
                    same += 1
                    pairs |= set(zip(a_ids[order_a].tolist(), b_ids[order_b].tolist(), strict=True))
            consistent += len({a for a, _ in pairs}) == len({b for _, b in pairs}) == len(pairs)
        print(f"frames where ours and the reference (continuous IoU) report the same boxes: {same}/{total}")
        print(f"scenes where their ids correspond one to one: {consistent}/{len(scenes)}")


if __name__ == "__main__":
    main()
