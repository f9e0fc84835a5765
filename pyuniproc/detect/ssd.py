"""Decoding of SSD raw heads (box encodings + class logits) into `Detections`: a pure function of arrays.

Why our own: the published SSDLite graph does decoding and NMS inside TensorFlow control flow, which
neither DeepStream/TensorRT nor a batched GPU runtime can run. The ONNX file therefore stops at the raw
heads and this module reproduces the graph's postprocessor (TF Object Detection API):

1. score = sigmoid(logit) per class, background column (0) dropped;
2. Faster R-CNN box coder: ty, tx, th, tw divided by the scale factors (10, 10, 5, 5), then
   yc = ty * ha + yca, xc = tx * wa + xca, h = exp(th) * ha, w = exp(tw) * wa (anchors in centre form);
3. class-wise NMS on the unclipped normalised boxes, then clip to the image and drop empty boxes.

No onnxruntime in here, so the Savant converter and a GPU backend call the very same code.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from pyuniproc.detect.nms import batched_nms
from pyuniproc.types import Detections

BOX_CODER_SCALE_FACTORS = (10.0, 10.0, 5.0, 5.0)
"""ty, tx, th, tw divisors of the TF OD API box coder used by the published graph."""


def decode_boxes(
    box_encodings: np.ndarray,
    anchors: np.ndarray,
    scale_factors: Sequence[float] = BOX_CODER_SCALE_FACTORS,
) -> np.ndarray:
    """(k, 4) encodings ty, tx, th, tw + (k, 4) anchors yc, xc, h, w -> (k, 4) ymin, xmin, ymax, xmax.

    float32 and the graph's order of operations, so results match TensorFlow to the last bits.
    """
    enc = np.asarray(box_encodings, dtype=np.float32)
    anc = np.asarray(anchors, dtype=np.float32)
    ty, tx, th, tw = (enc[:, i] / np.float32(scale_factors[i]) for i in range(4))
    yca, xca, ha, wa = anc[:, 0], anc[:, 1], anc[:, 2], anc[:, 3]
    w = np.exp(tw) * wa
    h = np.exp(th) * ha
    yc = ty * ha + yca
    xc = tx * wa + xca
    half_h, half_w = h / np.float32(2), w / np.float32(2)
    return np.stack([yc - half_h, xc - half_w, yc + half_h, xc + half_w], axis=1)


def sigmoid(x: np.ndarray) -> np.ndarray:
    """Logistic function; very negative logits give 0 without an overflow warning."""
    with np.errstate(over="ignore"):
        return (1.0 / (1.0 + np.exp(-x))).astype(np.float32)


def decode_ssd(
    box_encodings: np.ndarray,
    class_logits: np.ndarray,
    anchors: np.ndarray,
    original_sizes: Sequence[tuple[int, int]],
    *,
    confidence_threshold: float = 0.5,
    nms_iou_threshold: float = 0.45,
    min_width: float = 0.0,
    min_height: float = 0.0,
    max_detections: int = 100,
    scale_factors: Sequence[float] = BOX_CODER_SCALE_FACTORS,
) -> list[Detections]:
    """Raw SSD heads of a batch -> one `Detections` per image, in that image's own pixels.

    box_encodings: (N, A, 4) float32 ty, tx, th, tw. (A Savant converter, which sees one frame's
        layers, passes `layer[None]`.)
    class_logits: (N, A, 1 + C) float32; column 0 is background, column j + 1 becomes class_id j
        (so the pedestrian column 1 is class_id 0 = person).
    anchors: (A, 4) float32 yc, xc, h, w normalised to the net input.
    original_sizes: N pairs (height, width) of the frames before resizing (the net input was stretched
        to a square, so each axis scales back on its own).
    confidence_threshold: minimum sigmoid score kept; lower finds more partly hidden people and more
        false boxes. nms_iou_threshold: see `nms`. min_width / min_height: in original pixels, applied
        before NMS (as Savant's selector does) so a dropped box cannot suppress another.
    max_detections: cap per image, highest scores first.
    """
    box_encodings = np.asarray(box_encodings, dtype=np.float32)
    class_logits = np.asarray(class_logits, dtype=np.float32)
    if box_encodings.ndim != 3 or box_encodings.shape[2] != 4:
        raise ValueError(f"box_encodings must be (N, A, 4), got {box_encodings.shape}")
    if class_logits.shape[:2] != box_encodings.shape[:2]:
        raise ValueError(f"class_logits must be {box_encodings.shape[:2]} + (classes,), "
                         f"got {class_logits.shape}")
    if anchors.shape != (box_encodings.shape[1], 4):
        raise ValueError(f"anchors must be ({box_encodings.shape[1]}, 4), got {anchors.shape}")
    if len(original_sizes) != box_encodings.shape[0]:
        raise ValueError(f"got {len(original_sizes)} original sizes for a batch of {box_encodings.shape[0]}")
    results = []
    for encodings, logits, (height, width) in zip(box_encodings, class_logits, original_sizes, strict=True):
        scores = sigmoid(logits[:, 1:])
        anchor_idx, class_idx = np.nonzero(scores >= confidence_threshold)
        confidence = scores[anchor_idx, class_idx]
        boxes = decode_boxes(encodings[anchor_idx], anchors[anchor_idx], scale_factors)
        clipped = np.clip(boxes, 0.0, 1.0)
        size = np.array([height, width, height, width], dtype=np.float32)
        pixels = clipped * size  # ymin, xmin, ymax, xmax in original pixels
        box_w, box_h = pixels[:, 3] - pixels[:, 1], pixels[:, 2] - pixels[:, 0]
        big_enough = (box_w >= min_width) & (box_h >= min_height) & (box_w > 0) & (box_h > 0)
        candidates = np.flatnonzero(big_enough)
        # NMS on the unclipped boxes as the source graph does (x1, y1, x2, y2 order for our nms).
        keep = candidates[batched_nms(boxes[candidates][:, [1, 0, 3, 2]], confidence[candidates],
                                      class_idx[candidates], nms_iou_threshold, max_detections)]
        results.append(Detections(xyxy=pixels[keep][:, [1, 0, 3, 2]], confidence=confidence[keep],
                                  class_id=class_idx[keep]))
    return results
