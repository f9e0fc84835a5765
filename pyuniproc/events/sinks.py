"""Where events go, behind one small interface: `publish`, `flush(timeout)`, `close()`.

`publish` is called on the pipeline thread, so every sink returns at once: the JSON-lines sink
appends one line to its buffer (microseconds; on disk within `flush_seconds`, at `flush` and at
close), the Kafka sink queues in memory and sends from its own thread.
`stats()` gives each sink's counters for summary.json. `build_sink` turns `EventsConfig` into
one sink (a fan-out when several are configured).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from pyuniproc.events.config import EventsConfig, JsonLinesSinkSettings, KafkaSinkSettings
from pyuniproc.events.schema import EventRecord
from pyuniproc.extras import require
from pyuniproc.outputs.events import EventsWriter

log = logging.getLogger(__name__)


@runtime_checkable
class EventSink(Protocol):
    """A destination for events.

    publish: hand over one event; must not block (the caller is the pipeline thread).
    flush: wait up to `timeout` seconds until everything published is delivered; returns the
        number of events still pending (0: all delivered).
    close: flush what it reasonably can (each sink bounds that wait itself) and release resources.
    stats: JSON-ready counters.
    """

    def publish(self, event: EventRecord) -> None: ...

    def flush(self, timeout: float = 10.0) -> int: ...

    def close(self) -> None: ...

    def stats(self) -> dict[str, Any]: ...


class JsonLinesSink:
    """Appends envelopes to a JSON-lines file, one per line (the default sink); lines reach the
    file at least every second (`EventsWriter`), at `flush()` and at close.

    Built on `EventsWriter`, so a restarted run appends and a half line left by a killed run is
    dropped on reopen.
    """

    name = "jsonl"

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self._writer = EventsWriter(self.path)
        self._written = 0

    def publish(self, event: EventRecord) -> None:
        self._writer.write(event.to_json())
        self._written += 1

    def flush(self, timeout: float = 10.0) -> int:
        self._writer.flush()
        return 0

    def close(self) -> None:
        self._writer.close()

    def stats(self) -> dict[str, Any]:
        return {"type": "jsonl", "path": str(self.path), "written": self._written}


class KindFilter:
    """Passes only some kinds on to `sink` (e.g. only camera health to a paging topic)."""

    def __init__(self, sink: EventSink, kinds: Iterable[str]) -> None:
        self.sink = sink
        self.kinds = frozenset(kinds)
        self._skipped = 0

    def publish(self, event: EventRecord) -> None:
        if event.kind in self.kinds:
            self.sink.publish(event)
        else:
            self._skipped += 1

    def flush(self, timeout: float = 10.0) -> int:
        return self.sink.flush(timeout)

    def close(self) -> None:
        self.sink.close()

    def stats(self) -> dict[str, Any]:
        return {**self.sink.stats(), "kinds": sorted(self.kinds), "skipped_kind": self._skipped}


class FanOutSink:
    """Every event to every sink. A sink that raises is logged and counted; the others still get
    the event, and the pipeline never sees the error (events are output, not control flow)."""

    def __init__(self, sinks: Sequence[EventSink]) -> None:
        self.sinks = list(sinks)
        self._errors = [0] * len(self.sinks)

    def publish(self, event: EventRecord) -> None:
        for i, sink in enumerate(self.sinks):
            try:
                sink.publish(event)
            except Exception:  # noqa: BLE001 - one broken sink must not stop the run or the others
                self._errors[i] += 1
                if self._errors[i] == 1 or self._errors[i] % 1000 == 0:
                    log.exception("event sink %d failed (%d errors so far)", i, self._errors[i])

    def flush(self, timeout: float = 10.0) -> int:
        return sum(sink.flush(timeout) for sink in self.sinks)

    def close(self) -> None:
        for sink in self.sinks:
            try:
                sink.close()
            except Exception:  # noqa: BLE001 - close the rest regardless
                log.exception("closing event sink %r failed", sink)

    def stats(self) -> dict[str, Any]:
        return {
            "sinks": [
                {**sink.stats(), "publish_errors": errors}
                for sink, errors in zip(self.sinks, self._errors, strict=True)
            ]
        }


def build_sink(config: EventsConfig, out_dir: str | os.PathLike[str]) -> FanOutSink:
    """The sinks of `config`, relative paths under `out_dir`, as one fan-out."""
    sinks: list[EventSink] = []
    for settings in config.sinks:
        sink: EventSink
        if isinstance(settings, JsonLinesSinkSettings):
            sink = JsonLinesSink(Path(out_dir) / settings.path)
        elif isinstance(settings, KafkaSinkSettings):
            require("confluent_kafka", feature="the Kafka event sink (events.sinks: type kafka)")
            from pyuniproc.events.kafka import KafkaSink  # confluent-kafka only when configured

            sink = KafkaSink(settings)
        else:  # pragma: no cover - EventsConfig admits nothing else
            raise TypeError(f"unknown sink settings {settings!r}")
        sinks.append(KindFilter(sink, settings.kinds) if settings.kinds else sink)
    return FanOutSink(sinks)
