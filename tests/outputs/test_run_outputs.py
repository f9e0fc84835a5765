"""RunOutputs routes every event the pipeline hands it through the sinks as `pyuniproc.event/1`,
adds fusion and camera-health events, and records video in segments when configured."""

from __future__ import annotations

import json
import time
from pathlib import Path

import av
import jsonschema
import numpy as np

from pyuniproc.analytics import CameraAnalytics
from pyuniproc.events import EventsConfig, make_event
from pyuniproc.outputs import RecordingConfig
from pyuniproc.runtime.outputs import RunOutputs
from pyuniproc.types import Detections, Frame

SCHEMA = json.loads((Path(__file__).resolve().parents[2] / "docs" / "event.schema.json").read_text())
DOOR = {"name": "door", "points": [[0, 60], [160, 60]], "min_offset_px": 5}


def frame(i: int, camera_id: str = "cam1") -> Frame:
    return Frame(camera_id, i, i / 10, np.full((120, 160, 3), i % 255, np.uint8))


def person(y: float, global_id: int | None) -> Detections:
    data = {} if global_id is None else {"global_id": np.array([global_id])}
    return Detections(xyxy=[[60, y - 40, 80, y]], confidence=[0.9], class_id=[0], tracker_id=[7], data=data)


def read_events(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_a_run_writes_schema_valid_events_of_every_source(tmp_path):
    outputs = RunOutputs(tmp_path, site="shop")
    analytics = CameraAnalytics("cam1", lines=[DOOR])
    for i, y in enumerate([40, 50, 70, 90]):
        tracks = person(y, global_id=None if i == 0 else 4)
        result = analytics.update(i, i / 10, tracks)
        # what the analytics pyfunc sends through its frame tag
        events = [json.loads(json.dumps(e.to_json_dict())) for e in result.events]
        if i == 1:  # what the fusion stage relays when it decides (pts only, no frame number)
            events.insert(
                0,
                {
                    "kind": "global_id_assigned",
                    "camera_id": "cam1",
                    "pts_seconds": 0.1,
                    "track_id": 7,
                    "global_id": 4,
                    "details": {"new": True, "similarity": None},
                },
            )
        outputs.write_frame(frame(i), tracks, events, fps=10.0)
    outputs.write_events(
        [
            {
                "kind": "config_reloaded",
                "camera_id": None,
                "sections": ["tracker"],
                "version": 2,
                "at": time.time(),
            }
        ]
    )
    outputs.write_summary({"cameras": {"cam1": {"state": "live", "fps": 10.0}}})
    outputs.write_events([e.to_json_dict() for e in analytics.finish()])
    outputs.close_camera("cam1")
    outputs.write_summary({"cameras": {"cam1": {"state": "finished", "fps": 0.0}}})
    outputs.close()

    events = read_events(tmp_path / "events.jsonl")
    validator = jsonschema.Draft202012Validator(SCHEMA)
    for event in events:
        assert not list(validator.iter_errors(event)), event
        assert event["site"] == "shop"
    kinds = [e["kind"] for e in events]
    assert kinds == [
        "track_started",
        "global_id_assigned",
        "line_crossed",
        "config_reloaded",
        "camera_up",
        "track_ended",
        "camera_down",
    ]
    by_kind = {e["kind"]: e for e in events}
    assert "global_id" not in by_kind["track_started"]  # fusion had not decided on frame 1
    assert by_kind["global_id_assigned"]["frame"] == 2  # filled in: decided on that camera's latest frame
    assert by_kind["line_crossed"]["global_id"] == 4 and by_kind["track_ended"]["global_id"] == 4
    assert by_kind["camera_down"]["frame"] == 4 and by_kind["camera_down"]["details"]["state"] == "finished"
    summary = json.loads((tmp_path / "summary.json").read_text())  # rewritten at close with final counts
    assert summary["events"]["sinks"][0]["written"] == len(events)
    recorded = summary["recording"]["cam1"]
    assert recorded["frames_written"] + recorded["frames_dropped"] == 4 and recorded["queued"] == 0
    assert outputs.paths()["events"] == str(tmp_path / "events.jsonl")


def test_events_a_schema_does_not_know_are_counted_not_raised(tmp_path, caplog):
    outputs = RunOutputs(tmp_path, annotate=False)
    outputs.write_events([{"kind": "people_counted", "camera_id": "cam1", "count": 3}] * 2)
    outputs.write_events(
        [make_event("config_rejected", details={"error": "x"})]
    )  # envelopes pass as they are
    outputs.write_summary({"cameras": {}})
    outputs.close()
    assert [e["kind"] for e in read_events(tmp_path / "events.jsonl")] == ["config_rejected"]
    assert json.loads((tmp_path / "summary.json").read_text())["events"]["rejected"] == {"people_counted": 2}
    assert sum("people_counted" in r.message for r in caplog.records) == 1  # logged once per kind


def test_segmented_recording_and_a_second_sink_from_config(tmp_path):
    events = EventsConfig.from_mapping(
        {"sinks": [{"type": "jsonl"}, {"type": "jsonl", "path": "up.jsonl", "kinds": ["camera_up"]}]}
    )
    recording = RecordingConfig(segment_seconds=1.0, when_behind="wait")
    outputs = RunOutputs(tmp_path, events=events, recording=recording)
    for i in range(25):
        outputs.write_frame(frame(i), Detections.empty(), [], fps=10.0)
    outputs.write_summary({"cameras": {"cam1": {"state": "live"}}})
    outputs.close()
    segments = sorted((tmp_path / "video" / "cam1").glob("cam1-*.mp4"))
    counts = []
    for path in segments:
        with av.open(str(path)) as container:
            counts.append(sum(1 for _ in container.decode(video=0)))
    assert counts == [10, 10, 5]
    assert [e["kind"] for e in read_events(tmp_path / "up.jsonl")] == ["camera_up"]
