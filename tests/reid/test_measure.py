"""The measurement's metrics on literal numbers (the full vtest run is `python -m pyuniproc.reid.measure`)."""

from __future__ import annotations

import numpy as np
import pytest

from pyuniproc.reid.measure import auc, fit_projection, half_descriptors, pair_stats, retrieval


def test_auc_counts_ties_as_half():
    assert auc(np.array([0.9, 0.8]), np.array([0.1, 0.2])) == 1.0
    assert auc(np.array([0.1]), np.array([0.9])) == 0.0
    assert auc(np.array([0.5]), np.array([0.5])) == 0.5


def test_retrieval_rank_and_map():
    queries = np.eye(3, dtype=np.float32)
    gallery = np.array([[1, 0, 0], [0, 0.6, 0.8], [0, 0.8, 0.6]], np.float32)  # query 1 and 2 swapped
    result = retrieval(queries, gallery)
    assert result["rank1"] == pytest.approx(1 / 3) and result["mAP"] == pytest.approx((1 + 0.5 + 0.5) / 3)


def test_pair_stats_and_half_descriptors_on_two_clean_tracks():
    embeddings = np.array([[1, 0]] * 4 + [[0, 1]] * 4, np.float64)
    frames = np.array([0, 30, 60, 90] * 2)
    tracks = np.array([1] * 4 + [2] * 4)
    stats = pair_stats(embeddings, frames, tracks)
    assert stats["same_track_cosine"] == 1.0 and stats["different_track_cosine"] == 0.0
    assert stats["auc"] == 1.0
    ids, first, second = half_descriptors(embeddings, frames, tracks, np.full(8, 0.5), min_crops=4)
    assert ids.tolist() == [1, 2] and retrieval(first, second)["rank1"] == 1.0


@pytest.mark.parametrize("kind", ["center", "pca_whiten", "lda"])
def test_projections_have_the_asked_shape(kind):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(40, 10))
    mean, matrix = fit_projection(x, np.repeat(np.arange(8), 5), kind=kind, dimensions=4)
    assert mean.shape == (10,) and matrix.shape == (10, 10 if kind == "center" else 4)
    with pytest.raises(ValueError, match="unknown projection kind"):
        fit_projection(x, np.zeros(40), kind="kissme")
