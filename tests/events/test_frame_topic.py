"""KafkaFrameTopic: opaque frame payloads and their W3C trace context survive a round trip
through the mock cluster, keyed by camera; the receiving side's span joins the sender's trace."""

from __future__ import annotations

import time

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from pyuniproc.events.frame_topic import KafkaFrameTopic

# The mock cluster's classic group join waits ~3 s; the KIP-848 protocol joins at once.
FAST_JOIN = {"auto_offset_reset": "earliest", "group_protocol": "consumer"}


def test_payloads_and_trace_context_round_trip(kafka):
    tracer = TracerProvider().get_tracer("test")
    propagator = TraceContextTextMapPropagator()
    topic = KafkaFrameTopic(kafka.bootstrap_servers, "frames")
    publisher = topic.publisher()
    sent = {}
    for i in range(40):
        camera = f"cam{i % 2 + 1}"
        payload = bytes([i]) * 300 + b"\x00\xff savant frame"  # opaque: any bytes, NULs included
        with tracer.start_as_current_span("frame") as span:
            carrier: dict[str, str] = {}
            propagator.inject(carrier)
            carrier["baggage"] = "not=carried"  # only the W3C trace keys travel
            assert publisher.send(camera, payload, carrier)
            sent[payload] = (camera, span.get_span_context().trace_id)
    assert publisher.flush(10) == 0 and publisher.counts["delivered"] == 40

    subscriber = topic.subscriber("fusion", **FAST_JOIN)  # joins later: "earliest" still reads it all
    records = []
    deadline = time.monotonic() + 15
    while len(records) < 40 and time.monotonic() < deadline:
        records += subscriber.consume(100, 0.5)
    subscriber.close()
    assert len(records) == 40
    for record in records:
        camera, trace_id = sent[record.payload]
        assert record.camera_id == camera and record.topic == "frames"
        assert set(record.carrier) == {"traceparent"}
        remote = trace.get_current_span(propagator.extract(record.carrier)).get_span_context()
        assert remote.trace_id == trace_id and remote.is_remote
    for camera in ("cam1", "cam2"):  # one camera, one partition, sent order kept
        mine = [r for r in records if r.camera_id == camera]
        assert len({r.partition for r in mine}) == 1
        assert [r.payload for r in mine] == [p for p, (c, _) in sent.items() if c == camera]


def test_send_without_trace_context_and_bad_arguments(kafka):
    topic = KafkaFrameTopic(kafka.bootstrap_servers, "plain")
    publisher = topic.publisher()
    assert publisher.send("cam1", b"payload")
    assert publisher.flush(10) == 0
    subscriber = topic.subscriber("g", **FAST_JOIN)
    record = None
    deadline = time.monotonic() + 10
    while record is None and time.monotonic() < deadline:
        record = subscriber.poll(0.5)
    subscriber.close()
    assert record is not None and record.payload == b"payload" and record.carrier == {}
    with pytest.raises(ValueError, match="bootstrap_servers"):
        KafkaFrameTopic("", "frames")
