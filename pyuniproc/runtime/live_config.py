"""Edit the module YAML while it runs.

Savant resolves its module YAML once at start; pyuniproc watches the file and applies an edit
between two batches, without dropping a camera or losing state:

- detector thresholds change in place; a different model (e.g. `DETECTOR` profile) is loaded
  first and swapped in only once it loaded;
- tracker settings go to every camera's running tracker (tracks and ids are kept);
- pyfunc kwargs rebuild that pyfunc (its per-camera state starts over);
- runtime settings (queue size, batch wait, summary period) apply at once.

An edit that does not load (bad YAML, a value out of range, a missing model) is rejected with the
file, line and field in the log, in `events.jsonl` and in `summary.json`; the run goes on with the
configuration it had.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pyuniproc.config.file_watch import FileWatcher
from pyuniproc.config.module import ModuleConfig, load_module_config

log = logging.getLogger(__name__)


@dataclass
class ConfigStatus:
    version: int = 1
    loaded_at: float = 0.0
    last_error: str | None = None
    rejected_at: float | None = None

    def to_json(self) -> dict[str, Any]:
        return {"version": self.version, "loaded_at": self.loaded_at, "last_error": self.last_error,
                "rejected_at": self.rejected_at}


class ModuleWatcher:
    """Notices edits of the module YAML (content changes, checked at most every `interval` s).

    The polling itself is `pyuniproc.config.file_watch.FileWatcher`, the one the Savant module's converter
    and pyfunc use for the same file (pyuniproc.config.live_module)."""

    def __init__(self, path: Path, *, interval_seconds: float = 1.0):
        self.path = Path(path)
        self._file = FileWatcher(self.path, interval_seconds=interval_seconds)
        self.status = ConfigStatus(loaded_at=time.time())

    @property
    def interval_seconds(self) -> float:
        return self._file.interval_seconds

    @interval_seconds.setter
    def interval_seconds(self, value: float) -> None:
        self._file.interval_seconds = float(value)

    def poll(self) -> ModuleConfig | Exception | None:
        """The newly edited config, the error that stops it loading, or None when unchanged."""
        if not self._file.changed():
            return None
        try:
            return load_module_config(self.path)
        except (ValueError, RuntimeError) as exc:  # ConfigError is a ValueError
            return exc

    def accepted(self) -> None:
        self.status.version += 1
        self.status.loaded_at = time.time()
        self.status.last_error = None

    def rejected(self, error: Exception) -> None:
        self.status.last_error = str(error)
        self.status.rejected_at = time.time()


def changed_sections(old: ModuleConfig, new: ModuleConfig) -> list[str]:
    """Which parts of the module an edit touches, for the log and the event."""
    sections = []
    if old.detector != new.detector:
        sections.append("detector")
    if old.tracker != new.tracker:
        sections.append("tracker")
    if old.pyfuncs != new.pyfuncs:
        sections.append("pyfuncs")
    if old.runtime != new.runtime:
        sections.append("runtime")
    return sections


def detector_needs_reload(old: ModuleConfig, new: ModuleConfig) -> bool:
    """A different model, not just other thresholds."""
    a, b = old.detector, new.detector
    return (a.converter, a.model_dir, a.model_file) != (b.converter, b.model_dir, b.model_file)


def apply_detector_thresholds(detector: Any, new: ModuleConfig) -> None:
    spec = new.detector
    detector.confidence_threshold = spec.confidence_threshold
    detector.nms_iou_threshold = spec.nms_iou_threshold
    detector.min_width = spec.min_width
    detector.min_height = spec.min_height
