"""Cameras of a running `Pipeline`: the per-camera state, and adding or removing cameras at runtime.

`Pipeline.add_camera(spec)` and `Pipeline.remove_camera(camera_id)` may be called from any thread
(an HTTP handler, a config watcher, scripts/soak.py). They only queue a request (`CameraRequests`)
and wake the run loop, which applies it between two batches on its own thread, so no batch is in
flight and nothing iterates the camera table meanwhile; each call returns a `Future` that resolves
once the request was applied. Called from the pipeline thread itself (an observer's callback)
they apply at once.

A removed camera ends like a camera whose stream ended (pyfuncs get end-of-source and
source-delete, fusion ends its tracks, its video segment and MOT files close), and then everything
it held is released: its decode thread, decoder and live connection, its tracker, its ReID
schedule, its overload state and its Prometheus series. Frames still buffered for it are counted
as dropped ("removed"), so every received frame stays accounted for; the removed cameras' totals
are kept in the summary (`removed_cameras`). A camera id may be added again after its removal: it
starts fresh (new tracker, new video segment file, outputs appended).

`CameraControl` is the same surface as an object of its own (used by older scripts).
"""

from __future__ import annotations

import logging
import queue
import threading
from collections import Counter
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any

from pyuniproc.config.cameras import CameraSpec
from pyuniproc.outputs._files import check_camera_id
from pyuniproc.runtime.camera_worker import CameraWorker
from pyuniproc.runtime.resume import ResumePoint
from pyuniproc.sources import CameraSource

log = logging.getLogger(__name__)

REMOVED_REASON = "removed"
"""Drop reason of the frames still buffered for a camera when it is removed."""
ADD, REMOVE = "add", "remove"


@dataclass
class CameraRun:
    """Everything the runtime keeps for one camera, created when the camera starts."""

    spec: CameraSpec
    worker: CameraWorker
    tracker: Any = None
    relinker: Any = None  # TrackRelinker when parameters.relink is on (made on the first frame)
    frames_processed: int = 0
    last_frame: int = 0  # 1-based number of the last processed frame, as in the outputs
    track_id_offset: int = 0  # added to its tracker's ids: an earlier run's ids stay unique (resume.py)
    largest_track_id: int = 0  # of the ids written so far (readable from other threads, unlike track_ids)
    people_max: int = 0
    track_ids: set[int] = field(default_factory=set)
    ended: bool = False


def open_camera(spec: CameraSpec, *, options: Any, queue_size: int, wakeup: threading.Condition,
                resume: ResumePoint | None = None, source: Any = None, decoder: str = "cpu") -> CameraRun:
    """A camera's source and decode worker (not started yet); raises ValueError on a bad spec.
    `resume`: where earlier outputs of this camera id left off (frames and ids continue after it).
    `source`: a frame source made elsewhere (a `Feed`'s), instead of one opened from `spec.uri`.
    `decoder`: resolved by `pyuniproc.gpu.decoders.resolve_decoder`; a video file on an NV12 decoder gets an
    `Nv12Source` (frames kept where the decoder wrote them), everything else a `CameraSource`."""
    resume = resume or ResumePoint()
    check_camera_id(spec.id)  # ids become file names
    realtime = spec.realtime if options.realtime is None else options.realtime
    loop = spec.loop if options.loop is None else options.loop
    if source is None and decoder != "cpu":
        from pyuniproc.gpu.decoders import open_nv12_source

        source = open_nv12_source(spec, decoder, realtime=realtime, loop=loop, max_frames=options.max_frames,
                                  first_index=resume.first_frame_index)
    source = source if source is not None else CameraSource(
        spec.id,
        spec.uri,
        realtime=realtime,
        loop=loop,
        start_seconds=spec.start_seconds,
        rtsp_transport=spec.rtsp_transport,
        images_fps=spec.fps or 10.0,
        fps=spec.fps,
        max_frames=options.max_frames,
        first_index=resume.first_frame_index,
    )
    return CameraRun(spec=spec, worker=CameraWorker(source, queue_size=queue_size, wakeup=wakeup),
                     last_frame=resume.first_frame_index, track_id_offset=resume.track_id_offset,
                     largest_track_id=resume.track_id_offset)


def release_worker(camera: CameraRun, *, wakeup: threading.Condition, join_seconds: float) -> int:
    """Stop a camera's decoding and wait for its decode thread; returns how many decoded frames
    were still buffered (taken out, for the caller to count). The live reader's connection thread
    closes on its own within its read timeout."""
    worker = camera.worker
    worker.stop()
    with wakeup:
        wakeup.notify_all()  # a decoder waiting for room in a full buffer
    worker.join(join_seconds)
    if worker.alive:
        log.warning("camera %s: decode thread still running %.1f s after stop", camera.spec.id, join_seconds)
    left = 0
    with wakeup:
        while worker.pop() is not None:
            left += 1
    return left


class RemovedCameras:
    """Frame totals of the cameras removed so far (their per-camera entries leave the summary)."""

    def __init__(self) -> None:
        self.count = 0
        self.received = 0
        self.processed = 0
        self.dropped: Counter[str] = Counter()

    def add(self, snapshot: dict[str, Any]) -> None:
        self.count += 1
        self.received += int(snapshot.get("frames_received", 0))
        self.processed += int(snapshot.get("frames_processed", 0))
        self.dropped.update(snapshot.get("dropped") or {})

    def to_json(self) -> dict[str, Any]:
        return {"count": self.count, "frames_received": self.received, "frames_processed": self.processed,
                "dropped": dict(self.dropped)}


class CameraRequests:
    """Thread-safe queue of camera additions and removals for the pipeline thread to apply."""

    def __init__(self) -> None:
        self._queue: queue.Queue[tuple[str, Any, Future]] = queue.Queue()
        self._closed = threading.Event()

    def submit(self, action: str, argument: Any) -> Future:
        future: Future = Future()
        if self._closed.is_set():
            future.set_exception(RuntimeError("the pipeline has stopped; cameras can no longer change"))
        else:
            self._queue.put((action, argument, future))
        return future

    def pending(self) -> bool:
        return not self._queue.empty()

    def take(self) -> list[tuple[str, Any, Future]]:
        requests = []
        while True:
            try:
                requests.append(self._queue.get_nowait())
            except queue.Empty:
                return requests

    def close(self) -> None:
        """The run ended: refuse new requests and fail those still waiting."""
        self._closed.set()
        for _, _, future in self.take():
            future.set_exception(RuntimeError("the pipeline stopped before the request was applied"))


def resolve(future: Future, apply: Any, *args: Any) -> None:
    """Run `apply(*args)` into `future`; an error goes to the caller, never into the run loop."""
    try:
        result = apply(*args)
    except Exception as exc:  # noqa: BLE001
        future.set_exception(exc)
    else:
        future.set_result(result)


class CameraControl:
    """`add` / `remove` of one pipeline's cameras from any thread (see the module docstring)."""

    def __init__(self, pipeline: Any) -> None:
        self.pipeline = pipeline

    def add(self, spec: CameraSpec) -> Future:
        """Start a camera; the future resolves (None) once it runs, or holds ValueError."""
        return self.pipeline.add_camera(spec)

    def remove(self, camera_id: str) -> Future:
        """Stop and forget a camera; the future resolves to its last stats snapshot."""
        return self.pipeline.remove_camera(camera_id)
