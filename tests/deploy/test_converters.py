"""The Savant converters named in module.yml, called as nvinfer calls them, on real ONNX outputs.

DeepStream hands a converter one frame's output layers (no batch axis), the model config and the ROI;
here onnxruntime produces the layers from a real vtest frame. The rows must be Savant's
(class_id, confidence, xc, yc, width, height) in frame pixels and say what pyuniproc's detector says.
"""

from __future__ import annotations

import importlib

import numpy as np
import pytest
from deploykit import detector_element, savant_model

from module.converters.detector import NanodetConverter, SsdliteConverter, rows_to_detections
from pyuniproc.detect import DEFAULT_MODEL_DIR, create_detector
from pyuniproc.detect.nms import box_iou

PROFILES = [("ssdlite", "ssdlite_pedestrian"), ("nanodet", "nanodet_coco")]


def converter_of(element: dict) -> object:
    spec = element["model"]["output"]["converter"]
    cls = getattr(importlib.import_module(spec["module"]), spec["class_name"])
    return cls(**(spec.get("kwargs") or {}))


def selector_of(element: dict) -> dict:
    return element["model"]["output"]["objects"][0]["selector"]["kwargs"]


@pytest.fixture(scope="module", params=PROFILES, ids=[p for p, _ in PROFILES])
def case(request, vtest_frame):
    """(element, raw layers of one frame, pyuniproc's detections of that frame) per detector profile."""
    profile, kind = request.param
    element = detector_element(profile)
    selector = selector_of(element)
    detector = create_detector(kind, model_dir=DEFAULT_MODEL_DIR, **selector)
    raw = detector.infer(detector.preprocess([vtest_frame]))
    expected = detector.postprocess(raw, [vtest_frame.shape[:2]])[0]
    return element, [layer[0] for layer in raw], expected


def test_rows_are_savant_object_rows_matching_pyuniproc(case, vtest_frame):
    element, layers, expected = case
    height, width = vtest_frame.shape[:2]
    rows = converter_of(element)(*layers, model=savant_model(element), roi=(0, 0, width, height))
    assert rows.dtype == np.float32 and rows.ndim == 2 and rows.shape[1] == 6
    assert len(rows) == len(expected) >= 3  # three pedestrians on frame 400
    assert np.all(rows[:, 0] == 0)  # class_id 0 = person, the YAML's only object
    got = rows_to_detections(rows)
    np.testing.assert_allclose(got.confidence, expected.confidence, rtol=1e-6)
    np.testing.assert_allclose(got.xyxy, expected.xyxy, atol=1e-3)
    xc, yc, w, h = rows[:, 2], rows[:, 3], rows[:, 4], rows[:, 5]
    assert np.all((xc - w / 2 >= -0.5) & (xc + w / 2 <= width + 0.5))
    assert np.all((yc - h / 2 >= -0.5) & (yc + h / 2 <= height + 0.5))


def test_rows_pass_savants_selector_unchanged(case, vtest_frame):
    """Savant runs the class's selector (confidence, size, NMS) after the converter: nothing left to drop."""
    element, layers, _ = case
    height, width = vtest_frame.shape[:2]
    rows = converter_of(element)(*layers, model=savant_model(element), roi=(0, 0, width, height))
    selector = selector_of(element)
    assert np.all(rows[:, 1] >= selector["confidence_threshold"])
    assert np.all(rows[:, 4] >= selector["min_width"]) and np.all(rows[:, 5] >= selector["min_height"])
    iou = box_iou(rows_to_detections(rows).xyxy, rows_to_detections(rows).xyxy)
    np.fill_diagonal(iou, 0)
    assert iou.max(initial=0) <= selector["nms_iou_threshold"]


def test_roi_offset_moves_boxes(case, vtest_frame):
    """A ROI that starts at (100, 50) (e.g. Savant's frame padding) shifts centres, not sizes."""
    element, layers, _ = case
    height, width = vtest_frame.shape[:2]
    converter, model = converter_of(element), savant_model(element)
    plain = converter(*layers, model=model, roi=(0, 0, width, height))
    moved = converter(*layers, model=model, roi=(100, 50, width, height))
    np.testing.assert_allclose(moved[:, 2:4] - plain[:, 2:4], np.tile([100, 50], (len(plain), 1)), atol=1e-3)
    np.testing.assert_array_equal(moved[:, [0, 1, 4, 5]], plain[:, [0, 1, 4, 5]])


def test_converter_kwargs_override_the_selector(case, vtest_frame):
    element, layers, _ = case
    height, width = vtest_frame.shape[:2]
    cls = type(converter_of(element))
    strict = cls(confidence_threshold=0.8)(*layers, model=savant_model(element), roi=(0, 0, width, height))
    loose = cls()(*layers, model=savant_model(element), roi=(0, 0, width, height))
    assert 0 < len(strict) < len(loose)
    assert np.all(strict[:, 1] >= 0.8)


def test_plain_mapping_config_and_a_batch_axis_work_too(case, vtest_frame):
    """Savant may hand DictConfig (mapping access); pyuniproc's tools hand layers with a batch axis."""
    element, layers, expected = case
    height, width = vtest_frame.shape[:2]
    model = {**element["model"], "local_path": str(DEFAULT_MODEL_DIR)}
    rows = converter_of(element)(*[layer[None] for layer in layers], model=model, roi=(0, 0, width, height))
    assert len(rows) == len(expected)


def test_empty_frame_gives_no_rows(case):
    element, layers, _ = case
    silent = [np.full_like(layer, -50.0) if i == (1 if "ssdlite" in element["model"]["model_file"] else 0)
              else layer for i, layer in enumerate(layers)]
    rows = converter_of(element)(*silent, model=savant_model(element), roi=(0, 0, 768, 576))
    assert rows.shape == (0, 6) and rows.dtype == np.float32


@pytest.mark.parametrize("cls", [SsdliteConverter, NanodetConverter])
def test_stretched_input_only(cls):
    model = {"input": {"shape": [3, 300, 300], "maintain_aspect_ratio": True}, "output": {"objects": []}}
    with pytest.raises(ValueError, match="maintain_aspect_ratio"):
        cls()(np.zeros((10, 4), np.float32), np.zeros((10, 2), np.float32), model=model, roi=(0, 0, 10, 10))


@pytest.mark.parametrize("cls", [SsdliteConverter, NanodetConverter])
def test_yaml_kwargs_become_attributes_like_savants_base(cls):
    converter = cls(max_detections=5, note="from the YAML")
    assert converter.max_detections == 5 and converter.note == "from the YAML"
    with pytest.raises(ValueError, match="max_detections"):
        cls(max_detections=0)
