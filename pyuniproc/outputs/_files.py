"""Shared file plumbing of the writers: append-safe opening, buffered flushing, safe file names,
JSON defaults.

Run outputs are appended to, never truncated, so a restarted run continues the same files. A
process killed in the middle of a `write` can leave a half line at the end; it is cut off on
the next open so every line in the file stays parseable.

Flushing: a flush per frame is a system call per frame per file (thousands a second at scale), so
the text writers keep their lines in the file's buffer and hand them to the OS when a frame is
written at least `flush_seconds` after the last flush (`FlushTimer`), when the run writes
summary.json (`RunOutputs.flush`), and at close. A run that ends by an error, Ctrl-C or SIGTERM
closes its writers (the pipeline's `finally`), so nothing it processed is lost; a SIGKILL or power
loss loses at most the last `flush_seconds` of rows, never rows summary.json already counts.
`flush_seconds=0` flushes every write.
"""

from __future__ import annotations

import os
import re
import time
from pathlib import Path
from typing import Any, TextIO

import numpy as np

CAMERA_ID_PATTERN = re.compile(r"^[A-Za-z0-9_-]+$")
_TAIL_CHUNK = 65536
FLUSH_SECONDS = 1.0
"""Default time between flushes of a text writer (see the module docstring)."""


class FlushTimer:
    """Says when a buffered writer is due to flush: `seconds` after its last flush (0: always)."""

    def __init__(self, seconds: float = FLUSH_SECONDS) -> None:
        if not (isinstance(seconds, (int, float)) and seconds >= 0):
            raise ValueError(f"flush_seconds must be a number >= 0, got {seconds!r}")
        self.seconds = float(seconds)
        self._next = time.monotonic() + self.seconds

    def due(self) -> bool:
        """True when a flush is due; the next one is then `seconds` from now."""
        if self.seconds == 0:
            return True
        now = time.monotonic()
        if now < self._next:
            return False
        self._next = now + self.seconds
        return True


def open_for_append(
    path: str | os.PathLike[str], header: str | None = None, *, buffering: int = -1
) -> TextIO:
    """Open a line-oriented text file for appending, creating folders and writing `header` once.
    `buffering`: bytes held before the OS gets them (-1: Python's default, 8 KiB).

    Raises ValueError if the file already starts with a different header: appending rows of
    another layout would corrupt it, and silently overwriting would lose a previous run.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.exists():
        _drop_partial_last_line(path)
    has_content = path.exists() and path.stat().st_size > 0
    if has_content and header is not None:
        with path.open("r", encoding="utf-8", newline="") as existing:
            first = existing.readline().rstrip("\r\n")
        if first != header:
            raise ValueError(
                f"{path} exists with header {first!r}, expected {header!r}; "
                "move it away or pick another output folder"
            )
    file = path.open("a", encoding="utf-8", newline="", buffering=buffering)
    if not has_content and header is not None:
        file.write(header + "\n")
        file.flush()
    return file


def _drop_partial_last_line(path: Path) -> None:
    with path.open("rb+") as file:
        size = file.seek(0, os.SEEK_END)
        if size == 0:
            return
        file.seek(size - 1)
        if file.read(1) == b"\n":
            return
        end = size
        while end > 0:
            start = max(0, end - _TAIL_CHUNK)
            file.seek(start)
            newline = file.read(end - start).rfind(b"\n")
            if newline >= 0:
                file.truncate(start + newline + 1)
                return
            end = start
        file.truncate(0)


def new_file_mode() -> int:
    """The mode `open(path, "w")` gives a new file under this process's umask (0644 under umask 022);
    for files made another way (mkstemp makes them 0600) that must look like every other output."""
    umask = os.umask(0o022)  # reading the umask means setting it: put it straight back
    os.umask(umask)
    return 0o666 & ~umask


def check_camera_id(camera_id: str) -> str:
    """Camera ids become file names; allow only what the cameras file allows (no path tricks)."""
    if not isinstance(camera_id, str) or not CAMERA_ID_PATTERN.match(camera_id):
        raise ValueError(f"camera_id must be letters, digits, '_' or '-', got {camera_id!r}")
    return camera_id


def json_default(value: Any) -> Any:
    """`json.dumps(default=...)` hook: numpy scalars/arrays become plain Python values."""
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")
