"""KafkaSink: events to Kafka without ever holding up the pipeline, and without losing them to a
short broker outage.

Flow. `publish` (pipeline thread) serialises the event and appends it to a bounded in-memory
buffer, then returns. One sender thread moves events from the buffer into librdkafka, at most
`max_in_flight` at a time, and serves the delivery callbacks. librdkafka retries on its own
(`enable.idempotence`: retries without duplicates or reordering within a partition, acks=all)
for up to `message_timeout_seconds`. An event it gives up on (broker away that long) comes back
into the buffer, at the front, and is tried again; only events librdkafka reports as permanently
undeliverable (e.g. too large, not authorised) are counted as failed.

Bounded. While the broker is away the buffer fills; when it holds `buffer_max_events`, the
oldest event is dropped for each new one, counted in `dropped`, with a log line at the first
drop and at most one every 10 s after. Memory stays bounded (at most `buffer_max_events` +
`max_in_flight` events, about 0.5 KB each) and the newest events survive.

Delivery is at-least-once: an event that timed out locally may in fact have reached the broker
and will be sent again; consumers deduplicate on the envelope's `id`.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Any, NamedTuple

from confluent_kafka import KafkaError, KafkaException, Producer

from pyuniproc.events.config import KafkaSinkSettings
from pyuniproc.events.schema import SCHEMA, EventRecord

log = logging.getLogger(__name__)

_REQUEUE = {
    KafkaError._MSG_TIMED_OUT,
    KafkaError._TIMED_OUT,
    KafkaError._TRANSPORT,
    KafkaError._ALL_BROKERS_DOWN,
    KafkaError._PURGE_QUEUE,
    KafkaError._PURGE_INFLIGHT,
    KafkaError._FATAL,
    KafkaError._TIMED_OUT_QUEUE,
    KafkaError._QUEUE_FULL,
}
_DROP_LOG_PERIOD = 10.0
_IDLE_WAIT = 0.1  # sender's sleep when nothing is queued or in flight
_POLL = 0.01  # sender's wait for delivery callbacks while events are in flight


class _Message(NamedTuple):
    topic: str
    key: bytes | None
    value: bytes
    headers: list[tuple[str, bytes]]


def producer_config(settings: KafkaSinkSettings) -> dict[str, Any]:
    """librdkafka settings for the event producer (`settings.producer` applied last)."""
    return {
        "bootstrap.servers": settings.bootstrap_servers,
        "client.id": settings.client_id,
        "enable.idempotence": True,
        "acks": "all",
        "linger.ms": 5,
        "message.timeout.ms": int(settings.message_timeout_seconds * 1000),
        "queue.buffering.max.messages": max(settings.max_in_flight, 1000),
        **settings.producer,
    }


class KafkaSink:
    """Publishes `pyuniproc.event/1` envelopes to Kafka (see the module docstring).

    Message: value = the envelope's compact JSON; key = camera id / kind / none
    (`settings.key`); headers `schema`, `kind`, `content-type`; topic `settings.topic_for(kind)`.
    producer_factory: builds the librdkafka producer from its config dict (tests wrap it).
    """

    name = "kafka"

    def __init__(
        self,
        settings: KafkaSinkSettings,
        *,
        producer_factory: Callable[[dict[str, Any]], Any] = Producer,
    ) -> None:
        self.settings = settings
        self._factory = producer_factory
        self._config = {
            **producer_config(settings),
            "error_cb": self._on_error,
            "logger": logging.getLogger(f"{__name__}.librdkafka"),
        }
        self._buffer: deque[_Message] = deque()
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._counts = {
            "published": 0,
            "delivered": 0,
            "failed": 0,
            "dropped": 0,
            "requeued": 0,
            "lost_at_close": 0,
        }
        self._in_flight = 0
        self._returned: list[_Message] = []  # handed back by callbacks of one poll, oldest first
        self._broker_up: bool | None = None  # None: not known yet
        self._last_error: str | None = None
        self._fatal: KafkaError | None = None
        self._last_drop_log = -float("inf")
        self._drops_since_log = 0
        self._closing = threading.Event()
        self._close_deadline = 0.0
        self._producer = self._factory(self._config)
        self._thread = threading.Thread(target=self._run, name="kafka-events", daemon=True)
        self._thread.start()

    # -- the pipeline's side: never blocks ------------------------------------------------------

    def publish(self, event: EventRecord) -> None:
        if self._closing.is_set():
            raise RuntimeError("KafkaSink.publish() after close()")
        key = {"camera_id": event.camera_id, "kind": event.kind, "none": None}[self.settings.key]
        message = _Message(
            self.settings.topic_for(event.kind),
            key.encode() if key else None,
            event.to_bytes(),
            [
                ("schema", SCHEMA.encode()),
                ("kind", event.kind.encode()),
                ("content-type", b"application/json"),
            ],
        )
        with self._lock:
            self._counts["published"] += 1
            self._append(message, front=False)
        self._wake.set()

    def flush(self, timeout: float = 10.0) -> int:
        """Wait until the buffer is empty and librdkafka confirmed everything, or `timeout`."""
        deadline = time.monotonic() + timeout
        while True:
            pending = self.pending()
            if pending == 0 or time.monotonic() >= deadline or not self._thread.is_alive():
                return pending
            self._wake.set()
            time.sleep(0.005)

    def close(self) -> None:
        """Deliver what arrives within `close_timeout_seconds`, then stop; the rest is counted as
        `lost_at_close` and logged."""
        if self._closing.is_set():
            return
        self._close_deadline = time.monotonic() + self.settings.close_timeout_seconds
        self._closing.set()
        self._wake.set()
        self._thread.join(self.settings.close_timeout_seconds + 5.0)

    def pending(self) -> int:
        with self._lock:
            return len(self._buffer) + self._in_flight + len(self._returned)

    def stats(self) -> dict[str, Any]:
        with self._lock:
            return {
                "type": "kafka",
                "bootstrap_servers": self.settings.bootstrap_servers,
                **self._counts,
                "buffered": len(self._buffer) + len(self._returned),
                "in_flight": self._in_flight,
                "broker_up": self._broker_up,
                "last_error": self._last_error,
            }

    # -- the sender thread ------------------------------------------------------------------------

    def _run(self) -> None:
        try:
            while not (
                self._closing.is_set() and (self.pending() == 0 or time.monotonic() >= self._close_deadline)
            ):
                if self._fatal is not None:
                    self._restart_producer()
                self._pump()
                if self._in_flight:
                    self._producer.poll(_POLL)
                    self._restore_returned()
                else:
                    self._wake.wait(_IDLE_WAIT)
                    self._wake.clear()
                    self._producer.poll(0)  # serve error and log callbacks while idle too
        except Exception:  # noqa: BLE001 - a dead sender must be loud, not silent
            log.exception("kafka event sender stopped")
        finally:
            self._shutdown()

    def _pump(self) -> None:
        """Hand buffered events to librdkafka while fewer than `max_in_flight` are out."""
        while self._in_flight < self.settings.max_in_flight:
            with self._lock:
                if not self._buffer:
                    return
                message = self._buffer.popleft()
                self._in_flight += 1
            try:
                self._producer.produce(
                    message.topic,
                    message.value,
                    message.key,
                    headers=message.headers,
                    on_delivery=lambda err, _msg, m=message: self._on_delivery(err, m),
                )
            except BufferError:  # librdkafka's own queue is full: keep the event, try after a poll
                self._back(message, requeue=False)
            except KafkaException as exc:
                self._back(message, requeue=exc.args[0].code() in _REQUEUE, error=exc.args[0])
            else:
                continue
            self._restore_returned()
            return

    def _on_delivery(self, err: KafkaError | None, message: _Message) -> None:
        if err is None:
            with self._lock:
                self._in_flight -= 1
                self._counts["delivered"] += 1
                came_back = self._broker_up is False
                self._broker_up = True
                backlog = len(self._buffer) + self._in_flight
            if came_back:
                log.warning(
                    "kafka is back (%s); delivering %d pending events",
                    self.settings.bootstrap_servers,
                    backlog,
                )
            return
        self._back(message, requeue=err.code() in _REQUEUE or err.retriable(), error=err)

    def _back(self, message: _Message, *, requeue: bool, error: KafkaError | None = None) -> None:
        """An event librdkafka did not deliver: back to the buffer (see `_restore_returned`), or failed."""
        with self._lock:
            self._in_flight -= 1
            if error is not None:
                self._last_error = error.str()
            if requeue or error is None:
                if error is not None:
                    self._counts["requeued"] += 1
                self._returned.append(message)
                return
            self._counts["failed"] += 1
            failed = self._counts["failed"]
        if failed == 1 or failed % 1000 == 0:
            log.error(
                "kafka: event to %s not deliverable: %s (%d failed so far)", message.topic, error, failed
            )

    def _restore_returned(self) -> None:
        """Put returned events back at the front of the buffer in their original order (they are
        older than anything buffered, so when the buffer is full they are the ones dropped)."""
        with self._lock:
            returned, self._returned = self._returned, []
            for message in reversed(returned):
                self._append(message, front=True)

    def _append(self, message: _Message, *, front: bool) -> None:
        """Add to the buffer (lock held); when full, the oldest event makes room."""
        if len(self._buffer) >= self.settings.buffer_max_events:
            if front:  # the returning event is itself the oldest
                self._count_drop()
                return
            self._buffer.popleft()
            self._count_drop()
        if front:
            self._buffer.appendleft(message)
        else:
            self._buffer.append(message)

    def _count_drop(self) -> None:
        self._counts["dropped"] += 1
        self._drops_since_log += 1
        now = time.monotonic()
        if now - self._last_drop_log >= _DROP_LOG_PERIOD:
            log.warning(
                "kafka event buffer full (%d events, broker %s): dropped %d oldest, %d in total",
                self.settings.buffer_max_events,
                "up" if self._broker_up else "away",
                self._drops_since_log,
                self._counts["dropped"],
            )
            self._last_drop_log, self._drops_since_log = now, 0

    def _on_error(self, err: KafkaError) -> None:
        """librdkafka's client-level errors (broker connections, fatal idempotence errors)."""
        with self._lock:
            self._last_error = err.str()
            went_down = err.code() == KafkaError._ALL_BROKERS_DOWN and self._broker_up is not False
            if err.code() == KafkaError._ALL_BROKERS_DOWN:
                self._broker_up = False
            if err.fatal():
                self._fatal = err
        if went_down:
            log.warning(
                "kafka unreachable (%s): buffering events (up to %d)",
                self.settings.bootstrap_servers,
                self.settings.buffer_max_events,
            )
        elif err.fatal():
            log.error("kafka producer failed fatally, recreating it: %s", err)

    def _restart_producer(self) -> None:
        """A fatal error leaves an idempotent producer unusable: purge it (its events come back
        to the buffer through their callbacks) and start a fresh one."""
        self._fatal = None
        old = self._producer
        old.purge()
        old.poll(0)
        self._restore_returned()
        with self._lock:
            stranded, self._in_flight = self._in_flight, 0  # callbacks of a fatal producer may never come
        if stranded:
            log.error("kafka: %d events in the failed producer were lost", stranded)
        self._producer = self._factory(self._config)

    def _shutdown(self) -> None:
        try:
            self._producer.flush(max(0.0, self._close_deadline - time.monotonic()))
        finally:
            with self._lock:
                lost = len(self._buffer) + self._in_flight + len(self._returned)
                self._counts["lost_at_close"] = lost
                self._buffer.clear()
                self._returned.clear()
            if lost:
                log.error(
                    "kafka sink closed with %d undelivered events (broker %s)",
                    lost,
                    self.settings.bootstrap_servers,
                )
