"""Per-camera tracking and the ReID choice of the GPU path: which tracked people to embed this frame.

The CPU runtime (`pyuniproc.runtime.reid_stage`) embeds a track only when its crop is good
(`pyuniproc.reid.QualityGate`) and it is due (`pyuniproc.reid.EmbedScheduler`: not embedded for
`refresh_frames` frames, at most `max_crops_per_frame` per camera and frame, most stale first). The GPU
path makes the same choice with the same two objects, so both runtimes embed the same tracks: the
detections of a batch come back to the host, each camera's ByteTrack updates in frame order, the gate and
the schedule pick rows, and only those boxes are cropped and embedded on the GPU (`BatchEngine.embed_rows`).

Why tracking runs in the GPU process (no longer in separate tracking processes): the choice needs track
ids before the embed step, and a round trip through other processes per batch would add latency and hold
frames on the GPU longer. The GIL is no longer one for all cameras: `pyuniproc.gpu.shards` splits the
cameras over several processes, each with its own decoders, batches and trackers.

`RECORD_FIELDS` are the per-frame timestamps the benchmark reads; all clocks are `time.perf_counter`
(CLOCK_MONOTONIC on Linux, shared by every process), so latencies can be compared across processes.
"""

from __future__ import annotations

import inspect
from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

import numpy as np

from pyuniproc.reid import EmbedScheduler, QualityGate
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


@dataclass(frozen=True)
class ReidSelection:
    """The ReID settings of the module YAML (`parameters.reid`), split as `pyuniproc.runtime.build` splits
    them: gate thresholds for `QualityGate`, schedule settings for `EmbedScheduler`. The names are read off
    the two classes (not imported from the runtime, whose config layer needs packages the GPU machine
    lacks)."""

    gate: Mapping[str, Any]
    schedule: Mapping[str, Any]

    @classmethod
    def from_module(cls, selection: Mapping[str, Any]) -> ReidSelection:
        gate_options = {f.name for f in fields(QualityGate)}
        schedule_options = set(inspect.signature(EmbedScheduler).parameters)
        unknown = sorted(set(selection) - gate_options - schedule_options)
        if unknown:
            raise ValueError(
                f"unknown ReID settings {unknown}; known: {sorted(gate_options | schedule_options)}"
            )
        return cls(
            gate={k: v for k, v in selection.items() if k in gate_options},
            schedule={k: v for k, v in selection.items() if k in schedule_options},
        )


class TrackingStage:
    """One tracker per camera (created on its first frame) and, with `selection`, the embed choice.

    tracker_kind / tracker_options: as `pyuniproc.track.create_tracker` takes them.
    selection: gate and schedule settings; None tracks only (`update` then chooses no rows).
    Not thread-safe: the pipeline calls it from one thread at a time, in each camera's frame order.
    """

    def __init__(
        self,
        *,
        tracker_kind: str = "bytetrack",
        tracker_options: Mapping[str, Any] | None = None,
        selection: ReidSelection | None = None,
    ) -> None:
        self.tracker_kind = tracker_kind
        self.tracker_options = dict(tracker_options or {})
        create_tracker(tracker_kind, **self.tracker_options)  # bad settings fail here, not per frame
        self.selection = selection
        self.gate = QualityGate(**selection.gate) if selection else None
        self.scheduler = EmbedScheduler(**selection.schedule) if selection else None
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
        if self.scheduler is None or self.gate is None or not len(tracks):
            return tracks, np.zeros(0, np.int64), np.zeros(0, np.float32)
        good, quality = self.gate.assess(tracks.xyxy, tracks.confidence, frame_size)
        rows = self.scheduler.select(str(camera), index, tracks.tracker_id, good, quality)
        return tracks, rows, quality[rows]

    def end_camera(self, camera: int) -> None:
        """End of stream: forget the camera's tracker and schedule."""
        self._trackers.pop(camera, None)
        if self.scheduler is not None:
            self.scheduler.drop_camera(str(camera))

    @property
    def cameras(self) -> list[int]:
        return sorted(self._trackers)
