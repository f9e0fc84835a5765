"""The pyfuncs named in module.yml, driven through pyuniproc's stand-in of Savant's frame metadata.

Savant calls `process_frame(buffer, frame_meta)` with NvDsFrameMeta; `FrameMetaView` offers the same
subset (source_id, frame_num, pts, objects with bbox/track_id/attributes, set_tag). Outside the Savant
image the pyfunc classes subclass pyuniproc's stand-in base, with Savant's constructor contract.
"""

from __future__ import annotations

import importlib
import json

import numpy as np
import pytest
from deploykit import DEMO_CAMERAS, resolved_module

from pyuniproc.savant_api import FrameMetaView, PyFuncPlugin, pts_seconds
from pyuniproc.types import Detections, Frame

PYFUNCS = [e for e in resolved_module()["pipeline"]["elements"] if e["element"] == "pyfunc"]


def frame_meta(camera_id: str, index: int, boxes: list[list[float]], track_ids: list[int]) -> FrameMetaView:
    frame = Frame(camera_id=camera_id, index=index, pts_seconds=index / 10,
                  image=np.zeros((576, 768, 3), np.uint8))
    tracks = Detections(xyxy=np.array(boxes, np.float32).reshape(-1, 4), confidence=np.full(len(boxes), 0.9),
                        class_id=np.zeros(len(boxes), np.int32), tracker_id=track_ids)
    return FrameMetaView(frame, tracks, element_name="person_detector", label="person")


@pytest.mark.parametrize("spec", PYFUNCS, ids=[p["class_name"] for p in PYFUNCS])
def test_every_pyfunc_imports_and_has_savants_hooks(spec):
    cls = getattr(importlib.import_module(spec["module"]), spec["class_name"])
    assert issubclass(cls, PyFuncPlugin)  # Savant's NvDsPyFuncPlugin inside the image
    plugin = cls(**(spec.get("kwargs") or {}))
    hooks = ("process_frame", "on_start", "on_stop", "on_source_add", "on_source_eos", "on_source_delete")
    for hook in hooks:
        assert callable(getattr(plugin, hook)), hook
    assert plugin.on_start() is True


def test_analytics_pyfunc_counts_people_and_writes_in_its_namespace():
    from module.pyfuncs.analytics import PeopleAnalytics

    plugin = PeopleAnalytics(cameras_file=str(DEMO_CAMERAS), track_timeout_seconds=2.0)
    # Track 7 walks down across cam1's "crossing" line (y = 330); track 8 stands still.
    first = frame_meta("cam1", 10, [[100, 200, 140, 300], [500, 100, 540, 200]], [7, 8])
    plugin.process_frame(None, first)
    second = frame_meta("cam1", 11, [[100, 260, 140, 360], [500, 100, 540, 200]], [7, 8])
    plugin.process_frame(None, second)

    assert second.get_tag("people_count") == 2
    dwell = [obj.get_attr_meta("analytics", "dwell_seconds").value for obj in second.objects]
    assert dwell == pytest.approx([0.1, 0.1])
    events = json.loads(second.get_tag("analytics.events"))
    crossings = [(e["kind"], e["track_id"], e["details"]["line"]) for e in events]
    assert crossings == [("line_crossed", 7, "crossing")]
    assert pts_seconds(second) == pytest.approx(1.1)


def test_analytics_pyfunc_finishes_tracks_at_end_of_stream():
    from module.pyfuncs.analytics import PeopleAnalytics

    plugin = PeopleAnalytics(cameras_file=str(DEMO_CAMERAS))
    plugin.process_frame(None, frame_meta("cam2", 0, [[10, 10, 50, 100]], [3]))
    plugin.on_source_eos("cam2")
    ended = plugin.take_events("cam2")
    assert [e["kind"] for e in ended] == ["track_ended"] and ended[0]["track_id"] == 3
    assert plugin.take_events("cam2") == []  # state dropped with the stream


def test_objects_that_are_not_people_are_left_alone():
    from module.pyfuncs.analytics import PeopleAnalytics

    plugin = PeopleAnalytics()
    meta = frame_meta("cam9", 0, [[10, 10, 50, 100]], [1])
    meta.objects[0].is_primary = True  # Savant's frame-sized primary object
    plugin.process_frame(None, meta)
    assert meta.get_tag("people_count") == 0


def test_objects_deepstream_has_not_tracked_are_not_counted():
    """DeepStream gives an object no target has taken track id 2**64 - 1 (UNTRACKED_OBJECT_ID)."""
    from module.pyfuncs.analytics import UNTRACKED_OBJECT_ID, PeopleAnalytics

    plugin = PeopleAnalytics()
    meta = frame_meta("cam9", 0, [[10, 10, 50, 100], [100, 10, 150, 100]], [4, 0])
    meta.objects[1].track_id = UNTRACKED_OBJECT_ID
    plugin.process_frame(None, meta)
    assert meta.get_tag("people_count") == 1
    assert np.isnan(meta.objects[1].get_attr_meta("analytics", "dwell_seconds").value)
