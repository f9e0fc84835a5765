"""CameraAnalytics on tiny literal tracks: each test walks feet (bottom centres) through a scene."""

import json

import numpy as np
import pytest

from pyuniproc.analytics import (
    LINE_CROSSED,
    TRACK_ENDED,
    TRACK_STARTED,
    ZONE_ENTERED,
    ZONE_EXITED,
    CameraAnalytics,
)
from pyuniproc.events import to_event
from pyuniproc.types import NO_TRACK, Detections

# A horizontal line drawn left to right at y=100: "in" = moving down the picture (y grows).
DOOR = {"name": "door", "points": [[0, 100], [200, 100]], "min_offset_px": 5}
BENCH = {"name": "bench", "polygon": [[300, 300], [400, 300], [400, 400], [300, 400]], "min_offset_px": 5}


def tracks(*rows: tuple[int, float, float]) -> Detections:
    """Detections whose rows are (track_id, feet_x, feet_y): 10 px wide, 40 px tall boxes."""
    xyxy = [[x - 5, y - 40, x + 5, y] for _, x, y in rows]
    return Detections(
        xyxy=np.array(xyxy, np.float32).reshape(-1, 4),
        confidence=np.full(len(rows), 0.9),
        class_id=np.zeros(len(rows)),
        tracker_id=[tid for tid, _, _ in rows],
    )


def walk(analytics: CameraAnalytics, path: list[tuple[float, float]], *, track_id: int = 1, fps: float = 10):
    """Feed one track along `path`, one point per frame; return its events after track_started
    (which every new track emits on its first frame, tested on its own below)."""
    events = []
    for i, (x, y) in enumerate(path):
        events += analytics.update(i, i / fps, tracks((track_id, x, y))).events
    assert events[:1] == [] or events[0].kind == TRACK_STARTED
    return events[1:]


def kinds(events):
    return [e.kind for e in events]


def test_people_count_and_dwell_aligned_to_rows():
    analytics = CameraAnalytics("cam1")
    analytics.update(0, 10.0, tracks((7, 50, 50)))
    dets = tracks((7, 52, 50), (8, 90, 90))
    dets.tracker_id[:] = [NO_TRACK, 7]  # rows may come in any order; untracked rows are not people
    dets = Detections.concatenate([dets, tracks((9, 10, 10))])
    result = analytics.update(1, 10.5, dets)
    assert result.people_count == 2
    assert result.dwell_seconds.dtype == np.float32 and result.dwell_seconds.shape == (3,)
    assert np.isnan(result.dwell_seconds[0])
    assert result.dwell_seconds[1:].tolist() == [0.5, 0.0]


def test_crossing_down_once_is_one_in_event():
    analytics = CameraAnalytics("cam1", lines=[DOOR])
    events = walk(analytics, [(100, 80), (100, 90), (100, 98), (100, 104), (100, 112), (100, 130)])
    assert kinds(events) == [LINE_CROSSED]
    event = events[0]
    assert (event.track_id, event.frame_index, event.pts_seconds) == (1, 4, 0.4)  # decided at 5 px past
    assert event.details["line"] == "door" and event.details["direction"] == "in"
    assert analytics.line_counts() == {"door": {"in": 1, "out": 0}}


def test_crossing_up_is_out():
    analytics = CameraAnalytics("cam1", lines=[DOOR])
    events = walk(analytics, [(100, 130), (100, 101), (100, 70)])
    assert [e.details["direction"] for e in events] == ["out"]
    assert analytics.line_counts() == {"door": {"in": 0, "out": 1}}


def test_jitter_on_the_line_does_not_count_again():
    analytics = CameraAnalytics("cam1", lines=[DOOR])
    jitter = [(100, 100 + d) for d in (3, -4, 4, -2, 1, -4, 4, -3)]
    events = walk(analytics, [(100, 80), *jitter, (100, 120), *jitter, (100, 120), (100, 130)])
    assert [e.details["direction"] for e in events] == ["in"]


def test_coming_back_across_the_line_counts_both_ways():
    analytics = CameraAnalytics("cam1", lines=[DOOR])
    events = walk(analytics, [(100, 80), (100, 120), (100, 80), (100, 120)])
    assert [e.details["direction"] for e in events] == ["in", "out", "in"]
    assert analytics.line_counts()["door"] == {"in": 2, "out": 1}


def test_walking_around_the_end_of_the_segment_does_not_count():
    analytics = CameraAnalytics("cam1", lines=[DOOR])
    assert walk(analytics, [(180, 80), (230, 90), (240, 110), (180, 120)]) == []


def test_a_track_born_on_the_line_settles_without_an_event():
    analytics = CameraAnalytics("cam1", lines=[DOOR])
    assert walk(analytics, [(100, 101), (100, 130), (100, 140)]) == []


def test_zone_enter_then_exit_reports_time_inside_and_occupancy():
    analytics = CameraAnalytics("cam1", zones=[BENCH])
    path = [(250, 350), (320, 350), (350, 350), (350, 350), (450, 350)]
    results = [analytics.update(i, float(i), tracks((4, x, y))) for i, (x, y) in enumerate(path)]
    assert [r.zone_occupancy["bench"] for r in results] == [0, 1, 1, 1, 0]
    entered, exited = results[1].events[0], results[4].events[0]
    assert (entered.kind, entered.pts_seconds, entered.details["zone"]) == (ZONE_ENTERED, 1.0, "bench")
    assert exited.kind == ZONE_EXITED
    assert exited.details == {
        "zone": "bench",
        "entered_pts": 1.0,
        "exited_pts": 4.0,
        "seconds_in_zone": 3.0,
        "occupancy": 0,
        "reason": "moved",
    }


def test_standing_on_the_zone_border_does_not_flicker():
    analytics = CameraAnalytics("cam1", zones=[BENCH])
    events = walk(
        analytics, [(290, 350), (310, 350), *[(300 + d, 350) for d in (-3, 2, -4, 4, -1)], (320, 350)]
    )
    assert kinds(events) == [ZONE_ENTERED]


def test_track_ends_after_timeout_with_dwell_and_zone_exit():
    analytics = CameraAnalytics("cam1", zones=[BENCH], track_timeout_seconds=2.0)
    analytics.update(0, 1.0, tracks((3, 350, 350)))
    analytics.update(1, 2.5, tracks((3, 350, 350)))
    assert analytics.update(2, 4.5, tracks()).events == []  # 2.0 s unseen: not yet "longer than"
    result = analytics.update(3, 4.6, tracks((5, 10, 10)))
    assert kinds(result.events) == [ZONE_EXITED, TRACK_ENDED, TRACK_STARTED]  # ended first, then track 5
    exited, ended, _ = result.events
    assert exited.details["reason"] == "track_ended" and exited.details["seconds_in_zone"] == 1.5
    assert (ended.track_id, ended.frame_index, ended.pts_seconds) == (3, 3, 4.6)
    assert ended.details == {
        "dwell_seconds": 1.5,
        "first_pts": 1.0,
        "last_pts": 2.5,
        "first_frame_index": 0,
        "last_frame_index": 1,
        "frames_seen": 2,
    }
    assert result.zone_occupancy == {"bench": 0} and result.people_count == 1


def test_an_id_seen_again_after_the_timeout_is_a_new_visit():
    analytics = CameraAnalytics("cam1", track_timeout_seconds=1.0)
    analytics.update(0, 0.0, tracks((1, 10, 10)))
    result = analytics.update(1, 5.0, tracks((1, 10, 10)))
    assert kinds(result.events) == [TRACK_ENDED, TRACK_STARTED] and result.dwell_seconds.tolist() == [0.0]


def test_every_new_track_starts_once_with_its_feet():
    analytics = CameraAnalytics("cam1")
    first = analytics.update(0, 0.0, tracks((1, 10, 20), (2, 30, 40)))
    assert [(e.kind, e.track_id, e.frame_index) for e in first.events] == [
        (TRACK_STARTED, 1, 0),
        (TRACK_STARTED, 2, 0),
    ]
    assert first.events[1].details == {"x": 30.0, "y": 40.0}
    second = analytics.update(1, 0.1, tracks((1, 12, 20), (2, 30, 42), (3, 5, 5)))
    assert [(e.kind, e.track_id) for e in second.events] == [(TRACK_STARTED, 3)]
    assert analytics.summary()["tracks_started"] == 3


def test_finish_ends_every_open_track():
    analytics = CameraAnalytics("cam1", lines=[DOOR], zones=[BENCH])
    analytics.update(0, 0.0, tracks((1, 10, 10), (2, 350, 350)))
    analytics.update(1, 0.5, tracks((1, 10, 12), (2, 350, 350)))
    events = analytics.finish(0.6)
    assert sorted((e.kind, e.track_id) for e in events) == [
        (TRACK_ENDED, 1),
        (TRACK_ENDED, 2),
        (ZONE_EXITED, 2),
    ]
    assert all(e.pts_seconds == 0.6 and e.frame_index == 1 for e in events)
    assert analytics.finish() == []
    summary = analytics.summary()
    assert summary["tracks_started"] == 2 and summary["tracks_ended"] == 2 and summary["tracks_open"] == 0
    assert summary["dwell_max_seconds"] == 0.5 and summary["zones"]["bench"] == {"occupancy": 0, "entries": 1}


def test_events_serialise_to_json():
    analytics = CameraAnalytics("cam1", lines=[DOOR])
    events = walk(analytics, [(100, 80), (100, 120)]) + analytics.finish()
    for event in events:
        decoded = json.loads(json.dumps(event.to_json_dict()))
        assert decoded["camera_id"] == "cam1" and decoded["kind"] == event.kind


def test_two_tracks_crossing_in_the_same_frame_both_count():
    analytics = CameraAnalytics("cam1", lines=[DOOR])
    analytics.update(0, 0.0, tracks((1, 50, 80), (2, 150, 120)))
    result = analytics.update(1, 0.1, tracks((1, 50, 120), (2, 150, 80)))
    assert sorted((e.track_id, e.details["direction"]) for e in result.events) == [(1, "in"), (2, "out")]
    assert result.line_counts == {"door": {"in": 1, "out": 1}}


def test_non_finite_pts_is_rejected():
    with pytest.raises(ValueError, match="pts_seconds must be finite"):
        CameraAnalytics("cam1").update(0, float("nan"), tracks())


# -- live edits: reconfigure between two frames ----------------------------------------------------------


def test_reconfigure_keeps_unchanged_lines_and_tracks_and_restarts_edited_ones():
    gate = {"name": "gate", "points": [[0, 200], [200, 200]], "min_offset_px": 5}
    analytics = CameraAnalytics("cam1", lines=[DOOR, gate])
    analytics.update(0, 0.0, tracks((1, 50, 80)))
    analytics.update(1, 0.1, tracks((1, 50, 120)))  # crosses the door
    moved_gate = {**gate, "points": [[0, 300], [200, 300]]}
    assert analytics.reconfigure(lines=[DOOR, moved_gate], track_timeout_seconds=5.0) == []
    assert analytics.line_counts() == {"door": {"in": 1, "out": 0}, "gate": {"in": 0, "out": 0}}
    assert analytics.update(2, 0.2, tracks((1, 50, 280))).events == []  # the moved gate learns the side
    result = analytics.update(3, 0.3, tracks((1, 50, 320)))  # over the moved gate, not a new track
    assert kinds(result.events) == [LINE_CROSSED] and result.events[0].details["line"] == "gate"
    assert result.dwell_seconds.tolist() == pytest.approx([0.3])
    assert analytics.track_timeout_seconds == 5.0


def test_reconfigure_reports_people_in_a_removed_zone_as_leaving():
    analytics = CameraAnalytics("cam1", zones=[BENCH])
    analytics.update(0, 0.0, tracks((4, 350, 350)))
    analytics.update(1, 0.1, tracks((4, 350, 352)))
    [left] = analytics.reconfigure(zones=[])
    assert (left.kind, left.track_id, left.frame_index) == (ZONE_EXITED, 4, 1)
    assert (left.details["zone"], left.details["reason"]) == ("bench", "zone_changed")
    assert left.details["occupancy"] == 0
    to_event(left.to_json_dict())  # a valid pyuniproc.event/1
    assert analytics.update(2, 0.2, tracks((4, 350, 354))).events == []


def test_a_bad_reconfigure_changes_nothing():
    analytics = CameraAnalytics("cam1", lines=[DOOR], zones=[BENCH])
    with pytest.raises(ValueError):
        analytics.reconfigure(lines=[{"name": "bad", "points": [[0, 0], [0, 0]]}], zones=[])
    with pytest.raises(ValueError, match="track_timeout_seconds"):
        analytics.reconfigure(zones=[], track_timeout_seconds=0)
    assert [c.name for c in analytics.lines] == ["door"] and [m.name for m in analytics.zones] == ["bench"]
