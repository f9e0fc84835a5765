"""tracks.csv, MOT files and events.jsonl: real files in tmp_path, read back as text."""

import json
import time

import numpy as np
import pytest

from pyuniproc.analytics import Event
from pyuniproc.outputs import TRACKS_CSV_HEADER, EventsWriter, MotWriter, TracksCsvWriter
from pyuniproc.types import Detections


def tracks(global_ids=None) -> Detections:
    data = {} if global_ids is None else {"global_id": np.array(global_ids, np.int64)}
    return Detections(
        xyxy=[[10, 20, 50, 120], [1.234, 2.345, 3.456, 4.567], [0, 0, 5, 5]],
        confidence=[0.91234, 0.5, 0.7],
        class_id=[0, 0, 0],
        tracker_id=[4, 9, -1],
        data=data,
    )


def lines(path):
    return path.read_text(encoding="utf-8").splitlines()


def test_tracks_csv_header_and_rows(tmp_path):
    path = tmp_path / "out" / "tracks.csv"
    with TracksCsvWriter(path) as writer:
        assert writer.write("cam1", 0, 0.04, tracks()) == 2  # the untracked row is left out
        writer.write("cam2", 41, 1.6666, tracks(global_ids=[17, -1, 3]))
        writer.write("cam2", 42, 1.7, Detections.empty())
    assert lines(path) == [
        "camera_id,frame,pts_seconds,track_id,global_id,x1,y1,x2,y2,confidence",
        "cam1,1,0.040,4,,10.00,20.00,50.00,120.00,0.9123",
        "cam1,1,0.040,9,,1.23,2.35,3.46,4.57,0.5000",
        "cam2,42,1.667,4,17,10.00,20.00,50.00,120.00,0.9123",
        "cam2,42,1.667,9,,1.23,2.35,3.46,4.57,0.5000",
    ]


WRITERS = {  # writer factory, one write, the file it writes
    "tracks.csv": (
        lambda d, **kw: TracksCsvWriter(d / "tracks.csv", **kw),
        lambda w: w.write("cam1", 0, 0.0, tracks()),
        "tracks.csv",
    ),
    "mot": (
        lambda d, **kw: MotWriter(d / "mot", **kw),
        lambda w: w.write("cam1", 0, tracks()),
        "mot/cam1.txt",
    ),
    "events": (
        lambda d, **kw: EventsWriter(d / "events.jsonl", **kw),
        lambda w: w.write({"kind": "note"}),
        "events.jsonl",
    ),
}


@pytest.mark.parametrize("name", WRITERS)
def test_rows_wait_in_memory_until_flush_and_close(tmp_path, name):
    make, write, file = WRITERS[name]
    writer = make(tmp_path, flush_seconds=3600)
    write(writer)
    before = len(lines(tmp_path / file))
    writer.flush()
    flushed = len(lines(tmp_path / file))
    write(writer)
    writer.close()
    assert (before, flushed, len(lines(tmp_path / file))) == (
        (1, 3, 5) if name == "tracks.csv" else (0, 2, 4) if name == "mot" else (0, 1, 2)
    )


@pytest.mark.parametrize("name", WRITERS)
def test_rows_reach_the_file_within_flush_seconds(tmp_path, name):
    make, write, file = WRITERS[name]
    immediate = make(tmp_path / "a", flush_seconds=0)
    write(immediate)
    assert len(lines(tmp_path / "a" / file)) == (3 if name == "tracks.csv" else 2 if name == "mot" else 1)
    timed = make(tmp_path / "b", flush_seconds=0.05)
    write(timed)
    time.sleep(0.06)
    write(timed)  # the first write after the period flushes both
    assert len(lines(tmp_path / "b" / file)) == (5 if name == "tracks.csv" else 4 if name == "mot" else 2)
    immediate.close()
    timed.close()


def test_flush_seconds_must_be_a_number_from_0(tmp_path):
    with pytest.raises(ValueError, match="flush_seconds must be a number >= 0, got -1"):
        TracksCsvWriter(tmp_path / "tracks.csv", flush_seconds=-1)


def test_restart_appends_under_one_header(tmp_path):
    path = tmp_path / "tracks.csv"
    with TracksCsvWriter(path) as writer:
        writer.write("cam1", 0, 0.0, tracks())
    with path.open("a") as file:
        file.write("cam1,2,0.08,4,,10.0")  # a row cut short by a kill
    with TracksCsvWriter(path) as writer:
        writer.write("cam1", 5, 0.2, tracks())
    content = lines(path)
    assert content.count(TRACKS_CSV_HEADER) == 1 and len(content) == 5
    assert [row.split(",")[1] for row in content[1:]] == ["1", "1", "6", "6"]


def test_tracks_csv_refuses_a_file_with_another_header(tmp_path):
    path = tmp_path / "tracks.csv"
    path.write_text("frame,id\n1,2\n")
    with pytest.raises(ValueError, match="exists with header 'frame,id'"):
        TracksCsvWriter(path)
    assert path.read_text() == "frame,id\n1,2\n"


def test_mot_rows_per_camera(tmp_path):
    with MotWriter(tmp_path / "mot") as writer:
        writer.write("cam1", 0, tracks())
        writer.write("cam1", 1, tracks())
        writer.write("cam2", 9, tracks())
        writer.flush()
        assert lines(tmp_path / "mot" / "cam1.txt")[:1] == ["1,4,10.00,20.00,40.00,100.00,0.9123,-1,-1,-1"]
    assert lines(tmp_path / "mot" / "cam1.txt") == [
        "1,4,10.00,20.00,40.00,100.00,0.9123,-1,-1,-1",
        "1,9,1.23,2.35,2.22,2.22,0.5000,-1,-1,-1",
        "2,4,10.00,20.00,40.00,100.00,0.9123,-1,-1,-1",
        "2,9,1.23,2.35,2.22,2.22,0.5000,-1,-1,-1",
    ]
    assert lines(tmp_path / "mot" / "cam2.txt")[0].startswith("10,4,")


def test_mot_with_global_ids_skips_rows_without_one(tmp_path):
    with MotWriter(tmp_path / "mtmc", id_key="global_id") as writer:
        assert writer.write("cam1", 0, tracks(global_ids=[17, -1, 3])) == 2
        assert writer.write("cam1", 1, tracks()) == 0  # no global ids on this frame
    assert [row.split(",")[:2] for row in lines(tmp_path / "mtmc" / "cam1.txt")] == [["1", "17"], ["1", "3"]]


def test_mot_rejects_camera_ids_that_are_not_file_names(tmp_path):
    with MotWriter(tmp_path) as writer, pytest.raises(ValueError, match="camera_id"):
        writer.write("../evil", 0, tracks())


def test_events_jsonl_one_event_per_line_with_1_based_frame(tmp_path):
    path = tmp_path / "events.jsonl"
    event = Event(
        "line_crossed", "cam1", 2.5, 62, 4, {"line": "door", "direction": "in", "x": np.float32(3.5)}
    )
    with EventsWriter(path, flush_seconds=0) as writer:
        writer.write(event)
        assert len(lines(path)) == 1  # flushed per line
        writer.write_many([{"kind": "note", "n": np.int64(3)}, event.to_json_dict()])
    first, second, third = (json.loads(line) for line in lines(path))
    assert first == {
        "kind": "line_crossed",
        "camera_id": "cam1",
        "pts_seconds": 2.5,
        "frame": 63,
        "track_id": 4,
        "details": {"line": "door", "direction": "in", "x": 3.5},
    }
    assert second == {"kind": "note", "n": 3}
    assert third == first  # an event that travelled as a dict (Savant tag) is written the same way
