"""Run Savant pyfuncs in-process, without DeepStream.

A Savant pyfunc subclasses `savant.deepstream.pyfunc.NvDsPyFuncPlugin` and receives
`process_frame(buffer, frame_meta)`. Our pyfuncs import that base when Savant is present and the
stand-in `pyuniproc.savant_api.PyFuncPlugin` otherwise, so the very same class runs in both runtimes.
This module loads the pyfunc named in the module YAML and drives it frame by frame through
`FrameMetaView` (pyuniproc.savant_api), the subset of Savant's frame metadata our pyfuncs use.
"""

from __future__ import annotations

import importlib
import json
import sys
from importlib.machinery import PathFinder
from pathlib import Path
from typing import Any

import numpy as np

from pyuniproc.config.module import PyFuncSpec
from pyuniproc.config.yaml_source import ConfigError
from pyuniproc.savant_api import FrameMetaView
from pyuniproc.types import Detections, Frame


def load_pyfunc(spec: PyFuncSpec, module_path: Path, overrides: dict[str, Any] | None = None) -> Any:
    """Import and instantiate a pyfunc class named in the module YAML.

    Pyfunc modules are looked up only in the project that holds the module YAML (the folder
    above `module/`), the way Savant resolves them from its project mount. A module path whose
    top-level package is not in that folder (`os`, `subprocess`, any installed package) is refused
    before anything is imported: a module YAML must not be able to run arbitrary installed code.
    """
    project_root = str(module_path.resolve().parent.parent)
    where = f"pyfunc {spec.module}.{spec.class_name}"
    top_level = spec.module.split(".", 1)[0]
    if not top_level.isidentifier() or PathFinder.find_spec(top_level, [project_root]) is None:
        raise ConfigError(module_path, f"cannot import {where}: pyfunc modules are loaded only from the "
                          f"module's project {project_root}, which has no '{top_level}'",
                          line=spec.line, field="module")
    if project_root not in sys.path:
        sys.path.insert(0, project_root)
    try:
        module = importlib.import_module(spec.module)
    except ImportError as exc:
        raise ConfigError(module_path, f"cannot import {where}: {exc}", line=spec.line,
                          field="module") from None
    cls = getattr(module, spec.class_name, None)
    if cls is None or not callable(getattr(cls, "process_frame", None)):
        raise ConfigError(module_path, f"{where}: no class with process_frame()", line=spec.line,
                          field="class_name")
    kwargs = {**spec.kwargs, **(overrides or {})}
    try:
        return cls(**kwargs)
    except (TypeError, ValueError) as exc:
        raise ConfigError(module_path, f"{where}: bad kwargs: {exc}", line=spec.line,
                          field="kwargs") from None


class PyFuncStage:
    """Drives one pyfunc over frames: source add/eos hooks, then reads back what it wrote."""

    def __init__(self, plugin: Any, *, element_name: str, label: str = "person"):
        self.plugin = plugin
        self.element_name = element_name
        self.label = label
        self._sources: set[str] = set()
        plugin.on_start()

    def process(self, frame: Frame, tracks: Detections) -> tuple[Detections, dict[str, Any]]:
        """Run the pyfunc on one frame; object attributes come back as `tracks.data` columns
        named `namespace.name`, and frame tags as a dict."""
        if frame.camera_id not in self._sources:
            self._sources.add(frame.camera_id)
            self.plugin.on_source_add(frame.camera_id)
        meta = FrameMetaView(frame, tracks, self.element_name, self.label)
        self.plugin.process_frame(None, meta)
        columns: dict[str, list[Any]] = {}
        for row, attributes in enumerate(meta.object_attributes):
            for (namespace, name), attribute in attributes.items():
                columns.setdefault(f"{namespace}.{name}", [None] * len(tracks))[row] = attribute.value
        if columns:
            data = dict(tracks.data)
            for key, values in columns.items():
                data[key] = np.array([np.nan if v is None else v for v in values])
            tracks = Detections(tracks.xyxy, tracks.confidence, tracks.class_id, tracks.tracker_id, data)
        return tracks, meta.tags

    def end_source(self, camera_id: str) -> list[dict[str, Any]]:
        """End of a camera's stream; returns events the pyfunc produced outside any frame."""
        if camera_id not in self._sources:
            return []
        self._sources.discard(camera_id)
        self.plugin.on_source_eos(camera_id)
        take_events = getattr(self.plugin, "take_events", None)
        return list(take_events(camera_id)) if take_events else []

    def delete_source(self, camera_id: str) -> None:
        """A camera was removed from the run (after its `end_source`): Savant's `on_source_delete`."""
        on_delete = getattr(self.plugin, "on_source_delete", None)
        if on_delete is not None:
            on_delete(camera_id)

    def stop(self) -> list[dict[str, Any]]:
        events = [e for camera_id in sorted(self._sources) for e in self.end_source(camera_id)]
        self.plugin.on_stop()
        return events


def events_from_tags(tags: dict[str, Any], key: str = "analytics.events") -> list[dict[str, Any]]:
    """Events a pyfunc attached to a frame as a JSON list in a tag (tags carry strings in Savant)."""
    raw = tags.get(key)
    return json.loads(raw) if raw else []
