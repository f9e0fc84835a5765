"""Live edits of module.yml (and the cameras file) inside the Savant deployment.

Savant reads module.yml once; our converter, selector and analytics pyfunc follow the mounted file between
frames (pyuniproc.config.live_module). Driven here as Savant drives them (the converter with one frame's
output layers of the real detector, the selector with Savant's clipped rows, the pyfunc with
`FrameMetaView`), with the file edited on disk between two frames: a threshold, a line or a zone applies
on the next frame; a broken edit is rejected with file:line:field and the old behaviour goes on; a model
file edit is reported as needing a restart and nothing changes.
"""

from __future__ import annotations

import json
import logging
import sys

import numpy as np
import pytest
from deploykit import MODULE_YAML, detector_element, savant_model

from module.converters.detector import LiveBBoxSelector, SsdliteConverter
from module.pyfuncs.analytics import CONFIG_EVENTS_TAG, CONFIG_VERSION_TAG, PeopleAnalytics
from pyuniproc.config.live_module import watched_file
from pyuniproc.detect import DEFAULT_MODEL_DIR, create_detector
from pyuniproc.savant_api import FrameMetaView
from pyuniproc.types import Detections, Frame

CAMERAS = """\
site: shop
cameras:
  - id: cam1
    uri: rtsp://cam1.invalid/stream
    lines:
      - {name: door, points: [[0, 330], [768, 330]]}
    zones:
      - {name: bench, polygon: [[0, 0], [768, 0], [768, 576], [0, 576]]}
"""
THRESHOLD = "DETECTION_THRESHOLD, 0.15}}"
SELECTOR_FIELD = "pipeline.elements[0].model.output.objects[0].selector.kwargs"


@pytest.fixture
def files(tmp_path):
    """(module.yml, cameras.yml): copies of the repository's module and a one-camera site, linked; the
    copy runs the SSDLite profile, whose converter and real outputs these tests drive."""
    cameras = tmp_path / "cameras.yml"
    cameras.write_text(CAMERAS)
    module = tmp_path / "module.yml"
    text = MODULE_YAML.read_text().replace("cameras_file: ${oc.env:CAMERAS_FILE, ''}",
                                           f"cameras_file: {cameras}")
    default = "detector: ${oc.env:DETECTOR, nanodet}"
    assert text.count(default) == 1
    module.write_text(text.replace(default, "detector: ${oc.env:DETECTOR, ssdlite}"))
    return module, cameras


def edit(path, old: str, new: str) -> None:
    text = path.read_text()
    assert text.count(old) == 1, old
    path.write_text(text.replace(old, new))


def line_of(path, needle: str) -> int:
    return next(i for i, line in enumerate(path.read_text().splitlines(), 1) if needle in line)


@pytest.fixture(scope="module")
def layers(vtest_frame):
    """One frame's raw SSDLite outputs (no batch axis), as nvinfer hands them to the converter."""
    detector = create_detector("ssdlite_pedestrian", model_dir=DEFAULT_MODEL_DIR)
    return [layer[0] for layer in detector.infer(detector.preprocess([vtest_frame]))]


def convert(converter, layers) -> np.ndarray:
    return converter(*layers, model=savant_model(detector_element()), roi=(0, 0, 768, 576))


def frame_meta(index: int, boxes: list[list[float]], track_ids: list[int]) -> FrameMetaView:
    frame = Frame(camera_id="cam1", index=index, pts_seconds=index / 10,
                  image=np.zeros((576, 768, 3), np.uint8))
    tracks = Detections(xyxy=np.array(boxes, np.float32).reshape(-1, 4), confidence=np.full(len(boxes), 0.9),
                        class_id=np.zeros(len(boxes), np.int32), tracker_id=track_ids)
    return FrameMetaView(frame, tracks, element_name="person_detector", label="person")


def walker(index: int, feet_y: float, track_id: int = 7) -> FrameMetaView:
    """Track `track_id` with its feet at (120, feet_y)."""
    return frame_meta(index, [[100, feet_y - 100, 140, feet_y]], [track_id])


def events(meta: FrameMetaView, tag: str = "analytics.events") -> list[dict]:
    return json.loads(meta.get_tag(tag) or "[]")


# -- the converter: detector thresholds -------------------------------------------------------------------


def test_an_edited_threshold_applies_on_the_next_frame(files, layers):
    module, _ = files
    converter = SsdliteConverter(watch_module=str(module), watch_interval_seconds=0)
    before = convert(converter, layers)  # frame 400: three people, scores 0.98, 0.91, 0.80
    edit(module, THRESHOLD, "DETECTION_THRESHOLD, 0.9}}")
    raised = convert(converter, layers)
    assert len(raised) == 2 and raised[:, 1].min() >= 0.9
    edit(module, "DETECTION_THRESHOLD, 0.9}}", "DETECTION_THRESHOLD, 0.05}}")  # below the start value too
    lowered = convert(converter, layers)
    assert len(lowered) > len(before) and lowered[:, 1].min() >= 0.05


def test_a_broken_edit_is_rejected_with_file_line_field_and_the_old_thresholds_stay(files, layers, caplog):
    module, _ = files
    converter = SsdliteConverter(watch_module=str(module), watch_interval_seconds=0)
    pyfunc = PeopleAnalytics(watch_module=str(module), watch_interval_seconds=0)  # shares the file's watcher
    before = convert(converter, layers)
    edit(module, "nms_iou_threshold: 0.45", "nms_iou_threshold: 1.5")
    with caplog.at_level(logging.ERROR):
        assert np.array_equal(convert(converter, layers), before)
        assert np.array_equal(convert(converter, layers), before)
    line = line_of(module, "nms_iou_threshold: 1.5")
    field = f"{SELECTOR_FIELD}.nms_iou_threshold"
    expected = f"{module}:{line}: field '{field}': 1.5 is out of range [0.0, 1.0]"
    assert [r.getMessage() for r in caplog.records if "1.5" in r.getMessage()] == [
        expected + "; the module keeps running with its previous configuration"]  # logged once
    meta = walker(0, 300)
    pyfunc.process_frame(None, meta)
    [notice] = events(meta, CONFIG_EVENTS_TAG)  # visible downstream, on the next frame
    assert (notice["kind"], notice["error"], notice["line"], notice["field"]) == (
        "config_rejected", expected, line, field)
    assert meta.get_tag(CONFIG_VERSION_TAG) == 1
    edit(module, "nms_iou_threshold: 1.5", "nms_iou_threshold: 0.45")  # fixed: applies (same values)
    edit(module, THRESHOLD, "DETECTION_THRESHOLD, 0.9}}")
    assert len(convert(converter, layers)) == 2


def test_invalid_yaml_is_rejected_with_its_line(files, layers):
    module, _ = files
    converter = SsdliteConverter(watch_module=str(module), watch_interval_seconds=0)
    pyfunc = PeopleAnalytics(watch_module=str(module), watch_interval_seconds=0)
    before = convert(converter, layers)
    edit(module, "      layer_names: [box_encodings, class_logits]", "      layer_names: [box_encodings")
    assert np.array_equal(convert(converter, layers), before)
    meta = walker(0, 300)
    pyfunc.process_frame(None, meta)
    [notice] = events(meta, CONFIG_EVENTS_TAG)
    assert notice["kind"] == "config_rejected" and notice["error"].startswith(f"{module}:")
    assert notice["line"] is not None and "invalid YAML" in notice["error"]


def test_a_model_file_edit_needs_a_restart_and_changes_nothing(files, layers, caplog):
    module, _ = files
    converter = SsdliteConverter(watch_module=str(module), watch_interval_seconds=0)
    pyfunc = PeopleAnalytics(watch_module=str(module), watch_interval_seconds=0)
    before = convert(converter, layers)
    edit(module, "model_file: ssdlite_pedestrian.onnx", "model_file: ssdlite_v2.onnx")
    with caplog.at_level(logging.WARNING):
        for _ in range(3):
            assert np.array_equal(convert(converter, layers), before)
    meta = walker(0, 300)
    pyfunc.process_frame(None, meta)
    [notice] = events(meta, CONFIG_EVENTS_TAG)
    line = line_of(module, "model_file: ${parameters.detectors")  # where the detector element takes it
    assert notice["kind"] == "config_restart_needed"
    assert (notice["field"], notice["line"], notice["running"], notice["edited"]) == (
        "pipeline.elements[0].model.model_file", line, "ssdlite_pedestrian.onnx", "ssdlite_v2.onnx")
    assert notice["error"].startswith(f"{module}:{line}: field 'pipeline.elements[0].model.model_file': ")
    assert "restarted" in notice["error"]
    assert [r.levelname for r in caplog.records if "ssdlite_v2" in r.getMessage()] == ["WARNING"]  # once
    assert meta.get_tag(CONFIG_VERSION_TAG) == 1  # nothing applied


def test_live_values_apply_while_restart_only_values_wait(files, layers):
    """One edit switches the detector profile (a new model: restart) and raises the threshold (live)."""
    module, _ = files
    converter = SsdliteConverter(watch_module=str(module), watch_interval_seconds=0)
    pyfunc = PeopleAnalytics(watch_module=str(module), watch_interval_seconds=0)
    edit(module, "detector: ${oc.env:DETECTOR, ssdlite}", "detector: ${oc.env:DETECTOR, nanodet}")
    edit(module, THRESHOLD, "DETECTION_THRESHOLD, 0.6}}")
    rows = convert(converter, layers)  # still the SSDLite decoder: the running engine is SSDLite's
    assert len(rows) and rows[:, 1].min() >= 0.6
    meta = walker(0, 300)
    pyfunc.process_frame(None, meta)
    notices = events(meta, CONFIG_EVENTS_TAG)
    restart = {n["field"].removeprefix("pipeline.elements[0].model.") for n in notices
               if n["kind"] == "config_restart_needed"}
    assert {"model_file", "input.shape", "input.offsets", "output.layer_names",
            "output.converter.class_name"} <= restart
    assert [n["sections"] for n in notices if n["kind"] == "config_reloaded"] == [["detector"]]
    assert meta.get_tag(CONFIG_VERSION_TAG) == 2
    # Saved again with a later threshold only: the pending restart is not reported a second time.
    edit(module, "DETECTION_THRESHOLD, 0.6}}", "DETECTION_THRESHOLD, 0.7}}")
    meta = walker(1, 300)
    pyfunc.process_frame(None, meta)
    assert [n["kind"] for n in events(meta, CONFIG_EVENTS_TAG)] == ["config_reloaded"]


# -- the selector Savant runs after the converter ---------------------------------------------------------


def selector_rows(confidences: list[float]) -> np.ndarray:
    """Savant's rows for the selector: class_id, confidence, xc, yc, width, height, angle, index;
    boxes side by side, no overlap."""
    return np.array([[0, c, 50 + 100 * i, 200, 40, 100, 0, i] for i, c in enumerate(confidences)], np.float32)


def test_the_selector_follows_a_lowered_threshold_that_savants_own_would_cut(files):
    module, _ = files
    selector = LiveBBoxSelector(confidence_threshold=0.15, nms_iou_threshold=0.45, min_width=6, min_height=28,
                                watch_module=str(module), watch_interval_seconds=0)
    rows = selector_rows([0.12, 0.2, 0.5, 0.9])
    assert selector(rows)[:, 1].tolist() == pytest.approx([0.2, 0.5, 0.9])
    edit(module, THRESHOLD, "DETECTION_THRESHOLD, 0.1}}")
    assert selector(rows)[:, 1].tolist() == pytest.approx([0.12, 0.2, 0.5, 0.9])
    edit(module, "min_height: 28", "min_height: 120")
    assert len(selector(rows)) == 0


def test_without_live_edits_the_selector_is_savants_bbox_selector():
    selector = LiveBBoxSelector(confidence_threshold=0.3, nms_iou_threshold=0.45, min_width=6, min_height=12,
                                watch_module="off")
    rows = selector_rows([0.2, 0.5, 0.9])
    rows = np.vstack([rows, [0, 0.4, 152, 202, 40, 100, 0, 3]]).astype(np.float32)  # overlaps the 0.5 box
    kept = selector(rows)
    assert kept[:, 7].tolist() == [1, 2] and kept.shape[1] == 8


# -- the analytics pyfunc: lines, zones, timeout ----------------------------------------------------------


def test_a_moved_line_counts_from_the_next_frame(files):
    module, cameras = files
    plugin = PeopleAnalytics(cameras_file=str(cameras), watch_module=str(module), watch_interval_seconds=0)
    plugin.process_frame(None, walker(10, 300))
    edit(cameras, "points: [[0, 330], [768, 330]]", "points: [[0, 400], [768, 400]]")
    crossing_old_line = walker(11, 360)
    plugin.process_frame(None, crossing_old_line)
    assert [e["kind"] for e in events(crossing_old_line)] == []  # y=330 no longer counts
    [notice] = events(crossing_old_line, CONFIG_EVENTS_TAG)
    assert (notice["kind"], notice["sections"], notice["version"]) == ("config_reloaded", ["analytics"], 2)
    crossing_new_line = walker(12, 420)
    plugin.process_frame(None, crossing_new_line)
    crossings = [(e["kind"], e["details"]["line"]) for e in events(crossing_new_line)]
    assert crossings == [("line_crossed", "door")]
    dwell = crossing_new_line.objects[0].get_attr_meta("analytics", "dwell_seconds").value
    assert dwell == pytest.approx(0.2)  # the track and its dwell time went on through the edit


def test_a_removed_zone_reports_its_people_leaving_and_a_new_zone_counts_them(files):
    module, cameras = files
    plugin = PeopleAnalytics(cameras_file=str(cameras), watch_module=str(module), watch_interval_seconds=0)
    first = walker(0, 300)
    plugin.process_frame(None, first)
    assert [e["kind"] for e in events(first)] == ["track_started", "zone_entered"]
    edit(cameras, "{name: bench, polygon: [[0, 0], [768, 0], [768, 576], [0, 576]]}",
         "{name: queue, polygon: [[0, 200], [400, 200], [400, 400], [0, 400]]}")
    second = walker(1, 300)
    plugin.process_frame(None, second)
    kinds = [(e["kind"], e["details"].get("zone"), e["details"].get("reason")) for e in events(second)]
    assert kinds == [("zone_exited", "bench", "zone_changed"), ("zone_entered", "queue", None)]


def test_a_broken_cameras_edit_is_rejected_and_the_old_line_keeps_counting(files):
    module, cameras = files
    plugin = PeopleAnalytics(cameras_file=str(cameras), watch_module=str(module), watch_interval_seconds=0)
    plugin.process_frame(None, walker(10, 300))
    edit(cameras, "points: [[0, 330], [768, 330]]", "points: [[0, 330]]")
    meta = walker(11, 360)
    plugin.process_frame(None, meta)
    assert [e["kind"] for e in events(meta)] == ["line_crossed"]  # the old line, unchanged
    [notice] = events(meta, CONFIG_EVENTS_TAG)
    assert notice["kind"] == "config_rejected" and notice["file"] == str(cameras)
    assert notice["line"] == line_of(cameras, "points: [[0, 330]]")
    assert notice["error"].startswith(f"{cameras}:{notice['line']}: field 'cameras[0].lines[0]")


def test_an_edited_track_timeout_applies_and_a_bad_one_names_its_kwarg(files):
    module, cameras = files
    plugin = PeopleAnalytics(cameras_file=str(cameras), watch_module=str(module), watch_interval_seconds=0)
    plugin.process_frame(None, walker(10, 300))
    edit(module, "track_timeout_seconds: 2.0", "track_timeout_seconds: 0.5")
    gone = frame_meta(17, [], [])  # 0.7 s later: past the new timeout, within the old one
    plugin.process_frame(None, gone)
    assert "track_ended" in [e["kind"] for e in events(gone)]
    edit(module, "track_timeout_seconds: 0.5", "track_timeout_seconds: -1")
    meta = frame_meta(18, [], [])
    plugin.process_frame(None, meta)
    [notice] = events(meta, CONFIG_EVENTS_TAG)
    assert notice["kind"] == "config_rejected"
    assert notice["line"] == line_of(module, "track_timeout_seconds: -1")
    assert notice["field"] == "pipeline.elements[3].kwargs.track_timeout_seconds"
    assert plugin.track_timeout_seconds == 0.5


def test_edits_elsewhere_in_the_file_change_nothing_here(files, layers):
    """parameters.fusion / reid / pyuniproc / tracker are read by other processes, never by the module."""
    module, _ = files
    converter = SsdliteConverter(watch_module=str(module), watch_interval_seconds=0)
    pyfunc = PeopleAnalytics(watch_module=str(module), watch_interval_seconds=0)
    before = convert(converter, layers)
    edit(module, "match_threshold: 0.75", "match_threshold: 0.7")
    edit(module, "queue_size: 8 ", "queue_size: 4 ")
    assert np.array_equal(convert(converter, layers), before)
    meta = walker(0, 300)
    pyfunc.process_frame(None, meta)
    assert meta.get_tag(CONFIG_EVENTS_TAG) is None and meta.get_tag(CONFIG_VERSION_TAG) == 1


def test_outside_savant_auto_watches_nothing():
    """pyuniproc applies edits of its module YAML itself: `watch_module: auto` is off there."""
    assert PeopleAnalytics()._live is None and SsdliteConverter()._live is None
    meta = walker(0, 300)
    PeopleAnalytics().process_frame(None, meta)
    assert meta.get_tag(CONFIG_VERSION_TAG) is None


def test_inside_savant_auto_watches_the_yaml_the_entrypoint_was_given(files, monkeypatch):
    module, _ = files
    monkeypatch.setattr(sys, "argv", ["/opt/savant/savant/entrypoint/__main__.py", "-e", str(module)])
    assert watched_file("auto", in_savant=True) == module
    assert watched_file("auto", in_savant=False) is None
    assert watched_file("off", in_savant=True) is None
    assert watched_file(str(module), in_savant=False) == module
