"""Recall and precision per person height, on tiny literal boxes (rows frame, id, x, y, w, h)."""

from __future__ import annotations

import numpy as np

from pyuniproc.accuracy.bands import add_counts, band_counts, band_labels, band_rates

GT = np.array(
    [
        [1, 1, 0, 0, 10, 30],  # 30 px tall: band <40, found
        [1, 2, 50, 0, 20, 70],  # 70 px: band 60-80, missed
        [2, 1, 0, 0, 10, 30],  # <40, found
    ],
    float,
)
PRED = np.array(
    [
        [1, 7, 0, 0, 10, 30],  # on GT 1
        [1, 8, 200, 0, 30, 90],  # nobody there: a false 90 px box
        [2, 7, 1, 0, 10, 30],  # on GT 1 (IoU 0.82)
    ],
    float,
)


def test_labels():
    assert band_labels() == ["<40", "40-60", "60-80", "80-110", ">=110"]


def test_counts_per_band():
    counts = band_counts(GT, PRED)
    assert counts["<40"] == {"gt": 2, "gt_matched": 2, "pred": 2, "pred_matched": 2}
    assert counts["60-80"] == {"gt": 1, "gt_matched": 0, "pred": 0, "pred_matched": 0}
    assert counts["80-110"] == {"gt": 0, "gt_matched": 0, "pred": 1, "pred_matched": 0}
    rates = band_rates(counts)
    assert rates["<40"]["recall"] == 1.0 and rates["60-80"]["recall"] == 0.0
    assert rates["80-110"]["precision"] == 0.0 and rates["80-110"]["recall"] is None


def test_a_box_on_a_distractor_is_not_a_false_positive():
    distractor = np.array([[1, 9, 200, 0, 30, 90]], float)
    counts = band_counts(GT, PRED, distractor)
    assert counts["80-110"]["pred"] == 0


def test_one_prediction_matches_one_person():
    twice = np.array([[1, 1, 0, 0, 10, 30], [1, 2, 0, 0, 10, 30]], float)
    counts = band_counts(twice[:1], twice)
    assert counts["<40"] == {"gt": 1, "gt_matched": 1, "pred": 2, "pred_matched": 1}


def test_counts_add_up():
    total = add_counts({}, band_counts(GT, PRED))
    add_counts(total, band_counts(GT, PRED))
    assert total["<40"]["gt"] == 4
