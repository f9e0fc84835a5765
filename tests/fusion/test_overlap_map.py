"""Learning the foot map of two overlapping views from every pair of tracks seen at once (overlap_map)."""

import numpy as np

from pyuniproc.calibration import apply_homography
from pyuniproc.fusion.overlap_map import OverlapMap, fit_track_pairs

# The right view sees the left one's columns 288 on (a shift): left foot (x, y) is right (x - 288, y).
SHIFT = np.array([[1.0, 0.0, -288.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]])


def crowd(people: int, instants: int, seed: int = 0):
    """Every left track paired with every right track at each instant: (src, dst, pairs, truth).
    Person k is left track k and right track 100 + k, walking in the shared strip."""
    rng = np.random.default_rng(seed)
    start = rng.uniform([300, 120], [470, 540], (people, 2))
    step = rng.uniform(-6, 6, (people, 2))
    src, dst, pairs, truth = [], [], [], []
    for t in range(instants):
        left = start + t * step
        right = apply_homography(SHIFT, left)
        for i in range(people):
            for j in range(people):
                src.append(left[i])
                dst.append(right[j])
                pairs.append((i, 100 + j))
                truth.append(i == j)
    return np.array(src), np.array(dst), np.array(pairs), np.array(truth)


def test_the_true_pairs_are_found_among_every_pair_in_view():
    # 5 people, 6 instants: 25 candidate pairs of tracks, 5 of them true (80 % of correspondences wrong).
    src, dst, pairs, truth = crowd(5, 6)
    fit = fit_track_pairs(src, dst, np.full(len(src), 12.0), pairs)
    assert fit is not None and fit.n_pairs == 5
    assert {tuple(k) for k in fit.keys[fit.support]} == {(i, 100 + i) for i in range(5)}
    assert (fit.inliers == truth).mean() >= 0.97  # a wrong pair may cross the right place once
    assert np.abs(apply_homography(fit.matrix, [[400.0, 300.0]]) - [[112.0, 300.0]]).max() < 1.0


def test_an_affine_map_is_preferred_when_it_explains_as_many_pairs():
    src, dst, pairs, _ = crowd(5, 6, seed=1)
    assert fit_track_pairs(src, dst, np.full(len(src), 12.0), pairs).model == "affine"


def test_a_pair_of_tracks_supports_a_map_only_when_most_of_its_instants_land():
    # Four true pairs walking 5 instants each; pair (9, 109) lands at one instant of five only.
    src, dst, pairs, _ = crowd(4, 5, seed=2)
    keep = pairs[:, 0] + 100 == pairs[:, 1]
    src, dst, pairs = src[keep], dst[keep], pairs[keep]
    stray_src = np.array([[320.0, 200.0 + 30 * t] for t in range(5)])
    stray_dst = apply_homography(SHIFT, stray_src) + [[0, 0], [60, 0], [60, 0], [-60, 0], [0, 80]]
    fit = fit_track_pairs(
        np.r_[src, stray_src], np.r_[dst, stray_dst], np.full(len(src) + 5, 12.0),
        np.r_[pairs, np.tile([9, 109], (5, 1))],
    )
    assert fit.n_pairs == 4 and (9, 109) not in {tuple(k) for k in fit.keys[fit.support]}


def test_one_track_counts_once_however_many_tracks_it_is_paired_with():
    # Two people walking together, one behind the other: left track 1 lands on right tracks 101 and 102
    # alike (tolerance wider than their gap). They are one-to-one two pairs at most, not three.
    left = np.array([[350.0 + 5 * t, 300.0] for t in range(4)])
    src = np.r_[left, left, left + [0, 4]]
    dst = np.r_[apply_homography(SHIFT, left), apply_homography(SHIFT, left + [0, 4]),
                apply_homography(SHIFT, left + [0, 4])]
    pairs = np.r_[np.tile([1, 101], (4, 1)), np.tile([1, 102], (4, 1)), np.tile([2, 102], (4, 1))]
    fit = fit_track_pairs(src, dst, np.full(12, 12.0), pairs, iterations=50)
    assert fit.support.sum() == 3 and fit.n_pairs == 2


def test_maps_are_drawn_only_from_confident_pairs():
    src, dst, pairs, truth = crowd(4, 5, seed=3)
    # Only the wrong pairs are marked confident: every map drawn is wrong, so few pairs support it.
    fit = fit_track_pairs(src, dst, np.full(len(src), 12.0), pairs, confident=~truth)
    assert fit is None or fit.n_pairs < 4
    fit = fit_track_pairs(src, dst, np.full(len(src), 12.0), pairs, confident=truth)
    assert fit.n_pairs == 4


def test_learning_from_every_pair_in_view_becomes_stable_and_reports_when():
    learner = OverlapMap("left", "right")
    src, dst, pairs, truth = crowd(5, 12, seed=4)
    per_instant = 25
    for t in range(12):
        rows = slice(t * per_instant, (t + 1) * per_instant)
        for s, d, p, sure in zip(src[rows], dst[rows], pairs[rows], truth[rows], strict=True):
            learner.add((int(p[0]), int(p[1])), t * 0.5, s, d, 80.0, confident=bool(sure) and t < 3)
        learner.maybe_fit(t * 0.5)
    report = learner.describe()
    assert learner.stable and report["state"] == "learned" and report["track_pairs"] == 5
    assert report["first_fit_seconds"] <= report["stable_since_seconds"] <= 5.5
    assert report["candidate_track_pairs"] == 25 and report["rms_heights"] < 0.05
