"""`TrackStream`: every camera frame's tracked rows with their embeddings, in processing order.

The pipeline's expensive part (decode, detect, track, embed) does not depend on the fusion settings,
so it runs once and is recorded here; each fusion setting then replays the same stream (see
`replay`). `StreamRecorder` is the `FrameObserver` that records a real run.

Layout (column arrays, one row per tracked box, frames in the order the pipeline processed them):

    camera_ids      tuple of the site's camera ids; frames refer to them by position
    frame_camera    (F,) int16   camera position of each frame
    frame_index     (F,) int64   0-based `Frame.index` (outputs write index + 1)
    frame_pts       (F,) float64 `Frame.pts_seconds`, the site clock
    frame_start     (F + 1,) int64 rows of frame f are rows[frame_start[f]:frame_start[f + 1]]
    xyxy            (R, 4) float32 box corners in pixels
    confidence      (R,) float32
    tracker_id      (R,) int64   the camera tracker's id (the GT id in an oracle stream)
    quality         (R,) float32 embedding quality, 0 where the row has no fresh embedding
    embedding_row   (R,) int64   row of `embeddings` holding this row's fresh embedding, or -1
    embeddings      (E, D) float32 the fresh embeddings (unit rows)
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from pyuniproc.types import Detections, Frame

EMBEDDING = "embedding"
EMBEDDING_QUALITY = "embedding_quality"


@dataclass(frozen=True)
class StreamFrame:
    """One frame of a `TrackStream`, rebuilt as the pipeline had it after the ReID stage."""

    camera_id: str
    index: int
    pts_seconds: float
    tracks: Detections


@dataclass(frozen=True)
class TrackStream:
    camera_ids: tuple[str, ...]
    frame_camera: np.ndarray
    frame_index: np.ndarray
    frame_pts: np.ndarray
    frame_start: np.ndarray
    xyxy: np.ndarray
    confidence: np.ndarray
    tracker_id: np.ndarray
    quality: np.ndarray
    embedding_row: np.ndarray
    embeddings: np.ndarray
    meta: dict[str, Any]

    def __post_init__(self) -> None:
        frames, rows = len(self.frame_camera), len(self.xyxy)
        for name, value, shape in (
            ("frame_index", self.frame_index, (frames,)),
            ("frame_pts", self.frame_pts, (frames,)),
            ("frame_start", self.frame_start, (frames + 1,)),
            ("xyxy", self.xyxy, (rows, 4)),
            ("confidence", self.confidence, (rows,)),
            ("tracker_id", self.tracker_id, (rows,)),
            ("quality", self.quality, (rows,)),
            ("embedding_row", self.embedding_row, (rows,)),
        ):
            if value.shape != shape:
                raise ValueError(f"TrackStream.{name} must have shape {shape}, got {value.shape}")
        if frames and int(self.frame_start[-1]) != rows:
            raise ValueError(f"TrackStream.frame_start ends at {int(self.frame_start[-1])}, expected {rows}")
        if self.embeddings.ndim != 2:
            raise ValueError(f"TrackStream.embeddings must be (E, D), got shape {self.embeddings.shape}")

    def __len__(self) -> int:
        return len(self.frame_camera)

    @property
    def rows(self) -> int:
        return len(self.xyxy)

    def frames(self) -> Iterator[StreamFrame]:
        """Each frame with its `Detections` (embedding columns as the ReID stage writes them)."""
        dim = self.embeddings.shape[1]
        for f in range(len(self)):
            a, b = int(self.frame_start[f]), int(self.frame_start[f + 1])
            rows = self.embedding_row[a:b]
            embedding = np.full((b - a, dim), np.nan, np.float32)
            fresh = rows >= 0
            embedding[fresh] = self.embeddings[rows[fresh]]
            tracks = Detections(
                xyxy=self.xyxy[a:b],
                confidence=self.confidence[a:b],
                class_id=np.zeros(b - a, np.int32),
                tracker_id=self.tracker_id[a:b],
                data={EMBEDDING: embedding, EMBEDDING_QUALITY: self.quality[a:b]},
            )
            yield StreamFrame(
                self.camera_ids[int(self.frame_camera[f])],
                int(self.frame_index[f]),
                float(self.frame_pts[f]),
                tracks,
            )

    def last_frame_of_cameras(self) -> dict[int, int]:
        """Position (in processing order) of each camera's last frame: where its end of stream goes."""
        last: dict[int, int] = {}
        for f, camera in enumerate(self.frame_camera.tolist()):
            last[camera] = f
        return last

    def camera_rows(self, camera_id: str) -> np.ndarray:
        """(n, 6) rows frame (1-based), tracker id, x, y, w, h of one camera: its per-camera tracks."""
        position = self.camera_ids.index(camera_id)
        frames = np.flatnonzero(self.frame_camera == position)
        counts = self.frame_start[frames + 1] - self.frame_start[frames]
        rows = (
            np.concatenate([np.arange(self.frame_start[f], self.frame_start[f + 1]) for f in frames])
            if len(frames)
            else np.zeros(0, np.int64)
        )
        boxes = self.xyxy[rows].astype(np.float64)
        return np.column_stack(
            [
                np.repeat(self.frame_index[frames] + 1, counts).astype(np.float64),
                self.tracker_id[rows].astype(np.float64),
                boxes[:, 0],
                boxes[:, 1],
                boxes[:, 2] - boxes[:, 0],
                boxes[:, 3] - boxes[:, 1],
            ]
        ).reshape(-1, 6)

    # ---- files -------------------------------------------------------------------------------------

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write to one .npz file (exact: a replay of the loaded stream gives the same ids)."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "wb") as f:
            np.savez_compressed(
                f,
                camera_ids=np.array(self.camera_ids),
                frame_camera=self.frame_camera,
                frame_index=self.frame_index,
                frame_pts=self.frame_pts,
                frame_start=self.frame_start,
                xyxy=self.xyxy,
                confidence=self.confidence,
                tracker_id=self.tracker_id,
                quality=self.quality,
                embedding_row=self.embedding_row,
                embeddings=self.embeddings.astype(np.float32),
                meta=np.array(json.dumps(self.meta)),
            )
        return path

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> TrackStream:
        with np.load(path, allow_pickle=False) as z:
            return cls(
                camera_ids=tuple(str(c) for c in z["camera_ids"]),
                frame_camera=z["frame_camera"],
                frame_index=z["frame_index"],
                frame_pts=z["frame_pts"],
                frame_start=z["frame_start"],
                xyxy=z["xyxy"],
                confidence=z["confidence"],
                tracker_id=z["tracker_id"],
                quality=z["quality"],
                embedding_row=z["embedding_row"],
                embeddings=z["embeddings"].astype(np.float32),
                meta=json.loads(str(z["meta"])),
            )


class StreamRecorder:
    """A pipeline `FrameObserver` that records each frame's tracked rows and fresh embeddings.

    Called from the pipeline thread; appending a few arrays costs microseconds. `stream()` builds the
    `TrackStream` at the end.
    """

    def __init__(self, camera_ids: Sequence[str], meta: dict[str, Any] | None = None) -> None:
        self.camera_ids = tuple(camera_ids)
        self.meta = dict(meta or {})
        self._position = {camera_id: i for i, camera_id in enumerate(self.camera_ids)}
        self._frames: list[tuple[int, int, float]] = []
        self._rows: list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]] = []
        self._embeddings: list[np.ndarray] = []
        self._embedding_rows: list[np.ndarray] = []
        self._n_embeddings = 0
        self.dimension = 0

    def on_frame(self, frame: Frame, tracks: Detections, events: list[dict[str, Any]] | None = None) -> None:
        self.record(frame.camera_id, frame.index, frame.pts_seconds, tracks)

    def on_summary(self, summary: dict[str, Any]) -> None:
        pass

    def record(self, camera_id: str, index: int, pts_seconds: float, tracks: Detections) -> None:
        keep = np.flatnonzero(tracks.tracker_id >= 0)
        self._frames.append((self._position[camera_id], int(index), float(pts_seconds)))
        quality = tracks.data.get(EMBEDDING_QUALITY)
        quality = np.zeros(len(tracks), np.float32) if quality is None else np.asarray(quality, np.float32)
        embedding = tracks.data.get(EMBEDDING)
        rows = np.full(len(keep), -1, np.int64)
        q = quality[keep].copy()
        if embedding is not None and len(keep):
            vectors = np.asarray(embedding, np.float32)[keep]
            self.dimension = vectors.shape[1]
            fresh = np.isfinite(vectors).all(axis=1) & (q > 0)
            q[~fresh] = 0.0
            n = int(fresh.sum())
            if n:
                rows[fresh] = np.arange(self._n_embeddings, self._n_embeddings + n)
                self._embeddings.append(vectors[fresh])
                self._n_embeddings += n
        else:
            q[:] = 0.0
        self._rows.append(
            (
                tracks.xyxy[keep].astype(np.float32),
                tracks.confidence[keep].astype(np.float32),
                tracks.tracker_id[keep].astype(np.int64),
                q,
            )
        )
        self._embedding_rows.append(rows)

    def stream(self) -> TrackStream:
        counts = np.array([len(r[0]) for r in self._rows], np.int64)
        frames = np.array(self._frames, dtype=object).reshape(-1, 3)

        def cat(i: int, shape: tuple[int, ...], dtype: Any) -> np.ndarray:
            parts = [r[i] for r in self._rows]
            return np.concatenate(parts).astype(dtype) if parts else np.zeros(shape, dtype)

        dim = self.dimension or 1
        return TrackStream(
            camera_ids=self.camera_ids,
            frame_camera=frames[:, 0].astype(np.int16),
            frame_index=frames[:, 1].astype(np.int64),
            frame_pts=frames[:, 2].astype(np.float64),
            frame_start=np.concatenate([[0], np.cumsum(counts)]).astype(np.int64),
            xyxy=cat(0, (0, 4), np.float32).reshape(-1, 4),
            confidence=cat(1, (0,), np.float32),
            tracker_id=cat(2, (0,), np.int64),
            quality=cat(3, (0,), np.float32),
            embedding_row=np.concatenate(self._embedding_rows).astype(np.int64)
            if self._embedding_rows
            else np.zeros(0, np.int64),
            embeddings=np.concatenate(self._embeddings)
            if self._embeddings
            else np.zeros((0, dim), np.float32),
            meta=self.meta,
        )
