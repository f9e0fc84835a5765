"""The int8 copies of both detectors (scripts/quantize_models.py): verified on load, same boxes as fp32."""

import json
import shutil

import numpy as np
import pytest

from pyuniproc.detect import DEFAULT_MODEL_DIR, ModelError, box_iou, create_detector


@pytest.mark.parametrize("kind", ["ssdlite_pedestrian", "nanodet_coco"])
def test_int8_finds_the_confident_float_boxes_on_real_frames(kind, vtest_frames):
    float_detector = create_detector(kind, model_dir=DEFAULT_MODEL_DIR, confidence_threshold=0.3)
    int8_detector = create_detector(
        kind, model_dir=DEFAULT_MODEL_DIR, confidence_threshold=0.3, precision="int8"
    )
    assert int8_detector.model_path.name == f"{kind}_int8.onnx"
    frames = list(vtest_frames.values())
    found = confident = 0
    for reference, quantized in zip(float_detector.detect(frames), int8_detector.detect(frames), strict=True):
        sure = reference.xyxy[reference.confidence >= 0.5]
        confident += len(sure)
        if len(sure) and len(quantized):
            found += int((box_iou(sure, quantized.xyxy).max(axis=1) > 0.7).sum())
    assert confident >= 5
    assert found >= 0.9 * confident  # measured: 151/152 (SSDLite) and 214/214 (NanoDet) on 40 frames


def test_an_unknown_precision_is_refused():
    with pytest.raises(ValueError, match="precision"):
        create_detector("ssdlite_pedestrian", model_dir=DEFAULT_MODEL_DIR, precision="int4")


def test_a_provenance_file_without_int8_copies_says_how_to_make_them(tmp_path):
    model_dir = tmp_path / "models"
    shutil.copytree(DEFAULT_MODEL_DIR, model_dir)
    provenance = json.loads((model_dir / "MODELS.json").read_text())
    del provenance["models"]["ssdlite_pedestrian"]["int8"]
    (model_dir / "MODELS.json").write_text(json.dumps(provenance))
    with pytest.raises(ModelError, match="quantize_models.py"):
        create_detector("ssdlite_pedestrian", model_dir=model_dir, precision="int8")
    with open(model_dir / "ssdlite_pedestrian_int8.onnx", "r+b") as model:
        model.seek(1000)
        model.write(b"corrupt")
    provenance = json.loads((DEFAULT_MODEL_DIR / "MODELS.json").read_text())
    (model_dir / "MODELS.json").write_text(json.dumps(provenance))
    with pytest.raises(ModelError, match="sha256"):
        create_detector("ssdlite_pedestrian", model_dir=model_dir, precision="int8")


def test_float_and_int8_detectors_get_the_same_net_input(vtest_frames):
    frames = list(vtest_frames.values())
    for kind in ("ssdlite_pedestrian", "nanodet_coco"):
        float_input = create_detector(kind, model_dir=DEFAULT_MODEL_DIR).preprocess(frames)
        int8_input = create_detector(kind, model_dir=DEFAULT_MODEL_DIR, precision="int8").preprocess(frames)
        np.testing.assert_array_equal(float_input, int8_input)
