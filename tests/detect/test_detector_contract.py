"""What every registered detector promises, checked on real frames with the real models."""

import numpy as np
import pytest

from pyuniproc.detect import (
    DEFAULT_MODEL_DIR,
    DETECTORS,
    KIND_BY_CONVERTER,
    Detector,
    box_iou,
    create_detector,
)
from pyuniproc.detect.preprocess import resize_bilinear_legacy
from pyuniproc.types import Detections


@pytest.fixture(scope="module", params=sorted(DETECTORS))
def detector(request):
    return create_detector(request.param, model_dir=DEFAULT_MODEL_DIR, confidence_threshold=0.5,
                           intra_op_threads=2)


def test_is_a_detector_named_as_registered(detector):
    assert isinstance(detector, Detector)
    assert DETECTORS[detector.name] is type(detector)


def test_no_frames_no_work(detector):
    assert detector.detect([]) == []


def test_one_detections_per_frame_persons_only_inside_each_frame(detector, vtest_frames):
    small = vtest_frames[400][::2, ::2].copy()  # a second camera at half resolution
    results = detector.detect([vtest_frames[400], small, vtest_frames[100]])
    assert len(results) == 3 and all(isinstance(r, Detections) for r in results)
    for dets, frame in zip(results, [vtest_frames[400], small, vtest_frames[100]], strict=True):
        assert len(dets) >= 2
        assert (dets.class_id == 0).all() and (dets.confidence >= 0.5).all()
        height, width = frame.shape[:2]
        assert (dets.xyxy >= 0).all() and (dets.xyxy[:, [0, 2]] <= width).all()
        assert (dets.xyxy[:, [1, 3]] <= height).all()
    # the half-size camera sees the same people at half the coordinates
    assert (np.abs(results[1].xyxy[:, None] * 2 - results[0].xyxy[None]).max(axis=2) < 12).any(axis=1).all()


def test_batching_does_not_change_results(detector, vtest_frames):
    alone = detector.detect([vtest_frames[700]])[0]
    batched = detector.detect([vtest_frames[100], vtest_frames[700]])[1]
    np.testing.assert_allclose(batched.xyxy, alone.xyxy, atol=1e-2)
    np.testing.assert_allclose(batched.confidence, alone.confidence, atol=1e-4)


def test_stages_compose_to_detect(detector, vtest_frames):
    frames = [vtest_frames[100], vtest_frames[400]]
    batch = detector.preprocess(frames)
    assert batch.shape == (2, 3, detector.input_size, detector.input_size) and batch.dtype == np.float32
    staged = detector.postprocess(detector.infer(batch), [f.shape[:2] for f in frames])
    direct = detector.detect(frames)
    for a, b in zip(staged, direct, strict=True):
        np.testing.assert_array_equal(a.xyxy, b.xyxy)


def test_net_input_is_the_exact_legacy_resize_scaled_and_shifted(detector, vtest_frames):
    frame = vtest_frames[400]
    size = detector.input_size
    resized = resize_bilinear_legacy(frame, size, size).transpose(2, 0, 1)
    expected = resized * np.float32(detector.scale) + np.asarray(detector.bias, np.float32)[:, None, None]
    np.testing.assert_array_equal(detector.preprocess([frame])[0], expected)


def test_boxes_keep_within_what_another_cpus_float_rounding_can_change(detector, vtest_frames):
    """The net input is bit-exact everywhere; what may still differ between CPUs is the network's own
    float rounding (other kernels, other summation order), far below a 0.02-level change of the input
    (the old OpenCV resize's error was 0.014). Measured on 40 vtest frames at +-0.02 levels: IoU >= 0.999,
    scores within 0.0009 (SSDLite) and 0.0002 (NanoDet); the int8 models move 100x more (0.13)."""
    frames = [vtest_frames[i] for i in (100, 400, 700)]
    batch = detector.preprocess(frames)
    noise = np.random.default_rng(1).uniform(-0.02, 0.02, batch.shape).astype(np.float32) * detector.scale
    sizes = [frame.shape[:2] for frame in frames]
    reference = detector.postprocess(detector.infer(batch), sizes)
    nudged = detector.postprocess(detector.infer(batch + noise), sizes)
    for ref, other in zip(reference, nudged, strict=True):
        assert len(ref) == len(other) >= 2
        iou = box_iou(ref.xyxy, other.xyxy)
        assert iou.max(axis=1).min() >= 0.99
        np.testing.assert_allclose(other.confidence[iou.argmax(axis=1)], ref.confidence, atol=0.005)


def test_higher_threshold_and_min_size_only_remove_boxes(detector, vtest_frames):
    loose = create_detector(detector.name, model_dir=DEFAULT_MODEL_DIR, confidence_threshold=0.3)
    strict = create_detector(detector.name, model_dir=DEFAULT_MODEL_DIR, confidence_threshold=0.3,
                             min_height=80)
    (many,) = loose.detect([vtest_frames[400]])
    (few,) = strict.detect([vtest_frames[400]])
    assert len(few) < len(many)
    assert (few.height >= 80).all()


def test_unknown_kind_lists_the_known_ones():
    with pytest.raises(ValueError, match="known kinds: nanodet_coco, ssdlite_pedestrian"):
        create_detector("yolo", model_dir=DEFAULT_MODEL_DIR)


@pytest.mark.parametrize("kwargs", [{"confidence_threshold": 0.0}, {"nms_iou_threshold": 1.5},
                                    {"min_width": -1}, {"intra_op_threads": 0}])
def test_bad_settings_are_rejected_quoting_the_value(kwargs):
    value = repr(next(iter(kwargs.values())))
    with pytest.raises(ValueError, match=value.replace(".", r"\.")):
        create_detector("ssdlite_pedestrian", model_dir=DEFAULT_MODEL_DIR, **kwargs)


def test_model_file_named_by_the_yaml_must_be_the_kinds_model():
    create_detector("nanodet_coco", model_dir=DEFAULT_MODEL_DIR, model_file="nanodet_coco.onnx")
    with pytest.raises(ValueError, match="ssdlite_pedestrian.onnx"):
        create_detector("nanodet_coco", model_dir=DEFAULT_MODEL_DIR, model_file="ssdlite_pedestrian.onnx")


def test_every_savant_converter_maps_to_a_registered_kind():
    assert set(KIND_BY_CONVERTER.values()) == set(DETECTORS)
