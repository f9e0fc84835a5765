"""The child side of a grouped run (`workers.py`): one process runs the per-camera half of the pipeline
for its group of cameras and sends every processed frame to the parent.

The child runs the very same `Pipeline` (decode threads, round-robin batching, the detector thread,
per-camera trackers, ReID selection and embedding, relink), built from a copy of the module without
fusion and pyfuncs, with `GroupLink` in place of the run's outputs and egress and `SpanRecorder` in
place of its telemetry: nothing is written to the output folder here. Per frame the parent gets the
frame's metadata (its picture only for cameras it records or shows), the tracks with their embedding
columns, and every stage timing the loop measured, which it replays into its own latency tables,
/metrics and traces. Camera health snapshots go up every `STATS_PERIOD_SECONDS` and once more, final,
when a camera ends.

Messages (child -> parent, pickled over a `multiprocessing` pipe):
    ("frame", camera_id, index, pts_seconds, decoded_at, (height, width), image | None, tracks, spans)
    ("stats", {camera_id: snapshot})
    ("end", camera_id, snapshot)
    ("overload", {camera_id: counters})  the overload policy's per-camera counters (frames detected,
                                        predicted, dropped), with every summary the child makes
    ("gpu_memory", {allocated, reserved, peak_reserved} | None)  what torch holds on the child's GPU (MiB),
                                        with every summary
    ("error", text)                     the child failed; it exits with code 1 after sending
Parent -> child: ("stop",) ends the child's run like a SIGINT ends a one-process run (frames in flight
are finished and sent; frames still buffered are counted as dropped, reason "shutdown").
"""

from __future__ import annotations

import itertools
import logging
import os
import signal
import threading
import time
import traceback
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from pyuniproc.types import Detections, Frame

log = logging.getLogger(__name__)

STATS_PERIOD_SECONDS = 0.25  # how often camera health (received, dropped, state) goes up
# stage, start, end (time.monotonic()), frames sharing it, batch id and this frame's place (batch stages)
Span = tuple[str, float, float, int, int | None, int]


@dataclass
class FrameSpans:
    """A frame's stage timings as the loop records them (the child's stand-in for a trace)."""

    spans: list[Span] = field(default_factory=list)
    batch_size: int = 0  # set on one frame per detector batch: the parent observes the batch once

    def stage(self, name: str, start: float, end: float) -> None:
        self.spans.append((name, start, end, 1, None, 0))


class _NoMetrics:
    def __init__(self, recorder: SpanRecorder) -> None:
        self._recorder = recorder

    def observe_batch(self, size: int) -> None:
        self._recorder.pending_batch = size

    def forget_camera(self, camera_id: str) -> None:
        pass

    def camera_added(self, camera_id: str) -> None:
        pass


class SpanRecorder:
    """`Telemetry`'s surface for the child: each frame's "trace" collects its stage spans, which
    travel with the frame; the parent's telemetry records them (no server or exporter here)."""

    url = None

    def __init__(self, group: int = 0) -> None:
        self.metrics = _NoMetrics(self)
        self.pending_batch = 0
        self._batch_ids = itertools.count(group << 40)  # unique across the groups of a run

    def start(self, **_: Any) -> SpanRecorder:
        return self

    def stop(self) -> None:
        pass

    def tick(self) -> None:
        pass

    def start_frame(self, camera_id: str, frame_index: int, decoded_at: float | None = None,
                    **_: Any) -> FrameSpans:
        return FrameSpans()

    def record_stage(self, frame: FrameSpans, camera_id: str, stage: str, start: float, end: float) -> None:
        frame.spans.append((stage, start, end, 1, None, 0))

    def record_batch_stage(self, frames: list[FrameSpans], camera_ids: Any, stage: str, start: float,
                           end: float) -> None:
        batch_id = next(self._batch_ids)
        for position, frame in enumerate(frames):
            frame.spans.append((stage, start, end, len(frames), batch_id, position))
        if self.pending_batch and frames:
            frames[0].batch_size, self.pending_batch = self.pending_batch, 0

    def finish_frame(self, *_: Any, **__: Any) -> None:
        pass


class GroupLink:
    """The child pipeline's outputs and egress in one: frames, camera ends and health go to the parent.

    send: the pipe's `send` (blocks while the parent is behind: that is the group's back-pressure, the
    child's camera buffers then fill and drop as in a one-process run). images_of: the cameras whose
    pictures go too (the parent records their annotated video or shows them in the live view)."""

    def __init__(self, send: Any, *, images_of: frozenset[str] = frozenset()) -> None:
        self._send = send
        self._lock = threading.Lock()
        self.images_of = images_of
        self.summary: Any = None  # the child pipeline's summary(), for the final snapshot of a camera
        self._last_stats = 0.0

    def send(self, message: tuple[Any, ...]) -> None:
        with self._lock:
            self._send(message)

    # -- egress ---------------------------------------------------------------------------------------
    def on_frame(self, frame: Frame, tracks: Detections, tags: dict[str, Any], trace: FrameSpans) -> None:
        image = frame.image if frame.camera_id in self.images_of else None
        self.send(("frame", frame.camera_id, frame.index, frame.pts_seconds, frame.decoded_at,
                   (frame.height, frame.width), image, tracks, (trace.spans, trace.batch_size)))

    def on_camera_end(self, camera_id: str) -> None:
        snapshot = (self.summary()["cameras"].get(camera_id) if self.summary else None) or {}
        self.send(("end", camera_id, snapshot))

    # -- outputs (nothing is written by the child) ----------------------------------------------------
    def observe_cameras(self, snapshots: Mapping[str, Mapping[str, Any]]) -> None:
        now = time.monotonic()
        if now - self._last_stats >= STATS_PERIOD_SECONDS:
            self._last_stats = now
            self.send(("stats", {camera_id: dict(s) for camera_id, s in snapshots.items()}))

    def write_summary(self, summary: dict[str, Any]) -> None:
        self._last_stats = 0.0
        self.observe_cameras(summary.get("cameras") or {})
        # the policy runs here, on the child's frames: the parent's summary shows its counters
        self.send(("overload", dict((summary.get("overload") or {}).get("cameras") or {})))
        self.send(("gpu_memory", summary.get("gpu_memory_mib")))

    def write_frame(self, *_: Any, **__: Any) -> None:
        pass

    def write_events(self, events: Any) -> None:
        pass

    def open_camera(self, camera_id: str) -> None:
        pass

    def close_camera(self, camera_id: str) -> None:
        pass

    def forget_camera(self, camera_id: str, snapshot: Any) -> None:
        pass

    def paths(self) -> dict[str, str]:
        return {}

    def close(self) -> None:
        pass


def worker_main(index: int, connection: Any, environment: dict[str, str], job: dict[str, Any]) -> None:
    """Entry point of a group's process (spawned). `environment` (e.g. CUDA_VISIBLE_DEVICES) is set
    before anything opens a device; `job`: module, site, options, resume, images_of (workers.py)."""
    os.environ.update(environment)
    # Ctrl+C reaches the whole process group: the parent decides when a group stops.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    logging.basicConfig(level=job.get("log_level", logging.WARNING),
                        format=f"%(asctime)s worker-{index} %(levelname)s %(name)s: %(message)s")
    link = GroupLink(connection.send, images_of=job["images_of"])
    try:
        from pyuniproc.runtime.pipeline import Pipeline

        pipeline = Pipeline(job["module"], job["site"], job["options"], egress=link,
                            telemetry=SpanRecorder(index), outputs=link, resume=job["resume"])
        link.summary = pipeline.summary
        threading.Thread(target=_listen, args=(connection, pipeline), name="parent-link", daemon=True).start()
        pipeline.run()
    except BaseException:  # noqa: BLE001 - everything goes to the parent, which reports the group
        try:
            link.send(("error", traceback.format_exc()))
        except OSError:
            pass
        connection.close()
        os._exit(1)
    connection.close()


def _listen(connection: Any, pipeline: Any) -> None:
    """Stop the child's run when the parent asks, or when the parent is gone (its end of the pipe closed)."""
    try:
        while connection.recv() != ("stop",):
            pass
    except (EOFError, OSError):
        pass
    pipeline.stop()


__all__ = ["GroupLink", "SpanRecorder", "worker_main"]
