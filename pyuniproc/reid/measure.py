"""How far can appearance be trusted? Embeddings of real pedestrians in vtest.avi, measured.

There is no identity ground truth for vtest, so our own detector + tracker provide it: crops of one
track are one person (up to the tracker's rare id switches, which make the numbers pessimistic), crops
of different tracks are different people (up to fragmented tracks of one person, likewise). Reported:

- crop pairs: mean cosine of same-track crops at least `min_gap_frames` apart vs different-track
  crops (and different tracks in the same frame: same light, hardest case), d' and ROC AUC;
- track retrieval across time: each track's first half (its gallery descriptor, as fusion sees it)
  queries the second halves of all tracks; rank-1 and mAP (one true match per query, AP = 1/rank);
- speed: ms per crop at batch 1 and 16, preprocessing included;
- optionally (`--projection`), whether a linear projection fitted on tracks first seen in the first
  half of the video (the scenario's "train" identities) helps on tracks first seen in the second half.

    python -m pyuniproc.reid.measure [--frame-step 2] [--projection] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import os
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from pyuniproc.reid.crops import crop_boxes
from pyuniproc.reid.gallery import TrackGallery
from pyuniproc.reid.quality import QualityGate

REPO = Path(__file__).resolve().parents[2]
VTEST = REPO / "samples" / "vtest" / "vtest.avi"


@dataclass
class TrackCrops:
    """Good crops of tracked people: crops[i] is from frame frames[i], track track_ids[i]."""

    crops: list[np.ndarray]
    frames: np.ndarray
    track_ids: np.ndarray
    quality: np.ndarray
    boxes: np.ndarray
    frame_count: int

    def select(self, mask: np.ndarray) -> TrackCrops:
        rows = np.flatnonzero(mask)
        return TrackCrops([self.crops[i] for i in rows], self.frames[rows], self.track_ids[rows],
                          self.quality[rows], self.boxes[rows], self.frame_count)


def collect_track_crops(video: Path = VTEST, *, frame_step: int = 2, gate: QualityGate | None = None,
                        confidence_threshold: float = 0.4) -> TrackCrops:
    """Run SSDLite + ByteTrack (10 fps) over every frame; keep good crops of every `frame_step`-th frame.

    Deterministic: same video and code give the same crops (convert_reid.py picks its reference crops
    here). About 35 s for vtest on 2 cores, mostly detection.
    """
    import av

    from pyuniproc.detect import DEFAULT_MODEL_DIR, create_detector
    from pyuniproc.track import create_tracker

    gate = gate or QualityGate()
    detector = create_detector("ssdlite_pedestrian", model_dir=DEFAULT_MODEL_DIR,
                               confidence_threshold=confidence_threshold)
    tracker = create_tracker("bytetrack", frame_rate=10)
    crops, frames, ids, quality, boxes = [], [], [], [], []
    index = -1
    with av.open(str(video)) as container:
        for index, frame in enumerate(container.decode(video=0)):
            image = frame.to_ndarray(format="rgb24")
            tracks = tracker.update(detector.detect([image])[0])
            if index % frame_step or not len(tracks):
                continue
            good, score = gate.assess(tracks.xyxy, tracks.confidence, image.shape[:2])
            rows = np.flatnonzero(good)
            crops += [crop.copy() for crop in crop_boxes(image, tracks.xyxy[rows])]
            frames += [index] * len(rows)
            ids += tracks.tracker_id[rows].tolist()
            quality += score[rows].tolist()
            boxes += tracks.xyxy[rows].tolist()
    return TrackCrops(crops, np.asarray(frames, np.int64), np.asarray(ids, np.int64),
                      np.asarray(quality, np.float32), np.asarray(boxes, np.float32).reshape(-1, 4),
                      frame_count=index + 1)


def auc(positives: np.ndarray, negatives: np.ndarray) -> float:
    """P(a random positive scores above a random negative), ties count half (Mann-Whitney)."""
    negatives = np.sort(negatives)
    below = np.searchsorted(negatives, positives, side="left")
    not_above = np.searchsorted(negatives, positives, side="right")
    return float(((below + not_above) / 2).sum() / (len(positives) * len(negatives)))


def pair_stats(embeddings: np.ndarray, frames: np.ndarray, track_ids: np.ndarray, *,
               min_gap_frames: int = 20) -> dict[str, float]:
    """Cosine of same-track crop pairs (>= min_gap_frames apart) vs different-track pairs."""
    similarity = embeddings @ embeddings.T
    upper = np.triu(np.ones_like(similarity, dtype=bool), k=1)
    same_track = track_ids[:, None] == track_ids[None, :]
    gap = np.abs(frames[:, None] - frames[None, :])
    same = similarity[upper & same_track & (gap >= min_gap_frames)]
    different = similarity[upper & ~same_track]
    together = similarity[upper & ~same_track & (gap == 0)]
    spread = np.sqrt((same.var() + different.var()) / 2)
    d_prime = float((same.mean() - different.mean()) / spread) if spread > 0 else float("inf")
    return {"same_track_cosine": float(same.mean()), "different_track_cosine": float(different.mean()),
            "different_same_frame_cosine": float(together.mean()) if together.size else float("nan"),
            "d_prime": d_prime, "auc": auc(same, different),
            "same_pairs": int(same.size), "different_pairs": int(different.size)}


def half_descriptors(embeddings: np.ndarray, frames: np.ndarray, track_ids: np.ndarray, quality: np.ndarray,
                     *, min_crops: int = 8, gallery_size: int = 8
                     ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per track with >= min_crops crops: gallery descriptors of its first and second half in time.

    Returns track ids (m,), first-half descriptors (m, D), second-half descriptors (m, D).
    """
    tracks, first, second = [], [], []
    for track_id in np.unique(track_ids):
        rows = np.flatnonzero(track_ids == track_id)
        rows = rows[np.argsort(frames[rows], kind="stable")]
        if len(rows) < min_crops:
            continue
        halves = (rows[: len(rows) // 2], rows[len(rows) // 2:])
        descriptors = []
        for half in halves:
            gallery = TrackGallery(embeddings.shape[1], max_size=gallery_size)
            for row in half:
                gallery.add(embeddings[row], float(quality[row]), int(frames[row]))
            descriptors.append(gallery.descriptor())
        tracks.append(int(track_id))
        first.append(descriptors[0])
        second.append(descriptors[1])
    dim = embeddings.shape[1]
    return (np.asarray(tracks, np.int64), np.asarray(first, np.float32).reshape(-1, dim),
            np.asarray(second, np.float32).reshape(-1, dim))


def retrieval(queries: np.ndarray, gallery: np.ndarray) -> dict[str, float]:
    """Query i's true match is gallery row i. rank-1, mAP (= mean 1/rank) and track-level AUC."""
    similarity = queries @ gallery.T
    true = np.diag(similarity)
    ranks = (similarity > true[:, None]).sum(axis=1) + 1
    false = similarity[~np.eye(len(true), dtype=bool)]
    return {"tracks": len(true), "rank1": float(np.mean(ranks == 1)), "mAP": float(np.mean(1.0 / ranks)),
            "true_match_cosine": float(true.mean()), "other_track_cosine": float(false.mean()),
            "auc": auc(true, false) if false.size else float("nan")}


def fit_projection(embeddings: np.ndarray, track_ids: np.ndarray, *, kind: str, dimensions: int = 64,
                   shrinkage: float = 0.3) -> tuple[np.ndarray, np.ndarray]:
    """A linear map y = (x - mean) @ matrix fitted on training crops (one track = one identity).

    kind "center": subtract the mean only; "pca_whiten": top principal directions scaled to unit
    variance; "lda": PCA, then whitening of the within-track scatter (shrunk towards the identity by
    `shrinkage`, since a few dozen tracks cannot estimate a full covariance), which shrinks directions
    in which one person varies (pose, light) relative to those in which people differ.
    """
    mean = embeddings.mean(axis=0)
    centred = embeddings - mean
    if kind == "center":
        return mean, np.eye(embeddings.shape[1], dtype=np.float64)
    _, singular, vt = np.linalg.svd(centred, full_matrices=False)
    basis = vt[:dimensions].T
    if kind == "pca_whiten":
        return mean, basis / (singular[:dimensions] / np.sqrt(len(embeddings)))
    if kind != "lda":
        raise ValueError(f"unknown projection kind {kind!r}; known: center, pca_whiten, lda")
    reduced = centred @ basis
    within = np.concatenate([reduced[track_ids == t] - reduced[track_ids == t].mean(axis=0)
                             for t in np.unique(track_ids)])
    scatter = within.T @ within / len(within)
    scatter = (1 - shrinkage) * scatter + shrinkage * np.trace(scatter) / dimensions * np.eye(dimensions)
    values, vectors = np.linalg.eigh(scatter)
    return mean, basis @ (vectors / np.sqrt(values))


def time_embedder(embedder, crops: list[np.ndarray], batch: int, repeats: int) -> dict[str, float]:
    """ms per crop of `embed` (preprocessing included) on batches of `batch` real crops: median and best.

    The best of many runs approximates an idle machine; the median shows what other load costs (the
    1-minute load average is reported next to it).
    """
    embedder.embed(crops[:batch])  # warm-up
    times = []
    for k in range(repeats):
        chunk = [crops[(k * batch + i) % len(crops)] for i in range(batch)]
        start = time.perf_counter()
        embedder.embed(chunk)
        times.append((time.perf_counter() - start) * 1000 / batch)
    return {"median": float(np.median(times)), "best": float(np.min(times))}


def split_first_seen(data: TrackCrops) -> np.ndarray:
    """(n,) bool: crop's track first seen in the first half of the video (the "train" identities)."""
    first_seen = {int(t): int(data.frames[data.track_ids == t].min()) for t in np.unique(data.track_ids)}
    return np.array([first_seen[int(t)] < data.frame_count / 2 for t in data.track_ids], dtype=bool)


def measure(args: argparse.Namespace) -> dict:
    from pyuniproc.reid import DEFAULT_MODEL_DIR, create_embedder

    embedder = create_embedder(args.embedder, model_dir=args.model_dir or DEFAULT_MODEL_DIR)
    gate = QualityGate(min_height=args.min_height)
    data = collect_track_crops(args.video, frame_step=args.frame_step, gate=gate)
    vectors = embedder.embed(data.crops)
    e, f, t, q = vectors.astype(np.float64), data.frames, data.track_ids, data.quality
    _, first, second = half_descriptors(e, f, t, q)
    report = {
        "video": str(args.video), "embedder": repr(embedder), "frame_step": args.frame_step,
        "gate": {k: getattr(gate, k) for k in gate.__dataclass_fields__},
        "crops": len(data.crops), "tracks_with_crops": int(len(np.unique(t))),
        "pairs": pair_stats(e, f, t), "track_halves": retrieval(first, second),
        "ms_per_crop": {f"batch_{batch}": time_embedder(embedder, data.crops, batch, repeats)
                        for batch, repeats in ((1, 200), (16, 25))},
        "load_average_1min": os.getloadavg()[0], "cpu_count": os.cpu_count(),
    }
    if args.projection:
        train = split_first_seen(data)
        test = ~train
        _, first, second = half_descriptors(e[test], f[test], t[test], q[test])
        ablation = {"none": {"track_halves": retrieval(first, second),
                             "pairs": pair_stats(e[test], f[test], t[test])}}
        for kind, dims in (("center", 0), ("pca_whiten", 64), ("lda", 64)):
            mean, matrix = fit_projection(e[train], t[train], kind=kind, dimensions=dims)
            projected = (e - mean) @ matrix
            projected /= np.linalg.norm(projected, axis=1, keepdims=True)
            _, first, second = half_descriptors(projected[test], f[test], t[test], q[test])
            ablation[f"{kind}_{dims}" if dims else kind] = {
                "track_halves": retrieval(first, second),
                "pairs": pair_stats(projected[test], f[test], t[test])}
        report["projection_ablation"] = {
            "fit_on": f"{int(train.sum())} crops of {len(np.unique(t[train]))} tracks first seen in frames "
                      f"< {data.frame_count / 2:g}",
            "evaluated_on": f"{int(test.sum())} crops of {len(np.unique(t[test]))} tracks first seen later",
            "results": ablation}
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--video", type=Path, default=VTEST)
    parser.add_argument("--embedder", default="mobilenetv2_imagenet")
    parser.add_argument("--model-dir", type=Path, default=None)
    parser.add_argument("--frame-step", type=int, default=2, help="keep crops of every n-th frame")
    parser.add_argument("--min-height", type=float, default=QualityGate().min_height)
    parser.add_argument("--projection", action="store_true", help="also run the projection ablation")
    parser.add_argument("--json", type=Path, help="write the report here too")
    args = parser.parse_args(argv)
    report = measure(args)
    text = json.dumps(report, indent=2)
    print(text)
    if args.json:
        args.json.write_text(text + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
