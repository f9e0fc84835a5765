"""Kafka as the route for per-camera frame messages when cameras span several machines.

On one machine the module's frame messages (savant-rs `VideoFrame` metadata: tracks, embeddings)
reach fusion over ZeroMQ. Across machines a Kafka topic does it: each camera's messages are keyed
by camera id, so they stay in order in one partition, and fusion (one consumer group) reads them
all. This module is only the byte-level seam: it carries opaque payloads (whatever
`pyuniproc.transport.frames.encode_frame` produced) plus the W3C trace context in Kafka headers,
so the fusion process's spans join the frame's trace (`pyuniproc.telemetry.tracing.extract`).

    topic = KafkaFrameTopic("kafka:9092", "pyuniproc.frames")
    publisher = topic.publisher()
    publisher.send("cam1", payload, carrier=inject(frame_trace))   # never blocks
    ...
    subscriber = topic.subscriber("fusion")
    record = subscriber.poll(0.1)   # FrameRecord(camera_id, payload, carrier, ...) or None

Frames are perishable: when librdkafka's local queue is full (broker away for long) `send`
drops the message and counts it instead of blocking, unlike the event sink, which buffers.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from confluent_kafka import Consumer, KafkaError, Producer

log = logging.getLogger(__name__)
_LIBRDKAFKA_LOG = logging.getLogger(f"{__name__}.librdkafka")  # librdkafka's own log lines, not stderr

TRACE_HEADERS = ("traceparent", "tracestate")
"""The W3C trace-context keys carried as Kafka headers (what OpenTelemetry's propagator writes)."""
DEFAULT_FRAME_TOPIC = "pyuniproc.frames"


@dataclass(frozen=True)
class FrameRecord:
    """One received frame message: the payload as sent, its camera and its trace context."""

    camera_id: str
    payload: bytes
    carrier: dict[str, str] = field(default_factory=dict)
    topic: str = ""
    partition: int = -1
    offset: int = -1
    timestamp_ms: int | None = None


class KafkaFrameTopic:
    """One Kafka topic of frame messages; hands out publishers and subscribers.

    config: librdkafka settings shared by both sides (e.g. security.protocol, sasl.*).
    """

    def __init__(
        self,
        bootstrap_servers: str,
        topic: str = DEFAULT_FRAME_TOPIC,
        *,
        config: Mapping[str, Any] | None = None,
    ) -> None:
        if not bootstrap_servers:
            raise ValueError("bootstrap_servers must be 'host:port[,host:port...]', got an empty string")
        if not topic:
            raise ValueError("topic must not be empty")
        self.bootstrap_servers = bootstrap_servers
        self.topic = topic
        self.config = dict(config or {})

    def publisher(self, **producer_config: Any) -> FramePublisher:
        """A producer: small linger for low latency, idempotent so retries keep per-camera order."""
        config = {
            "bootstrap.servers": self.bootstrap_servers,
            "logger": _LIBRDKAFKA_LOG,
            "enable.idempotence": True,
            "linger.ms": 2,
            "message.timeout.ms": 10_000,
            **self.config,
            **_dotted(producer_config),
        }
        return FramePublisher(Producer(config), self.topic)

    def subscriber(self, group_id: str, **consumer_config: Any) -> FrameSubscriber:
        """A consumer in `group_id`; by default starts at the newest messages (fusion wants now,
        not a backlog), override with auto_offset_reset="earliest"."""
        config = {
            "bootstrap.servers": self.bootstrap_servers,
            "logger": _LIBRDKAFKA_LOG,
            "group.id": group_id,
            "auto.offset.reset": "latest",
            "enable.auto.commit": True,
            **self.config,
            **_dotted(consumer_config),
        }
        consumer = Consumer(config)
        consumer.subscribe([self.topic])
        return FrameSubscriber(consumer)


class FramePublisher:
    """Sends frame payloads keyed by camera id; `send` never blocks."""

    def __init__(self, producer: Producer, topic: str) -> None:
        self._producer = producer
        self.topic = topic
        self.counts = {"sent": 0, "delivered": 0, "failed": 0, "dropped": 0}

    def send(self, camera_id: str, payload: bytes, carrier: Mapping[str, str] | None = None) -> bool:
        """Queue one message; False (and counted as dropped) when librdkafka's queue is full."""
        headers = [(k, v.encode()) for k, v in (carrier or {}).items() if k in TRACE_HEADERS and v]
        try:
            self._producer.produce(
                self.topic, bytes(payload), camera_id.encode(), headers=headers, on_delivery=self._on_delivery
            )
        except BufferError:
            self.counts["dropped"] += 1
            self._producer.poll(0)
            return False
        self.counts["sent"] += 1
        self._producer.poll(0)  # serve delivery callbacks of earlier messages
        return True

    def flush(self, timeout: float = 10.0) -> int:
        """Wait for delivery; returns messages still undelivered."""
        return self._producer.flush(timeout)

    def close(self, timeout: float = 5.0) -> None:
        left = self.flush(timeout)
        if left:
            log.warning("frame topic %s: %d messages undelivered at close", self.topic, left)

    def _on_delivery(self, err: KafkaError | None, _msg: Any) -> None:
        if err is None:
            self.counts["delivered"] += 1
        else:
            self.counts["failed"] += 1
            if self.counts["failed"] == 1:
                log.warning("frame topic %s: delivery failed: %s", self.topic, err)


class FrameSubscriber:
    """Reads frame records; the payload is handed back untouched."""

    def __init__(self, consumer: Consumer) -> None:
        self._consumer = consumer

    def poll(self, timeout: float = 1.0) -> FrameRecord | None:
        """The next record, or None if none came within `timeout` seconds."""
        records = self.consume(1, timeout)
        return records[0] if records else None

    def consume(self, max_records: int = 100, timeout: float = 1.0) -> list[FrameRecord]:
        records = []
        for message in self._consumer.consume(max_records, timeout):
            error = message.error()
            if error is not None:
                if error.code() != KafkaError._PARTITION_EOF:
                    log.warning("frame topic: %s", error)
                continue
            headers = {k: v.decode() for k, v in (message.headers() or []) if k in TRACE_HEADERS and v}
            _, stamp = message.timestamp()
            records.append(
                FrameRecord(
                    camera_id=(message.key() or b"").decode(),
                    payload=message.value() or b"",
                    carrier=headers,
                    topic=message.topic(),
                    partition=message.partition(),
                    offset=message.offset(),
                    timestamp_ms=stamp if stamp >= 0 else None,
                )
            )
        return records

    def close(self) -> None:
        self._consumer.close()


def _dotted(options: Mapping[str, Any]) -> dict[str, Any]:
    """Python keyword names to librdkafka's dotted names (auto_offset_reset -> auto.offset.reset)."""
    return {key.replace("_", "."): value for key, value in options.items()}
