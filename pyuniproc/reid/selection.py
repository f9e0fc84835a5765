"""Which tracked people to embed this frame and how fresh embeddings are attached: one step, every backend.

The CPU runtime (`pyuniproc.runtime.reid_stage`) and the GPU backend (`pyuniproc.gpu.tracking`) both call
`EmbedSelection.choose` after a camera's tracker has run, embed the rows it returns on their own device, and
hand the vectors to `attach_embeddings`, so both embed the same tracks and write the same columns:
`data["embedding"]` (n, D) **float32** (NaN rows where not embedded this frame) and
`data["embedding_quality"]` (n,) float32 - the contract `pyuniproc.fusion` reads. A backend may run its
network in fp16; the boundary is float32.

The settings are `parameters.reid` of the module YAML: quality-gate thresholds (`QualityGate`) and schedule
settings (`EmbedScheduler`), one flat mapping split here by name.
"""

from __future__ import annotations

import inspect
from collections.abc import Mapping
from dataclasses import fields
from typing import Any

import numpy as np

from pyuniproc.reid.quality import QualityGate
from pyuniproc.reid.schedule import EmbedScheduler
from pyuniproc.types import Detections

EMBEDDING = "embedding"
EMBEDDING_QUALITY = "embedding_quality"
GATE_OPTIONS = tuple(f.name for f in fields(QualityGate))
SCHEDULE_OPTIONS = tuple(inspect.signature(EmbedScheduler).parameters)


class EmbedSelection:
    """The quality gate and the per-camera embed schedule, applied to one camera's tracks at a time.

    Not thread-safe: call it from one thread at a time, in each camera's frame order."""

    def __init__(self, gate: QualityGate | None = None, scheduler: EmbedScheduler | None = None) -> None:
        self.gate = gate or QualityGate()
        self.scheduler = scheduler or EmbedScheduler()

    @classmethod
    def from_settings(cls, settings: Mapping[str, Any]) -> EmbedSelection:
        """From `parameters.reid` (flat). Raises ValueError naming an unknown or out-of-range setting."""
        unknown = sorted(set(settings) - set(GATE_OPTIONS) - set(SCHEDULE_OPTIONS))
        if unknown:
            raise ValueError(
                f"unknown ReID settings {unknown}; known: {sorted(GATE_OPTIONS + SCHEDULE_OPTIONS)}"
            )
        try:
            return cls(
                QualityGate(**{k: v for k, v in settings.items() if k in GATE_OPTIONS}),
                EmbedScheduler(**{k: v for k, v in settings.items() if k in SCHEDULE_OPTIONS}),
            )
        except TypeError as error:
            raise ValueError(str(error)) from None

    def choose(
        self, camera_id: str, index: int, tracks: Detections, frame_size: tuple[int, int]
    ) -> tuple[np.ndarray, np.ndarray]:
        """Rows of `tracks` to embed now (int64) and their quality (float32), for frame `index` of
        `camera_id`; frame_size is (height, width)."""
        if not len(tracks):
            return np.zeros(0, np.int64), np.zeros(0, np.float32)
        good, quality = self.gate.assess(tracks.xyxy, tracks.confidence, frame_size)
        rows = self.scheduler.select(camera_id, index, tracks.tracker_id, good, quality)
        return np.asarray(rows, np.int64), np.asarray(quality[rows], np.float32)

    def end_camera(self, camera_id: str) -> None:
        """End of stream: forget the camera's schedule."""
        self.scheduler.drop_camera(camera_id)


def attach_embeddings(
    tracks: Detections, rows: np.ndarray, vectors: Any, quality: np.ndarray, dimension: int
) -> Detections:
    """`tracks` with the embedding columns: `vectors` (len(rows), dimension), any float dtype, stored as
    float32 in `rows`, NaN elsewhere; `quality` the weights of those rows, 0 elsewhere."""
    embedding = np.full((len(tracks), dimension), np.nan, np.float32)
    weights = np.zeros(len(tracks), np.float32)
    if len(rows):
        vectors = np.asarray(vectors, np.float32)
        if vectors.shape != (len(rows), dimension):
            raise ValueError(f"embeddings of shape {vectors.shape}, expected {(len(rows), dimension)}")
        embedding[rows] = vectors
        weights[rows] = quality
    data = {**tracks.data, EMBEDDING: embedding, EMBEDDING_QUALITY: weights}
    return Detections(tracks.xyxy, tracks.confidence, tracks.class_id, tracks.tracker_id, data)
