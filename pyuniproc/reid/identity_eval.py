"""How well do embeddings tell people apart? Scored on crops with exact identities (generated scenarios).

Two views, both across cameras, as fusion uses appearance:

- crop pairs: cosine of same-person pairs (different cameras, or the same camera at least
  `min_gap_frames` apart) against different-person pairs; their means, ROC AUC and the equal error
  rate (the threshold where wrongly merged and wrongly split pairs are equally frequent);
- crop retrieval: every crop queries the crops of the other cameras; rank-1 and mAP (the usual
  person-ReID protocol, single shot);
- tracklet retrieval: each (person, camera) is one tracklet whose descriptor is the quality-weighted
  mean of its unit embeddings (what fusion keeps per track); every tracklet queries the tracklets of
  the *other* cameras. rank-1 (the nearest is the same person) and mAP over the queries that have a
  true match. Lookalikes (a recoloured copy of another person's sprite) are scored as different people,
  as they are, and their mean tracklet cosine is reported on its own: the hardest negatives.

    scores = identity_scores(embeddings, data.person_ids, data.cameras, data.frames, data.quality,
                             data.sprite)
"""

from __future__ import annotations

import numpy as np

from pyuniproc.reid.measure import auc


def embed_all(embedder, crops: list[np.ndarray], *, batch: int = 64) -> np.ndarray:
    """(n, D) embeddings of many crops, `batch` at a time: one inference over thousands of crops would
    hold gigabytes of activations."""
    parts = [embedder.embed(crops[k:k + batch]) for k in range(0, len(crops), batch)]
    return np.concatenate(parts) if parts else np.zeros((0, embedder.dimension), np.float32)


def equal_error_rate(positives: np.ndarray, negatives: np.ndarray) -> tuple[float, float]:
    """(rate, threshold): the threshold t where the share of positives <= t (wrongly split) equals the
    share of negatives > t (wrongly merged), and that share; interpolated between observed scores."""
    thresholds = np.unique(np.concatenate([positives, negatives]))
    positives, negatives = np.sort(positives), np.sort(negatives)
    false_reject = np.searchsorted(positives, thresholds, side="right") / len(positives)
    false_accept = 1.0 - np.searchsorted(negatives, thresholds, side="right") / len(negatives)
    gap = false_reject - false_accept  # rises from < 0 to > 0 as t rises
    k = int(np.searchsorted(gap, 0.0))
    if k == 0:
        return float(false_accept[0]), float(thresholds[0])
    if k == len(gap):
        return float(false_reject[-1]), float(thresholds[-1])
    w = -gap[k - 1] / (gap[k] - gap[k - 1])
    rate = ((1 - w) * (false_reject[k - 1] + false_accept[k - 1]) / 2
            + w * (false_reject[k] + false_accept[k]) / 2)
    return float(rate), float((1 - w) * thresholds[k - 1] + w * thresholds[k])


def pair_separation(embeddings: np.ndarray, person_ids: np.ndarray, cameras: np.ndarray, frames: np.ndarray,
                    *, min_gap_frames: int = 20, max_rows: int = 4000, seed: int = 0) -> dict[str, float]:
    """Same- vs different-person crop-pair cosines (see the module docstring).

    With more than max_rows crops, a fixed random subset of max_rows is scored (pairs grow as n^2).
    """
    rows = np.arange(len(embeddings))
    if len(rows) > max_rows:
        rows = np.sort(np.random.default_rng(seed).choice(rows, max_rows, replace=False))
    e, p, c, f = embeddings[rows], person_ids[rows], cameras[rows], frames[rows]
    similarity = e @ e.T
    upper = np.triu(np.ones_like(similarity, dtype=bool), k=1)
    same_person = p[:, None] == p[None, :]
    apart = (c[:, None] != c[None, :]) | (np.abs(f[:, None] - f[None, :]) >= min_gap_frames)
    same = similarity[upper & same_person & apart]
    different = similarity[upper & ~same_person]
    spread = np.sqrt((same.var() + different.var()) / 2)
    eer, threshold = equal_error_rate(same, different)
    return {"same_cosine": float(same.mean()), "different_cosine": float(different.mean()),
            "different_cosine_p99": float(np.quantile(different, 0.99)),
            "d_prime": float((same.mean() - different.mean()) / spread) if spread > 0 else float("inf"),
            "auc": auc(same, different), "eer": eer, "eer_threshold": threshold,
            "same_pairs": int(same.size), "different_pairs": int(different.size)}


def tracklets(embeddings: np.ndarray, person_ids: np.ndarray, cameras: np.ndarray, quality: np.ndarray
              ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One descriptor per (person, camera): quality-weighted mean of unit rows, re-normalised.

    Returns person ids (m,), cameras (m,), descriptors (m, D) float64 unit rows.
    """
    keys = sorted({(int(pid), str(cam)) for pid, cam in zip(person_ids, cameras, strict=True)})
    descriptors = np.zeros((len(keys), embeddings.shape[1]), np.float64)
    for k, (pid, cam) in enumerate(keys):
        rows = (person_ids == pid) & (cameras == cam)
        weights = np.maximum(quality[rows].astype(np.float64), 1e-6)
        mean = (embeddings[rows] * weights[:, None]).sum(axis=0)
        descriptors[k] = mean / max(np.linalg.norm(mean), 1e-12)
    return (np.array([k[0] for k in keys], np.int64), np.array([k[1] for k in keys], dtype=object),
            descriptors)


def cross_camera_retrieval(person_ids: np.ndarray, cameras: np.ndarray, descriptors: np.ndarray
                           ) -> dict[str, float]:
    """Each row queries the rows of other cameras; rank-1 and mAP over queries with a true match."""
    similarity = descriptors @ descriptors.T
    hits, precisions, true_cos, false_cos = [], [], [], []
    for q in range(len(descriptors)):
        candidates = np.flatnonzero(cameras != cameras[q])
        positive = person_ids[candidates] == person_ids[q]
        if not positive.any() or positive.all():
            continue
        scores = similarity[q, candidates]
        order = np.argsort(-scores, kind="stable")
        ranked = positive[order]
        hits.append(bool(ranked[0]))
        found = np.flatnonzero(ranked)
        precisions.append(float(np.mean((np.arange(len(found)) + 1) / (found + 1))))
        true_cos += scores[positive].tolist()
        false_cos += scores[~positive].tolist()
    if not hits:
        return {"queries": 0, "rank1": float("nan"), "mAP": float("nan")}
    true_cos, false_cos = np.asarray(true_cos), np.asarray(false_cos)
    eer, threshold = equal_error_rate(true_cos, false_cos)
    return {"queries": len(hits), "rank1": float(np.mean(hits)), "mAP": float(np.mean(precisions)),
            "true_match_cosine": float(true_cos.mean()), "other_person_cosine": float(false_cos.mean()),
            "auc": auc(true_cos, false_cos), "eer": eer, "eer_threshold": threshold}


def crop_retrieval(embeddings: np.ndarray, person_ids: np.ndarray, cameras: np.ndarray, *,
                   max_queries: int = 2000, seed: int = 0) -> dict[str, float]:
    """Single crops as queries against every crop of the other cameras (the usual ReID protocol):
    rank-1 and mAP over queries that have a true match there; at most max_queries queries, a fixed
    random subset."""
    e = np.asarray(embeddings, np.float64)
    queries = np.arange(len(e))
    if len(queries) > max_queries:
        queries = np.sort(np.random.default_rng(seed).choice(queries, max_queries, replace=False))
    hits, precisions = [], []
    for q in queries:
        candidates = np.flatnonzero(cameras != cameras[q])
        positive = person_ids[candidates] == person_ids[q]
        if not positive.any():
            continue
        ranked = positive[np.argsort(-(e[candidates] @ e[q]), kind="stable")]
        hits.append(bool(ranked[0]))
        found = np.flatnonzero(ranked)
        precisions.append(float(np.mean((np.arange(len(found)) + 1) / (found + 1))))
    if not hits:
        return {"queries": 0, "rank1": float("nan"), "mAP": float("nan")}
    return {"queries": len(hits), "rank1": float(np.mean(hits)), "mAP": float(np.mean(precisions))}


def lookalike_cosine(person_ids: np.ndarray, sprite: np.ndarray, descriptors: np.ndarray,
                     desc_person_ids: np.ndarray) -> float:
    """Mean cosine between tracklets of different people cut from the same sprite (recoloured copies)."""
    sprite_of = {int(p): int(s) for p, s in zip(person_ids, sprite, strict=True)}
    s = np.array([sprite_of[int(p)] for p in desc_person_ids])
    similarity = descriptors @ descriptors.T
    mask = (s[:, None] == s[None, :]) & (desc_person_ids[:, None] != desc_person_ids[None, :])
    return float(similarity[mask].mean()) if mask.any() else float("nan")


def identity_scores(embeddings: np.ndarray, person_ids: np.ndarray, cameras: np.ndarray, frames: np.ndarray,
                    quality: np.ndarray, sprite: np.ndarray) -> dict[str, object]:
    """Pairs, tracklet retrieval and lookalike cosine of one embedding of one crop set."""
    e = np.asarray(embeddings, np.float64)
    ids, cams, descriptors = tracklets(e, person_ids, cameras, quality)
    return {"crops": len(e), "people": int(len(np.unique(person_ids))), "tracklets": len(ids),
            "pairs": pair_separation(e, person_ids, cameras, frames),
            "crop_retrieval": crop_retrieval(e, person_ids, cameras),
            "tracklet_retrieval": cross_camera_retrieval(ids, cams, descriptors),
            "lookalike_tracklet_cosine": lookalike_cosine(person_ids, sprite, descriptors, ids)}
