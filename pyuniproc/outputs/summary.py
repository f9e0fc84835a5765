"""summary.json: the run's totals, rewritten atomically whenever the caller likes.

The runtime calls `write` every few seconds and once at the end. Each write goes to a temporary
file in the same folder, is fsynced, then `os.replace`d over the old one, so a reader (or a
crash) sees either the previous complete summary or the new one, never half a file. The file
gets the mode every other output gets (0644 under the usual umask 022), not mkstemp's private 0600.
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
        text = json.dumps(summary, indent=2, default=json_default, allow_nan=False) + "\n"
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
