"""`pyuniproc.event/1`: every kind the code produces validates against docs/event.schema.json,
bad events are refused when built with the field named, and the committed schema is current."""

from __future__ import annotations

import json
import tempfile
import time
from pathlib import Path

import jsonschema
import numpy as np
import pytest

from pyuniproc.analytics import CameraAnalytics
from pyuniproc.config.live_module import LiveModule
from pyuniproc.events import (
    KINDS,
    SCHEMA,
    CameraStateWatcher,
    EventRecord,
    EventSchemaError,
    GlobalIdWatcher,
    json_schema,
    make_event,
    to_event,
    validate,
)
from pyuniproc.fusion import events as fusion_events
from pyuniproc.fusion.tracks import LocalTrack
from pyuniproc.runtime.fusion_stage import to_run_event
from pyuniproc.types import Detections

REPO = Path(__file__).resolve().parents[2]
SCHEMA_FILE = REPO / "docs" / "event.schema.json"
DOOR = {"name": "door", "points": [[0, 100], [200, 100]], "min_offset_px": 5}
BENCH = {"name": "bench", "polygon": [[0, 150], [200, 150], [200, 300], [0, 300]], "min_offset_px": 5}


def feet(track_id: int, x: float, y: float, global_id: int | None = None) -> Detections:
    data = {} if global_id is None else {"global_id": np.array([global_id])}
    return Detections(
        xyxy=[[x - 5, y - 40, x + 5, y]], confidence=[0.9], class_id=[0], tracker_id=[track_id], data=data
    )


def produced_events() -> list[EventRecord]:
    """One run through every producer in the code base, the way the runtime wires them."""
    events: list[EventRecord] = []
    analytics = CameraAnalytics("cam1", lines=[DOOR], zones=[BENCH], track_timeout_seconds=1.0)
    # Track 7 walks down across the door into the bench zone, out again, and is lost.
    for i, y in enumerate([60, 90, 120, 170, 200, 320, 340]):
        result = analytics.update(i, i / 10, feet(7, 100, y))
        events += [
            to_event(e.to_json_dict(), site="shop") for e in result.events
        ]  # as the pyfunc tag carries it
    events += [to_event(e, site="shop") for e in analytics.update(30, 3.0, Detections.empty()).events]
    events.append(
        to_event(
            {
                "kind": "config_reloaded",
                "camera_id": None,
                "sections": ["tracker"],
                "version": 2,
                "at": time.time(),
            },
            site="shop",
        )
    )
    events.append(
        to_event(
            {"kind": "config_rejected", "camera_id": None, "error": "line 3: bad value", "at": time.time()},
            site="shop",
        )
    )
    events += [to_event(notice, site="shop") for notice in live_module_notices()]
    cameras = CameraStateWatcher(site="shop")
    for state in ("connecting", "live", "stalled", "live", "connecting", "dead"):
        events += cameras.update(
            {
                "cam1": {
                    "state": state,
                    "fps": 9.5,
                    "last_error": "timeout",
                    "seconds_since_last_frame": 6.0,
                    "reconnect_attempts": 1,
                }
            },
            last_frames={"cam1": (31, 3.0)},
        )
    column = GlobalIdWatcher(site="shop")  # identities seen only as the global_id column
    events += column.update("cam1", 1, 0.0, feet(7, 10, 10, global_id=4))
    events += column.update("cam1", 2, 0.1, feet(7, 10, 10, global_id=2))
    events += [
        to_event(to_run_event(e), site="shop") for e in fusion_decisions()
    ]  # as the runtime relays them
    return events


def live_module_notices() -> list[dict]:
    """The Savant module's live-edit notices (config.events tag): a rejected edit, then a restart-only one."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "module.yml"
        original = (REPO / "module" / "module.yml").read_text()
        path.write_text(original)
        live = LiveModule(path, interval_seconds=0)
        path.write_text(original.replace("nms_iou_threshold: 0.45", "nms_iou_threshold: 2"))
        live.poll()
        path.write_text(original.replace("batch_size: 16", "batch_size: 8"))
        live.poll()
        notices, _ = live.notices_since(0)
    assert [n["kind"] for n in notices] == ["config_rejected", "config_restart_needed"]
    return notices


def fusion_decisions() -> list[dict]:
    """Fusion's own event dicts, built by its event module (the shapes `Fusion.events()` drains)."""
    track = LocalTrack(
        uid=1,
        camera_id="cam2",
        camera_index=1,
        track_id=3,
        first_seen=5.0,
        last_seen=6.0,
        entry_position=(10.0, 20.0),
        position=(12.0, 22.0),
    )
    track.global_id = 4
    moved = LocalTrack(
        uid=2,
        camera_id="cam2",
        camera_index=1,
        track_id=5,
        first_seen=5.0,
        last_seen=6.0,
        entry_position=(10.0, 20.0),
        position=(12.0, 22.0),
    )
    moved.global_id = 6
    return [
        fusion_events.assigned(
            6.0, track, new=False, similarity=0.8, confidence=float("inf"), transition=None
        ),
        fusion_events.corrected(7.0, moved, from_global_id=4, reason="appearance_split"),
        fusion_events.retired(30.0, global_id=4, last_seen=7.0, reason="expired"),
    ]


def test_the_committed_json_schema_is_the_generated_one():
    committed = json.loads(SCHEMA_FILE.read_text())
    assert committed == json_schema(), (
        "regenerate: python -m pyuniproc.events schema > docs/event.schema.json"
    )
    jsonschema.Draft202012Validator.check_schema(committed)


def test_every_kind_the_code_produces_validates_against_the_json_schema():
    validator = jsonschema.Draft202012Validator(json.loads(SCHEMA_FILE.read_text()))
    events = produced_events()
    assert {e.kind for e in events} == set(KINDS)  # every kind has a producer and is covered here
    for event in events:
        document = json.loads(event.to_bytes())
        errors = list(validator.iter_errors(document))
        assert not errors, (event.kind, [e.message for e in errors])
        assert document["schema"] == SCHEMA and document["site"] == "shop"
        assert EventRecord.from_json(document) == event


def test_analytics_events_get_1_based_frames_in_the_envelope():
    events = {e.kind: e for e in produced_events()}
    started, ended, crossed = events["track_started"], events["track_ended"], events["line_crossed"]
    assert (started.frame, started.pts_seconds, started.track_id) == (1, 0.0, 7)
    assert (crossed.details["line"], crossed.details["direction"]) == ("door", "in")
    assert (ended.details["first_frame"], ended.details["last_frame"], ended.frame) == (1, 7, 31)
    assert "first_frame_index" not in ended.details
    assert events["camera_stalled"].frame == 31 and events["config_reloaded"].camera_id is None


def test_make_event_fills_id_and_time_and_converts_numpy():
    event = make_event(
        "zone_entered",
        camera_id="cam1",
        pts_seconds=np.float32(1.5),
        frame=np.int64(16),
        track_id=np.int64(3),
        details={"zone": "bench", "occupancy": np.int32(1), "entered_pts": 1.5},
        time=0.0,
    )
    assert event.time == "1970-01-01T00:00:00.000Z"
    assert len(event.id) == 36 and event.id != make_event("config_rejected", details={"error": "x"}).id
    assert type(event.frame) is int and type(event.details["occupancy"]) is int


OK_CROSSING = dict(
    camera_id="cam1",
    pts_seconds=1.0,
    frame=11,
    track_id=2,
    details={"line": "door", "direction": "in", "count_in": 1, "count_out": 0},
)


@pytest.mark.parametrize(
    ("kind", "changes", "field"),
    [
        ("no_such_kind", {}, "kind"),
        ("line_crossed", {"frame": 0}, "frame"),  # frames are 1-based
        ("line_crossed", {"frame": None}, "frame"),  # a frame event needs its frame
        ("line_crossed", {"camera_id": "../etc"}, "camera_id"),
        ("line_crossed", {"pts_seconds": float("nan")}, "pts_seconds"),
        ("line_crossed", {"track_id": None}, "track_id"),
        ("line_crossed", {"track_id": -1}, "track_id"),
        (
            "line_crossed",
            {"details": {"line": "door", "direction": "up", "count_in": 1, "count_out": 0}},
            "details.direction",
        ),
        (
            "line_crossed",
            {"details": {"line": "door", "direction": "in", "count_in": 1}},
            "details.count_out",
        ),
        ("line_crossed", {"details": {**OK_CROSSING["details"], "x": float("inf")}}, "details.x"),
        ("line_crossed", {"details": {**OK_CROSSING["details"], "extra": object()}}, "details.extra"),
        ("config_rejected", {"details": {"error": "x"}}, "camera_id"),  # site events have no camera
        ("camera_up", {"details": {"state": "live", "previous_state": None}}, "track_id"),
        ("global_id_assigned", {"details": {}}, "global_id"),
    ],
)
def test_bad_events_are_refused_when_built_naming_the_field(kind, changes, field):
    with pytest.raises(EventSchemaError) as caught:
        make_event(kind, **{**OK_CROSSING, **changes})
    assert caught.value.field == field
    assert isinstance(caught.value, ValueError) and f"'{field}'" in str(caught.value)


def test_the_json_schema_refuses_what_the_python_check_refuses():
    validator = jsonschema.Draft202012Validator(json_schema())
    good = make_event("line_crossed", **OK_CROSSING).to_json()
    bad_documents = [
        {**good, "frame": 0},
        {**good, "kind": "zone_entered"},  # zone details missing
        {**good, "schema": "pyuniproc.event/2"},
        {**good, "surprise": 1},
        {k: v for k, v in good.items() if k != "track_id"},
        {**good, "camera_id": None},
        {**good, "details": {**good["details"], "direction": "up"}},
        {**make_event("config_rejected", details={"error": "x"}).to_json(), "track_id": 1},
    ]
    assert validator.is_valid(good)
    for document in bad_documents:
        assert not validator.is_valid(document), document
        with pytest.raises(EventSchemaError):
            validate(document)


def test_unknown_runtime_events_are_refused_with_the_kind_named():
    with pytest.raises(EventSchemaError, match="'kind'"):
        to_event({"kind": "people_counted", "camera_id": "cam1", "frame_index": 0})


def test_cli_prints_the_schema_and_checks_a_file(tmp_path, capsys):
    from pyuniproc.events.__main__ import main

    assert main(["schema"]) == 0 and json.loads(capsys.readouterr().out) == json_schema()
    good, bad = tmp_path / "good.jsonl", tmp_path / "bad.jsonl"
    good.write_text("".join(e.to_bytes().decode() + "\n" for e in produced_events()))
    bad.write_text(good.read_text().splitlines()[0].replace('"frame":1', '"frame":0') + "\n")
    assert main(["check", str(good)]) == 0
    assert main(["check", str(bad)]) == 1 and "'frame'" in capsys.readouterr().err
