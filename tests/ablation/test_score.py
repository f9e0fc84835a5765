"""Per-row GT matching (`camera_row_matches`) and the track owners built on it, on literal boxes."""

from __future__ import annotations

import numpy as np

from pyuniproc.ablation.score import camera_row_matches, camera_track_owners

# frame, id, x, y, w, h
GT = np.array([
    [1, 7, 0, 0, 10, 20],
    [1, 8, 50, 0, 10, 20],
    [2, 7, 1, 0, 10, 20],
    [3, 8, 50, 0, 10, 20],
], dtype=np.float64)


def test_each_row_gets_the_person_it_overlaps_one_to_one_per_frame():
    pred = np.array([
        [1, 100, 50, 0, 10, 20],  # on person 8
        [1, 101, 0, 0, 10, 20],  # on person 7
        [2, 101, 30, 0, 10, 20],  # nobody there
        [3, 100, 51, 1, 10, 20],  # person 8, IoU ~0.77
        [4, 100, 50, 0, 10, 20],  # a frame without ground truth
    ], dtype=np.float64)
    assert camera_row_matches(pred, GT).tolist() == [8, 7, -1, 8, -1]


def test_two_rows_on_one_person_only_one_matches():
    pred = np.array([[1, 1, 0, 0, 10, 20], [1, 2, 0, 1, 10, 20]], dtype=np.float64)
    assert sorted(camera_row_matches(pred, GT).tolist()) == [-1, 7]


def test_a_track_is_owned_by_the_person_it_covers_most():
    pred = np.array([
        [1, 5, 0, 0, 10, 20],  # person 7
        [2, 5, 1, 0, 10, 20],  # person 7
        [3, 5, 50, 0, 10, 20],  # person 8 (switched)
        [2, 6, 90, 0, 10, 20],  # nobody: track 6 has no owner
    ], dtype=np.float64)
    assert camera_track_owners("cam1", pred, GT) == {("cam1", 5): 7}
    assert camera_row_matches(pred[:0], GT).shape == (0,)
