"""scripts/vtest_overlap.py's score: moments when one person is in the shared strip of both views, and the
share of them carrying one global id."""

import importlib.util
from pathlib import Path

import numpy as np

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "vtest_overlap.py"
spec = importlib.util.spec_from_file_location("vtest_overlap", SCRIPT)
vtest_overlap = importlib.util.module_from_spec(spec)
spec.loader.exec_module(vtest_overlap)

VIEWS = {"left": {"x0": 0}, "right": {"x0": 288}}


def test_pairs_are_boxes_over_the_same_source_pixels_counted_per_frame():
    rows = {
        # frame, global id, x, y, w, h (each camera's own pixels)
        "left": np.array([[1, 7, 300, 100, 30, 80], [2, 7, 310, 100, 30, 80], [2, 9, 10, 10, 30, 80]], float),
        "right": np.array([[1, 7, 12, 100, 30, 80], [2, 8, 22, 100, 30, 80], [3, 7, 22, 100, 30, 80]], float),
    }
    result = vtest_overlap.shared_strip_score(rows, VIEWS)
    # frame 1: same pixels (300 = 288 + 12), same id; frame 2: same pixels, ids 7 / 8; frame 3: left has none.
    assert result == {"moments": 2, "same_global_id": 1, "share": 0.5, "moments_without_id": 0}


def test_rows_without_an_id_count_as_misses_and_far_boxes_are_not_moments():
    rows = {
        "left": np.array([[1, -1, 300, 100, 30, 80], [1, 4, 400, 100, 30, 80]], float),
        "right": np.array([[1, -1, 12, 100, 30, 80], [1, 4, 200, 300, 30, 80]], float),
    }
    result = vtest_overlap.shared_strip_score(rows, VIEWS)
    assert (result["moments"], result["same_global_id"], result["moments_without_id"]) == (1, 0, 1)


def test_views_cover_five_eighths_each_and_share_a_quarter_of_any_width():
    assert {c: (v["x0"], v["x1"]) for c, v in vtest_overlap.views_for(768).items()} == {
        "left": (0, 480),
        "right": (288, 768),
    }
    assert {c: (v["x0"], v["x1"]) for c, v in vtest_overlap.views_for(640).items()} == {
        "left": (0, 400),
        "right": (240, 640),
    }


def test_moments_split_at_a_time_into_learning_and_after():
    moments = np.array([[1, 5, 5], [11, 5, 6], [21, 7, 7], [31, -1, 7]], float)  # frame, left id, right id
    phases = vtest_overlap.by_phase(moments, fps=10.0, split_seconds=2.0)
    assert (phases["before_2s"]["moments"], phases["before_2s"]["same_global_id"]) == (2, 1)
    assert (phases["after_2s"]["moments"], phases["after_2s"]["same_global_id"]) == (2, 1)
    assert phases["after_2s"]["moments_without_id"] == 1
