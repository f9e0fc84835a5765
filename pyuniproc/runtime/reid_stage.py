"""The ReID step of the embedded runtime: which tracked people to embed, one batched inference for
all frames of a detector batch, and the fresh embeddings attached to the tracks.

In Savant the `nvinfer@attribute_model` element embeds every object; here the quality gate and
the per-camera schedule pick the crops worth the cost (good size, not occluded, not cut by the
frame edge, not embedded in the last few frames), so the cost per frame stays bounded.
Writes `data["embedding"]` (n, D) float32 (NaN rows where not embedded this frame) and
`data["embedding_quality"]` (n,) float32 — the contract `pyuniproc.fusion` reads.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from pyuniproc.reid import EmbedScheduler, QualityGate, crop_boxes
from pyuniproc.types import Detections, Frame

EMBEDDING = "embedding"
EMBEDDING_QUALITY = "embedding_quality"


@dataclass
class ReidStats:
    crops_embedded: int = 0
    batches: int = 0


class ReidStage:
    def __init__(self, embedder: Any, *, gate: QualityGate | None = None,
                 scheduler: EmbedScheduler | None = None):
        self.embedder = embedder
        self.gate = gate or QualityGate()
        self.scheduler = scheduler or EmbedScheduler()
        self.stats = ReidStats()

    def process(self, frames: list[Frame], tracks: list[Detections]) -> list[Detections]:
        """Embed the scheduled crops of every frame in one inference; returns the tracks with the
        embedding columns added (same order as given)."""
        crops: list[np.ndarray] = []
        picks: list[tuple[int, np.ndarray, np.ndarray]] = []  # (frame position, rows, quality of rows)
        for position, (frame, frame_tracks) in enumerate(zip(frames, tracks, strict=True)):
            if not len(frame_tracks):
                continue
            good, quality = self.gate.assess(frame_tracks.xyxy, frame_tracks.confidence,
                                             (frame.height, frame.width))
            rows = self.scheduler.select(frame.camera_id, frame.index, frame_tracks.tracker_id, good, quality)
            if len(rows):
                crops.extend(crop_boxes(frame.image, frame_tracks.xyxy[rows]))
                picks.append((position, rows, quality[rows]))
        vectors = self.embedder.embed(crops) if crops else None
        if vectors is not None:
            self.stats.crops_embedded += len(crops)
            self.stats.batches += 1
        dimension = int(self.embedder.dimension)
        out = []
        offset = 0
        chosen = {position: (rows, quality) for position, rows, quality in picks}
        for position, frame_tracks in enumerate(tracks):
            embedding = np.full((len(frame_tracks), dimension), np.nan, np.float32)
            weights = np.zeros(len(frame_tracks), np.float32)
            if position in chosen:
                rows, quality = chosen[position]
                embedding[rows] = vectors[offset:offset + len(rows)]
                weights[rows] = quality
                offset += len(rows)
            data = {**frame_tracks.data, EMBEDDING: embedding, EMBEDDING_QUALITY: weights}
            out.append(Detections(frame_tracks.xyxy, frame_tracks.confidence, frame_tracks.class_id,
                                  frame_tracks.tracker_id, data))
        return out

    def end_camera(self, camera_id: str) -> None:
        self.scheduler.drop_camera(camera_id)
