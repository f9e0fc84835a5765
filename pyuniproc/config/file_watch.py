"""Notice that a config file was edited, by polling: no threads, no inotify.

Both runtimes apply edits of their YAML files between frames (pyuniproc between batches, the Savant
module's converter and pyfunc between frames), so the check runs on the caller's thread and has to be
cheap: at most one `stat` per interval, and the file is read and hashed only when its mtime or size
moved, or while the mtime is younger than `RECENT_SECONDS` (two saves of the same size within the file
system's timestamp granularity, a few milliseconds, would otherwise look like one). The content hash
decides: a `touch`, or a save that writes the same bytes, is not an edit.

Standard library only: the Savant module image imports this (tests/deploy/test_module_imports.py).
"""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Callable
from pathlib import Path

RECENT_SECONDS = 2.0
"""A file modified this recently is hashed even when mtime and size look unchanged."""


class FileWatcher:
    """Polls one file; `changed()` is true once per edit of its content.

    interval_seconds: the least time between two looks at the file. Shorter applies edits sooner at the
        cost of a `stat` per call; 0 looks on every call (tests).
    clock: monotonic seconds (injectable for tests).
    A file that is missing or unreadable is not an edit: editors that save by rename leave it absent for
    a moment; the edit counts once the new file is there.
    """

    def __init__(self, path: Path | str, *, interval_seconds: float = 1.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        if not interval_seconds >= 0:
            raise ValueError(f"interval_seconds must be >= 0, got {interval_seconds!r}")
        self.path = Path(path)
        self.interval_seconds = float(interval_seconds)
        self._clock = clock
        self._stat = self._read_stat()
        self.digest = self._read_digest()
        self._next_check = clock()  # the first call looks

    def changed(self) -> bool:
        """True when the content differs from the last time this returned True (or from the start)."""
        now = self._clock()
        if now < self._next_check:
            return False
        self._next_check = now + self.interval_seconds
        stat = self._read_stat()
        if stat is None or (stat == self._stat and time.time() - stat[0] / 1e9 > RECENT_SECONDS):
            return False
        digest = self._read_digest()
        if digest is None:
            return False
        self._stat = stat
        if digest == self.digest:
            return False
        self.digest = digest
        return True

    def _read_stat(self) -> tuple[int, int, int] | None:
        try:
            stat = os.stat(self.path)
        except OSError:
            return None
        return stat.st_mtime_ns, stat.st_size, stat.st_ino

    def _read_digest(self) -> str | None:
        try:
            return hashlib.sha256(self.path.read_bytes()).hexdigest()
        except OSError:
            return None


__all__ = ["RECENT_SECONDS", "FileWatcher"]
