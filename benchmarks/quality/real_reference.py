"""What the detectors score on real people in real vtest.avi frames: the yardstick for the scenario.

GT-like boxes come from the sprite extractor's own foreground analysis (pyuniproc.scenario.extract):
in every `--every`-th frame, blobs that pass its "clean single upright person" test (height model,
shape, clear of other blobs, not at the border). Each is scored like detector_scores.py: the best
detector score on the box at IoU >= 0.5. Three framings of the same real pixels:

    full 768x576      the camera as recorded (4:3)
    crop 640x360      a 16:9 window at scale 1 (rows 216-575, columns 64-703): the scenario's frame size
    crop 640x360 x0.83  the whole width squeezed into 640x360 as the widest scenario crop does

    python benchmarks/quality/real_reference.py --detector ssdlite
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import cv2
import numpy as np

from pyuniproc.detect import DEFAULT_MODEL_DIR, box_iou, create_detector
from pyuniproc.scenario import extract
from pyuniproc.scenario.sprites import DEFAULT_VIDEO

KINDS = {"ssdlite": "ssdlite_pedestrian", "nanodet": "nanodet_coco"}


def clean_boxes(video: Path, every: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """(frame RGB, (n, 4) xyxy boxes of clean single people) for every `every`-th frame."""
    _, anchors, medians = extract._median_backgrounds(video)
    per_frame, images = [], {}
    for i, image in extract._decode(video):
        background = medians[int(np.argmin([abs(a + 50 - i) for a in anchors]))]
        per_frame.append(extract._foreground_blobs(image, background))
        if i % every == 0:
            images[i] = image
    upright = np.array([b.box for blobs in per_frame for b in blobs if b.upright])
    k, y0 = extract._fit_height_model(upright)
    out = []
    for i, image in images.items():
        boxes = [b.box for j, b in enumerate(per_frame[i]) if extract._is_clean(per_frame, i, j, k, y0)]
        if boxes:
            out.append((image, np.array(boxes, np.float32)))
    return out


def score(detector, image: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    dets = detector.detect([image])[0]
    if not len(dets) or not len(boxes):
        return np.zeros(len(boxes))
    iou = box_iou(boxes, dets.xyxy)
    return np.where(iou >= 0.5, dets.confidence[None, :], 0.0).max(axis=1)


def framings(image: np.ndarray, boxes: np.ndarray):
    yield "full 768x576", image, boxes
    crop = np.ascontiguousarray(image[216:576, 64:704])
    shifted = boxes - np.array([64, 216, 64, 216], np.float32)
    inside = (shifted[:, 0] >= 0) & (shifted[:, 1] >= 0) & (shifted[:, 2] <= 640) & (shifted[:, 3] <= 360)
    yield "crop 640x360", crop, shifted[inside]
    s = 640 / 768
    top = 576 - 432
    squeezed = cv2.resize(image[top:], (640, 360), interpolation=cv2.INTER_AREA)
    moved = (boxes - np.array([0, top, 0, top], np.float32)) * s
    yield "crop 640x360 x0.83", squeezed, moved[boxes[:, 1] >= top]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--detector", choices=sorted(KINDS), default="ssdlite")
    parser.add_argument("--every", type=int, default=4)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    detector = create_detector(KINDS[args.detector], model_dir=DEFAULT_MODEL_DIR, confidence_threshold=0.02)
    scores: dict[str, list] = {}
    heights: dict[str, list] = {}
    for image, boxes in clean_boxes(DEFAULT_VIDEO, args.every):
        for name, im, b in framings(image, boxes):
            if len(b):
                scores.setdefault(name, []).extend(score(detector, im, b))
                heights.setdefault(name, []).extend(b[:, 3] - b[:, 1])
    result = {}
    print(f"detector {args.detector}: real vtest people (clean single-person blobs)")
    print(f"{'framing':>20} {'n':>5} {'height':>7} {'mean':>6} {'median':>6} {'r@0.3':>6} {'r@0.5':>6}")
    for name, values in scores.items():
        s = np.array(values)
        r = {"n": len(s), "median_height": float(np.median(heights[name])), "mean": float(s.mean()),
             "median": float(np.median(s)), "recall@0.3": float((s >= 0.3).mean()),
             "recall@0.5": float((s >= 0.5).mean())}
        result[name] = r
        print(f"{name:>20} {r['n']:>5} {r['median_height']:>7.0f} {r['mean']:>6.3f} {r['median']:>6.3f} "
              f"{r['recall@0.3']:>6.3f} {r['recall@0.5']:>6.3f}")
    if args.json:
        args.json.write_text(json.dumps({"detector": args.detector, "results": result}, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
