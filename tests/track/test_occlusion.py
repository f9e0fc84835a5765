"""OC-SORT's observation-centric rules as plain functions, on tiny literal boxes (40 x 80 px people)."""

import numpy as np
import pytest

from pyuniproc.track.kalman import KalmanFilterXYAH, xyxy_to_xyah
from pyuniproc.track.occlusion import (
    centre_direction,
    momentum_similarity,
    previous_observation,
    reupdate_along_path,
)


def box(cx: float, cy: float = 100, w: float = 40, h: float = 80) -> list[float]:
    return [cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2]


def test_centre_direction_is_a_unit_vector_between_centres():
    got = centre_direction(np.array([box(0, 0)]), np.array([box(3, 4)]))
    np.testing.assert_allclose(got, [[0.6, 0.8]], atol=1e-6)


def test_centre_direction_of_a_box_that_did_not_move_is_zero():
    np.testing.assert_allclose(centre_direction(np.array(box(5)), np.array(box(5))), [0, 0])


def test_previous_observation_takes_the_oldest_within_frames_back():
    # Observed on frames 9, 8, 7, 5 (newest first); asked on frame 10 for 3 frames back: frame 7's box.
    history = np.array([[box(9), box(8), box(7), box(5)]], float)
    frames = np.array([[9, 8, 7, 5]])
    previous, has = previous_observation(history, frames, frame=10, frames_back=3)
    np.testing.assert_array_equal(previous, [box(7)])
    assert has.tolist() == [True]


def test_previous_observation_of_a_long_lost_track_is_its_newest():
    history = np.array([[box(4), box(3), box(0), box(0)]], float)
    frames = np.array([[4, 3, -1, -1]])
    previous, has = previous_observation(history, frames, frame=20, frames_back=3)
    np.testing.assert_array_equal(previous, [box(4)])
    assert has.tolist() == [True]


def test_previous_observation_of_a_track_never_observed_is_marked_missing():
    history = np.zeros((1, 3, 4))
    _, has = previous_observation(history, np.full((1, 3), -1), frame=1, frames_back=3)
    assert has.tolist() == [False]


def test_momentum_bonus_is_half_straight_on_zero_sideways_minus_half_back():
    # A track walking right from x=0; detections ahead, above, behind; score 1.
    detections = np.array([box(10), box(0, 90), box(-10)], float)
    got = momentum_similarity(
        np.array([[1.0, 0.0]]), np.array([box(0)], float), np.array([True]), detections, np.ones(3)
    )
    np.testing.assert_allclose(got, [[0.5, 0.0, -0.5]], atol=1e-3)  # the norm's 1e-6 bends arccos a hair


def test_momentum_bonus_scales_with_score_and_vanishes_without_a_previous_observation():
    detections = np.array([box(10)], float)
    direction, previous = np.array([[1.0, 0.0], [1.0, 0.0]]), np.array([box(0), box(0)], float)
    got = momentum_similarity(direction, previous, np.array([True, False]), detections, np.array([0.4]))
    np.testing.assert_allclose(got, [[0.2], [0.0]], atol=1e-3)


def _walk(kalman, xs):
    mean, covariance = kalman.initiate(xyxy_to_xyah(np.array([box(xs[0])])))
    for x in xs[1:]:
        mean, covariance = kalman.predict(mean, covariance)
        mean, covariance = kalman.update(mean, covariance, xyxy_to_xyah(np.array([box(x)])))
    return mean[0], covariance[0]


def test_reupdate_along_a_straight_walk_equals_having_seen_every_frame():
    # Seen at 100, 104, 108, then hidden two frames and found at 120: on a straight walk the virtual
    # boxes are the real ones (112, 116), so the filter ends where seeing every frame would have put it.
    kalman = KalmanFilterXYAH()
    seen_mean, seen_covariance = _walk(kalman, [100, 104, 108, 112, 116, 120])
    mean, covariance = _walk(kalman, [100, 104, 108])
    mean, covariance = reupdate_along_path(
        kalman, mean, covariance, np.array(box(108), float), np.array(box(120), float), gap=3
    )
    np.testing.assert_allclose(mean, seen_mean, atol=1e-9)
    np.testing.assert_allclose(covariance, seen_covariance, atol=1e-9)


def test_reupdate_refuses_a_gap_below_one_frame():
    kalman = KalmanFilterXYAH()
    mean, covariance = _walk(kalman, [100])
    with pytest.raises(ValueError, match="gap=0 must be at least 1"):
        reupdate_along_path(kalman, mean, covariance, np.array(box(100), float), np.array(box(100), float), 0)
