"""Per-track appearance: a small bounded gallery of embeddings and its quality-weighted mean.

One embedding is a noisy view (a step, a turned head, a passing neighbour); the track's descriptor
is the quality-weighted mean of several, which fusion compares across cameras. The gallery is
bounded (memory and the cost of the mean stay constant over a long track) and kept diverse: when
full, the most similar pair of views is found and its lower-quality member is dropped, so the
gallery spans the track's appearances (front, side, under different light) instead of filling up
with near-copies of the longest pose. Galleries are dropped when their track ends.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from pyuniproc.reid.onnx_embedder import l2_normalise

_MIN_WEIGHT = np.float32(1e-3)
"""Weight of a zero-quality view: it still counts a little, so a gallery of only poor views has a mean."""


class TrackGallery:
    """Up to `max_size` unit embeddings of one track, with quality and frame of each.

    max_size: views kept. More views average out more noise and span more poses, at D * 4 bytes each
        (5 KB for D = 1280) and a slower `add` (pairwise similarities, O(max_size^2 * D)).
    """

    def __init__(self, dimension: int, *, max_size: int = 8) -> None:
        if max_size < 1:
            raise ValueError(f"max_size must be >= 1, got {max_size!r}")
        if dimension < 1:
            raise ValueError(f"dimension must be >= 1, got {dimension!r}")
        self.max_size = max_size
        self.embeddings = np.zeros((0, dimension), dtype=np.float32)
        self.qualities = np.zeros(0, dtype=np.float32)
        self.frames = np.zeros(0, dtype=np.int64)
        self.total_added = 0
        self._descriptor: np.ndarray | None = None

    def __len__(self) -> int:
        return int(self.embeddings.shape[0])

    @property
    def last_frame(self) -> int:
        """Frame index of the newest view, -1 when empty."""
        return int(self.frames.max()) if len(self) else -1

    def add(self, embedding: np.ndarray, quality: float, frame_index: int) -> None:
        """Add one view; when over `max_size`, drop the lower-quality member of the most similar pair."""
        vector = l2_normalise(np.asarray(embedding, dtype=np.float32).reshape(1, -1))
        if vector.shape[1] != self.embeddings.shape[1]:
            raise ValueError(f"embedding must have {self.embeddings.shape[1]} values, got {vector.shape[1]}")
        if not 0.0 <= quality <= 1.0:
            raise ValueError(f"quality must be in [0, 1], got {quality!r}")
        self.embeddings = np.concatenate([self.embeddings, vector])
        self.qualities = np.append(self.qualities, np.float32(quality))
        self.frames = np.append(self.frames, np.int64(frame_index))
        self.total_added += 1
        if len(self) > self.max_size:
            self._drop(self._most_redundant())
        self._descriptor = None

    def descriptor(self) -> np.ndarray | None:
        """(D,) float32 unit vector: quality-weighted mean of the views; None while empty."""
        if not len(self):
            return None
        if self._descriptor is None:
            weights = np.maximum(self.qualities, _MIN_WEIGHT)
            mean = (weights[:, None] * self.embeddings).sum(axis=0) / weights.sum()
            self._descriptor = l2_normalise(mean[None])[0]
        return self._descriptor

    def _most_redundant(self) -> int:
        """Row to drop: of the two most similar views, the lower-quality one (the older on a tie)."""
        similarity = self.embeddings @ self.embeddings.T
        np.fill_diagonal(similarity, -np.inf)
        i, j = np.unravel_index(int(np.argmax(similarity)), similarity.shape)
        key_i, key_j = (self.qualities[i], self.frames[i]), (self.qualities[j], self.frames[j])
        return int(i if key_i <= key_j else j)

    def _drop(self, row: int) -> None:
        keep = np.arange(len(self)) != row
        self.embeddings = self.embeddings[keep]
        self.qualities = self.qualities[keep]
        self.frames = self.frames[keep]


class GalleryBank:
    """The galleries of every (camera, track): one dict per camera, dropped at end of stream.

    max_size: views per track (see `TrackGallery`).
    forget_after_frames: a track whose newest view is older than this many frames of its camera is
        forgotten on the camera's next `add`, even if nobody called `end_tracks` (bounded memory).
    """

    def __init__(self, dimension: int, *, max_size: int = 8, forget_after_frames: int = 600) -> None:
        if forget_after_frames < 1:
            raise ValueError(f"forget_after_frames must be >= 1, got {forget_after_frames!r}")
        TrackGallery(dimension, max_size=max_size)  # validates both arguments
        self.dimension = dimension
        self.max_size = max_size
        self.forget_after_frames = forget_after_frames
        self._cameras: dict[str, dict[int, TrackGallery]] = {}

    def add(self, camera_id: str, track_ids: np.ndarray, embeddings: np.ndarray, qualities: np.ndarray,
            frame_index: int) -> None:
        """Add one frame's fresh embeddings: row i of `embeddings` (k, D) belongs to track_ids[i]."""
        ids = np.asarray(track_ids, dtype=np.int64).reshape(-1)
        vectors = np.asarray(embeddings, dtype=np.float32)
        if vectors.shape != (ids.shape[0], self.dimension):
            raise ValueError(f"embeddings must be ({ids.shape[0]}, {self.dimension}), got {vectors.shape}")
        scores = np.asarray(qualities, dtype=np.float32).reshape(-1)
        if scores.shape[0] != ids.shape[0]:
            raise ValueError(f"qualities must have {ids.shape[0]} rows like track_ids, got {scores.shape[0]}")
        galleries = self._cameras.setdefault(camera_id, {})
        for track_id, vector, quality in zip(ids.tolist(), vectors, scores.tolist(), strict=True):
            gallery = galleries.get(track_id)
            if gallery is None:
                gallery = galleries[track_id] = TrackGallery(self.dimension, max_size=self.max_size)
            gallery.add(vector, quality, frame_index)
        idle = [t for t, g in galleries.items() if frame_index - g.last_frame > self.forget_after_frames]
        for track_id in idle:
            del galleries[track_id]

    def gallery(self, camera_id: str, track_id: int) -> TrackGallery | None:
        return self._cameras.get(camera_id, {}).get(int(track_id))

    def descriptor(self, camera_id: str, track_id: int) -> np.ndarray | None:
        """(D,) unit appearance descriptor of the track; None if it has no embedding yet."""
        gallery = self.gallery(camera_id, track_id)
        return None if gallery is None else gallery.descriptor()

    def descriptors(self, camera_id: str) -> tuple[np.ndarray, np.ndarray]:
        """All of the camera's descriptors: (m,) int64 track ids and (m, D) float32 unit rows."""
        galleries = self._cameras.get(camera_id, {})
        ids = np.asarray(sorted(galleries), dtype=np.int64)
        rows = [galleries[t].descriptor() for t in ids.tolist()]
        return ids, np.asarray(rows, dtype=np.float32).reshape(len(ids), self.dimension)

    def end_tracks(self, camera_id: str, track_ids: Iterable[int]) -> None:
        """Drop the galleries of tracks the tracker has ended."""
        galleries = self._cameras.get(camera_id)
        if galleries is not None:
            for track_id in track_ids:
                galleries.pop(int(track_id), None)

    def drop_camera(self, camera_id: str) -> None:
        """End of stream: drop every gallery of the camera."""
        self._cameras.pop(camera_id, None)

    def track_count(self, camera_id: str | None = None) -> int:
        """Galleries held for one camera, or for all cameras."""
        if camera_id is not None:
            return len(self._cameras.get(camera_id, {}))
        return sum(len(g) for g in self._cameras.values())
