"""Is a tracked box's crop good enough to describe the person's appearance?

An embedding of a bad crop does more harm than no embedding: it enters the track's gallery and pulls
its descriptor towards whoever else was in the picture. Generic ImageNet features (our embedder) are
especially sensitive, because they describe the whole crop, background and neighbours included. So a
crop is embedded only when it is big enough, confidently a person, not overlapped by another box
(the other person would be in the crop), not cut by the frame edge (half a person looks like
somebody else) and shaped like a standing person (odd shapes are merged pairs or partial boxes).

Every rule is checked on box geometry alone, so the gate costs microseconds and runs before any pixel
is touched.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True, slots=True)
class QualityGate:
    """Thresholds of the crop-quality gate; `assess` applies them to one frame's boxes.

    min_height: smallest box height in pixels. Crops are scaled to the net input (256 px tall), so a
        48 px person is already upsampled 5x; lower admits blurrier crops (more embeddings of distant
        people, noisier), higher embeds only people near the camera.
    min_confidence: smallest detection confidence; lower admits partial and ambiguous boxes.
    max_overlap: largest fraction of the box's area that another box of the same frame may cover.
        Both people of an overlapping pair are refused: the one behind is hidden, and the one in front
        carries the other's pixels in its crop. Higher embeds people in groups, at the risk of mixing
        their appearances.
    edge_margin: a box closer than this many pixels to a frame border is cut by the edge and refused.
    min_aspect, max_aspect: allowed width / height of the box; standing people are about 0.3-0.5.
    """

    min_height: float = 48.0
    min_confidence: float = 0.5
    max_overlap: float = 0.3
    edge_margin: float = 2.0
    min_aspect: float = 0.2
    max_aspect: float = 0.8

    def __post_init__(self) -> None:
        if self.min_height < 0:
            raise ValueError(f"min_height must be >= 0, got {self.min_height!r}")
        if not 0.0 <= self.min_confidence <= 1.0:
            raise ValueError(f"min_confidence must be in [0, 1], got {self.min_confidence!r}")
        if not 0.0 <= self.max_overlap <= 1.0:
            raise ValueError(f"max_overlap must be in [0, 1], got {self.max_overlap!r}")
        if self.edge_margin < 0:
            raise ValueError(f"edge_margin must be >= 0, got {self.edge_margin!r}")
        if not 0.0 < self.min_aspect <= self.max_aspect:
            raise ValueError(f"need 0 < min_aspect <= max_aspect, "
                             f"got {self.min_aspect!r}, {self.max_aspect!r}")

    def assess(self, xyxy: np.ndarray, confidence: np.ndarray, frame_size: tuple[int, int]
               ) -> tuple[np.ndarray, np.ndarray]:
        """Which boxes of one frame have crops worth embedding, and how good each crop is.

        xyxy: (n, 4) pixel corners of ALL boxes of the frame (occlusion is judged against every one of
            them, so pass the whole frame, not a pre-filtered subset). confidence: (n,).
        frame_size: (height, width) of the frame.
        Returns good: (n,) bool; score: (n,) float32 in [0, 1], 0 where not good, otherwise
        size * confidence * (1 - overlap) with size = min(1, height / (2 * min_height)): the weight a
        crop gets in its track's gallery (bigger, surer, cleaner crops count more).
        """
        boxes = np.asarray(xyxy, dtype=np.float32).reshape(-1, 4)
        conf = np.asarray(confidence, dtype=np.float32).reshape(-1)
        if conf.shape[0] != boxes.shape[0]:
            raise ValueError(f"confidence must have {boxes.shape[0]} rows like xyxy, got {conf.shape[0]}")
        frame_h, frame_w = frame_size
        width, height = boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]
        overlap = overlap_ratio(boxes)
        aspect = width / np.maximum(height, 1e-6)
        margin = self.edge_margin
        inside = ((boxes[:, 0] >= margin) & (boxes[:, 1] >= margin)
                  & (boxes[:, 2] <= frame_w - margin) & (boxes[:, 3] <= frame_h - margin))
        good = ((height >= self.min_height) & (height > 0) & (conf >= self.min_confidence)
                & (overlap <= self.max_overlap) & inside
                & (aspect >= self.min_aspect) & (aspect <= self.max_aspect))
        size = np.minimum(1.0, height / max(2.0 * self.min_height, 1e-6))
        score = np.where(good, size * np.clip(conf, 0.0, 1.0) * (1.0 - overlap), 0.0).astype(np.float32)
        return good, score


def overlap_ratio(xyxy: np.ndarray) -> np.ndarray:
    """(n,) float32: for each box, the largest fraction of its own area covered by one other box.

    Not IoU: a small person standing in front of a big one covers little of the big box (low IoU)
    but most of the small one, and the small one's crop is the one spoiled.
    """
    boxes = np.asarray(xyxy, dtype=np.float32).reshape(-1, 4)
    n = boxes.shape[0]
    if n < 2:
        return np.zeros(n, dtype=np.float32)
    top_left = np.maximum(boxes[:, None, :2], boxes[None, :, :2])
    bottom_right = np.minimum(boxes[:, None, 2:], boxes[None, :, 2:])
    inter = np.prod(np.clip(bottom_right - top_left, 0.0, None), axis=2)
    np.fill_diagonal(inter, 0.0)
    area = np.prod(np.clip(boxes[:, 2:] - boxes[:, :2], 0.0, None), axis=1)
    return (inter.max(axis=1) / np.maximum(area, 1e-6)).astype(np.float32)
