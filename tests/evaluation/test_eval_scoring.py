"""Scores move the way they must for known perturbations of the ground truth."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from pyuniproc.evaluation.metrics import Sequence, evaluate, score_sequences
from pyuniproc.evaluation.mot_io import load_ground_truth

DEFAULT = Path(__file__).resolve().parents[2] / "samples" / "scenario_default"


def _walkers(n_frames: int = 20) -> np.ndarray:
    """Two people walking apart from each other: rows frame, id, x, y, w, h."""
    rows = []
    for f in range(1, n_frames + 1):
        rows.append((f, 1, 10 + 3 * f, 50, 20, 60))
        rows.append((f, 2, 300 - 3 * f, 40, 22, 64))
    return np.array(rows, np.float64)


def _score(gt, pred, n_frames=0):
    per, _ = score_sequences({"s": Sequence(gt, pred, n_frames)})
    return per["s"]


def test_ground_truth_against_itself_is_perfect():
    gt = _walkers()
    scores = _score(gt, gt)
    assert scores["HOTA"] == pytest.approx(1.0)
    assert scores["MOTA"] == pytest.approx(1.0)
    assert scores["IDF1"] == pytest.approx(1.0)
    assert scores["IDSW"] == 0


def test_prediction_ids_need_not_equal_gt_ids():
    gt = _walkers()
    pred = gt.copy()
    pred[:, 1] += 40  # a tracker numbers its tracks its own way
    assert _score(gt, pred)["IDF1"] == pytest.approx(1.0)


def test_swapping_two_ids_halfway():
    gt = _walkers(20)
    pred = gt.copy()
    later = pred[:, 0] > 10
    pred[later, 1] = 3 - pred[later, 1]  # ids 1 and 2 trade places from frame 11 on
    scores = _score(gt, pred)
    assert scores["IDSW"] == 2
    assert scores["IDF1"] == pytest.approx(0.5)
    assert scores["MOTA"] == pytest.approx(1 - 2 / 40)
    assert scores["IDSW_pct_gt_tracks"] == pytest.approx(100.0)


def test_dropping_a_fifth_of_the_boxes_costs_a_fifth_of_mota():
    gt, n_frames = load_ground_truth(DEFAULT)
    cam = sorted(gt)[0]
    keep = np.random.default_rng(0).random(len(gt[cam])) >= 0.2
    scores = _score(gt[cam], gt[cam][keep], n_frames[cam])
    assert scores["MOTA"] == pytest.approx(keep.mean(), abs=1e-9)  # no FP, no switch: MOTA = recall
    assert scores["MOTA"] == pytest.approx(0.8, abs=0.02)
    assert scores["IDSW"] == 0 and scores["FP"] == 0


def test_shifted_boxes_below_iou_half_are_misses_and_false_positives():
    gt = _walkers()
    pred = gt.copy()
    pred[:, 2] += 15  # 20 px wide boxes moved by 15 px: IoU 5/35
    scores = _score(gt, pred)
    assert scores["MOTA"] == pytest.approx(-1.0)
    assert scores["IDF1"] == pytest.approx(0.0)


def test_default_scenario_scored_against_itself():
    gt, n_frames = load_ground_truth(DEFAULT)
    result = evaluate(gt, gt, gt, n_frames)
    for cam, scores in result["cameras"].items():
        assert (scores["HOTA"], scores["MOTA"], scores["IDF1"]) == pytest.approx((1.0, 1.0, 1.0)), cam
    assert result["multi_camera"]["IDF1"] == pytest.approx(1.0)
    assert result["multi_camera"]["HOTA"] == pytest.approx(1.0)


def test_multi_camera_idf1_punishes_wrong_global_ids_only():
    gt, n_frames = load_ground_truth(DEFAULT)
    cams = sorted(gt)
    wrong = {c: rows.copy() for c, rows in gt.items()}
    wrong[cams[-1]][:, 1] += 1000  # last camera: right tracks, but new global ids for everyone
    result = evaluate(gt, wrong, wrong, n_frames)
    assert all(s["IDF1"] == pytest.approx(1.0) for s in result["cameras"].values())  # per camera: fine
    assert result["multi_camera"]["IDF1"] < 0.95
    share = len(gt[cams[-1]]) / sum(len(r) for r in gt.values())
    # Only people seen in the last camera alone keep their boxes there.
    assert 1 - share <= result["multi_camera"]["IDR"] < 1


def test_repeated_id_in_one_frame_is_rejected():
    gt = _walkers(3)
    pred = gt.copy()
    pred[1, 1] = 1  # frame 1 now has id 1 twice
    with pytest.raises(ValueError, match="repeats an id within frame 1"):
        _score(gt, pred)


def test_zero_based_frames_are_rejected():
    gt = _walkers(3)
    pred = gt.copy()
    pred[:, 0] -= 1
    with pytest.raises(ValueError, match="1-based"):
        _score(gt, pred)


def test_boxes_on_distractors_are_neither_rewarded_nor_errors():
    # Person 2 is mostly hidden: a distractor row (consider 0), not scored.
    walkers = _walkers(10)
    gt, hidden = walkers[walkers[:, 1] == 1], walkers[walkers[:, 1] == 2]
    found_both = walkers.copy()
    found_one = gt.copy()
    for pred in (found_both, found_one):
        result = evaluate({"c": gt}, {"c": pred}, None, {"c": 10}, distractors={"c": hidden})
        scores = result["cameras"]["c"]
        assert scores["FP"] == 0 and scores["FN"] == 0
        assert scores["IDF1"] == pytest.approx(1.0)
    # Without the distractor rows the box on person 2 is a false positive.
    result = evaluate({"c": gt}, {"c": found_both}, None, {"c": 10})
    assert result["cameras"]["c"]["FP"] == 10


def test_a_box_matched_to_a_scored_person_is_kept_even_if_it_also_overlaps_a_distractor():
    gt = np.array([[1, 1, 100, 50, 20, 60]], np.float64)
    hidden = np.array([[1, 2, 104, 52, 20, 60]], np.float64)  # right behind person 1
    pred = np.array([[1, 7, 101, 50, 20, 60]], np.float64)
    result = evaluate({"c": gt}, {"c": pred}, None, {"c": 1}, distractors={"c": hidden})
    assert result["cameras"]["c"]["IDTP"] == 1
