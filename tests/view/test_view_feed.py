"""ViewFeed: camera states for the tiles, and the transitions / events panels."""

import json

import pytest
from viewkit import tracks

from pyuniproc.runtime.fusion_stage import to_run_event
from pyuniproc.view import ViewFeed

SUMMARY = {
    "status": "running", "site": "shop", "elapsed_seconds": 12.0, "frames_processed": 240,
    "throughput_fps": 20.0,
    "cameras": {
        "cam1": {"state": "live", "fps": 10.0, "uri": "rtsp://***@10.0.0.7/s1", "dropped_total": 2,
                 "seconds_since_last_frame": 0.1, "frames_processed": 120, "tracks_seen": 7,
                 "people_max": 3},
        "cam2": {"state": "dead", "fps": 0.0, "uri": "rtsp://10.0.0.8/s1", "dropped_total": 0,
                 "seconds_since_last_frame": 4.0, "last_error": "camera cam2: cannot open", "tracks_seen": 1},
    },
}


class Clocks:
    def __init__(self) -> None:
        self.wall, self.mono = 1_000_000.0, 50.0


@pytest.fixture
def clocks():
    return Clocks()


def make_feed(clocks, **options):
    return ViewFeed(["cam1", "cam2"], clock=lambda: clocks.wall, monotonic=lambda: clocks.mono, **options)


@pytest.mark.parametrize("event, text", [
    # the pyuniproc.event/1 envelope, hand-over fields in details
    ({"kind": "global_id_assigned", "camera_id": "cam3", "track_id": 4, "global_id": 17,
      "pts_seconds": 80.0, "details": {"from_camera": "cam2", "travel_seconds": 12.4}},
     "person 17: cam2 \u2192 cam3 after 12.4 s"),
    # as Fusion.events() drains them
    ({"event": "assigned", "pts": 80.0, "camera_id": "cam3", "track_id": 4, "global_id": 17, "new": False,
      "from_camera": "cam2", "travel_seconds": 12.4}, "person 17: cam2 \u2192 cam3 after 12.4 s"),
    ({"kind": "transition", "from_camera": "cam1", "to_camera": "cam2", "global_id": 3},
     "person 3: cam1 \u2192 cam2"),
])
def test_hand_overs_become_transitions(clocks, event, text):
    feed = make_feed(clocks)
    feed.add_events([event])
    state = feed.snapshot()
    assert [t["text"] for t in state["transitions"]] == [text]
    assert state["transitions_total"] == 1
    assert state["events"] == []


@pytest.mark.parametrize("event", [
    # a new person
    {"event": "assigned", "camera_id": "cam1", "global_id": 1, "new": True, "from_camera": None},
    {"kind": "global_id_assigned", "camera_id": "cam1", "global_id": 2, "details": {"from_camera": "cam1"}},
    {"kind": "transition", "from_camera": "cam1", "to_camera": "cam2"},  # no global id
    {"kind": "track_started", "camera_id": "cam1", "track_id": 1},
    {"kind": "track_ended", "camera_id": "cam1", "track_id": 1, "details": {"dwell_seconds": 3.0}},
])
def test_what_is_neither_a_hand_over_nor_news_shows_nowhere(clocks, event):
    feed = make_feed(clocks)
    feed.add_events([event])
    state = feed.snapshot()
    assert state["transitions"] == [] and state["events"] == []


@pytest.mark.parametrize("event, text", [
    ({"kind": "line_crossed", "camera_id": "cam1", "track_id": 12, "pts_seconds": 3.2,
      "details": {"line": "door", "direction": "in", "count_in": 4}},
     "track 12 (person 4) crossed 'door' (in)"),
    ({"kind": "zone_entered", "camera_id": "cam1", "track_id": 12, "details": {"zone": "plaza"}},
     "track 12 (person 4) entered 'plaza'"),
    ({"kind": "zone_exited", "camera_id": "cam1", "track_id": 9, "details": {"zone": "plaza"}},
     "track 9 left 'plaza'"),
    ({"kind": "camera_down", "camera_id": "cam2", "details": {"state": "dead", "last_error": "refused"}},
     "camera given up: refused"),
    ({"kind": "camera_down", "camera_id": "cam2", "details": {"state": "finished", "previous_state": "live"}},
     "camera stream ended"),
    ({"kind": "camera_up", "camera_id": "cam2", "details": {"state": "live", "reconnect_attempts": 2}},
     "camera is live after 2 reconnect attempts"),
    # fusion's decisions, as the runtime forwards them
    (to_run_event({"event": "corrected", "pts": 4.0, "camera_id": "cam1", "track_id": 12, "from_global_id": 7,
                   "to_global_id": 4, "reason": "appearance_relink"}),
     "track 12 is now person 4 (was person 7): it looks more like them"),
    (to_run_event({"event": "retired", "pts": 9.0, "global_id": 46, "last_seen": None, "reason": "emptied"}),
     "person 46 forgotten: all its tracks turned out to be other people"),
    ({"kind": "config_rejected", "camera_id": None, "details": {"error": "module.yml:3: bad"}},
     "module YAML edit refused: module.yml:3: bad"),
    ({"kind": "something_new", "camera_id": "cam1", "details": {"score": 0.12345}},
     "something new (score=0.12)"),
])
def test_analytics_events_get_a_short_line_with_the_global_id_of_their_track(clocks, event, text):
    feed = make_feed(clocks)
    frame_tracks = tracks((0, 0, 10, 10, 12), (0, 0, 10, 10, 9), global_ids=[4, -1])
    feed.add_events([event], frame_tracks)
    [item] = feed.snapshot()["events"]
    assert item["text"] == text
    assert item["camera_id"] == event["camera_id"] and item["at"] == clocks.wall


def test_panels_keep_the_newest_items_first_and_count_all(clocks):
    feed = make_feed(clocks, max_transitions=3, max_events=2)
    for i in range(5):
        feed.add_events([
            {"kind": "transition", "from_camera": "cam1", "to_camera": "cam2", "global_id": i},
            {"kind": "line_crossed", "camera_id": "cam1", "track_id": i, "details": {"line": "l"}},
        ])
    state = feed.snapshot()
    assert [t["global_id"] for t in state["transitions"]] == [4, 3, 2]
    assert [e["track_id"] for e in state["events"]] == [4, 3]
    assert (state["transitions_total"], state["events_total"]) == (5, 5)


def test_camera_states_come_from_the_live_provider_when_there_is_one(clocks):
    live = {"cam1": {"state": "stalled", "fps": 0.0, "seconds_since_last_frame": 6.5, "dropped_total": 9},
            "cam2": {"state": "dead", "fps": 0.0, "seconds_since_last_frame": 30.0}}
    feed = make_feed(clocks, cameras=lambda: live)
    feed.on_summary(SUMMARY)
    cameras = feed.snapshot()["cameras"]
    assert cameras["cam1"]["state"] == "stalled" and cameras["cam1"]["dropped_total"] == 9
    assert cameras["cam1"]["tracks_seen"] == 7  # what only the summary knows
    assert cameras["cam2"]["seconds_since_last_frame"] == 30.0


def test_without_provider_the_summary_is_used_and_aged(clocks):
    feed = make_feed(clocks)
    feed.on_summary(SUMMARY)
    clocks.mono += 1.5
    state = feed.snapshot()
    assert (state["status"], state["site"], state["throughput_fps"]) == ("running", "shop", 20.0)
    assert state["cameras"]["cam1"]["seconds_since_last_frame"] == pytest.approx(1.6)
    assert state["cameras"]["cam2"]["state"] == "dead"
    assert state["cameras"]["cam2"]["last_error"] == "camera cam2: cannot open"


def test_a_failing_provider_falls_back_to_the_summary(clocks):
    def broken():
        raise RuntimeError("boom")

    feed = make_feed(clocks, cameras=broken)
    feed.on_summary(SUMMARY)
    assert feed.snapshot()["cameras"]["cam1"]["state"] == "live"


def test_before_anything_arrives_every_camera_is_connecting(clocks):
    state = make_feed(clocks).snapshot()
    assert state["status"] == "starting"
    states = {c: v["state"] for c, v in state["cameras"].items()}
    assert states == {"cam1": "connecting", "cam2": "connecting"}


def test_snapshots_are_json_without_uris_and_numbered(clocks):
    feed = make_feed(clocks)
    feed.on_summary(SUMMARY)
    first, second = feed.snapshot(), feed.snapshot()
    text = json.dumps(second)
    assert "rtsp" not in text and "10.0.0" not in text
    assert second["seq"] == first["seq"] + 1
    assert list(second["cameras"]) == ["cam1", "cam2"]


@pytest.mark.parametrize("option", ["max_transitions", "max_events"])
def test_bad_sizes_are_rejected(option):
    with pytest.raises(ValueError, match=option):
        ViewFeed(["cam1"], **{option: 0})
