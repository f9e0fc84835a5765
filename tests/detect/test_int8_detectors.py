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
    # measured on 40 unseen frames (scripts/quantize_models.py --check): 147/152 (SSDLite), 214/214 (NanoDet)
    assert found >= 0.9 * confident


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


@pytest.mark.parametrize("kind", ["ssdlite_pedestrian", "nanodet_coco"])
def test_int8_outputs_do_not_depend_on_whether_the_cpu_has_vnni(kind, vtest_frames):
    """Without VNNI, ONNX Runtime adds pairs of uint8 x int8 products in saturating 16-bit sums; with 8-bit
    weights that moved SSDLite's scores by up to 0.41 against the exact sums of a VNNI CPU. The weights use
    7 bits, so no sum can saturate: the outputs equal those of `session.x64quantprecision` (products
    widened to 16 bits first, i.e. exact), bit for bit, on any x86 CPU."""
    import onnxruntime as ort

    detector = create_detector(kind, model_dir=DEFAULT_MODEL_DIR, precision="int8")
    options = ort.SessionOptions()
    options.add_session_config_entry("session.x64quantprecision", "1")
    exact = ort.InferenceSession(str(detector.model_path), sess_options=options,
                                 providers=["CPUExecutionProvider"])
    batch = detector.preprocess(list(vtest_frames.values()))
    widened = exact.run(detector.output_names, {detector.input_name: batch})
    for shipped, exact_output in zip(detector.infer(batch), widened, strict=True):
        np.testing.assert_array_equal(shipped, exact_output)


def test_float_and_int8_detectors_get_the_same_net_input(vtest_frames):
    frames = list(vtest_frames.values())
    for kind in ("ssdlite_pedestrian", "nanodet_coco"):
        float_input = create_detector(kind, model_dir=DEFAULT_MODEL_DIR).preprocess(frames)
        int8_input = create_detector(kind, model_dir=DEFAULT_MODEL_DIR, precision="int8").preprocess(frames)
        np.testing.assert_array_equal(float_input, int8_input)
