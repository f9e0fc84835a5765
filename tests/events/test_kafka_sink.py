"""KafkaSink against librdkafka's mock cluster: events arrive with the schema intact, keyed and
topic'd as configured; a broker outage buffers (bounded, oldest dropped) without blocking the
caller, and everything still buffered is delivered once the broker is back."""

from __future__ import annotations

import json
import time

from kafkakit import TcpGate, read_topic

from pyuniproc.events import EventRecord, KafkaSinkSettings, make_event, validate
from pyuniproc.events.kafka import KafkaSink

# Short librdkafka timeouts so an outage shows within a second instead of minutes.
FAST = {
    "socket.timeout.ms": 500,
    "request.timeout.ms": 500,
    "reconnect.backoff.ms": 50,
    "reconnect.backoff.max.ms": 200,
    "retry.backoff.ms": 50,
    "retry.backoff.max.ms": 200,
}


def settings(bootstrap: str, **overrides) -> KafkaSinkSettings:
    producer = {**FAST, **overrides.pop("producer", {})}
    return KafkaSinkSettings(
        bootstrap_servers=bootstrap, message_timeout_seconds=1.0, producer=producer, **overrides
    )


def crossing(camera_id: str, i: int) -> EventRecord:
    return make_event(
        "line_crossed",
        site="shop",
        camera_id=camera_id,
        pts_seconds=i / 10,
        frame=i + 1,
        track_id=i % 5,
        details={"line": "door", "direction": "in", "count_in": i + 1, "count_out": 0},
    )


def wait_for(condition, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.02)
    return False


def test_events_arrive_with_the_schema_intact_keyed_by_camera_in_order(kafka):
    sink = KafkaSink(settings(kafka.bootstrap_servers, topic="shop.events"))
    sent = [crossing(camera, i) for i in range(50) for camera in ("cam1", "cam2")]
    sent.append(make_event("config_rejected", site="shop", details={"error": "bad yaml"}))
    for event in sent:
        sink.publish(event)
    assert sink.flush(10) == 0
    sink.close()
    stats = sink.stats()
    assert (stats["published"], stats["delivered"], stats["dropped"], stats["failed"]) == (101, 101, 0, 0)

    messages = read_topic(kafka.bootstrap_servers, ["shop.events"], expect=101)
    received = [EventRecord.from_json(m.value()) for m in messages]  # validates each one
    assert sorted(e.id for e in received) == sorted(e.id for e in sent)
    assert {e.id: e for e in received} == {e.id: e for e in sent}  # every field survived the trip
    for message in messages:
        event = json.loads(message.value())
        assert message.key() == (event["camera_id"].encode() if event["camera_id"] else None)
        assert dict(message.headers()) == {
            "schema": b"pyuniproc.event/1",
            "kind": event["kind"].encode(),
            "content-type": b"application/json",
        }
    for camera in ("cam1", "cam2"):  # one key, one partition: a camera's events stay in order
        frames = [e.frame for e in received if e.camera_id == camera]
        assert frames == sorted(frames) == list(range(1, 51))


def test_topic_per_kind_with_a_prefix(kafka):
    sink = KafkaSink(settings(kafka.bootstrap_servers, topic_prefix="shop.", key="kind"))
    sink.publish(crossing("cam1", 0))
    sink.publish(
        make_event("camera_down", camera_id="cam1", details={"state": "dead", "previous_state": "live"})
    )
    assert sink.flush(10) == 0
    sink.close()
    [crossed] = read_topic(kafka.bootstrap_servers, ["shop.line_crossed"], expect=1)
    [down] = read_topic(kafka.bootstrap_servers, ["shop.camera_down"], expect=1)
    assert (crossed.key(), down.key()) == (b"line_crossed", b"camera_down")
    validate(json.loads(down.value()))


def test_the_producer_can_host_its_own_mock_cluster():
    sink = KafkaSink(
        KafkaSinkSettings(bootstrap_servers="ignored:9092", producer={"test.mock.num.brokers": 1})
    )
    for i in range(200):
        sink.publish(crossing("cam1", i))
    assert sink.flush(10) == 0 and sink.stats()["delivered"] == 200
    sink.close()


def test_broker_outage_buffers_without_blocking_then_delivers(kafka_process):
    sink = KafkaSink(
        settings(kafka_process.bootstrap_servers, topic="ev", buffer_max_events=20, max_in_flight=5)
    )
    before = [crossing("cam1", i) for i in range(10)]
    for event in before:
        sink.publish(event)
    assert sink.flush(10) == 0

    kafka_process.freeze()  # the broker hangs: requests time out, connections die
    during = [crossing("cam1", i) for i in range(10, 70)]
    slowest = 0.0
    for event in during:
        started = time.perf_counter()
        sink.publish(event)
        slowest = max(slowest, time.perf_counter() - started)
        time.sleep(0.01)
    assert wait_for(lambda: sink.stats()["requeued"] > 0 and sink.stats()["broker_up"] is False)
    stats = sink.stats()
    assert slowest < 0.05, f"publish blocked for {slowest * 1000:.1f} ms"
    assert stats["delivered"] == 10 and stats["dropped"] >= 60 - 20 - 5  # beyond buffer + in flight
    assert stats["buffered"] <= 20 and stats["in_flight"] <= 5

    kafka_process.thaw()
    assert sink.flush(15) == 0
    sink.close()
    stats = sink.stats()
    assert stats["broker_up"] is True and stats["failed"] == 0 and stats["lost_at_close"] == 0
    messages = read_topic(kafka_process.bootstrap_servers, ["ev"], expect=stats["delivered"])
    received = {EventRecord.from_json(m.value()).id for m in messages}  # at-least-once: ids deduplicate
    assert {e.id for e in before} <= received
    assert {e.id for e in during[-20:]} <= received  # the newest survive; the oldest were dropped
    assert len(received) >= 70 - stats["dropped"]


def test_broker_absent_at_start_then_appears(kafka):
    gate = TcpGate(kafka.bootstrap_servers)  # refuses connections: nothing listens there yet
    sink = KafkaSink(settings(gate.address, topic="late", max_in_flight=10))
    try:
        sent = [crossing("cam1", i) for i in range(30)]
        for event in sent:
            sink.publish(event)
        assert wait_for(lambda: sink.stats()["requeued"] >= 10)  # timed out in librdkafka, kept by us
        assert sink.stats()["delivered"] == 0 and sink.stats()["dropped"] == 0
        gate.open()
        assert sink.flush(15) == 0
        assert sink.stats()["delivered"] >= 30
    finally:
        sink.close()
        gate.close()
    messages = read_topic(kafka.bootstrap_servers, ["late"], expect=30)
    assert {EventRecord.from_json(m.value()).id for m in messages} == {e.id for e in sent}


def test_close_gives_up_after_its_timeout_and_counts_the_loss():
    gate = TcpGate("127.0.0.1:1")  # never opened
    sink = KafkaSink(settings(gate.address, topic="x", close_timeout_seconds=0.5))
    for i in range(5):
        sink.publish(crossing("cam1", i))
    started = time.monotonic()
    sink.close()
    assert time.monotonic() - started < 3.0
    assert sink.stats()["lost_at_close"] == 5 and sink.stats()["delivered"] == 0


def test_an_undeliverable_event_is_failed_not_retried_forever(kafka, caplog):
    sink = KafkaSink(settings(kafka.bootstrap_servers, topic="small", producer={"message.max.bytes": 1000}))
    big = make_event("config_rejected", details={"error": "x" * 5000})
    sink.publish(big)
    sink.publish(crossing("cam1", 0))
    assert sink.flush(10) == 0
    sink.close()
    stats = sink.stats()
    assert (stats["failed"], stats["delivered"]) == (1, 1)
    # The failure is logged with its reason. (`last_error` is the latest error of any kind: a retried
    # time-out of the small event on the mock cluster can come after it.)
    failures = [record.getMessage() for record in caplog.records if "not deliverable" in record.getMessage()]
    assert len(failures) == 1 and "too large" in failures[0].lower()
