"""Per-camera tracking and the ReID choice of the GPU backend: which tracked people to embed this frame.

The choice is the one step both backends call, `pyuniproc.reid.selection.EmbedSelection.choose` (the
quality gate, then the per-camera embed schedule), so the CPU runtime and the GPU backend embed the same
tracks; the trackers are built like the runtime's (`pyuniproc.track.create_tracker` with the module's
`parameters.tracker`, one per camera id). Here the detections of a batch come back to the host, each
camera's tracker updates in frame order, the selection picks rows, and only those boxes are cropped and
embedded on the GPU (`BatchEngine.embed_rows`); `attach_embeddings` writes them as float32.

Why tracking runs in the GPU process (no longer in separate tracking processes): the choice needs track
ids before the embed step, and a round trip through other processes per batch would add latency and hold
frames on the GPU longer. The GIL is no longer one for all cameras: `pyuniproc.gpu.shards` splits the
cameras over several processes, each with its own decoders, batches and trackers.

`RECORD_FIELDS` are the per-frame timestamps the benchmark reads; all clocks are `time.perf_counter`
(CLOCK_MONOTONIC on Linux, shared by every process), so latencies can be compared across processes.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from pyuniproc.reid.selection import EmbedSelection
from pyuniproc.track import create_tracker
from pyuniproc.types import Detections

REID_MODES = ("scheduled", "all", "off")
"""scheduled: the CPU path's gate + schedule pick the tracks to embed (the runtime's behaviour);
all: every detection of every frame is embedded (the upper bound of ReID work); off: no ReID."""

RECORD_FIELDS = (
    "stream",
    "index",
    "due",
    "decoded",
    "decode_ms",
    "formed",
    "inferred",
    "tracked",
    "detections",
    "tracks",
    "embedded",
)
"""Columns of a frame record: camera, frame index, due time (paced runs; else when decoding began), time the
frame left the decoder, decode time, time its batch was formed, time the batch's boxes reached the host,
time its tracks (and their embeddings) were done, number of detections, of tracks and of crops embedded."""


class TrackingStage:
    """One tracker per camera (created on its first frame) and, with `selection`, the embed choice.

    tracker_kind / tracker_options: as `pyuniproc.track.create_tracker` takes them.
    selection: `parameters.reid` of the module (flat gate and schedule settings, as
    `EmbedSelection.from_settings` takes them); None tracks only (`update` then chooses no rows).
    Not thread-safe: the pipeline calls it from one thread at a time, in each camera's frame order.
    """

    def __init__(
        self,
        *,
        tracker_kind: str = "bytetrack",
        tracker_options: Mapping[str, Any] | None = None,
        selection: Mapping[str, Any] | None = None,
    ) -> None:
        self.tracker_kind = tracker_kind
        self.tracker_options = dict(tracker_options or {})
        create_tracker(tracker_kind, **self.tracker_options)  # bad settings fail here, not per frame
        self.selection = EmbedSelection.from_settings(selection) if selection is not None else None
        self._trackers: dict[int, Any] = {}

    def update(
        self, camera: int, index: int, detections: Detections, frame_size: tuple[int, int]
    ) -> tuple[Detections, np.ndarray, np.ndarray]:
        """Track one frame of `camera`; returns (tracks, rows of `tracks` to embed now, their quality).

        index: the camera's frame index (the schedule's clock). frame_size: (height, width)."""
        tracker = self._trackers.get(camera)
        if tracker is None:
            tracker = self._trackers[camera] = create_tracker(self.tracker_kind, **self.tracker_options)
        tracks = tracker.update(detections)
        if self.selection is None:
            return tracks, np.zeros(0, np.int64), np.zeros(0, np.float32)
        rows, quality = self.selection.choose(str(camera), index, tracks, frame_size)
        return tracks, rows, quality

    def end_camera(self, camera: int) -> None:
        """End of stream: forget the camera's tracker and schedule."""
        self._trackers.pop(camera, None)
        if self.selection is not None:
            self.selection.end_camera(str(camera))

    @property
    def cameras(self) -> list[int]:
        return sorted(self._trackers)
