"""SSDLite pedestrian: our ONNX export + numpy decoder reproduce the original TensorFlow graph.

The references in tests/data/detect/ssdlite_reference.npz were recorded by scripts/convert_models.py
with TensorFlow running the FULL published frozen graph (its own resize, decoding and NMS) on
vtest.avi frames 100, 400 and 700.
"""

import numpy as np
import pytest

from pyuniproc.detect import DEFAULT_MODEL_DIR, box_iou, create_detector, decode_ssd
from pyuniproc.detect.ssd import decode_boxes

FRAMES = (100, 400, 700)
TF_NMS_IOU = 0.6  # the published graph's NMS threshold


def tf_detections(reference, index, height=576, width=768):
    """TF's boxes of one frame as pixel x1, y1, x2, y2 and their scores."""
    ymin, xmin, ymax, xmax = reference[f"boxes_{index}"].T
    xyxy = np.stack([xmin * width, ymin * height, xmax * width, ymax * height], axis=1)
    return xyxy, reference[f"scores_{index}"]


def test_zero_encoding_decodes_to_the_anchor_itself():
    anchors = np.array([[0.5, 0.25, 0.2, 0.1]], np.float32)  # yc, xc, h, w
    np.testing.assert_allclose(decode_boxes(np.zeros((1, 4)), anchors), [[0.4, 0.2, 0.6, 0.3]], rtol=1e-6)


def test_encoding_shifts_by_anchor_size_over_scale_factor():
    anchors = np.array([[0.5, 0.5, 0.2, 0.2]], np.float32)
    # ty = 10 moves the centre down by one anchor height; tw = 5 * ln 2 doubles the width.
    boxes = decode_boxes(np.array([[10.0, 0.0, 0.0, 5 * np.log(2)]]), anchors)
    np.testing.assert_allclose(boxes, [[0.6, 0.3, 0.8, 0.7]], rtol=1e-5)


def test_decode_keeps_only_foreground_above_threshold_in_original_pixels():
    anchors = np.array([[0.5, 0.5, 0.5, 0.25], [0.1, 0.1, 0.1, 0.1]], np.float32)
    logits = np.array([[[0.0, 3.0], [0.0, -3.0]]], np.float32)  # sigmoid 0.953 and 0.047
    encodings = np.zeros((1, 2, 4), np.float32)
    dets = decode_ssd(encodings, logits, anchors, [(200, 400)], confidence_threshold=0.5)
    assert len(dets) == 1 and len(dets[0]) == 1
    np.testing.assert_allclose(dets[0].xyxy, [[150, 50, 250, 150]], rtol=1e-6)
    np.testing.assert_allclose(dets[0].confidence, [1 / (1 + np.exp(-3))], rtol=1e-6)
    assert dets[0].class_id.tolist() == [0]


def test_onnx_heads_match_tensorflow_heads(ssdlite, vtest_frames, ssdlite_reference):
    index = int(ssdlite_reference["raw_frame_index"])
    box_encodings, class_logits = ssdlite.infer(ssdlite.preprocess([vtest_frames[index]]))
    np.testing.assert_allclose(box_encodings[0], ssdlite_reference["raw_box_encodings"], atol=1e-3)
    np.testing.assert_allclose(class_logits[0], ssdlite_reference["raw_class_logits"], atol=1e-3)


def test_batched_detections_reproduce_the_tensorflow_graph(vtest_frames, ssdlite_reference):
    threshold, margin = 0.3, 0.02
    detector = create_detector("ssdlite_pedestrian", model_dir=DEFAULT_MODEL_DIR,
                               confidence_threshold=threshold, nms_iou_threshold=TF_NMS_IOU)
    ours_per_frame = detector.detect([vtest_frames[i] for i in FRAMES])  # one batch of three
    for index, ours in zip(FRAMES, ours_per_frame, strict=True):
        tf_xyxy, tf_scores = tf_detections(ssdlite_reference, index)
        sure = tf_scores >= threshold + margin  # boxes clearly above the threshold must be found
        assert sure.sum() >= 2, f"frame {index}: reference has too few people to test with"
        iou = box_iou(tf_xyxy[sure], ours.xyxy)
        best = iou.argmax(axis=1)
        assert (iou.max(axis=1) > 0.9).all(), f"frame {index}: IoU with TF {iou.max(axis=1)}"
        np.testing.assert_allclose(ours.confidence[best], tf_scores[sure], atol=0.02)
        # and nothing of ours lacks a TF counterpart
        assert (box_iou(ours.xyxy, tf_xyxy[tf_scores >= threshold - margin]).max(axis=1) > 0.9).all()


def test_frame_400_has_the_three_walkers(ssdlite, vtest_frames):
    (dets,) = ssdlite.detect([vtest_frames[400]])
    assert len(dets) == 3
    assert dets.class_id.tolist() == [0, 0, 0]
    assert (dets.confidence >= 0.75).all()
    assert (dets.height > 1.5 * dets.width).all()  # upright people, not blobs
    np.testing.assert_allclose(dets.bottom_center[0], [602, 211], atol=3)  # the walker at the top right


@pytest.mark.parametrize("bad_shape", [(1, 1917, 5), (1917, 4)])
def test_decode_rejects_wrong_head_shapes(ssdlite, bad_shape):
    with pytest.raises(ValueError, match="box_encodings"):
        decode_ssd(np.zeros(bad_shape, np.float32), np.zeros((1, 1917, 2), np.float32), ssdlite.anchors,
                   [(576, 768)])
