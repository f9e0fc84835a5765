"""events.jsonl: analytics events as JSON lines, one per line.

An `Event` is written as its `to_json_dict()`; a mapping (e.g. that dict after a trip through
a Savant frame tag) as it is. Either way a `frame_index` key (0-based `Frame.index`) is replaced
by `frame` (1-based), the frame numbering of every run output.
Lines are buffered and reach the file at least every `flush_seconds`, when the run writes
summary.json, and at close (`_files.py`). A restarted run appends; a half-written last line from a
killed run is dropped on reopen.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping
from types import TracebackType
from typing import Any, Protocol

from pyuniproc.outputs._files import FLUSH_SECONDS, FlushTimer, json_default, open_for_append


class JsonEvent(Protocol):
    def to_json_dict(self) -> dict[str, Any]: ...


class EventsWriter:
    """Appends events to a JSON-lines file.

    flush_seconds: longest time lines wait in memory (0: every event goes to the OS at once).
    """

    def __init__(self, path: str | os.PathLike[str], *, flush_seconds: float = FLUSH_SECONDS) -> None:
        self.path = path
        self._timer = FlushTimer(flush_seconds)
        self._file = open_for_append(path)

    def write(self, event: JsonEvent | Mapping[str, Any]) -> None:
        record = _with_output_frame(dict(event) if isinstance(event, Mapping) else event.to_json_dict())
        self._file.write(json.dumps(record, default=json_default, allow_nan=False) + "\n")
        if self._timer.due():
            self._file.flush()

    def write_many(self, events: Iterable[JsonEvent | Mapping[str, Any]]) -> None:
        for event in events:
            self.write(event)

    def flush(self) -> None:
        """Hand every line written so far to the OS."""
        self._file.flush()

    def close(self) -> None:
        self._file.close()

    def __enter__(self) -> EventsWriter:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


def _with_output_frame(record: dict[str, Any]) -> dict[str, Any]:
    if "frame_index" not in record or "frame" in record:
        return record
    out: dict[str, Any] = {}
    for key, value in record.items():
        if key == "frame_index":
            out["frame"] = int(value) + 1
        else:
            out[key] = value
    return out
