"""summary.json: the run's totals, rewritten atomically whenever the caller likes.

The runtime calls `write` every few seconds and once at the end. Each write goes to a temporary
file in the same folder, is fsynced, then `os.replace`d over the old one, so a reader (or a
crash) sees either the previous complete summary or the new one, never half a file. The file
gets the mode every other output gets (0644 under the usual umask 022), not mkstemp's private 0600.

Layout: one line per top-level key, and inside a top-level mapping one line per key (a camera's
counters on one line). `json.dumps(indent=...)` runs Python's pure-Python encoder, ~20 ms for 150
cameras on the pipeline thread; each line here is the C encoder's (~3 ms), and the file stays
readable and grep-able by camera.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pyuniproc.outputs._files import json_default, new_file_mode


class SummaryWriter:
    """Atomically (re)writes one JSON file from a mapping."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self._mode = new_file_mode()

    def write(self, summary: Mapping[str, Any]) -> None:
        # Serialise first: an unserialisable value must not cost us the previous summary.
        text = dumps_by_line(summary)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, temp_name = tempfile.mkstemp(prefix=f".{self.path.name}.", suffix=".tmp", dir=self.path.parent)
        try:
            os.fchmod(fd, self._mode)
            with os.fdopen(fd, "w", encoding="utf-8") as temp:
                temp.write(text)
                temp.flush()
                os.fsync(temp.fileno())
            os.replace(temp_name, self.path)
        except BaseException:
            Path(temp_name).unlink(missing_ok=True)
            raise


def dumps_by_line(summary: Mapping[str, Any]) -> str:
    """JSON text of `summary`: top-level keys, and the keys of top-level mappings, one per line."""
    lines = []
    for key, value in summary.items():
        if isinstance(value, Mapping) and value:
            inner = ",\n".join(f"    {_item(k, v)}" for k, v in value.items())
            lines.append(f'  {_item(key, {})[:-2]}{{\n{inner}\n  }}')
        else:
            lines.append(f"  {_item(key, value)}")
    return "{\n" + ",\n".join(lines) + "\n}\n"


def _item(key: Any, value: Any) -> str:
    """`"key": value` as json.dumps writes it inside an object (keys converted the same way)."""
    return json.dumps({key: value}, default=json_default, allow_nan=False)[1:-1]
