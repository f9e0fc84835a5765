"""TrackRelinker: each rule on tiny literal tracks (one person 100 px tall walking right at 10 px/frame)."""

from __future__ import annotations

import numpy as np
import pytest

from pyuniproc.track.relink import TrackRelinker
from pyuniproc.types import Detections


def tracks(*rows, embeddings=None) -> Detections:
    """rows: (tracker_id, x1, y1, x2, y2)."""
    a = np.array(rows, np.float64).reshape(-1, 5)
    data = {}
    if embeddings is not None:
        vectors = np.array(embeddings, np.float32)
        data = {"embedding": vectors, "embedding_quality": np.ones(len(a), np.float32)}
    return Detections(a[:, 1:5].astype(np.float32), np.ones(len(a), np.float32), np.zeros(len(a), np.int32),
                      a[:, 0].astype(np.int64), data)


def walk(relinker: TrackRelinker, track_id: int, frames: range, x0: float = 0.0, **kw) -> list[int]:
    out = []
    for f in frames:
        x = x0 + 10 * f
        out += relinker.update(f, tracks((track_id, x, 0, x + 40, 100), **kw)).tracker_id.tolist()
    return out


def test_a_new_track_where_the_lost_one_was_heading_takes_its_id():
    relinker = TrackRelinker(max_gap_frames=10, max_distance=0.5, distance_per_frame=0.05)
    assert walk(relinker, 1, range(0, 5)) == [1] * 5
    # frames 5-7 missed; at frame 8 the tracker starts track 2 on the predicted spot (x = 80)
    assert walk(relinker, 2, range(8, 10)) == [1, 1]
    assert relinker.relinked == 1


def test_too_far_from_the_prediction_is_a_new_person():
    relinker = TrackRelinker(max_gap_frames=10, max_distance=0.5, distance_per_frame=0.05)
    walk(relinker, 1, range(0, 5))
    # gap 4 frames: gate radius (0.5 + 0.2) * 100 = 70 px; this box is 150 px off the prediction
    assert walk(relinker, 2, range(8, 9), x0=150.0) == [2]


def test_a_gap_longer_than_max_gap_frames_is_not_bridged():
    relinker = TrackRelinker(max_gap_frames=3)
    walk(relinker, 1, range(0, 5))
    assert walk(relinker, 2, range(9, 10)) == [2]


def test_a_very_different_height_is_not_the_same_person():
    relinker = TrackRelinker(max_height_ratio=1.5)
    walk(relinker, 1, range(0, 5))
    out = relinker.update(6, tracks((2, 60, 0, 100, 40)))  # 40 px tall instead of 100
    assert out.tracker_id.tolist() == [2]


def test_a_one_frame_track_is_not_taken_over():
    relinker = TrackRelinker(min_frames=3)
    walk(relinker, 1, range(0, 2))
    assert walk(relinker, 2, range(3, 4)) == [2]


def test_a_visible_track_is_never_taken_over():
    relinker = TrackRelinker()
    walk(relinker, 1, range(0, 5))
    out = relinker.update(5, tracks((1, 50, 0, 90, 100), (2, 55, 0, 95, 100)))
    assert out.tracker_id.tolist() == [1, 2]


def test_appearance_vetoes_a_stranger_when_both_have_embeddings():
    relinker = TrackRelinker(min_cosine=0.9)
    walk(relinker, 1, range(0, 5), embeddings=[[1.0, 0.0]])
    assert walk(relinker, 2, range(6, 7), embeddings=[[0.0, 1.0]]) == [2]
    relinker = TrackRelinker(min_cosine=0.9)
    walk(relinker, 1, range(0, 5), embeddings=[[1.0, 0.0]])
    assert walk(relinker, 2, range(6, 7), embeddings=[[0.995, 0.0998]]) == [1]


def test_no_embedding_on_either_side_relies_on_position_alone():
    relinker = TrackRelinker(min_cosine=0.9)
    walk(relinker, 1, range(0, 5), embeddings=[[1.0, 0.0]])
    assert walk(relinker, 2, range(6, 7), embeddings=[[np.nan, np.nan]]) == [1]


def test_the_original_track_coming_back_takes_its_id_back():
    relinker = TrackRelinker()
    walk(relinker, 1, range(0, 5))
    assert walk(relinker, 2, range(6, 7)) == [1]
    # the tracker re-finds track 1 while track 2 is still there: 1 keeps id 1, 2 falls back to 2
    out = relinker.update(7, tracks((1, 70, 0, 110, 100), (2, 300, 0, 340, 100)))
    assert out.tracker_id.tolist() == [1, 2]
    assert relinker.update(8, tracks((2, 310, 0, 350, 100))).tracker_id.tolist() == [2]


def test_two_new_tracks_two_lost_ones_matched_one_to_one():
    relinker = TrackRelinker()
    for f in range(5):
        relinker.update(f, tracks((1, 10 * f, 0, 10 * f + 40, 100), (2, 400, 0, 440, 100)))
    out = relinker.update(6, tracks((4, 402, 0, 442, 100), (3, 60, 0, 100, 100)))
    assert out.tracker_id.tolist() == [2, 1]


def test_tracks_never_relinked_keep_the_tracker_ids():
    relinker = TrackRelinker()
    out = relinker.update(0, tracks((5, 0, 0, 40, 100), (9, 300, 0, 340, 100)))
    assert out.tracker_id.tolist() == [5, 9]


@pytest.mark.parametrize("options", [{"max_gap_frames": 0}, {"max_height_ratio": 0.9}, {"min_cosine": 2.0},
                                     {"min_frames": 0}, {"max_distance": -1.0}])
def test_bad_options_are_rejected_by_name(options):
    with pytest.raises(ValueError, match=next(iter(options))):
        TrackRelinker(**options)
