"""Analytics pyfunc: people count per frame, dwell time per track, line and zone crossings.

Runs unchanged in Savant (as an `NvDsPyFuncPlugin`) and in pyuniproc (which supplies a
stand-in base class and frame metadata). The counting itself lives in `pyuniproc.analytics`;
this class only converts Savant's frame/object metadata into our `Detections` and back.

Live edits (Savant deployment): Savant creates the pyfunc once, with the kwargs of module.yml. Between
frames the pyfunc follows edits of that file (`watch_module`) and of the cameras file it names: new lines,
zones and track timeout apply on the next frame of each camera, keeping its tracks and dwell times
(`CameraAnalytics.reconfigure`). Edits are checked with pyuniproc's validators first (the module YAML's,
the cameras file's); a bad one is rejected with file:line and the old settings stay. Every such notice
(applied, rejected, needs a restart) is logged once and put, as a JSON list, in the `config.events` tag of
the next frame, next to `config.version`; the metadata sinks and Kafka carry it with the frame.
In pyuniproc the runtime applies edits of its module YAML itself, so `watch_module: auto` is off there.

Savant's image imports this file: it may import only pyuniproc's core (numpy, PyYAML, Python 3.10),
never the embedded runtime (tests/deploy/test_module_imports.py).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any

import numpy as np

try:  # Savant / DeepStream
    from savant.deepstream.pyfunc import NvDsPyFuncPlugin

    IN_SAVANT = True
except ImportError:  # embedded runtime
    from pyuniproc.savant_api import PyFuncPlugin as NvDsPyFuncPlugin

    IN_SAVANT = False

from pyuniproc.analytics import CameraAnalytics
from pyuniproc.config.cameras import load_cameras
from pyuniproc.config.live_module import DEFAULT_INTERVAL_SECONDS, PyFuncHook, open_live
from pyuniproc.savant_api import pts_seconds
from pyuniproc.types import NO_TRACK, Detections

NAMESPACE = "analytics"
CONFIG_EVENTS_TAG = "config.events"
CONFIG_VERSION_TAG = "config.version"
UNTRACKED_OBJECT_ID = 2**64 - 1
"""DeepStream's track id of an object the tracker has not (yet) taken: Savant's UNTRACKED_OBJECT_ID."""


def local_track_id(track_id: int | None) -> int:
    """Savant's track id -> ours: untracked objects (None or DeepStream's all-ones id) get NO_TRACK."""
    return NO_TRACK if track_id is None or track_id >= 2**63 else int(track_id)


@dataclass(frozen=True)
class AnalyticsSetup:
    """What the kwargs set up: lines and zones per camera id, and the track timeout."""

    cameras: dict[str, tuple[list[Any], list[Any]]]
    track_timeout_seconds: float


def prepare_setup(kwargs: dict[str, Any]) -> AnalyticsSetup:
    """Read and check the cameras file and the timeout (ConfigError / ValueError before anything applies)."""
    timeout = float(kwargs.get("track_timeout_seconds", 2.0))
    if not (math.isfinite(timeout) and timeout > 0):
        raise ValueError(f"track_timeout_seconds must be > 0, got {kwargs.get('track_timeout_seconds')!r}")
    cameras_file = kwargs.get("cameras_file") or ""
    site = load_cameras(cameras_file) if cameras_file else None
    cameras = {camera.id: ([(line.name, line.points) for line in camera.lines],
                           [(zone.name, zone.polygon) for zone in camera.zones])
               for camera in (site.cameras if site else ())}
    for camera_id, (lines, zones) in cameras.items():  # the same checks CameraAnalytics makes
        CameraAnalytics(camera_id, lines=lines, zones=zones, track_timeout_seconds=timeout)
    return AnalyticsSetup(cameras, timeout)


LIVE_HOOK = PyFuncHook(
    live_kwargs=frozenset({"cameras_file", "track_timeout_seconds"}),
    prepare=prepare_setup,
    files=lambda kwargs: [kwargs["cameras_file"]] if kwargs.get("cameras_file") else [],
    section=NAMESPACE,
)


class PeopleAnalytics(NvDsPyFuncPlugin):
    """Per camera: `people_count` frame tag, `(analytics, dwell_seconds)` per object, and the
    frame's events as a JSON list in the `analytics.events` tag.

    watch_module: module YAML to follow live ("auto": the one Savant was started with, inside Savant
        only; "off"; or a path). watch_interval_seconds: how often it and the cameras file are looked at.
    """

    def __init__(self, cameras_file: str = "", track_timeout_seconds: float = 2.0, watch_module: str = "auto",
                 watch_interval_seconds: float = DEFAULT_INTERVAL_SECONDS, **kwargs: Any):
        super().__init__(**kwargs)
        self._setup = prepare_setup({"cameras_file": cameras_file,
                                     "track_timeout_seconds": track_timeout_seconds})
        self._cameras: dict[str, CameraAnalytics] = {}
        self._applied: dict[str, AnalyticsSetup] = {}  # camera id -> the setup its state follows
        self._last_pts: dict[str, float] = {}
        self._finished: dict[str, list[dict]] = {}
        self._live = open_live(watch_module, in_savant=IN_SAVANT, interval_seconds=watch_interval_seconds)
        self._notice_cursor = 0
        if self._live is not None:
            self._live.register_pyfunc(type(self).__module__, type(self).__name__, LIVE_HOOK, self._setup)

    @property
    def track_timeout_seconds(self) -> float:
        return self._setup.track_timeout_seconds

    def _camera(self, source_id: str) -> tuple[CameraAnalytics, list[Any]]:
        """The camera's state, brought to the current setup (events of a zone that a live edit removed)."""
        setup = self._setup
        lines, zones = setup.cameras.get(source_id, ([], []))
        camera = self._cameras.get(source_id)
        events: list[Any] = []
        if camera is None:
            camera = CameraAnalytics(source_id, lines=lines, zones=zones,
                                     track_timeout_seconds=setup.track_timeout_seconds)
            self._cameras[source_id] = camera
        elif self._applied.get(source_id) is not setup:
            events = camera.reconfigure(lines=lines, zones=zones,
                                        track_timeout_seconds=setup.track_timeout_seconds)
        self._applied[source_id] = setup
        return camera, events

    def process_frame(self, buffer, frame_meta) -> None:
        if self._live is not None:
            self._follow_live(frame_meta)
        objects = [obj for obj in frame_meta.objects if not obj.is_primary]
        tracks = Detections(
            xyxy=np.array([[o.bbox.left, o.bbox.top, o.bbox.left + o.bbox.width, o.bbox.top + o.bbox.height]
                           for o in objects], dtype=np.float32).reshape(-1, 4),
            confidence=[o.confidence for o in objects],
            class_id=np.zeros(len(objects), np.int32),
            tracker_id=[local_track_id(o.track_id) for o in objects],
        )
        pts = pts_seconds(frame_meta)
        self._last_pts[frame_meta.source_id] = pts
        camera, events = self._camera(frame_meta.source_id)
        result = camera.update(frame_meta.frame_num, pts, tracks)
        for obj, dwell in zip(objects, result.dwell_seconds, strict=True):
            obj.add_attr_meta(NAMESPACE, "dwell_seconds", round(float(dwell), 3))
        frame_meta.set_tag("people_count", int(result.people_count))
        events += result.events
        if events:
            frame_meta.set_tag(f"{NAMESPACE}.events", json.dumps([e.to_json_dict() for e in events]))

    def _follow_live(self, frame_meta) -> None:
        """Take the latest accepted setup (applied per camera in `_camera`) and tag this frame with the
        notices not yet published."""
        assert self._live is not None
        settings = self._live.poll()
        self._setup = settings.pyfuncs.get((type(self).__module__, type(self).__name__), self._setup)
        notices, self._notice_cursor = self._live.notices_since(self._notice_cursor)
        if notices:
            frame_meta.set_tag(CONFIG_EVENTS_TAG, json.dumps(notices))
        frame_meta.set_tag(CONFIG_VERSION_TAG, int(settings.version))

    def on_source_eos(self, source_id: str) -> None:
        # End of stream: close every open track so its dwell time is reported, then drop the state.
        camera = self._cameras.pop(source_id, None)
        self._applied.pop(source_id, None)
        if camera is not None:
            events = camera.finish(self._last_pts.pop(source_id, 0.0))
            self._finished.setdefault(source_id, []).extend(e.to_json_dict() for e in events)

    def take_events(self, source_id: str) -> list[dict]:
        """Events produced outside a frame (at end of stream); the embedded runtime writes them out."""
        return self._finished.pop(source_id, [])
