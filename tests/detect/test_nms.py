"""NMS on tiny literal boxes (x1, y1, x2, y2): what survives and why."""

import numpy as np
import pytest

from pyuniproc.detect.nms import batched_nms, box_iou, nms


def test_iou_of_known_pairs():
    a = np.array([[0, 0, 10, 10]])
    b = np.array([[0, 0, 10, 10], [5, 0, 15, 10], [20, 20, 30, 30], [10, 10, 0, 0]])
    # identical, half-shifted (overlap 50 / union 150), disjoint, same box with corners swapped
    np.testing.assert_allclose(box_iou(a, b), [[1.0, 1 / 3, 0.0, 1.0]], rtol=1e-6)


def test_zero_area_box_overlaps_nothing():
    assert box_iou(np.array([[5, 5, 5, 5]]), np.array([[5, 5, 5, 5]]))[0, 0] == 0.0


def test_nms_keeps_best_of_overlapping_and_all_disjoint_in_score_order():
    boxes = np.array([[0, 0, 10, 10], [1, 0, 11, 10], [50, 50, 60, 60]], dtype=np.float32)
    scores = np.array([0.6, 0.9, 0.7])
    assert nms(boxes, scores, iou_threshold=0.5).tolist() == [1, 2]


def test_nms_suppresses_only_strictly_above_threshold():
    boxes = np.array([[0, 0, 10, 10], [5, 0, 15, 10]], dtype=np.float32)  # IoU exactly 1/3
    scores = np.array([0.9, 0.8])
    assert nms(boxes, scores, iou_threshold=1 / 3 + 1e-6).tolist() == [0, 1]
    assert nms(boxes, scores, iou_threshold=0.3).tolist() == [0]


def test_nms_suppressed_box_cannot_suppress_others():
    # 0 suppresses 1; 1 would suppress 2, but 1 is gone, and 2 overlaps 0 too little.
    boxes = np.array([[0, 0, 10, 10], [4, 0, 14, 10], [8, 0, 18, 10]], dtype=np.float32)
    assert nms(boxes, np.array([0.9, 0.8, 0.7]), iou_threshold=0.4).tolist() == [0, 2]


def test_nms_max_outputs_and_empty_input():
    boxes = np.array([[0, 0, 1, 1], [2, 2, 3, 3], [4, 4, 5, 5]], dtype=np.float32)
    assert nms(boxes, np.array([0.1, 0.3, 0.2]), 0.5, max_outputs=2).tolist() == [1, 2]
    assert nms(np.zeros((0, 4)), np.zeros(0), 0.5).tolist() == []
    assert batched_nms(np.zeros((0, 4)), np.zeros(0), np.zeros(0, int), 0.5).tolist() == []


@pytest.mark.parametrize(("class_ids", "expected"), [([0, 0], [0]), ([0, 1], [0, 1])])
def test_batched_nms_never_suppresses_across_classes(class_ids, expected):
    boxes = np.array([[0, 0, 10, 10], [0, 0, 10, 10]], dtype=np.float32)
    kept = batched_nms(boxes, np.array([0.9, 0.8]), np.array(class_ids), iou_threshold=0.5)
    assert kept.tolist() == expected
