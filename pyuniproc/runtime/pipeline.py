"""The embedded runtime: cameras -> batched detection -> per-camera tracking -> pyfuncs -> outputs.

One decode thread per camera fills a small buffer (see `CameraWorker`); the main thread takes
up to `batch_size` frames across cameras (oldest first, round robin) and hands them to the
detector thread (`DetectStage`: one batched inference), then, while the next batch is being
detected, tracks the previous one, runs the module's pyfuncs and writes outputs frame by frame.
Every output is appended as it is produced and flushed within a second, before each summary.json
and at the end (runtime/outputs.py), so an interrupted run keeps all it did (a batch still being
detected is finished first).

When the cameras deliver more than the machine processes, the overload policy
(`parameters.pyuniproc.overload`, see `overload.py`) decides per frame, as it is taken from its
buffer, whether to detect, only predict the tracks (the detector's work is shed), or drop it as
stale. Every frame a camera delivers ends processed or dropped with a reason (`queue_full`,
`stale`, `removed`, `shutdown`), so `received = processed + sum(dropped)` per camera at the end.
Cameras can be added and removed while the pipeline runs (`add_camera`, `remove_camera`).
Fed from outside (`feed`, `egress`: see `feed.py`; `pyuniproc serve`), the same pipeline takes its
cameras from a `Feed` as they appear and hands every processed frame to a `FrameEgress`.
With `parameters.pyuniproc.workers` > 1 (`workers.py`), groups of cameras run in worker processes (each
one this same pipeline, up to relink); this one then takes their tracked frames (`upstream`) and
runs fusion, pyfuncs and every output for all of them.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from concurrent.futures import Future
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from pyuniproc.config.cameras import CameraSpec, Site
from pyuniproc.config.module import ModuleConfig
from pyuniproc.gpu.backend import process_gpu_memory
from pyuniproc.gpu.decoders import resolve_decoder
from pyuniproc.outputs import LatencyStats
from pyuniproc.runtime.batching import IDLE_WAIT_SECONDS, Planned, RoundRobin, batch_limit
from pyuniproc.runtime.build import (
    build_detector,
    build_pyfuncs,
    build_reid,
    build_relinker,
    build_tracker,
    resolve_backend,
)
from pyuniproc.runtime.camera_control import (
    ADD,
    REMOVED_REASON,
    CameraRequests,
    CameraRun,
    RemovedCameras,
    open_camera,
    release_worker,
    resolve,
)
from pyuniproc.runtime.camera_worker import CameraWorker
from pyuniproc.runtime.detect_stage import DetectedBatch, DetectStage
from pyuniproc.runtime.feed import Feed, FrameEgress
from pyuniproc.runtime.fusion_stage import FusionStage
from pyuniproc.runtime.live_config import (
    ModuleWatcher,
    apply_detector_thresholds,
    changed_sections,
    detector_needs_reload,
)
from pyuniproc.runtime.outputs import RunOutputs
from pyuniproc.runtime.overload import Action, OverloadPolicy
from pyuniproc.runtime.progress import Progress
from pyuniproc.runtime.pyfunc_host import events_from_tags
from pyuniproc.runtime.resume import ResumePoint, RunResume, numbering_summary, read_resume
from pyuniproc.runtime.workers import WorkerGroups, plan_groups, replay, resolve_workers, visible_gpus
from pyuniproc.sources import redact_uri
from pyuniproc.sources.uri import is_live_uri
from pyuniproc.telemetry import Telemetry
from pyuniproc.types import Detections, Frame

log = logging.getLogger(__name__)

JOIN_SECONDS = 5.0  # how long a removed camera's decode thread may take to end
STAGES = ("decode_wait", "preprocess", "infer", "decode_boxes", "track", "embed", "fusion", "analytics",
          "output", "end_to_end")


class FrameObserver(Protocol):
    """Something that watches the run (a live view, a recorder): called from the pipeline thread,
    so it must return quickly (hand heavy work to its own thread)."""

    def on_frame(self, frame: Frame, tracks: Detections, events: list[dict[str, Any]]) -> None: ...

    def on_summary(self, summary: dict[str, Any]) -> None: ...


@dataclass(frozen=True)
class RunOptions:
    out_dir: Path
    max_seconds: float | None = None
    realtime: bool | None = None  # None: as the cameras file says
    loop: bool | None = None
    max_frames: int | None = None  # per camera, for tests and quick looks
    progress: bool = True
    watch_module: bool = True  # apply edits of the module YAML while running
    backend: str | None = None  # auto / cpu / gpu (`--backend`); None: `parameters.pyuniproc.backend`
    workers: int | str | None = None  # camera groups in processes (`--workers`); None: the module's
    decoder: str | None = None  # auto / cpu / nvdec / nv12-cpu (`--decoder`); None: the module's setting


@dataclass
class InFlight:
    """A batch handed to the detector thread and not yet tracked. `detected` indexes the frames of
    `planned` the detector runs on (the others only predict); `future` is None when there are none."""

    planned: list[Planned]
    traces: list[Any]
    detected: list[int]
    started: float
    future: Future[DetectedBatch] | None
    cameras: frozenset[str]


class Pipeline:
    """feed / egress: see `feed.py`; without them the pipeline runs the cameras of `site`.
    telemetry / outputs / resume: given instead of built from the module and the output folder (a worker
    process's pipeline, `worker_process.py`, sends its frames to its parent instead of writing them)."""

    def __init__(self, module: ModuleConfig, site: Site, options: RunOptions, *, feed: Feed | None = None,
                 egress: FrameEgress | None = None, telemetry: Any = None, outputs: Any = None,
                 resume: RunResume | None = None):
        self.module = module
        self.feed = feed
        self.egress = egress
        self.site = site
        self.options = options
        self.settings = module.runtime
        self.backend = resolve_backend(module, options.backend)  # "cpu" or "gpu", for the whole run
        # read before the outputs open (summary.json is rewritten): frames and ids continue after them
        self._resume = resume if resume is not None else read_resume(options.out_dir)
        # how video files are decoded: the run's choice, else the module's parameters.pyuniproc.decoder
        self.decoder = resolve_decoder(options.decoder or self.settings.decoder, self.backend)
        self.upstream = self._worker_groups() if feed is None else None
        if feed is not None and (options.workers or self.settings.workers) not in (1, None):
            log.warning("workers: a fed pipeline (serve) runs its cameras in one process")
        local = self.upstream is None  # else the worker processes detect, track and embed
        self.detector = build_detector(module, self.backend) if local else None
        self.pyfuncs = build_pyfuncs(module, site)
        self.reid = build_reid(module, self.backend) if local else None
        log.info("backend %s (asked: %s), decoder %s: detector %r, ReID %r", self.backend,
                 options.backend or module.runtime.backend, self.decoder, self.detector,
                 None if self.reid is None else self.reid.embedder.name)
        # Global ids need appearance: fusion runs when the module has a ReID model.
        self.fusion = FusionStage(site, module.fusion) if module.reid is not None and module.fusion else None
        self.latency = {stage: LatencyStats() for stage in STAGES}
        if self.fusion is not None:
            self.fusion.continue_global_ids_after(self._resume.largest_global_id)
        self.outputs = outputs if outputs is not None else RunOutputs(
            options.out_dir, annotate=self.settings.annotated_video, backend=self.backend,
            record={c.id: c.record for c in site.cameras}, global_ids=self.fusion is not None,
            site=site.name, events=self.settings.events, recording=self.settings.recording,
            camera_ids=[camera.id for camera in site.cameras])
        self._wakeup = threading.Condition()
        self._stop = threading.Event()
        self._cameras: dict[str, CameraRun] = {}
        for spec in site.cameras if feed is None else ():
            self._cameras[spec.id] = self._open_camera(spec)
        self.overload = OverloadPolicy.from_settings(self.settings.overload)
        self._requests = CameraRequests()
        self._removed = RemovedCameras()
        if options.watch_module and not local:
            log.warning("live edits of %s are not applied while cameras run in worker processes", module.path)
        self.watcher = ModuleWatcher(module.path) if options.watch_module and local else None
        if telemetry is None:
            telemetry = Telemetry(self.settings.telemetry, cameras=self._camera_snapshots)
            telemetry.metrics.watch_recordings(self.outputs.recording_stats)
        self.telemetry = telemetry
        if self.fusion is not None:
            self.fusion.attach_metrics(self.telemetry.metrics)
        self.observers: list[FrameObserver] = []
        self._started = 0.0
        self._status = "created"
        self._batcher = RoundRobin(self._wakeup)
        # ONNX Runtime sessions take concurrent calls; the GPU detector (CUDA graphs) one at a time.
        workers = self.settings.detector_workers if getattr(self.detector, "concurrent_calls", False) else 1
        self._detect_stage = DetectStage(workers=workers, on_done=self._wake)
        # One batch more than the workers: a worker that finishes finds the next batch waiting.
        self._max_in_flight = workers + 1
        self._in_flight: deque[InFlight] = deque()

    def stop(self) -> None:
        """Ask the run to end; safe from a signal handler or another thread. With worker processes the
        first call asks them to finish what they have in flight (all of it is written), a second one
        stops at once."""
        if self.upstream is not None and not self.upstream.stopping:
            self.upstream.stop()
        else:
            self._stop.set()
        self._wake()

    def _worker_groups(self) -> WorkerGroups | None:
        """The camera groups of `parameters.pyuniproc.workers` / `--workers`, None for one process."""
        setting = self.options.workers if self.options.workers is not None else self.settings.workers
        devices = visible_gpus(self.backend)
        count = resolve_workers(setting, cameras=len(self.site.cameras), devices=devices)
        if count <= 1:
            return None
        groups = plan_groups([camera.id for camera in self.site.cameras], count, devices)
        return WorkerGroups(groups, module=self.module, site=self.site, options=self.options,
                            resume=RunResume(dict(self._resume.cameras), self._resume.largest_global_id),
                            backend=self.backend, queue_size=self.settings.queue_size)

    def _wake(self) -> None:
        """Wake the run loop if it waits for frames (a stop, a request, a detected batch)."""
        with self._wakeup:
            self._wakeup.notify_all()

    # -- cameras added and removed while running ----------------------------------------------

    def add_camera(self, spec: CameraSpec) -> Future:
        """Start another camera; thread-safe. Applied by the run loop before its next batch; the
        future resolves to None once the camera's decoding runs, or holds a ValueError (the id is
        already running or not a valid id, a bad URI or setting). On the pipeline thread (an
        observer) do not wait for it: it resolves after the observer returns. Lines and zones come
        from the cameras file when the id is listed there; fusion treats an id not in the site as a
        camera with no topology links (see `FusionStage`)."""
        return self._request(ADD, spec)

    def remove_camera(self, camera_id: str) -> Future:
        """Stop a camera and release everything it holds; thread-safe, applied like `add_camera`.
        The future resolves to its final stats snapshot (frames still buffered counted as dropped,
        reason "removed"), or holds a ValueError when no camera of that id runs."""
        return self._request("remove", camera_id)

    def _request(self, action: str, argument: Any) -> Future:
        future = self._requests.submit(action, argument)
        with self._wakeup:
            self._wakeup.notify_all()  # a loop waiting for frames looks at the request now
        return future

    def _apply_camera_requests(self) -> None:
        requests = self._requests.take()
        if requests:
            self._drain()  # a removed camera's frames in flight are tracked and written first
        for action, argument, future in requests:
            resolve(future, self._add_now if action == ADD else self._remove_now, argument)

    def _add_now(self, spec: CameraSpec) -> None:
        if self.upstream is not None:
            raise ValueError("cameras cannot be added while running with worker processes (workers > 1)")
        existing = self._cameras.get(spec.id)
        if existing is not None and self.feed is not None and existing.ended:
            self._restart_fed_camera(existing)
            return
        if existing is not None:
            raise ValueError(f"camera {spec.id!r} is already running")
        camera = self._open_camera(spec)
        self.outputs.open_camera(spec.id, record=spec.record)
        self.telemetry.metrics.camera_added(spec.id)
        with self._wakeup:
            self._cameras[spec.id] = camera
        camera.worker.start()
        log.info("camera %s: added (%s)", spec.id, camera.worker.source.uri)

    def _restart_fed_camera(self, camera: CameraRun) -> None:
        """A fed camera whose stream ended starts a new one before it was removed: it keeps its
        tracker, counters and frame numbering (as Savant keeps a source's state until it evicts it)."""
        source = self.feed.open_source(camera.spec, camera.last_frame)
        camera.worker = CameraWorker(source, queue_size=self.settings.queue_size, wakeup=self._wakeup)
        camera.ended = False
        self.outputs.open_camera(camera.spec.id)
        camera.worker.start()
        log.info("camera %s: stream restarted", camera.spec.id)

    def _remove_now(self, camera_id: str) -> dict[str, Any]:
        camera = self._cameras.get(camera_id)
        if camera is None:
            raise ValueError(f"no camera {camera_id!r} is running")
        if self.upstream is not None:
            raise ValueError("cameras cannot be removed while running with worker processes (workers > 1)")
        with self._wakeup:
            del self._cameras[camera_id]
        left = release_worker(camera, wakeup=self._wakeup, join_seconds=JOIN_SECONDS)
        if left:
            camera.worker.stats.mark_dropped(REMOVED_REASON, left)
        if not camera.ended:
            self._end_camera(camera_id, camera)
        for stage in self.pyfuncs:
            stage.delete_source(camera_id)
        snapshot = camera.worker.stats.snapshot()
        self.outputs.forget_camera(camera_id, snapshot)
        self.overload.forget(camera_id)
        if self.fusion is not None:
            self.fusion.report()  # its transitions so far, before their series are dropped
        self.telemetry.metrics.forget_camera(camera_id)
        self._removed.add(snapshot)
        # added again later: its frames and ids continue after this visit's
        self._resume.cameras[camera_id] = self._resume.point(camera_id).after(
            camera.last_frame, camera.largest_track_id)
        camera.tracker = None
        camera.relinker = None
        log.info("camera %s: removed after %d frames (%d processed)", camera_id, snapshot["frames_received"],
                 snapshot["frames_processed"])
        return snapshot

    # -- the run loop ---------------------------------------------------------------------------

    def run(self) -> dict[str, Any]:
        """Process until every camera ends, `max_seconds` pass, or `stop()`; returns the summary."""
        self._started = time.monotonic()
        self._status = "running"
        if self.upstream is not None:  # pictures cross only for cameras recorded or shown
            everyone = bool(self.observers) or getattr(self.outputs, "mosaic", None) is not None
            self.upstream.start(images_of=frozenset(camera_id for camera_id in self._cameras
                                                    if everyone or self.outputs.records(camera_id)))
        for camera in self._cameras.values():
            camera.worker.start()
        progress = Progress(enabled=self.options.progress)
        last_summary = 0.0
        time_up = False  # max_seconds passed: the run finished (with workers, once their frames are in)
        self.telemetry.start()
        try:
            with progress:
                while not self._stop.is_set():
                    self.telemetry.tick()
                    if (self.options.max_seconds
                            and time.monotonic() - self._started >= self.options.max_seconds):
                        if self.upstream is None:
                            break
                        time_up = True
                        self.upstream.stop()  # the loop ends once the workers' last frames are written
                    self._apply_camera_requests()
                    batch = self._batcher.next_batch(
                        self._cameras, limit=batch_limit(self.module, self.backend),
                        wait_seconds=self.settings.batch_wait_ms / 1000, overload=self.overload,
                        interrupted=lambda: (self._stop.is_set() or self._requests.pending()
                                             or self._detected_batch_waits()))
                    if batch is None:
                        if self.feed is None:
                            break
                        batch = []  # fed: cameras come and go, the run goes on until stopped
                        self._wait_for_feed()
                    # New batches go to the detector threads while this thread tracks, in order, the
                    # oldest batch once it is detected (or once too many are in flight).
                    if batch:
                        self._in_flight.append(self._start_batch(batch))
                    while self._in_flight and (len(self._in_flight) > self._max_in_flight
                                               or self._detected_batch_waits()):
                        self._finish_batch(self._in_flight.popleft())
                    self._end_finished_cameras()
                    self._apply_module_edits()
                    self.outputs.observe_cameras(self._camera_snapshots())
                    now = time.monotonic()
                    if now - last_summary >= self.settings.summary_period_seconds:
                        last_summary = now
                        summary = self.summary()
                        self.outputs.write_summary(summary)
                        progress.update(summary)
                        for observer in self.observers:
                            observer.on_summary(summary)
            self._drain()
            stopped = self._stop.is_set() or (self.upstream is not None and self.upstream.stopping
                                              and not time_up)
            self._status = "interrupted" if stopped else "finished"
        except KeyboardInterrupt:
            self._status = "interrupted"
        finally:
            self._shutdown()
            self.telemetry.stop()
        return self.summary()

    def _wait_for_feed(self) -> None:
        """Fed and nothing to do (no camera streaming, nothing in flight): wait for a request or a
        frame instead of spinning."""
        if self._in_flight or any(not camera.ended for camera in self._cameras.values()):
            return
        with self._wakeup:
            if not self._requests.pending() and not self._stop.is_set():
                self._wakeup.wait(IDLE_WAIT_SECONDS)

    # -- per batch / per frame ----------------------------------------------------------------

    def _start_batch(self, planned: list[Planned]) -> InFlight:
        """Start each frame's trace and hand the frames planned for detection to the detector thread."""
        started = time.monotonic()
        telemetry = self.telemetry
        batch = [frame for frame, _ in planned]
        feed = self.feed
        traces = [telemetry.start_frame(f.camera_id, f.index, f.decoded_at, pts_seconds=f.pts_seconds,
                                        parent=feed.trace_parent(f) if feed is not None else None)
                  for f in batch]
        detected = [i for i, (_, action) in enumerate(planned) if action is Action.DETECT
                    and self.detector is not None]
        # Frames, not images: the GPU detector reads an NV12 frame's pixels where they are (detect_stage.py).
        frames = [batch[i] for i in detected]
        future = self._detect_stage.submit(self.detector, frames) if detected else None
        return InFlight(planned, traces, detected, started, future, frozenset(f.camera_id for f in batch))

    def _detected_batch_waits(self) -> bool:
        """True when the batch in flight is detected: the loop tracks it instead of waiting for frames."""
        if not self._in_flight:
            return False
        oldest = self._in_flight[0]
        return oldest.future is None or oldest.future.done()

    def _drain(self) -> None:
        """Track and write the batches in flight, if any (before a stop, an edit, a camera change)."""
        while self._in_flight:
            self._finish_batch(self._in_flight.popleft())

    def _finish_batch(self, in_flight: InFlight) -> None:
        """Wait for the batch's detections, track all its frames (predicted ones coast on their
        motion model), embed, then per frame fusion, pyfuncs, outputs."""
        planned, traces, detected = in_flight.planned, in_flight.traces, in_flight.detected
        batch = [frame for frame, _ in planned]
        if self.upstream is not None:
            self._finish_upstream_batch(batch, traces)
            return
        result = in_flight.future.result() if in_flight.future is not None else None
        # A frame's queue wait ends when the detector starts on it (a frame that is only predicted:
        # when it was taken from its buffer).
        detection_began = result.started if result is not None else in_flight.started
        for i, (frame, trace) in enumerate(zip(batch, traces, strict=True)):
            ended = detection_began if i in detected else in_flight.started
            self.latency["decode_wait"].add((ended - frame.decoded_at) * 1000)
            self.telemetry.record_stage(trace, frame.camera_id, "decode_wait", frame.decoded_at, ended)
        boxes = self._record_detection(in_flight, result) if result is not None else []
        detections = dict(zip(detected, boxes, strict=True))
        tracked = [self._track(frame, detections.get(i), traces[i]) for i, frame in enumerate(batch)]
        if self.reid is not None and detected:
            # Crops of predicted boxes are not embedded: they may be off the person, and shedding
            # the ReID work is part of the point of not detecting.
            t0 = time.monotonic()
            embedded = self.reid.process([batch[i] for i in detected], [tracked[i] for i in detected])
            for i, tracks in zip(detected, embedded, strict=True):
                tracked[i] = tracks
            t1 = time.monotonic()
            self.latency["embed"].add((t1 - t0) * 1000 / len(detected))
            cameras = [batch[i].camera_id for i in detected]
            self.telemetry.record_batch_stage([traces[i] for i in detected], cameras, "embed", t0, t1)
        if self.module.relink is not None:
            tracked = [self._relink(frame, tracks) for frame, tracks in zip(batch, tracked, strict=True)]
        for frame, tracks, trace in zip(batch, tracked, traces, strict=True):
            self._process_frame(frame, tracks, trace)
        if self.fusion is not None:
            self.fusion.report()

    def _finish_upstream_batch(self, batch: list[Frame], traces: list[Any]) -> None:
        """Frames a worker process already tracked and embedded: its stage timings are recorded as if
        measured here, then fusion, pyfuncs and outputs as for any frame."""
        for frame, trace in zip(batch, traces, strict=True):
            tracks, spans, batch_size = self.upstream.take(frame)
            replay(self.latency, self.telemetry, trace, frame.camera_id, spans, batch_size)
            self._process_frame(frame, tracks, trace)
        if self.fusion is not None:
            self.fusion.report()

    def _record_detection(self, in_flight: InFlight, result: DetectedBatch) -> list[Detections]:
        """The detector thread's boxes for the batch's detected frames; its step timings recorded."""
        traces = [in_flight.traces[i] for i in in_flight.detected]
        cameras = [in_flight.planned[i][0].camera_id for i in in_flight.detected]
        # Batch stages are reported per frame (with several workers, per frame of one worker).
        share = 1000 / len(traces)
        self.latency["preprocess"].add((result.preprocessed - result.started) * share)
        self.latency["infer"].add((result.inferred - result.preprocessed) * share)
        self.latency["decode_boxes"].add((result.decoded - result.inferred) * share)
        self.telemetry.metrics.observe_batch(len(traces))
        for stage, t0, t1 in (("preprocess", result.started, result.preprocessed),
                              ("infer", result.preprocessed, result.inferred),
                              ("decode_boxes", result.inferred, result.decoded)):
            self.telemetry.record_batch_stage(traces, cameras, stage, t0, t1)
        return result.boxes

    def _track(self, frame: Frame, detections: Detections | None, trace: Any) -> Detections:
        """Update the camera's tracker with the frame's detections; None: the detector did not run
        on this frame (overload), the tracks only move along their motion model."""
        camera = self._cameras[frame.camera_id]
        if camera.tracker is None:
            camera.tracker = build_tracker(self.module)
        t0 = time.monotonic()
        tracker = camera.tracker
        tracks = tracker.update(detections) if detections is not None else tracker.predict_only()
        if camera.track_id_offset and len(tracks):
            ids = tracks.tracker_id
            tracks = replace(tracks, tracker_id=np.where(ids > 0, ids + camera.track_id_offset, ids))
        t1 = time.monotonic()
        self.latency["track"].add((t1 - t0) * 1000)
        self.telemetry.record_stage(trace, frame.camera_id, "track", t0, t1)
        return tracks

    def _relink(self, frame: Frame, tracks: Detections) -> Detections:
        """The camera's relink step (after ReID, whose embeddings it compares; before fusion): a new
        track that continues one lost a moment ago nearby gets that track's id (track/relink.py)."""
        camera = self._cameras[frame.camera_id]
        if camera.relinker is None:
            camera.relinker = build_relinker(self.module)
        return camera.relinker.update(frame.index, tracks, (frame.height, frame.width))

    def _process_frame(self, frame: Frame, tracks: Detections, trace: Any) -> None:
        camera = self._cameras[frame.camera_id]
        t0 = time.monotonic()
        events: list[dict[str, Any]] = []
        if self.fusion is not None:
            tracks = self.fusion.process(frame.camera_id, frame.pts_seconds, tracks)
            events.extend(self.fusion.events())
        t1 = time.monotonic()
        frame_tags: dict[str, Any] = {}
        for stage in self.pyfuncs:
            tracks, tags = stage.process(frame, tracks)
            frame_tags.update(tags)
            events.extend(events_from_tags(tags))
        t2 = time.monotonic()
        self.outputs.write_frame(frame, tracks, events, fps=camera.worker.stats.snapshot().get("fps", 0.0),
                                 live=camera_is_live(camera))
        if self.egress is not None:
            self.egress.on_frame(frame, tracks, frame_tags, trace)
        for observer in self.observers:
            observer.on_frame(frame, tracks, events)
        t3 = time.monotonic()
        camera.frames_processed += 1
        camera.last_frame = frame.index + 1
        camera.people_max = max(camera.people_max, len(tracks))
        camera.track_ids.update(int(t) for t in tracks.tracker_id)
        if len(tracks):
            camera.largest_track_id = max(camera.largest_track_id, int(tracks.tracker_id.max()))
        camera.worker.stats.mark_processed()
        if self.fusion is not None:
            self.latency["fusion"].add((t1 - t0) * 1000)
        self.latency["analytics"].add((t2 - t1) * 1000)
        self.latency["output"].add((t3 - t2) * 1000)
        self.latency["end_to_end"].add((t3 - frame.decoded_at) * 1000)
        for stage, start, end in (("fusion", t0, t1), ("analytics", t1, t2), ("output", t2, t3)):
            if stage != "fusion" or self.fusion is not None:
                self.telemetry.record_stage(trace, frame.camera_id, stage, start, end)
        self.telemetry.finish_frame(trace, frame.camera_id, frame.decoded_at, t3, objects=len(tracks))

    def _end_finished_cameras(self) -> None:
        in_flight = frozenset().union(*(batch.cameras for batch in self._in_flight))
        for camera_id, camera in self._cameras.items():
            # A camera whose last frames are still being detected ends once they are written.
            if not camera.ended and camera.worker.finished and camera_id not in in_flight:
                self._end_camera(camera_id, camera)

    def _end_camera(self, camera_id: str, camera: CameraRun) -> None:
        camera.ended = True
        events = [e for stage in self.pyfuncs for e in stage.end_source(camera_id)]
        if self.fusion is not None:
            self.fusion.end_camera(camera_id)
            events.extend(self.fusion.events())
        if self.reid is not None:
            self.reid.end_camera(camera_id)
        self.outputs.write_events(events)
        self.outputs.close_camera(camera_id)
        if self.egress is not None:
            self.egress.on_camera_end(camera_id)
        if self.feed is not None:
            self.feed.camera_ended(camera_id)

    # -- live edits of the module YAML ---------------------------------------------------------

    def _apply_module_edits(self) -> None:
        """Apply an edited module YAML between batches; a bad edit is reported and ignored."""
        edited = self.watcher.poll() if self.watcher else None
        if edited is None:
            return
        if isinstance(edited, Exception):
            self._reject_edit(edited)
            return
        self._drain()  # the batch in flight finishes under the configuration it started with
        sections = changed_sections(self.module, edited)
        trackers = [c.tracker for c in self._cameras.values() if c.tracker is not None]
        try:  # build and check everything first, so a failing edit changes nothing
            reload = detector_needs_reload(self.module, edited)
            detector = build_detector(edited, self.backend) if reload else None
            if "tracker" in sections:
                if edited.tracker.kind != self.module.tracker.kind:
                    raise ValueError(f"{edited.path}: changing the tracker kind needs a restart")
                build_tracker(edited)
            pyfuncs = build_pyfuncs(edited, self.site) if "pyfuncs" in sections else None
        except (ValueError, RuntimeError) as exc:
            self._reject_edit(exc)
            return
        if detector is not None:
            self.detector = detector
        else:
            apply_detector_thresholds(self.detector, edited)
        for tracker in trackers:
            tracker.reconfigure(**edited.tracker.params)
        if pyfuncs is not None:
            for stage in self.pyfuncs:
                self.outputs.write_events(stage.stop())
            self.pyfuncs = pyfuncs
        for camera in self._cameras.values():
            camera.worker.queue_size = edited.runtime.queue_size
        self.overload.reconfigure(edited.runtime.overload)
        self.module, self.settings = edited, edited.runtime
        self.watcher.accepted()
        log.info("%s: applied edit (%s), config version %d", edited.path, ", ".join(sections) or "no effect",
                 self.watcher.status.version)
        self.outputs.write_events([{"kind": "config_reloaded", "camera_id": None, "sections": sections,
                                    "version": self.watcher.status.version, "at": time.time()}])

    def _reject_edit(self, error: Exception) -> None:
        log.error("module edit rejected, keeping the running configuration: %s", error)
        self.watcher.rejected(error)
        self.outputs.write_events([{"kind": "config_rejected", "camera_id": None, "error": str(error),
                                    "at": time.time()}])

    def _shutdown(self) -> None:
        try:  # frames taken from the buffers are tracked and written, not lost
            self._drain()
        except Exception:  # the run already failed; its own error is the one raised
            log.exception("could not finish the batch in flight")
        self._detect_stage.close()
        for camera in self._cameras.values():
            camera.worker.stop()
        if self.upstream is not None:  # after the sources stop: frames still coming are counted, not awaited
            self.upstream.close()
        for camera in self._cameras.values():
            camera.worker.join(timeout=5.0)
        with self._wakeup:  # frames decoded but never processed are accounted for, not lost silently
            for camera in self._cameras.values():
                left = 0
                while camera.worker.pop() is not None:
                    left += 1
                if left:
                    camera.worker.stats.mark_dropped("shutdown", left)
        for camera_id, camera in self._cameras.items():
            if not camera.ended:
                self._end_camera(camera_id, camera)
        self._requests.close()
        for stage in self.pyfuncs:
            self.outputs.write_events(stage.stop())
        if self.fusion is not None:
            self.fusion.flush()
            self.outputs.write_events(self.fusion.events())
        self.outputs.write_summary(self.summary())
        self.outputs.close()

    def _open_camera(self, spec: CameraSpec) -> CameraRun:
        """A camera's source and worker; its numbering continues where the folder's outputs left it,
        and the point where its source starts is recorded (resume.py)."""
        start = self._resume.point(spec.id).started()
        source = self.feed.open_source(spec, start.first_frame_index) if self.feed is not None else None
        if self.upstream is not None:
            realtime = spec.realtime if self.options.realtime is None else self.options.realtime
            source = self.upstream.source(spec.id, redact_uri(spec.uri), start.first_frame_index,
                                          live=is_live_uri(spec.uri) or realtime)
        camera = open_camera(spec, options=self.options, queue_size=self.settings.queue_size,
                             wakeup=self._wakeup, resume=start, source=source, decoder=self.decoder)
        self._resume.cameras[spec.id] = start
        return camera

    def _overload(self) -> dict[str, Any]:
        """summary.json's `overload`: the policy's settings and per-camera counters (with worker groups
        the policy runs in the children, which send their counters)."""
        snapshot = self.overload.snapshot()
        if self.upstream is not None:
            snapshot["cameras"] = dict(sorted({**snapshot["cameras"], **self.upstream.overload}.items()))
        return snapshot

    def _numbering(self) -> dict[str, Any]:
        """summary.json's `numbering`: where every camera seen in this folder stands (resume.py)."""
        points = dict(self._resume.cameras)
        for camera_id, camera in list(self._cameras.items()):
            points[camera_id] = points.get(camera_id, ResumePoint()).after(
                camera.last_frame, camera.largest_track_id)
        largest_global_id = self._resume.largest_global_id
        if self.fusion is not None:
            largest_global_id = max(largest_global_id, self.fusion.largest_global_id())
        return numbering_summary(points, largest_global_id)

    # -- reporting ----------------------------------------------------------------------------

    def _camera_snapshots(self) -> dict[str, dict[str, Any]]:
        """Per-camera health for /metrics and /readyz, read at scrape time (from the server's thread:
        the camera table is copied first, cameras may come and go meanwhile)."""
        return {camera_id: {**camera.worker.stats.snapshot(), "queue_depth": camera.worker.buffered()}
                for camera_id, camera in list(self._cameras.items())}

    def summary(self) -> dict[str, Any]:
        """The run's state; callable from any thread. `frames_processed` counts removed cameras too."""
        elapsed = time.monotonic() - self._started if self._started else 0.0
        cameras = {}
        running = list(self._cameras.items())
        for camera_id, camera in running:
            snapshot = dict(camera.worker.stats.snapshot())
            snapshot.update(uri=redact_uri(camera.spec.uri), tracks_seen=len(camera.track_ids),
                            people_max=camera.people_max, last_frame=camera.last_frame,
                            first_frame=camera.worker.source.first_index + 1)
            cameras[camera_id] = snapshot
        processed = sum(camera.frames_processed for _, camera in running) + self._removed.processed
        return {
            "status": self._status,
            "module": str(self.module.path),
            "site": self.site.name,
            "detector": self.module.detector.model_file,
            "backend": self.backend,
            "decoder": self.decoder,
            "elapsed_seconds": round(elapsed, 3),
            "frames_processed": processed,
            "throughput_fps": round(processed / elapsed, 2) if elapsed > 0 else 0.0,
            "cameras": cameras,
            "removed_cameras": self._removed.to_json(),
            "numbering": self._numbering(),
            "overload": self._overload(),
            "gpu_memory_mib": process_gpu_memory(),
            "latency_ms": {stage: stats.summary() for stage, stats in self.latency.items()},
            "config": self.watcher.status.to_json() if self.watcher else None,
            "fusion": self.fusion.summary() if self.fusion is not None else None,
            "outputs": self.outputs.paths(),
            "telemetry": {"metrics_url": self.telemetry.url},
            **({"workers": self.upstream.summary()} if self.upstream is not None else {}),
        }


def camera_is_live(camera: CameraRun) -> bool | None:
    """Whether the camera drops frames when behind (its recorder then drops too): a worker process's
    camera says so itself (`RemoteSource.live`); here the decode worker's own setting tells."""
    return getattr(camera.worker.source, "live", getattr(camera.worker, "drop_when_full", None))
