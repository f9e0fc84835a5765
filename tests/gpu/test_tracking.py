"""The GPU backend tracks each camera and picks the tracks to embed with the same step as the CPU runtime."""

from __future__ import annotations

import numpy as np
import pytest

from pyuniproc.gpu.tracking import TrackingStage
from pyuniproc.reid import EmbedScheduler, QualityGate
from pyuniproc.types import Detections

FRAME = (1080, 1920)
PEOPLE = np.array(
    [[100, 100, 160, 300], [400, 200, 470, 420], [900, 300, 980, 520], [1300, 500, 1330, 530]], np.float32
)  # the last one is too small for the gate


def _frame(step: int) -> Detections:
    return Detections(
        xyxy=PEOPLE + step, confidence=np.full(len(PEOPLE), 0.9, np.float32), class_id=np.zeros(4, np.int32)
    )


def test_same_choice_as_the_cpu_gate_and_schedule():
    settings = {"min_height": 48, "refresh_frames": 3, "max_crops_per_frame": 2}
    stage = TrackingStage(selection=settings)
    gate, scheduler = QualityGate(min_height=48), EmbedScheduler(refresh_frames=3, max_crops_per_frame=2)
    chosen_per_frame = []
    for index in range(8):
        tracks, rows, quality = stage.update(7, index, _frame(index), FRAME)
        good, expected_quality = gate.assess(tracks.xyxy, tracks.confidence, FRAME)
        expected = scheduler.select("7", index, tracks.tracker_id, good, expected_quality)
        np.testing.assert_array_equal(rows, expected)
        np.testing.assert_allclose(quality, expected_quality[expected])
        chosen_per_frame.append(set(tracks.tracker_id[rows].tolist()))
    assert all(len(c) <= 2 for c in chosen_per_frame)  # the per-frame cap
    assert len(set().union(*chosen_per_frame)) == 3  # every good track gets its turn; the small one never


def test_cameras_are_independent_and_dropped_at_end_of_stream():
    stage = TrackingStage(selection={"refresh_frames": 5})
    first = stage.update(0, 0, _frame(0), FRAME)[1]
    other = stage.update(1, 0, _frame(0), FRAME)[1]
    assert len(first) == len(other) == 3  # camera 1's schedule does not see camera 0's embeddings
    assert len(stage.update(0, 1, _frame(1), FRAME)[1]) == 0  # not due again before refresh_frames
    stage.end_camera(0)
    assert stage.cameras == [1]


def test_tracking_only_chooses_nothing():
    tracks, rows, quality = TrackingStage().update(0, 0, _frame(0), FRAME)
    assert len(tracks) == 4 and len(rows) == 0 and len(quality) == 0


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"tracker_options": {"no_such_option": 1}}, "no_such_option"),
        ({"selection": {"min_height": -1}}, "min_height"),
        ({"selection": {"refresh_seconds": 1}}, "refresh_seconds"),
    ],
)
def test_bad_settings_fail_at_construction(kwargs, message):
    with pytest.raises(ValueError, match=message):
        TrackingStage(**kwargs)


def test_settings_split_like_the_runtime():
    from pyuniproc.reid.selection import GATE_OPTIONS, SCHEDULE_OPTIONS

    stage = TrackingStage(selection={name: 1 for name in GATE_OPTIONS + SCHEDULE_OPTIONS})
    assert stage.selection is not None
    assert all(getattr(stage.selection.gate, name) == 1 for name in GATE_OPTIONS)
    assert stage.selection.scheduler.refresh_frames == 1
