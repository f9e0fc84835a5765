"""Squat boxes (a person's head and shoulders above a fence) extended to a whole person."""

import numpy as np
import pytest

from pyuniproc.track.partial import check_aspects, complete_squat_boxes


def test_a_head_and_shoulders_box_is_extended_downward_keeping_top_and_width():
    # 40 px wide, 40 tall (1 width): squatter than 1.6 widths -> 2.2 widths = 88 px tall.
    out = complete_squat_boxes(np.array([[10, 20, 50, 60]], np.float32), 1.6, 2.2)
    np.testing.assert_array_equal(out, [[10, 20, 50, 108]])


def test_a_standing_persons_box_is_left_as_it_is():
    boxes = np.array([[10, 20, 50, 120], [100, 50, 130, 98]], np.float32)  # 2.5 and 1.6 widths tall
    np.testing.assert_array_equal(complete_squat_boxes(boxes, 1.6, 2.2), boxes)


def test_a_box_cut_by_the_frames_top_edge_is_left_as_it_is():
    # Its head is outside the frame; the feet it ends on are real.
    boxes = np.array([[10, 0, 50, 30], [60, 0.5, 100, 30]], np.float32)
    np.testing.assert_array_equal(complete_squat_boxes(boxes, 1.6, 2.2), boxes)


def test_only_the_squat_rows_change_and_the_input_is_not_changed():
    boxes = np.array([[10, 20, 50, 120], [200, 30, 230, 50]], np.float32)
    before = boxes.copy()
    out = complete_squat_boxes(boxes, 1.6, 2.0)
    np.testing.assert_array_equal(boxes, before)
    assert out.dtype == np.float32
    np.testing.assert_array_equal(out, [[10, 20, 50, 120], [200, 30, 230, 90]])


def test_no_boxes_gives_no_boxes():
    assert complete_squat_boxes(np.zeros((0, 4), np.float32), 1.6, 2.2).shape == (0, 4)


@pytest.mark.parametrize("squat, completed, message", [
    (0, 2.2, "squat_box_aspect=0 must be a number above 0"),
    (-1.0, 2.2, "squat_box_aspect=-1.0"),
    ("1.6", 2.2, "squat_box_aspect='1.6'"),
    (True, 2.2, "squat_box_aspect=True"),
    (1.6, None, "completed_box_aspect=None must be a number above 0"),
    (1.6, float("inf"), "completed_box_aspect=inf"),
    (1.6, 1.2, "completed_box_aspect=1.2 must be at least squat_box_aspect=1.6"),
    (None, 0, "completed_box_aspect=0"),
])
def test_bad_settings_are_refused_by_name(squat, completed, message):
    with pytest.raises(ValueError, match=message):
        check_aspects(squat, completed)


def test_good_settings_pass():
    check_aspects(None, 2.2)
    check_aspects(1.6, 2.2)
    check_aspects(2, 2)
