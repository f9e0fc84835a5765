"""Which visits of an identity get a thumbnail: every camera it was seen in, whatever the limit."""

from __future__ import annotations

from pyuniproc.report.data import Identity, Row, Visit
from pyuniproc.report.thumbs import best_row, pick_rows, pick_visits


def visit(camera: str, start: float, end: float) -> Visit:
    return Visit(7, camera, start, end, int(start * 10) + 1, int(end * 10) + 1)


def test_every_camera_gets_a_thumbnail_even_beyond_the_limit():
    identity = Identity(7, [visit("a", 0, 9), visit("a", 10, 11), visit("b", 12, 13), visit("c", 14, 14.5)])
    assert [v.camera_id for v in pick_visits(identity, 1)] == ["a", "b", "c"]
    # Within the limit, the camera's longest visit first, then the others by length, shown in time order.
    assert [(v.camera_id, v.start) for v in pick_visits(identity, 4)] == [
        ("a", 0), ("a", 10), ("b", 12), ("c", 14)
    ]
    assert [(v.camera_id, v.start) for v in pick_visits(identity, 3)] == [("a", 0), ("b", 12), ("c", 14)]


def test_best_row_is_the_largest_box_away_from_the_ends():
    rows = [Row(i, i / 10, 1, 0, 0, 10, 20) for i in range(1, 11)]
    rows[0] = Row(1, 0.0, 1, 0, 0, 50, 90)  # largest, but at the entry: cut by the frame edge
    rows[5] = Row(6, 0.5, 1, 0, 0, 12, 30)
    assert best_row(rows).frame == 6


def test_a_scored_run_shows_every_person_an_identity_holds():
    """One visit in camera a: track 1 (GT person 10, large boxes) then track 2 (person 20, small)."""
    rows = [Row(i, i / 10, 1, 0, 0, 20, 60) for i in range(1, 9)]
    rows += [Row(i, i / 10, 2, 100, 0, 110, 30) for i in range(9, 13)]
    identity = Identity(7, [Visit(7, "a", 0.1, 1.2, 1, 12, {1, 2}, rows)])
    assert [(r.track_id, r.frame) for _, r in pick_rows(identity, 6)] == [(1, 2)]
    shots = pick_rows(identity, 6, {("a", 1): 10, ("a", 2): 20})
    assert [(r.track_id, r.frame) for _, r in shots] == [(1, 2), (2, 9)]
    assert len(pick_rows(identity, 6, {("a", 1): 10})) == 1  # one person: nothing to add
