"""Analytics pyfunc: people count per frame, dwell time per track, line and zone crossings.

Runs unchanged in Savant (as an `NvDsPyFuncPlugin`) and in pyuniproc (which supplies a
stand-in base class and frame metadata). The counting itself lives in `pyuniproc.analytics`;
this class only converts Savant's frame/object metadata into our `Detections` and back.

Savant's image imports this file: it may import only pyuniproc's core (numpy, PyYAML, Python 3.10),
never the embedded runtime (tests/deploy/test_module_imports.py).
"""

from __future__ import annotations

import json

import numpy as np

try:  # Savant / DeepStream
    from savant.deepstream.pyfunc import NvDsPyFuncPlugin
except ImportError:  # embedded runtime
    from pyuniproc.savant_api import PyFuncPlugin as NvDsPyFuncPlugin

from pyuniproc.analytics import CameraAnalytics
from pyuniproc.config.cameras import load_cameras
from pyuniproc.savant_api import pts_seconds
from pyuniproc.types import NO_TRACK, Detections

NAMESPACE = "analytics"
UNTRACKED_OBJECT_ID = 2**64 - 1
"""DeepStream's track id of an object the tracker has not (yet) taken: Savant's UNTRACKED_OBJECT_ID."""


def local_track_id(track_id: int | None) -> int:
    """Savant's track id -> ours: untracked objects (None or DeepStream's all-ones id) get NO_TRACK."""
    return NO_TRACK if track_id is None or track_id >= 2**63 else int(track_id)


class PeopleAnalytics(NvDsPyFuncPlugin):
    """Per camera: `people_count` frame tag, `(analytics, dwell_seconds)` per object, and the
    frame's events as a JSON list in the `analytics.events` tag."""

    def __init__(self, cameras_file: str = "", track_timeout_seconds: float = 2.0, **kwargs):
        super().__init__(**kwargs)
        self.track_timeout_seconds = float(track_timeout_seconds)
        site = load_cameras(cameras_file) if cameras_file else None
        self._camera_specs = {c.id: c for c in site.cameras} if site else {}
        self._cameras: dict[str, CameraAnalytics] = {}
        self._last_pts: dict[str, float] = {}
        self._finished: dict[str, list[dict]] = {}

    def _camera(self, source_id: str) -> CameraAnalytics:
        camera = self._cameras.get(source_id)
        if camera is None:
            spec = self._camera_specs.get(source_id)
            camera = CameraAnalytics(
                source_id,
                lines=[(line.name, line.points) for line in spec.lines] if spec else [],
                zones=[(zone.name, zone.polygon) for zone in spec.zones] if spec else [],
                track_timeout_seconds=self.track_timeout_seconds,
            )
            self._cameras[source_id] = camera
        return camera

    def process_frame(self, buffer, frame_meta) -> None:
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
        result = self._camera(frame_meta.source_id).update(frame_meta.frame_num, pts, tracks)
        for obj, dwell in zip(objects, result.dwell_seconds, strict=True):
            obj.add_attr_meta(NAMESPACE, "dwell_seconds", round(float(dwell), 3))
        frame_meta.set_tag("people_count", int(result.people_count))
        if result.events:
            frame_meta.set_tag(f"{NAMESPACE}.events", json.dumps([e.to_json_dict() for e in result.events]))

    def on_source_eos(self, source_id: str) -> None:
        # End of stream: close every open track so its dwell time is reported, then drop the state.
        camera = self._cameras.pop(source_id, None)
        if camera is not None:
            events = camera.finish(self._last_pts.pop(source_id, 0.0))
            self._finished.setdefault(source_id, []).extend(e.to_json_dict() for e in events)

    def take_events(self, source_id: str) -> list[dict]:
        """Events produced outside a frame (at end of stream); the embedded runtime writes them out."""
        return self._finished.pop(source_id, [])
