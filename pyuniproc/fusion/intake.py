"""The data contract with the stages around fusion: which `Detections.data` keys are read and written.

Read (both optional):
    data["embedding"]: (n, D) float32, one appearance embedding per row, computed on this frame's crop
        (not a running mean: fusion keeps each track's quality-weighted mean itself). Rows without a fresh
        embedding are all-NaN. Rows are re-normalised to unit length; all-zero rows count as missing.
    data["embedding_quality"]: (n,) float32 in [0, 1], how much to trust each fresh embedding (weight in the
        track's mean). Missing key = 1 for every fresh row; 0, negative or NaN = ignore that embedding.
Written:
    data["global_id"]: (n,) int64, the row's global identity. While its track is pending (not enough
        appearance evidence yet, or a deferred close call) it is the current best guess when
        `FusionConfig.tentative_ids` is on (default), else -1; -1 before the track's first embedding
        and for rows with tracker_id -1.
    data["global_id_tentative"]: (n,) bool, True where "global_id" is such a guess (it may still change).
    data["global_id_confidence"]: (n,) float32, the margin of the decision (how much the joint assignment
        would lose without it; inf = no alternative at all); NaN for guesses and after corrections.
"""

from __future__ import annotations

import logging

import numpy as np

from pyuniproc.fusion.tracks import UNASSIGNED, LocalTrack
from pyuniproc.types import Detections

EMBEDDING = "embedding"
EMBEDDING_QUALITY = "embedding_quality"
GLOBAL_ID = "global_id"
GLOBAL_ID_CONFIDENCE = "global_id_confidence"
GLOBAL_ID_TENTATIVE = "global_id_tentative"
REJECTED_NOT_FINITE = "embeddings_rejected_not_finite"
"""Counter key: rows whose embedding holds NaN or infinite values (all-NaN rows mean "no embedding")."""
REJECTED_ZERO = "embeddings_rejected_zero"
"""Counter key: rows whose embedding is all zero (no direction to compare)."""

log = logging.getLogger(__name__)
_warned: set[str] = set()  # each reason is logged once per process; the counters keep the totals


def fresh_embeddings(
    tracks: Detections, rejected: dict[str, int] | None = None
) -> tuple[np.ndarray | None, np.ndarray]:
    """(n, D) float64 unit embeddings and (n,) weights, 0 where not fresh; None instead of the embeddings
    when no row has a usable one (key absent, all rows NaN or refused), so that such a frame neither fixes
    nor contradicts the embedding width.

    Rows with NaN or infinite values (but not all NaN) and all-zero rows are refused: weight 0, counted in
    `rejected` (if given) under REJECTED_NOT_FINITE / REJECTED_ZERO, logged the first time."""
    n = len(tracks)
    raw = tracks.data.get(EMBEDDING)
    if raw is None:
        return None, np.zeros(n)
    embeddings = np.asarray(raw, dtype=np.float64)
    if embeddings.ndim != 2:
        raise ValueError(f"Detections.data[{EMBEDDING!r}] must be (n, D), got shape {embeddings.shape}")
    quality = tracks.data.get(EMBEDDING_QUALITY)
    if quality is None:
        weights = np.ones(n)
    else:
        weights = np.asarray(quality, dtype=np.float64).reshape(-1)
        if weights.shape != (n,):
            raise ValueError(
                f"Detections.data[{EMBEDDING_QUALITY!r}] must be ({n},), got shape {np.shape(quality)}"
            )
    norms = np.linalg.norm(embeddings, axis=1)
    finite = np.isfinite(embeddings).all(axis=1)
    _refuse(
        REJECTED_NOT_FINITE, ~finite & ~np.isnan(embeddings).all(axis=1), "NaN or infinite values", rejected
    )
    _refuse(REJECTED_ZERO, finite & (norms <= 1e-12) & (embeddings.shape[1] > 0), "all zeros", rejected)
    usable = finite & (norms > 1e-12) & np.isfinite(weights) & (weights > 0)
    if not usable.any():
        return None, np.zeros(n)
    weights = np.where(usable, np.minimum(weights, 1.0), 0.0)
    embeddings = np.where(usable[:, None], embeddings / np.where(usable, norms, 1.0)[:, None], 0.0)
    return embeddings, weights


def _refuse(reason: str, rows: np.ndarray, what: str, rejected: dict[str, int] | None) -> None:
    count = int(rows.sum())
    if not count:
        return
    if rejected is not None:
        rejected[reason] = rejected.get(reason, 0) + count
    if reason not in _warned:
        _warned.add(reason)
        log.warning(
            "fusion: %d embedding(s) with %s ignored (rows %s); their tracks are kept without "
            "appearance; further ones are counted (%s), not logged",
            count,
            what,
            np.flatnonzero(rows).tolist(),
            reason,
        )


def with_global_ids(tracks: Detections, rows: list[tuple[int, LocalTrack]], tentative: bool) -> Detections:
    """The same rows (arrays shared, not copied) with the three global-id columns added to `data`;
    `tentative`: show a pending track's current best guess instead of -1."""
    global_ids = np.full(len(tracks), UNASSIGNED, dtype=np.int64)
    confidence = np.full(len(tracks), np.nan, dtype=np.float32)
    guessed = np.zeros(len(tracks), dtype=bool)
    for row, track in rows:
        if track.global_id != UNASSIGNED:
            global_ids[row], confidence[row] = track.global_id, track.confidence
        elif tentative and track.tentative != UNASSIGNED:
            global_ids[row], guessed[row] = track.tentative, True
    _one_row_per_identity(global_ids, guessed)
    data = dict(tracks.data)
    data[GLOBAL_ID], data[GLOBAL_ID_CONFIDENCE], data[GLOBAL_ID_TENTATIVE] = global_ids, confidence, guessed
    return Detections(
        xyxy=tracks.xyxy,
        confidence=tracks.confidence,
        class_id=tracks.class_id,
        tracker_id=tracks.tracker_id,
        data=data,
    )


def _one_row_per_identity(global_ids: np.ndarray, guessed: np.ndarray) -> None:
    """A person is in one place at a time: when two rows of one frame carry the same id (a guess
    beside a decision, or two guesses), the decided row keeps it and the others show -1."""
    ids, counts = np.unique(global_ids[global_ids != UNASSIGNED], return_counts=True)
    for gid in ids[counts > 1]:
        rows = np.flatnonzero(global_ids == gid)
        keep = next((r for r in rows if not guessed[r]), rows[0])
        for row in rows:
            if row != keep:
                global_ids[row], guessed[row] = UNASSIGNED, False
