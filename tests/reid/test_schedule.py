"""The embedding schedule: refresh interval, per-frame cap, most stale first, bounded memory."""

from __future__ import annotations

import numpy as np
import pytest

from pyuniproc.reid import EmbedScheduler
from pyuniproc.types import NO_TRACK


def ids(*values: int) -> np.ndarray:
    return np.array(values, np.int64)


def yes(n: int) -> np.ndarray:
    return np.ones(n, bool)


def test_new_good_tracks_are_embedded_then_wait_refresh_frames():
    schedule = EmbedScheduler(refresh_frames=5, max_crops_per_frame=8)
    assert schedule.select("cam", 0, ids(1, 2), yes(2)).tolist() == [0, 1]
    for frame in range(1, 5):
        assert schedule.select("cam", frame, ids(1, 2), yes(2)).tolist() == []
    assert sorted(schedule.select("cam", 5, ids(2, 1), yes(2)).tolist()) == [0, 1]


def test_bad_crops_and_untracked_rows_are_never_chosen():
    schedule = EmbedScheduler()
    chosen = schedule.select("cam", 0, ids(1, 2, NO_TRACK), np.array([False, True, True]))
    assert chosen.tolist() == [1]
    assert schedule.select("cam", 1, ids(1), yes(1)).tolist() == [0]  # good now: embedded at once


def test_cap_per_frame_takes_the_most_stale_first_so_everyone_gets_a_turn():
    schedule = EmbedScheduler(refresh_frames=1, max_crops_per_frame=2)
    tracks = ids(10, 11, 12, 13, 14)
    first = schedule.select("cam", 0, tracks, yes(5))
    second = schedule.select("cam", 1, tracks, yes(5))
    third = schedule.select("cam", 2, tracks, yes(5))
    assert [len(first), len(second), len(third)] == [2, 2, 2]
    assert set(tracks[np.concatenate([first, second, third])].tolist()) == {10, 11, 12, 13, 14}
    # frame 3: track 14 (embedded at 2) is fresher than the ones embedded at 0 -> those go first
    fourth = tracks[schedule.select("cam", 3, tracks, yes(5))].tolist()
    assert set(fourth) <= set(tracks[first].tolist()) | set(tracks[second].tolist())
    assert 14 not in fourth


def test_never_embedded_beats_stale_and_quality_breaks_ties():
    schedule = EmbedScheduler(refresh_frames=1, max_crops_per_frame=1)
    schedule.select("cam", 0, ids(1), yes(1))
    # frame 5: track 1 is 5 frames stale, tracks 2 and 3 never embedded; 3 has the better crop
    chosen = schedule.select("cam", 5, ids(1, 2, 3), yes(3), quality=np.array([0.9, 0.4, 0.8]))
    assert chosen.tolist() == [2]


def test_cameras_are_independent_and_dropped_at_end_of_stream():
    schedule = EmbedScheduler(refresh_frames=5)
    schedule.select("a", 0, ids(1), yes(1))
    assert schedule.select("b", 0, ids(1), yes(1)).tolist() == [0]  # same id, other camera
    schedule.drop_camera("a")
    assert schedule.tracked_count("a") == 0
    assert schedule.select("a", 1, ids(1), yes(1)).tolist() == [0]  # forgotten -> new again


def test_ended_tracks_and_idle_tracks_are_forgotten():
    schedule = EmbedScheduler(forget_after_frames=10)
    schedule.select("cam", 0, ids(1, 2, 3), yes(3))
    schedule.end_tracks("cam", [1])
    assert schedule.tracked_count("cam") == 2
    schedule.select("cam", 11, ids(3), yes(3)[:1])  # 2 unseen for 11 frames
    assert schedule.tracked_count("cam") == 1


def test_memory_stays_bounded_over_a_long_run_of_short_tracks():
    schedule = EmbedScheduler(forget_after_frames=50)
    for frame in range(2000):
        schedule.select("cam", frame, ids(frame // 20, frame // 20 + 1000), yes(2))  # new ids every 2 s
    assert schedule.tracked_count("cam") <= 2 * (50 // 20 + 2)


@pytest.mark.parametrize("options, message", [
    ({"refresh_frames": 0}, r"refresh_frames must be >= 1, got 0"),
    ({"max_crops_per_frame": 0}, r"max_crops_per_frame must be >= 1, got 0"),
    ({"forget_after_frames": 0}, r"forget_after_frames must be >= 1, got 0"),
])
def test_bad_options_are_rejected(options, message):
    with pytest.raises(ValueError, match=message):
        EmbedScheduler(**options)


def test_row_counts_must_match():
    with pytest.raises(ValueError, match=r"good must have 2 rows like track_ids, got 1"):
        EmbedScheduler().select("cam", 0, ids(1, 2), yes(1))
