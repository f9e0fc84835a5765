"""Savant's Python API for pyfuncs and converters, as far as ours use it, without Savant.

Our pyfuncs (module/pyfuncs/) and converters (module/converters/) subclass Savant's base classes inside
Savant's image and the stand-ins below everywhere else, so the same class runs in Savant and in the
embedded runtime:

    try:
        from savant.deepstream.pyfunc import NvDsPyFuncPlugin
    except ImportError:
        from pyuniproc.savant_api import PyFuncPlugin as NvDsPyFuncPlugin

`FrameMetaView` and `ObjectMetaView` offer the subset of Savant's frame/object metadata our pyfuncs
read and write, backed by our value types (`Frame`, `Detections`); the embedded runtime
(pyuniproc.runtime.pyfunc_host) drives pyfuncs through them.

This module is part of the core that Savant's image imports: our value types (numpy) and Python 3.10's
standard library only, nothing of the runtime (tests/deploy/test_module_imports.py keeps it so).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

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


class BaseObjectModelOutputConverter:
    """Stand-in for Savant's `savant.base.converter.BaseObjectModelOutputConverter`: kwargs from the
    YAML's `converter.kwargs` become attributes (as Savant's `BasePyFuncImpl` does); subclasses
    implement `__call__(*output_layers, model, roi)`."""

    def __init__(self, **kwargs: Any) -> None:
        for name, value in kwargs.items():
            setattr(self, name, value)


class BaseSelector:
    """Stand-in for Savant's `savant.base.selector.BaseSelector`: kwargs from the YAML's
    `selector.kwargs` become attributes; subclasses implement `__call__(bbox_tensor)`, which gets one
    class's rows (class_id, confidence, xc, yc, width, height, angle, row index) after Savant clipped
    them to the frame, and returns the rows to keep."""

    def __init__(self, **kwargs: Any) -> None:
        for name, value in kwargs.items():
            setattr(self, name, value)


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


__all__ = ["AttributeView", "BBoxView", "BaseObjectModelOutputConverter", "BaseSelector", "FrameMetaView",
           "NANOSECONDS", "ObjectMetaView", "PyFuncPlugin", "VideoFrameView", "pts_seconds"]
