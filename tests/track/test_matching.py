import numpy as np
import pytest

from pyuniproc.track.matching import box_iou, fuse_score, linear_assignment


def test_box_iou_of_every_pair():
    a = [[0, 0, 10, 10], [0, 0, 10, 10]]
    b = [[0, 0, 10, 10], [5, 0, 15, 10], [20, 20, 30, 30]]
    np.testing.assert_allclose(box_iou(a, b), [[1, 1 / 3, 0], [1, 1 / 3, 0]])


@pytest.mark.parametrize(("n", "m"), [(0, 3), (2, 0), (0, 0)])
def test_box_iou_of_nothing_has_the_right_shape(n, m):
    assert box_iou(np.zeros((n, 4)), np.zeros((m, 4))).shape == (n, m)


def test_degenerate_boxes_have_zero_iou():
    assert box_iou([[5, 5, 5, 5]], [[5, 5, 5, 5]]).tolist() == [[0.0]]


def test_fuse_score_weights_each_column_by_its_score():
    np.testing.assert_allclose(fuse_score(np.array([[1.0, 0.5]]), [0.5, 1.0]), [[0.5, 0.5]])


def test_linear_assignment_finds_the_cheapest_pairing():
    cost = np.array([[0.1, 0.2], [0.2, 0.9]])
    matches, rows, cols = linear_assignment(cost, max_cost=0.95)
    assert matches.tolist() == [[0, 1], [1, 0]]
    assert rows.tolist() == [] and cols.tolist() == []


def test_linear_assignment_never_takes_a_pair_at_or_over_the_gate():
    cost = np.array([[0.3, 0.8], [0.9, 0.8]])
    matches, rows, cols = linear_assignment(cost, max_cost=0.8)
    assert matches.tolist() == [[0, 0]]
    assert rows.tolist() == [1] and cols.tolist() == [1]


def test_linear_assignment_prefers_one_good_pair_over_two_poor_ones():
    # As lapjv with cost_limit (ByteTrack): staying unmatched costs max_cost / 2 per side, so the
    # 0.1 pair alone (0.1 - 0.8) beats two 0.7 pairs (1.4 - 1.6); "match as many as possible"
    # would take the two poor ones.
    cost = np.array([[0.1, 0.7], [0.7, 1.0]])
    matches, rows, cols = linear_assignment(cost, max_cost=0.8)
    assert matches.tolist() == [[0, 0]]
    assert rows.tolist() == [1] and cols.tolist() == [1]


def test_linear_assignment_with_an_empty_side():
    matches, rows, cols = linear_assignment(np.zeros((0, 2)), max_cost=0.5)
    assert matches.shape == (0, 2) and rows.tolist() == [] and cols.tolist() == [0, 1]
