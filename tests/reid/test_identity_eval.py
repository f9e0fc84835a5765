"""Scoring embeddings against exact identities: EER, retrieval, tracklets, on tiny literal arrays."""

from __future__ import annotations

import numpy as np
import pytest

from pyuniproc.reid.identity_eval import (
    crop_retrieval,
    cross_camera_retrieval,
    equal_error_rate,
    identity_scores,
    tracklets,
)


@pytest.mark.parametrize("positives, negatives, rate, threshold", [
    ([0.6, 0.7, 0.8, 0.9], [0.1, 0.2, 0.3, 0.4], 0.0, 0.4),     # separable: no error at t = 0.4
    ([0.6, 0.7, 0.8, 0.9], [0.1, 0.2, 0.3, 0.65], 0.25, 0.6),   # one of four on each side
    ([0.1, 0.2], [0.8, 0.9], 1.0, 0.2),                         # inverted scores: always wrong
])
def test_equal_error_rate(positives, negatives, rate, threshold):
    got_rate, got_threshold = equal_error_rate(np.array(positives), np.array(negatives))
    assert got_rate == pytest.approx(rate) and got_threshold == pytest.approx(threshold)


def test_equal_error_rate_of_two_unit_gaussians_one_apart():
    rng = np.random.default_rng(0)
    rate, _ = equal_error_rate(rng.normal(1, 1, 20000), rng.normal(0, 1, 20000))
    assert rate == pytest.approx(0.3085, abs=0.01)  # Phi(-0.5)


# Two people, two cameras; person 1 looks like e0, person 2 like e1, except one bad crop of person 2.
E = np.array([[1, 0], [1, 0], [0, 1], [0.9, 0.1], [1, 0], [0, 1]], np.float64)
E /= np.linalg.norm(E, axis=1, keepdims=True)
PERSON = np.array([1, 1, 2, 2, 1, 2])
CAMERA = np.array(["a", "a", "a", "a", "b", "b"], dtype=object)


def test_crop_retrieval_queries_other_cameras_only():
    scores = crop_retrieval(E, PERSON, CAMERA)
    # a-crops 0,1 find crop 4 (person 1) first; crop 2 finds 5; crop 3 (looks like person 1) finds 4: miss.
    # b-crop 4 ties 0, 1 and nearly 3 -> hit; crop 5 finds 2 -> hit.
    assert scores["queries"] == 6 and scores["rank1"] == pytest.approx(5 / 6)


def test_tracklets_average_per_person_and_camera_and_retrieve_across_cameras():
    ids, cams, descriptors = tracklets(E, PERSON, CAMERA, np.ones(6))
    assert ids.tolist() == [1, 1, 2, 2] and cams.tolist() == ["a", "b", "a", "b"]
    np.testing.assert_allclose(np.linalg.norm(descriptors, axis=1), 1.0)
    scores = cross_camera_retrieval(ids, cams, descriptors)
    assert scores["queries"] == 4 and scores["rank1"] == 1.0 and scores["mAP"] == 1.0


def test_identity_scores_has_every_view():
    scores = identity_scores(E, PERSON, CAMERA, np.arange(6) * 30, np.ones(6), np.array([7, 7, 8, 8, 7, 8]))
    assert set(scores) >= {"pairs", "crop_retrieval", "tracklet_retrieval", "lookalike_tracklet_cosine"}
    assert scores["people"] == 2 and scores["tracklets"] == 4
    pairs = scores["pairs"]
    assert 0.0 <= pairs["eer"] <= 1.0 and pairs["same_cosine"] > pairs["different_cosine"]
