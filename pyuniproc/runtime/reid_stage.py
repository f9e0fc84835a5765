"""The ReID step of the embedded runtime: which tracked people to embed (the shared
`pyuniproc.reid.selection.EmbedSelection`), one batched inference for all frames of a detector batch, and
the fresh embeddings attached to the tracks (`attach_embeddings`). The crops are cut from each frame's RGB
image on the host, or, by an embedder with `embed_frames` (the GPU one), from NV12 frames on the GPU.

In Savant the `nvinfer@attribute_model` element embeds every object; here the quality gate and
the per-camera schedule pick the crops worth the cost (good size, not occluded, not cut by the
frame edge, not embedded in the last few frames), so the cost per frame stays bounded.
Writes `data["embedding"]` (n, D) float32 (NaN rows where not embedded this frame) and
`data["embedding_quality"]` (n,) float32 - the contract `pyuniproc.fusion` reads.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from pyuniproc.reid import crop_boxes
from pyuniproc.reid.selection import EMBEDDING, EMBEDDING_QUALITY, EmbedSelection, attach_embeddings
from pyuniproc.types import Detections, Frame

__all__ = ["EMBEDDING", "EMBEDDING_QUALITY", "ReidStage", "ReidStats"]


@dataclass
class ReidStats:
    crops_embedded: int = 0
    batches: int = 0


class ReidStage:
    def __init__(self, embedder: Any, *, selection: EmbedSelection | None = None):
        self.embedder = embedder
        self.selection = selection or EmbedSelection()
        self.stats = ReidStats()

    @property
    def gate(self):
        return self.selection.gate

    @property
    def scheduler(self):
        return self.selection.scheduler

    def process(self, frames: list[Frame], tracks: list[Detections]) -> list[Detections]:
        """Embed the scheduled crops of every frame in one inference; returns the tracks with the
        embedding columns added (same order as given)."""
        picks: list[tuple[np.ndarray, np.ndarray]] = []  # (rows, quality of rows) per frame
        for frame, frame_tracks in zip(frames, tracks, strict=True):
            picks.append(self.selection.choose(
                frame.camera_id, frame.index, frame_tracks, (frame.height, frame.width)
            ))
        dimension = int(self.embedder.dimension)
        boxes = [frame_tracks.xyxy[rows] for frame_tracks, (rows, _) in zip(tracks, picks, strict=True)]
        count = sum(len(b) for b in boxes)
        if count == 0:
            vectors = np.zeros((0, dimension), dtype=np.float32)
        elif hasattr(self.embedder, "embed_frames"):  # the GPU embedder: NV12 frames cropped on the GPU
            vectors = self.embedder.embed_frames(frames, boxes)
        else:
            vectors = self.embedder.embed([crop for frame, b in zip(frames, boxes, strict=True) if len(b)
                                           for crop in crop_boxes(frame.image, b)])
        if count:
            self.stats.crops_embedded += count
            self.stats.batches += 1
        out = []
        offset = 0
        for frame_tracks, (rows, quality) in zip(tracks, picks, strict=True):
            out.append(attach_embeddings(frame_tracks, rows, vectors[offset:offset + len(rows)], quality,
                                         dimension))
            offset += len(rows)
        return out

    def end_camera(self, camera_id: str) -> None:
        self.selection.end_camera(camera_id)
