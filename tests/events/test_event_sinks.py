"""JsonLinesSink, KindFilter, FanOutSink and build_sink: contract tests over every local sink."""

from __future__ import annotations

import json

import pytest

from pyuniproc.events import (
    EventsConfig,
    EventSink,
    FanOutSink,
    JsonLinesSink,
    KindFilter,
    build_sink,
    make_event,
    validate,
)


def crossing(i: int = 0):
    return make_event(
        "line_crossed",
        camera_id="cam1",
        pts_seconds=i / 10,
        frame=i + 1,
        track_id=1,
        details={"line": "door", "direction": "in", "count_in": i + 1, "count_out": 0},
    )


def camera_down():
    return make_event("camera_down", camera_id="cam1", details={"state": "dead", "previous_state": "live"})


class ListSink:
    def __init__(self) -> None:
        self.events, self.closed = [], False

    def publish(self, event):
        self.events.append(event)

    def flush(self, timeout=10.0):
        return 0

    def close(self):
        self.closed = True

    def stats(self):
        return {"type": "list", "published": len(self.events)}


class BrokenSink(ListSink):
    def publish(self, event):
        raise OSError("disk full")


def lines(path):
    return [json.loads(line) for line in path.read_text().splitlines()]


@pytest.fixture(params=["jsonl", "filter", "fanout"])
def any_sink(request, tmp_path):
    inner = JsonLinesSink(tmp_path / "events.jsonl")
    return {"jsonl": inner, "filter": KindFilter(inner, ["line_crossed"]), "fanout": FanOutSink([inner])}[
        request.param
    ]


def test_every_sink_honours_the_interface(any_sink):
    assert isinstance(any_sink, EventSink)
    any_sink.publish(crossing())
    assert any_sink.flush(0.1) == 0
    assert isinstance(any_sink.stats(), dict)
    any_sink.close()


def test_jsonl_lines_are_envelopes_on_disk_after_flush_before_close(tmp_path):
    sink = JsonLinesSink(tmp_path / "events.jsonl")
    sink.publish(crossing(0))
    sink.publish(camera_down())
    assert sink.flush(timeout=0) == 0  # what RunOutputs does every second and before summary.json
    written = lines(tmp_path / "events.jsonl")  # readable while the run goes on
    assert [e["kind"] for e in written] == ["line_crossed", "camera_down"]
    for event in written:
        validate(event)
    assert written[0]["frame"] == 1 and sink.stats()["written"] == 2
    sink.close()
    again = JsonLinesSink(tmp_path / "events.jsonl")  # a restarted run appends
    again.publish(crossing(1))
    again.close()
    assert len(lines(tmp_path / "events.jsonl")) == 3


def test_kind_filter_passes_only_its_kinds():
    inner = ListSink()
    sink = KindFilter(inner, ["camera_down"])
    sink.publish(crossing())
    sink.publish(camera_down())
    assert [e.kind for e in inner.events] == ["camera_down"] and sink.stats()["skipped_kind"] == 1


def test_fan_out_reaches_every_sink_even_when_one_breaks():
    good, broken, other = ListSink(), BrokenSink(), ListSink()
    sink = FanOutSink([good, broken, other])
    for i in range(3):
        sink.publish(crossing(i))  # never raises into the pipeline
    assert len(good.events) == len(other.events) == 3
    assert [s["publish_errors"] for s in sink.stats()["sinks"]] == [0, 3, 0]
    sink.close()
    assert good.closed and other.closed


def test_build_sink_defaults_to_events_jsonl_in_the_out_folder(tmp_path):
    sink = build_sink(EventsConfig(), tmp_path)
    sink.publish(crossing())
    sink.close()
    assert lines(tmp_path / "events.jsonl")[0]["kind"] == "line_crossed"


def test_build_sink_with_a_filtered_second_file(tmp_path):
    config = EventsConfig.from_mapping(
        {
            "sinks": [
                {"type": "jsonl"},
                {"type": "jsonl", "path": "health/cameras.jsonl", "kinds": ["camera_down"]},
            ]
        }
    )
    sink = build_sink(config, tmp_path)
    sink.publish(crossing())
    sink.publish(camera_down())
    sink.close()
    assert len(lines(tmp_path / "events.jsonl")) == 2
    assert [e["kind"] for e in lines(tmp_path / "health" / "cameras.jsonl")] == ["camera_down"]
