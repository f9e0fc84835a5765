"""The torch decoders keep the boxes the numpy decoders keep, on the same raw outputs."""

from __future__ import annotations

import pytest

pytest.importorskip("torch")
pytest.importorskip("onnx")

import numpy as np
import torch

from pyuniproc.detect import DEFAULT_MODEL_DIR, create_detector, decode_nanodet, decode_ssd
from pyuniproc.gpu.postprocess import decode_nanodet_torch, decode_ssd_torch
from pyuniproc.types import Detections


def _assert_same(expected, got):
    assert len(expected) == len(got)
    for e, g in zip(expected, got, strict=True):
        assert len(e) == len(g)
        np.testing.assert_allclose(g.xyxy, e.xyxy, atol=1e-3)
        np.testing.assert_allclose(g.confidence, e.confidence, atol=1e-6)
        np.testing.assert_array_equal(g.class_id, e.class_id)


@pytest.mark.parametrize("threshold", [0.2, 0.5])
def test_ssd_on_real_frames(frames, threshold):
    detector = create_detector("ssdlite_pedestrian", model_dir=DEFAULT_MODEL_DIR)
    raw = detector.infer(detector.preprocess(frames))
    sizes = [f.shape[:2] for f in frames]
    options = {"confidence_threshold": threshold, "nms_iou_threshold": 0.45, "min_width": 4.0}
    expected = decode_ssd(raw[0], raw[1], detector.anchors, sizes, **options)
    got = decode_ssd_torch(
        torch.from_numpy(raw[0]),
        torch.from_numpy(raw[1]),
        torch.from_numpy(detector.anchors),
        sizes,
        **options,
    ).to_host(len(frames))
    assert sum(len(e) for e in expected) > 0
    _assert_same(expected, got)


@pytest.mark.parametrize("threshold", [0.2, 0.5])
def test_nanodet_on_real_frames(frames, threshold):
    detector = create_detector("nanodet_coco", model_dir=DEFAULT_MODEL_DIR)
    raw = detector.infer(detector.preprocess(frames))
    sizes = [f.shape[:2] for f in frames]
    options = {"confidence_threshold": threshold, "nms_iou_threshold": 0.45, "min_height": 10.0}
    expected = decode_nanodet(raw[0], raw[1], sizes, **options)
    got = decode_nanodet_torch(torch.from_numpy(raw[0]), torch.from_numpy(raw[1]), sizes, **options).to_host(
        len(frames)
    )
    assert sum(len(e) for e in expected) > 0
    _assert_same(expected, got)


def test_random_heads_with_many_overlaps_and_a_cap():
    rng = np.random.default_rng(3)
    anchors = np.load(DEFAULT_MODEL_DIR / "ssdlite_pedestrian_anchors.npy")
    encodings = rng.normal(0, 1, (3, len(anchors), 4)).astype(np.float32)
    logits = rng.normal(0, 2, (3, len(anchors), 2)).astype(np.float32)
    sizes = [(480, 640), (1080, 1920), (100, 100)]
    options = {"confidence_threshold": 0.6, "nms_iou_threshold": 0.5, "max_detections": 7}
    expected = decode_ssd(encodings, logits, anchors, sizes, **options)
    got = decode_ssd_torch(
        torch.from_numpy(encodings), torch.from_numpy(logits), torch.from_numpy(anchors), sizes, **options
    ).to_host(3)
    assert all(len(e) == 7 for e in expected)
    _assert_same(expected, got)


def test_nothing_above_threshold_gives_empty_frames():
    scores = torch.zeros((2, 3549, 80))
    distributions = torch.zeros((2, 3549, 44))
    got = decode_nanodet_torch(scores, distributions, [(10, 10), (20, 20)]).to_host(2)
    assert [len(d) for d in got] == [0, 0]


def _static_frames(result, n):
    rows = result.rows.numpy()
    frames = []
    for frame_rows in rows[:n]:
        kept = frame_rows[frame_rows[:, 6] > 0.5]
        frames.append(
            Detections(xyxy=kept[:, :4], confidence=kept[:, 4], class_id=kept[:, 5].astype(np.int32))
        )
    return frames


def _ssd_static(raw, anchors, sizes, **options):
    from pyuniproc.gpu.static_decode import decode_ssd_static

    sizes_t = torch.tensor([[float(h), float(w)] for h, w in sizes])
    return decode_ssd_static(
        torch.from_numpy(raw[0]),
        torch.from_numpy(raw[1]),
        torch.from_numpy(anchors),
        sizes_t,
        scale_factors=(10.0, 10.0, 5.0, 5.0),
        **options,
    )


@pytest.mark.parametrize("threshold", [0.2, 0.5])
def test_static_ssd_decode_equals_numpy(frames, threshold):
    detector = create_detector("ssdlite_pedestrian", model_dir=DEFAULT_MODEL_DIR)
    raw = detector.infer(detector.preprocess(frames))
    sizes = [f.shape[:2] for f in frames]
    options = {
        "confidence_threshold": threshold,
        "nms_iou_threshold": 0.45,
        "min_width": 4.0,
        "min_height": 0.0,
    }
    expected = decode_ssd(raw[0], raw[1], detector.anchors, sizes, **options)
    boxes = torch.zeros((3 * 256 + 1, 4))
    frame = torch.zeros(3 * 256 + 1, dtype=torch.int64)
    result = _ssd_static(raw, detector.anchors, sizes, out_boxes=boxes, out_frame=frame, **options)
    assert not result.flags[:, 0].any() and result.flags[:, 1].all()  # no overflow, converged
    got = _static_frames(result, len(frames))
    _assert_same(expected, got)
    count = int(result.count)
    assert count == sum(len(e) for e in expected)
    np.testing.assert_allclose(boxes[:count].numpy(), np.concatenate([g.xyxy for g in got]))
    np.testing.assert_array_equal(frame[:count].numpy(), np.repeat(np.arange(3), [len(g) for g in got]))


@pytest.mark.parametrize("threshold", [0.2, 0.5])
def test_static_nanodet_decode_equals_numpy(frames, threshold):
    from pyuniproc.detect.nanodet import cell_priors
    from pyuniproc.gpu.static_decode import decode_nanodet_static

    detector = create_detector("nanodet_coco", model_dir=DEFAULT_MODEL_DIR)
    raw = detector.infer(detector.preprocess(frames))
    sizes = [f.shape[:2] for f in frames]
    options = {
        "confidence_threshold": threshold,
        "nms_iou_threshold": 0.45,
        "min_width": 0.0,
        "min_height": 10.0,
    }
    expected = decode_nanodet(raw[0], raw[1], sizes, **options)
    result = decode_nanodet_static(
        torch.from_numpy(raw[0]),
        torch.from_numpy(raw[1]),
        torch.from_numpy(np.array(cell_priors(416))),
        torch.tensor([0]),
        torch.tensor([[float(h), float(w)] for h, w in sizes]),
        input_size=416,
        **options,
    )
    assert not result.flags[:, 0].any() and result.flags[:, 1].all()
    _assert_same(expected, _static_frames(result, len(frames)))


def test_static_decode_flags_what_it_cannot_vouch_for():
    rng = np.random.default_rng(3)
    anchors = np.load(DEFAULT_MODEL_DIR / "ssdlite_pedestrian_anchors.npy")
    raw = (
        rng.normal(0, 1, (3, len(anchors), 4)).astype(np.float32),
        rng.normal(0, 2, (3, len(anchors), 2)).astype(np.float32),
    )
    sizes = [(480, 640), (1080, 1920), (100, 100)]
    options = {
        "confidence_threshold": 0.6,
        "nms_iou_threshold": 0.5,
        "min_width": 0.0,
        "min_height": 0.0,
        "max_detections": 7,
    }
    small = _ssd_static(raw, anchors, sizes, candidates=16, **options)
    assert small.flags[:, 0].all()  # hundreds above threshold, 16 candidates: overflow says so
    shallow = _ssd_static(raw, anchors, sizes, candidates=2000, iterations=1, **options)
    deep = _ssd_static(raw, anchors, sizes, candidates=2000, iterations=400, **options)
    assert not shallow.flags[:, 1].all()  # one round of Cluster-NMS is not greedy NMS yet, and says so
    assert deep.flags[:, 1].all() and not deep.flags[:, 0].any()
    _assert_same(decode_ssd(raw[0], raw[1], anchors, sizes, **options), _static_frames(deep, 3))
