"""What `pyuniproc serve` received and what it could not use, counted by kind and reason.

Bad input never stops the service or another source: each message or frame that cannot be used is
counted, per source in that source's camera counters (`dropped` by reason, in the run summary and on
/metrics as `pyuniproc_camera_frames_dropped`) when it belongs to one, and in the service's totals by
reason; the first of each reason is logged as a warning (later ones at debug level), so a source
sending garbage at frame rate cannot flood the log.

Reasons:
    undecodable          bytes savant-rs cannot read as a message (no source can be named)
    protocol_version     a message of another savant-rs protocol version
    incomplete           a ZeroMQ message without its message part
    invalid_source_id    a source id that is not 1-64 letters, digits, '_' or '-' (ids name output files)
    unsupported_message  a message kind the module does not take (user data, frame updates)
    malformed_frame      a frame whose size or time base make no sense
    unsupported_codec    a codec not in `pyuniproc.transport.CODECS`, or none
    no_content / unsupported_content   a frame without a picture, or one stored elsewhere (e.g. redis)
    before_keyframe      a frame before its stream's first keyframe (a decoder cannot start there)
    truncated / decode_error / no_picture   a picture cut short, one the decoder refused, or one it
                         never completed
    stopped              frames still queued when their source was removed or the service stopped
    shutdown_refused     a Shutdown message without the right key
"""

from __future__ import annotations

import logging
import threading
from collections import Counter
from collections.abc import Callable, Iterable
from typing import Any

from prometheus_client.core import CounterMetricFamily

log = logging.getLogger("pyuniproc.serve")


class Accounting:
    """Thread-safe counters of the ingress (its thread) and the sources' decode threads.

    stats_of: the camera counters of a source id, or None when no such source is known now.
    """

    def __init__(self, stats_of: Callable[[str], Any] = lambda source_id: None) -> None:
        self._stats_of = stats_of
        self._lock = threading.Lock()
        self.messages: Counter[str] = Counter()  # by kind: frame, end_of_stream, shutdown, ...
        self.rejected: Counter[str] = Counter()  # by reason, all sources and none
        self._logged: set[str] = set()

    def received(self, kind: str) -> None:
        with self._lock:
            self.messages[kind] += 1

    def reject(self, source_id: str | None, reason: str, message: str) -> None:
        """Count one unusable message or frame (of `source_id` when known) and log the first of its kind."""
        stats = self._stats_of(source_id) if source_id else None
        if stats is not None:
            stats.mark_dropped(reason)
        with self._lock:
            self.rejected[reason] += 1
            first = reason not in self._logged
            self._logged.add(reason)
        where = f"source {source_id!r}" if source_id else "unknown source"
        if first:
            log.warning("serve: %s: %s (%s; further ones are counted, not logged)", where, message, reason)
        else:
            log.debug("serve: %s: %s (%s)", where, message, reason)

    def snapshot(self) -> dict[str, dict[str, int]]:
        with self._lock:
            return {"messages": dict(self.messages), "rejected": dict(self.rejected)}


class ServeCollector:
    """The service's totals on /metrics, read at scrape time (per-source drops are camera metrics)."""

    def __init__(self, accounting: Accounting, sources: Callable[[], dict[str, int]]) -> None:
        self.accounting, self.sources = accounting, sources

    def collect(self) -> Iterable[CounterMetricFamily]:
        snapshot = self.accounting.snapshot()
        messages = CounterMetricFamily("pyuniproc_serve_messages", "Messages read from the sources, by kind",
                                       labels=["kind"])
        for kind, count in sorted(snapshot["messages"].items()):
            messages.add_metric([kind], float(count))
        rejected = CounterMetricFamily("pyuniproc_serve_rejected",
                                       "Messages or frames that could not be used, by reason",
                                       labels=["reason"])
        for reason, count in sorted(snapshot["rejected"].items()):
            rejected.add_metric([reason], float(count))
        sources = CounterMetricFamily("pyuniproc_serve_sources", "Sources seen, started streams, removed",
                                      labels=["event"])
        for event, count in sorted(self.sources().items()):
            sources.add_metric([event], float(count))
        return [messages, rejected, sources]


__all__ = ["Accounting", "ServeCollector"]
