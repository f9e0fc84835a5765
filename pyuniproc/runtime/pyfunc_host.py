"""Run Savant pyfuncs in-process, without DeepStream.

A Savant pyfunc subclasses `savant.deepstream.pyfunc.NvDsPyFuncPlugin` and receives
`process_frame(buffer, frame_meta)`. Our pyfuncs import that base when Savant is present and
`PyFuncPlugin` below otherwise, so the very same class runs in both runtimes. `FrameMetaView`
and `ObjectMetaView` offer the subset of Savant's frame/object metadata API our pyfuncs use,
backed by our value types (`Frame`, `Detections`).
"""

from __future__ import annotations

import importlib
import json
import sys
from dataclasses import dataclass
from importlib.machinery import PathFinder
from pathlib import Path
from typing import Any

import numpy as np

from pyuniproc.config.module import PyFuncSpec
from pyuniproc.config.yaml_source import ConfigError
from pyuniproc.types import Detections, Frame

NANOSECONDS = 1_000_000_000


class PyFuncPlugin:
    """Stand-in for Savant's `NvDsPyFuncPlugin`: kwargs from the module YAML become attributes."""

    def __init__(self, **kwargs: Any):
        for name, value in kwargs.items():
            setattr(self, name, value)

    def on_start(self) -> bool:
        return True

    def on_stop(self) -> bool:
        return True

    def on_source_add(self, source_id: str) -> None:
        pass

    def on_source_eos(self, source_id: str) -> None:
        pass

    def on_source_delete(self, source_id: str) -> None:
        pass

    def process_frame(self, buffer: Any, frame_meta: Any) -> None:
        raise NotImplementedError


@dataclass
class BBoxView:
    """Savant's `BBox` read-only geometry in pixels."""

    left: float
    top: float
    width: float
    height: float

    @property
    def right(self) -> float:
        return self.left + self.width

    @property
    def bottom(self) -> float:
        return self.top + self.height

    @property
    def xc(self) -> float:
        return self.left + self.width / 2

    @property
    def yc(self) -> float:
        return self.top + self.height / 2


class AttributeView:
    def __init__(self, element_name: str, name: str, value: Any, confidence: float):
        self.element_name, self.name, self.value, self.confidence = element_name, name, value, confidence


class ObjectMetaView:
    """One tracked object of a frame, as Savant's `ObjectMeta` exposes it."""

    def __init__(self, detections: Detections, row: int, element_name: str, label: str, attributes: dict):
        x1, y1, x2, y2 = (float(v) for v in detections.xyxy[row])
        self.element_name = element_name
        self.label = label
        self.track_id = int(detections.tracker_id[row])
        self.confidence = float(detections.confidence[row])
        self.bbox = BBoxView(x1, y1, x2 - x1, y2 - y1)
        self.is_primary = False
        self._attributes = attributes  # (element_name, name) -> AttributeView, shared with the frame

    def get_attr_meta(self, element_name: str, attr_name: str) -> AttributeView | None:
        return self._attributes.get((element_name, attr_name))

    def add_attr_meta(self, element_name: str, name: str, value: Any, confidence: float = 1.0) -> None:
        self._attributes[(element_name, name)] = AttributeView(element_name, name, value, confidence)


class VideoFrameView:
    """What a pyfunc reads of savant-rs' `VideoFrame`: source, pts and its time base."""

    def __init__(self, source_id: str, pts: int, width: int, height: int):
        self.source_id, self.pts, self.width, self.height = source_id, pts, width, height
        self.time_base = (1, NANOSECONDS)


class FrameMetaView:
    """Savant's `NvDsFrameMeta` subset: source id, frame number, pts, objects, tags."""

    def __init__(self, frame: Frame, tracks: Detections, element_name: str, label: str):
        self.source_id = frame.camera_id
        self.frame_num = frame.index
        self.pts = int(round(frame.pts_seconds * NANOSECONDS))
        self.video_frame = VideoFrameView(frame.camera_id, self.pts, frame.width, frame.height)
        self.tags: dict[str, Any] = {}
        self.object_attributes: list[dict] = [{} for _ in range(len(tracks))]
        self._objects = [ObjectMetaView(tracks, i, element_name, label, self.object_attributes[i])
                         for i in range(len(tracks))]

    @property
    def objects(self) -> list[ObjectMetaView]:
        return list(self._objects)

    @property
    def objects_number(self) -> int:
        return len(self._objects)

    def set_tag(self, name: str, value: Any) -> None:
        self.tags[name] = value

    def get_tag(self, name: str) -> Any:
        return self.tags.get(name)


def pts_seconds(frame_meta: Any) -> float:
    """A frame's pts in seconds, from Savant's metadata or ours (pts counts time_base units)."""
    numerator, denominator = getattr(frame_meta.video_frame, "time_base", (1, NANOSECONDS))
    return float(frame_meta.pts) * numerator / denominator


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
