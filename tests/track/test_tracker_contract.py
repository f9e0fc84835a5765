"""What every registered tracker promises, whatever its algorithm."""

import numpy as np
import pytest

from pyuniproc.track import Tracker, available_trackers, create_tracker, tracker_options
from pyuniproc.types import Detections

TRACKERS = available_trackers()


def people(*xs: float) -> Detections:
    """Confident 40 x 80 boxes at the given x positions."""
    n = len(xs)
    return Detections(
        xyxy=np.array([[x, 60, x + 40, 140] for x in xs], dtype=np.float32).reshape(n, 4),
        confidence=[0.9] * n,
        class_id=[0] * n,
    )


def row_of_id(out: Detections) -> dict[int, int]:
    return dict(zip(out.tracker_id.tolist(), out.data["detection_index"].tolist(), strict=True))


def test_bytetrack_is_registered():
    assert "bytetrack" in TRACKERS


@pytest.mark.parametrize("name", TRACKERS)
def test_is_a_tracker(name):
    assert isinstance(create_tracker(name), Tracker)


@pytest.mark.parametrize("name", TRACKERS)
def test_empty_input_returns_empty_detections(name):
    tracker = create_tracker(name)
    for out in (tracker.update(Detections.empty()), tracker.predict_only()):
        assert len(out) == 0
        assert out.xyxy.shape == (0, 4) and out.tracker_id.dtype == np.int64
        assert out.data["detection_index"].shape == (0,)


@pytest.mark.parametrize("name", TRACKERS)
def test_ids_start_at_1_and_stay_stable(name):
    tracker = create_tracker(name)
    seen = [tracker.update(people(100 + 2 * f, 300 - 2 * f)) for f in range(10)]
    assert sorted(seen[-1].tracker_id.tolist()) == [1, 2]
    first = row_of_id(seen[1])
    assert all(row_of_id(out) == first for out in seen[1:])


@pytest.mark.parametrize("name", TRACKERS)
def test_output_rows_point_at_their_input_rows(name):
    tracker = create_tracker(name)
    for _ in range(3):
        detections = people(100, 300)
        out = tracker.update(detections)
    rows = out.data["detection_index"]
    assert out.data["detection_index"].dtype == np.int64
    np.testing.assert_allclose(out.xyxy, detections.xyxy[rows], atol=2.0)


@pytest.mark.parametrize("name", TRACKERS)
def test_predict_only_keeps_ids_and_marks_rows_unmatched(name):
    tracker = create_tracker(name)
    for _ in range(3):
        before = tracker.update(people(100, 300))
    out = tracker.predict_only()
    assert sorted(out.tracker_id.tolist()) == sorted(before.tracker_id.tolist())
    assert (out.data["detection_index"] == -1).all()


@pytest.mark.parametrize("name", TRACKERS)
def test_reset_restarts_ids(name):
    tracker = create_tracker(name)
    for _ in range(3):
        tracker.update(people(100, 300))
    tracker.reset()
    for _ in range(3):
        out = tracker.update(people(500))
    assert out.tracker_id.tolist() == [1]


@pytest.mark.parametrize("name", TRACKERS)
def test_unknown_options_are_rejected_by_name(name):
    with pytest.raises(ValueError, match="no_such_option") as error:
        create_tracker(name, no_such_option=1)
    for known in tracker_options(name):
        assert known in str(error.value)


def test_unknown_tracker_names_are_rejected_listing_the_known():
    with pytest.raises(ValueError, match="'sort9000'.*bytetrack"):
        create_tracker("sort9000")
