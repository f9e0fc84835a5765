"""NanoDet COCO: our ONNX export matches the TF.js graph run in TensorFlow, and the GFL decoder finds
the same people as the independent SSD model.

tests/data/detect/nanodet_reference.npz holds, per vtest frame, the TF graph's person scores for every
cell and the box distributions of the cells scoring >= 0.05 (all a decoder at >= 0.05 ever reads).
"""

import numpy as np
import pytest

from pyuniproc.detect import box_iou, decode_nanodet
from pyuniproc.detect.nanodet import REG_MAX, cell_priors, distribution_to_distance

FRAMES = (100, 400, 700)


def one_hot_bins(left, top, right, bottom):
    """Bin logits that put (almost) all mass on the given whole-stride distances."""
    logits = np.full((1, 4, REG_MAX + 1), -50.0, np.float32)
    for side, distance in enumerate((left, top, right, bottom)):
        logits[0, side, distance] = 50.0
    return logits.reshape(1, -1)


def test_cell_priors_are_cell_centres_stride_by_stride():
    priors = cell_priors(416)
    assert priors.shape == (52 * 52 + 26 * 26 + 13 * 13, 3)
    assert priors[0].tolist() == [4.0, 4.0, 8.0]  # first cell of stride 8
    assert priors[1].tolist() == [12.0, 4.0, 8.0]  # row-major: x moves first
    assert priors[52 * 52].tolist() == [8.0, 8.0, 16.0]
    assert priors[-1].tolist() == [400.0, 400.0, 32.0]


def test_distance_is_the_expectation_of_the_bins():
    distance = distribution_to_distance(one_hot_bins(1, 2, 3, 10))
    np.testing.assert_allclose(distance, [[1, 2, 3, 10]], atol=1e-5)
    uniform = np.zeros((1, 4 * (REG_MAX + 1)), np.float32)
    np.testing.assert_allclose(distribution_to_distance(uniform), [[5, 5, 5, 5]], atol=1e-5)


def test_decode_one_cell_into_original_pixels_keeping_only_persons():
    cells = len(cell_priors(416))
    scores = np.zeros((1, cells, 80), np.float32)
    scores[0, 0, 0] = 0.9  # person in the first stride-8 cell, centre (4, 4)
    scores[0, 1, 2] = 0.95  # a car: not asked for
    dists = np.zeros((1, cells, 44), np.float32)
    dists[0, 0] = one_hot_bins(0, 0, 2, 4)  # right 2 * 8 px, down 4 * 8 px
    (dets,) = decode_nanodet(scores, dists, [(832, 416)], confidence_threshold=0.5)  # frame twice as tall
    np.testing.assert_allclose(dets.xyxy, [[4, 8, 20, 72]], atol=1e-3)
    assert dets.class_id.tolist() == [0] and dets.confidence.tolist() == [pytest.approx(0.9)]


def test_onnx_heads_match_tensorflow(nanodet, vtest_frames, nanodet_reference):
    scores, dists = nanodet.infer(nanodet.preprocess([vtest_frames[i] for i in FRAMES]))
    for row, index in enumerate(FRAMES):
        candidates = nanodet_reference[f"candidates_{index}"]
        np.testing.assert_allclose(scores[row, :, 0], nanodet_reference[f"person_scores_{index}"], atol=1e-3)
        np.testing.assert_allclose(dists[row, candidates], nanodet_reference[f"box_distributions_{index}"],
                                   atol=2e-3)


def test_detections_from_onnx_equal_those_from_tensorflow_heads(nanodet, vtest_frames, nanodet_reference):
    ours = nanodet.detect([vtest_frames[i] for i in FRAMES])
    for dets, index in zip(ours, FRAMES, strict=True):
        cells = len(cell_priors(416))
        tf_scores = np.zeros((1, cells, 80), np.float32)
        tf_scores[0, :, 0] = nanodet_reference[f"person_scores_{index}"]
        tf_dists = np.zeros((1, cells, 44), np.float32)
        candidates = nanodet_reference[f"candidates_{index}"]
        tf_dists[0, candidates] = nanodet_reference[f"box_distributions_{index}"]
        (tf_dets,) = decode_nanodet(tf_scores, tf_dists, [(576, 768)], confidence_threshold=0.5,
                                    nms_iou_threshold=0.45)
        assert len(dets) == len(tf_dets) >= 3
        np.testing.assert_allclose(dets.xyxy, tf_dets.xyxy, atol=0.5)
        np.testing.assert_allclose(dets.confidence, tf_dets.confidence, atol=0.02)


def test_finds_the_same_walkers_as_ssd_on_frame_400(nanodet, ssdlite, vtest_frames):
    (people,) = nanodet.detect([vtest_frames[400]])
    (walkers,) = ssdlite.detect([vtest_frames[400]])
    assert len(walkers) == 3 and (people.class_id == 0).all()
    assert (box_iou(walkers.xyxy, people.xyxy).max(axis=1) > 0.6).all()
