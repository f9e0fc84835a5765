"""The embedded runtime: cameras -> batched detection -> per-camera tracking -> pyfuncs -> outputs.

One decode thread per camera fills a small buffer (see `CameraWorker`); the main thread takes
up to `batch_size` frames across cameras (oldest first, round robin), runs the detector once on
the batch, then tracks, runs the module's pyfuncs and writes outputs frame by frame. Every
output is appended and flushed as it is produced, so an interrupted run keeps all it did.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from pyuniproc.config.cameras import CameraSpec, Site
from pyuniproc.config.module import ModuleConfig
from pyuniproc.outputs import LatencyStats
from pyuniproc.runtime.build import build_detector, build_pyfuncs, build_reid, build_tracker
from pyuniproc.runtime.camera_worker import CameraWorker
from pyuniproc.runtime.fusion_stage import FusionStage
from pyuniproc.runtime.live_config import (ModuleWatcher, apply_detector_thresholds, changed_sections,
                                           detector_needs_reload)
from pyuniproc.runtime.outputs import RunOutputs
from pyuniproc.runtime.progress import Progress
from pyuniproc.runtime.pyfunc_host import events_from_tags
from pyuniproc.sources import CameraSource, redact_uri
from pyuniproc.telemetry import Telemetry
from pyuniproc.types import Detections, Frame

log = logging.getLogger(__name__)

STAGES = ("decode_wait", "preprocess", "infer", "decode_boxes", "track", "embed", "fusion", "analytics", "output",
          "end_to_end")


class FrameObserver(Protocol):
    """Something that watches the run (a live view, a recorder): called from the pipeline thread,
    so it must return quickly (hand heavy work to its own thread)."""

    def on_frame(self, frame: Frame, tracks: Detections, events: list[dict[str, Any]]) -> None: ...

    def on_summary(self, summary: dict[str, Any]) -> None: ...


@dataclass
class CameraRun:
    """Everything the runtime keeps for one camera, created on its first frame."""

    spec: CameraSpec
    worker: CameraWorker
    tracker: Any = None
    frames_processed: int = 0
    last_frame: int = 0  # 1-based number of the last processed frame, as in the outputs
    people_max: int = 0
    track_ids: set[int] = field(default_factory=set)
    ended: bool = False


@dataclass(frozen=True)
class RunOptions:
    out_dir: Path
    max_seconds: float | None = None
    realtime: bool | None = None  # None: as the cameras file says
    loop: bool | None = None
    max_frames: int | None = None  # per camera, for tests and quick looks
    progress: bool = True
    watch_module: bool = True  # apply edits of the module YAML while running


class Pipeline:
    def __init__(self, module: ModuleConfig, site: Site, options: RunOptions):
        self.module = module
        self.site = site
        self.options = options
        self.settings = module.runtime
        self.detector = build_detector(module)
        self.pyfuncs = build_pyfuncs(module, site)
        self.reid = build_reid(module)
        # Global ids need appearance: fusion runs when the module has a ReID model.
        self.fusion = FusionStage(site, module.fusion) if self.reid is not None and module.fusion else None
        self.latency = {stage: LatencyStats() for stage in STAGES}
        self.outputs = RunOutputs(options.out_dir, annotate=self.settings.annotated_video,
                                  global_ids=self.fusion is not None, site=site.name,
                                  events=self.settings.events, recording=self.settings.recording,
                                  camera_ids=[camera.id for camera in site.cameras])
        self._wakeup = threading.Condition()
        self._stop = threading.Event()
        self._cameras: dict[str, CameraRun] = {}
        for spec in site.cameras:
            source = CameraSource(
                spec.id, spec.uri,
                realtime=spec.realtime if options.realtime is None else options.realtime,
                loop=spec.loop if options.loop is None else options.loop,
                start_seconds=spec.start_seconds, rtsp_transport=spec.rtsp_transport,
                max_frames=options.max_frames,
            )
            worker = CameraWorker(source, queue_size=self.settings.queue_size, wakeup=self._wakeup)
            self._cameras[spec.id] = CameraRun(spec=spec, worker=worker)
        self.watcher = ModuleWatcher(module.path) if options.watch_module else None
        self.telemetry = Telemetry(self.settings.telemetry, cameras=self._camera_snapshots)
        if self.fusion is not None:
            self.fusion.attach_metrics(self.telemetry.metrics)
        self.observers: list[FrameObserver] = []
        self._started = 0.0
        self._status = "created"
        self._next_camera = 0

    def stop(self) -> None:
        """Ask the run to end; safe from a signal handler or another thread."""
        self._stop.set()
        with self._wakeup:
            self._wakeup.notify_all()

    def run(self) -> dict[str, Any]:
        """Process until every camera ends, `max_seconds` pass, or `stop()`; returns the summary."""
        self._started = time.monotonic()
        self._status = "running"
        for camera in self._cameras.values():
            camera.worker.start()
        progress = Progress(enabled=self.options.progress)
        last_summary = 0.0
        self.telemetry.start()
        try:
            with progress:
                while not self._stop.is_set():
                    self.telemetry.tick()
                    if self.options.max_seconds and time.monotonic() - self._started >= self.options.max_seconds:
                        break
                    batch = self._next_batch()
                    if batch is None:
                        break
                    if batch:
                        self._process_batch(batch)
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
            self._status = "interrupted" if self._stop.is_set() else "finished"
        except KeyboardInterrupt:
            self._status = "interrupted"
        finally:
            self._shutdown()
            self.telemetry.stop()
        return self.summary()

    # -- batching -----------------------------------------------------------------------------

    def _next_batch(self) -> list[Frame] | None:
        """Up to batch_size frames, taken round robin so every camera gets its turn; [] when none
        came within a short wait; None when all cameras have ended."""
        limit = self.module.detector.batch_size
        deadline = None
        with self._wakeup:
            while True:
                batch = self._take_round_robin(limit)
                if len(batch) >= limit or (batch and self._all_buffers_empty()):
                    return batch
                if not batch and all(c.worker.finished for c in self._cameras.values()):
                    return None
                if self._stop.is_set():
                    return batch
                if batch:
                    # A partial batch: wait briefly for other cameras, then go with what we have.
                    deadline = deadline or time.monotonic() + self.settings.batch_wait_ms / 1000
                    remaining = deadline - time.monotonic()
                    if remaining <= 0:
                        return batch
                    self._wakeup.wait(remaining)
                    more = self._take_round_robin(limit - len(batch))
                    return batch + more
                # Nothing buffered: wait a little, then let the run loop look at its clock and edits.
                self._wakeup.wait(0.2)
                return []

    def _take_round_robin(self, limit: int) -> list[Frame]:
        cameras = list(self._cameras.values())
        batch: list[Frame] = []
        taken = True
        while len(batch) < limit and taken:
            taken = False
            for offset in range(len(cameras)):
                if len(batch) >= limit:
                    break
                camera = cameras[(self._next_camera + offset) % len(cameras)]
                frame = camera.worker.pop()
                if frame is not None:
                    batch.append(frame)
                    taken = True
            self._next_camera = (self._next_camera + 1) % len(cameras)
        return batch

    def _all_buffers_empty(self) -> bool:
        return all(c.worker.buffered() == 0 for c in self._cameras.values())

    # -- per batch / per frame ----------------------------------------------------------------

    def _process_batch(self, batch: list[Frame]) -> None:
        started = time.monotonic()
        telemetry = self.telemetry
        cameras = [frame.camera_id for frame in batch]
        traces = [telemetry.start_frame(frame.camera_id, frame.index, frame.decoded_at, pts_seconds=frame.pts_seconds)
                  for frame in batch]
        for frame, trace in zip(batch, traces):
            self.latency["decode_wait"].add((started - frame.decoded_at) * 1000)
            telemetry.record_stage(trace, frame.camera_id, "decode_wait", frame.decoded_at, started)
        tensor = self.detector.preprocess([frame.image for frame in batch])
        preprocessed = time.monotonic()
        raw = self.detector.infer(tensor)
        inferred = time.monotonic()
        detections = self.detector.postprocess(raw, [(frame.height, frame.width) for frame in batch])
        decoded = time.monotonic()
        share = 1000 / len(batch)  # batch stages are reported per frame
        self.latency["preprocess"].add((preprocessed - started) * share)
        self.latency["infer"].add((inferred - preprocessed) * share)
        self.latency["decode_boxes"].add((decoded - inferred) * share)
        telemetry.metrics.observe_batch(len(batch))
        for stage, t0, t1 in (("preprocess", started, preprocessed), ("infer", preprocessed, inferred),
                              ("decode_boxes", inferred, decoded)):
            telemetry.record_batch_stage(traces, cameras, stage, t0, t1)
        tracked = [self._track(frame, frame_detections, trace)
                   for frame, frame_detections, trace in zip(batch, detections, traces)]
        if self.reid is not None:
            t0 = time.monotonic()
            tracked = self.reid.process(batch, tracked)
            t1 = time.monotonic()
            self.latency["embed"].add((t1 - t0) * share)
            telemetry.record_batch_stage(traces, cameras, "embed", t0, t1)
        for frame, tracks, trace in zip(batch, tracked, traces):
            self._process_frame(frame, tracks, trace)
        if self.fusion is not None:
            self.fusion.report()

    def _track(self, frame: Frame, detections: Detections, trace: Any) -> Detections:
        camera = self._cameras[frame.camera_id]
        if camera.tracker is None:
            camera.tracker = build_tracker(self.module)
        t0 = time.monotonic()
        tracks = camera.tracker.update(detections)
        t1 = time.monotonic()
        self.latency["track"].add((t1 - t0) * 1000)
        self.telemetry.record_stage(trace, frame.camera_id, "track", t0, t1)
        return tracks

    def _process_frame(self, frame: Frame, tracks: Detections, trace: Any) -> None:
        camera = self._cameras[frame.camera_id]
        t0 = time.monotonic()
        events: list[dict[str, Any]] = []
        if self.fusion is not None:
            tracks = self.fusion.process(frame.camera_id, frame.pts_seconds, tracks)
            events.extend(self.fusion.events())
        t1 = time.monotonic()
        for stage in self.pyfuncs:
            tracks, tags = stage.process(frame, tracks)
            events.extend(events_from_tags(tags))
        t2 = time.monotonic()
        self.outputs.write_frame(frame, tracks, events, fps=camera.worker.stats.snapshot().get("fps", 0.0))
        for observer in self.observers:
            observer.on_frame(frame, tracks, events)
        t3 = time.monotonic()
        camera.frames_processed += 1
        camera.last_frame = frame.index + 1
        camera.people_max = max(camera.people_max, len(tracks))
        camera.track_ids.update(int(t) for t in tracks.tracker_id)
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
        for camera_id, camera in self._cameras.items():
            if not camera.ended and camera.worker.finished:
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

    # -- live edits of the module YAML ---------------------------------------------------------

    def _apply_module_edits(self) -> None:
        """Apply an edited module YAML between batches; a bad edit is reported and ignored."""
        edited = self.watcher.poll() if self.watcher else None
        if edited is None:
            return
        if isinstance(edited, Exception):
            self._reject_edit(edited)
            return
        sections = changed_sections(self.module, edited)
        trackers = [c.tracker for c in self._cameras.values() if c.tracker is not None]
        try:  # build and check everything first, so a failing edit changes nothing
            detector = build_detector(edited) if detector_needs_reload(self.module, edited) else None
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
        for camera in self._cameras.values():
            camera.worker.stop()
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
        for stage in self.pyfuncs:
            self.outputs.write_events(stage.stop())
        if self.fusion is not None:
            self.fusion.flush()
            self.outputs.write_events(self.fusion.events())
        self.outputs.write_summary(self.summary())
        self.outputs.close()

    # -- reporting ----------------------------------------------------------------------------

    def _camera_snapshots(self) -> dict[str, dict[str, Any]]:
        """Per-camera health for /metrics and /readyz, read at scrape time."""
        return {camera_id: {**camera.worker.stats.snapshot(), "queue_depth": camera.worker.buffered()}
                for camera_id, camera in self._cameras.items()}

    def summary(self) -> dict[str, Any]:
        elapsed = time.monotonic() - self._started if self._started else 0.0
        cameras = {}
        for camera_id, camera in self._cameras.items():
            snapshot = dict(camera.worker.stats.snapshot())
            snapshot.update(uri=redact_uri(camera.spec.uri), tracks_seen=len(camera.track_ids),
                            people_max=camera.people_max, last_frame=camera.last_frame)
            cameras[camera_id] = snapshot
        processed = sum(c.frames_processed for c in self._cameras.values())
        return {
            "status": self._status,
            "module": str(self.module.path),
            "site": self.site.name,
            "detector": self.module.detector.model_file,
            "elapsed_seconds": round(elapsed, 3),
            "frames_processed": processed,
            "throughput_fps": round(processed / elapsed, 2) if elapsed > 0 else 0.0,
            "cameras": cameras,
            "latency_ms": {stage: stats.summary() for stage, stats in self.latency.items()},
            "config": self.watcher.status.to_json() if self.watcher else None,
            "fusion": self.fusion.summary() if self.fusion is not None else None,
            "outputs": self.outputs.paths(),
            "telemetry": {"metrics_url": self.telemetry.url},
        }
