"""The crop-quality gate on literal boxes: what is refused and why, and the score."""

from __future__ import annotations

import numpy as np
import pytest

from pyuniproc.reid import QualityGate, overlap_ratio

FRAME = (576, 768)  # height, width
GOOD = [100, 100, 140, 200]  # 40 x 100 px person, well inside the frame


@pytest.mark.parametrize("name, box, confidence, expected", [
    ("clean standing person", GOOD, 0.9, True),
    ("tiny: 20 px tall", [100, 100, 108, 120], 0.9, False),
    ("just tall enough: 48 px", [100, 100, 120, 148], 0.9, True),
    ("unsure detection", GOOD, 0.3, False),
    ("cut by the left edge", [0, 100, 40, 200], 0.9, False),
    ("cut by the bottom edge", [100, 480, 140, 576], 0.9, False),
    ("cut by the right edge, inside the margin", [729, 100, 767, 200], 0.9, False),
    ("too wide for a person (a merged pair)", [100, 100, 200, 200], 0.9, False),
    ("too thin (a partial box)", [100, 100, 110, 200], 0.9, False),
])
def test_single_box_cases(name, box, confidence, expected):
    good, score = QualityGate().assess(np.array([box], np.float32), np.array([confidence]), FRAME)
    assert good.tolist() == [expected], name
    assert (score[0] > 0) == expected and 0.0 <= score[0] <= 1.0


def test_occluded_pair_both_refused_isolated_person_kept():
    boxes = np.array([[100, 100, 140, 200], [120, 110, 160, 210], [400, 100, 440, 200]], np.float32)
    good, score = QualityGate().assess(boxes, np.full(3, 0.9), FRAME)
    assert good.tolist() == [False, False, True]
    assert score.tolist()[:2] == [0.0, 0.0]


def test_small_overlap_is_tolerated_and_lowers_the_score():
    touching = np.array([[100, 100, 140, 200], [136, 100, 176, 200]], np.float32)  # 10% of each covered
    good, score = QualityGate().assess(touching, np.full(2, 0.9), FRAME)
    alone, alone_score = QualityGate().assess(touching[:1], np.full(1, 0.9), FRAME)
    assert good.all() and alone.all()
    assert score[0] == pytest.approx(alone_score[0] * 0.9)


def test_score_grows_with_size_and_confidence():
    boxes = np.array([[100, 100, 120, 150], [300, 100, 340, 200], [500, 100, 540, 200]], np.float32)
    _, score = QualityGate().assess(boxes, np.array([0.9, 0.9, 0.6]), FRAME)
    assert score[0] < score[1] and score[2] < score[1]
    assert score[1] == pytest.approx(0.9)  # 100 px >= 2 * min_height: full size credit


def test_overlap_ratio_is_relative_to_each_box_own_area():
    big, small = [0, 0, 100, 200], [40, 100, 60, 140]  # small box entirely inside the big one
    ratio = overlap_ratio(np.array([big, small], np.float32))
    assert ratio[1] == pytest.approx(1.0) and ratio[0] == pytest.approx(800 / 20000)


def test_empty_frame():
    good, score = QualityGate().assess(np.zeros((0, 4), np.float32), np.zeros(0), FRAME)
    assert good.shape == (0,) and score.shape == (0,)


@pytest.mark.parametrize("options, message", [
    ({"min_height": -1}, r"min_height must be >= 0, got -1"),
    ({"min_confidence": 1.5}, r"min_confidence must be in \[0, 1\], got 1.5"),
    ({"max_overlap": -0.1}, r"max_overlap must be in \[0, 1\], got -0.1"),
    ({"edge_margin": -2}, r"edge_margin must be >= 0, got -2"),
    ({"min_aspect": 0.9, "max_aspect": 0.5}, r"need 0 < min_aspect <= max_aspect, got 0.9, 0.5"),
])
def test_bad_thresholds_are_rejected(options, message):
    with pytest.raises(ValueError, match=message):
        QualityGate(**options)


def test_confidence_rows_must_match_boxes():
    with pytest.raises(ValueError, match=r"confidence must have 1 rows like xyxy, got 2"):
        QualityGate().assess(np.array([GOOD], np.float32), np.array([0.9, 0.8]), FRAME)
