"""Prometheus metrics of a pyuniproc process, in their own registry.

Two ways values get in, chosen by how often they change:

* Per-camera health (fps, frames, drops, errors, reconnects, state, queue depth) is *pulled* at
  scrape time from the cameras' own `CameraStats.snapshot()` dicts by `CameraCollector`. The
  pipeline pays nothing per frame, the values are as fresh as the scrape, and the counters are
  the sources' own monotonic totals (a restarted process starts again from 0, which
  Prometheus' rate() treats as a counter reset). Give it a provider with `watch_cameras()`, or
  push the run summary with `update_from_summary()` (then values are as old as the summary).
* Latencies are *pushed* per frame with `observe_stage()` into histograms, because a
  percentile needs every observation, not the last value.

Labels are camera ids (and stage / drop reason); camera URIs never become labels, so
credentials in an RTSP URI cannot leak into Prometheus. Metric names are listed in
`docs/observability.md`; the alert rules and the Grafana dashboard use only those (a test checks).
"""

from __future__ import annotations

import logging
import math
import threading
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, ProcessCollector, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from pyuniproc.telemetry.gpu import gpu_collector

log = logging.getLogger(__name__)

# Milliseconds to seconds: a stage takes ~1 ms (tracking) to ~1 s (an overloaded detector);
# end to end also covers queueing, so the top buckets go to 10 s.
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
BATCH_SIZE_BUCKETS = (1, 2, 4, 8, 16, 32, 64)
CAMERA_STATES = ("connecting", "live", "stalled", "dead", "finished")
# Drop reasons exported as 0 before the first drop, so rate() and the drop-ratio alert have a
# series from the start: a full camera buffer (CameraWorker), a stale frame the overload policy
# skipped (runtime/overload.py), frames still buffered when the run stops. ("removed", the frames
# buffered for a camera removed at runtime, only ever shows in the removed camera's last summary.)
KNOWN_DROP_REASONS = ("queue_full", "stale", "shutdown")
END_TO_END = "end_to_end"

CameraSnapshots = Mapping[str, Mapping[str, Any]]
CameraProvider = Callable[[], CameraSnapshots]


class CameraCollector(Collector):
    """Per-camera series built at scrape time from `CameraStats.snapshot()`-shaped dicts.

    Keys read: state, fps, frames_received, frames_processed, dropped ({reason: n}),
    read_errors, reconnect_attempts, consecutive_failures, seconds_since_last_frame (None
    before the first frame: exported as NaN), and optional queue_depth (frames buffered).
    Anything else (uri, last_error) is ignored.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._provider: CameraProvider | None = None
        self._pushed: dict[str, Mapping[str, Any]] = {}
        self._queue_depths: dict[str, int] = {}

    def watch(self, provider: CameraProvider | None) -> None:
        with self._lock:
            self._provider = provider

    def push(self, snapshots: CameraSnapshots) -> None:
        with self._lock:
            self._pushed = {str(k): dict(v) for k, v in snapshots.items()}

    def set_queue_depth(self, camera_id: str, depth: int) -> None:
        with self._lock:
            self._queue_depths[camera_id] = int(depth)

    def forget(self, camera_id: str) -> None:
        with self._lock:
            self._pushed.pop(camera_id, None)
            self._queue_depths.pop(camera_id, None)

    def snapshots(self) -> dict[str, dict[str, Any]]:
        """The current per-camera dicts (provider first, else the last pushed summary)."""
        with self._lock:
            provider, pushed, depths = self._provider, dict(self._pushed), dict(self._queue_depths)
        if provider is not None:
            try:
                pushed = {str(k): v for k, v in provider().items()}
            except Exception:  # never fail a scrape or a health check over one bad read
                log.exception("camera provider failed; exporting the last pushed values")
        out: dict[str, dict[str, Any]] = {}
        for camera_id, snapshot in pushed.items():
            snap = dict(snapshot)
            if camera_id in depths and "queue_depth" not in snap:
                snap["queue_depth"] = depths[camera_id]
            out[camera_id] = snap
        return out

    def collect(self) -> Iterable[GaugeMetricFamily | CounterMetricFamily]:
        p = "pyuniproc_camera_"
        up = GaugeMetricFamily(
            p + "up", "1 while the camera delivers frames (state live), else 0", labels=["camera"]
        )
        state = GaugeMetricFamily(
            p + "state", "1 for the camera's current state, 0 for the others", labels=["camera", "state"]
        )
        fps = GaugeMetricFamily(
            p + "fps", "Frames per second received over the last few seconds", labels=["camera"]
        )
        since = GaugeMetricFamily(
            p + "seconds_since_last_frame", "Seconds since the last frame (NaN before one)", labels=["camera"]
        )
        depth = GaugeMetricFamily(
            p + "queue_depth", "Decoded frames waiting for the detector", labels=["camera"]
        )
        failures = GaugeMetricFamily(
            p + "consecutive_failures", "Connection attempts in a row that gave no frame", labels=["camera"]
        )
        received = CounterMetricFamily(
            p + "frames_received", "Frames decoded from the camera", labels=["camera"]
        )
        processed = CounterMetricFamily(
            p + "frames_processed", "Frames that went through the pipeline", labels=["camera"]
        )
        dropped = CounterMetricFamily(
            p + "frames_dropped", "Frames dropped, by reason", labels=["camera", "reason"]
        )
        errors = CounterMetricFamily(p + "read_errors", "Packets or reads that failed", labels=["camera"])
        reconnects = CounterMetricFamily(p + "reconnects", "Reconnection attempts", labels=["camera"])
        for camera_id, snap in sorted(self.snapshots().items()):
            cam = [camera_id]
            current = str(snap.get("state", "connecting"))
            up.add_metric(cam, 1.0 if current == "live" else 0.0)
            for name in CAMERA_STATES:
                state.add_metric([camera_id, name], 1.0 if current == name else 0.0)
            fps.add_metric(cam, _number(snap.get("fps")))
            since.add_metric(cam, _number(snap.get("seconds_since_last_frame"), missing=math.nan))
            failures.add_metric(cam, _number(snap.get("consecutive_failures")))
            if "queue_depth" in snap:
                depth.add_metric(cam, _number(snap["queue_depth"]))
            received.add_metric(cam, _number(snap.get("frames_received")))
            processed.add_metric(cam, _number(snap.get("frames_processed")))
            drops = {reason: 0 for reason in KNOWN_DROP_REASONS}
            drops.update(snap.get("dropped") or {})
            for reason, n in sorted(drops.items()):
                dropped.add_metric([camera_id, str(reason)], _number(n))
            errors.add_metric(cam, _number(snap.get("read_errors")))
            reconnects.add_metric(cam, _number(snap.get("reconnect_attempts")))
        return [up, state, fps, since, depth, failures, received, processed, dropped, errors, reconnects]


RecordingProvider = Callable[[], Mapping[str, Mapping[str, Any]]]


class RecordingCollector(Collector):
    """Annotated-video recorders, read at scrape time from `RunOutputs.recording_stats()`: frames
    recorded and frames dropped *for the recording only* (the encoder was behind; the pipeline still
    processed them), and frames waiting for the encoder, per recorded camera ("mosaic" for the grid)."""

    def __init__(self) -> None:
        self._provider: RecordingProvider | None = None

    def watch(self, provider: RecordingProvider | None) -> None:
        self._provider = provider

    def collect(self) -> Iterable[GaugeMetricFamily | CounterMetricFamily]:
        p = "pyuniproc_recording_"
        written = CounterMetricFamily(
            p + "frames_written", "Frames encoded into the camera's annotated video", labels=["camera"]
        )
        dropped = CounterMetricFamily(
            p + "frames_dropped",
            "Frames left out of the annotated video because its encoder was behind (not pipeline drops)",
            labels=["camera"],
        )
        queued = GaugeMetricFamily(
            p + "queue_depth", "Frames waiting for the camera's encoder", labels=["camera"]
        )
        stats: Mapping[str, Mapping[str, Any]] = {}
        if self._provider is not None:
            try:
                stats = self._provider()
            except Exception:  # never fail a scrape over one bad read
                log.exception("recording stats failed; exporting none")
        for camera_id, snap in sorted(stats.items()):
            written.add_metric([camera_id], _number(snap.get("frames_written")))
            dropped.add_metric([camera_id], _number(snap.get("frames_dropped")))
            queued.add_metric([camera_id], _number(snap.get("queued")))
        return [written, dropped, queued]


def _number(value: Any, missing: float = 0.0) -> float:
    if value is None or isinstance(value, bool):
        return missing if value is None else float(value)
    try:
        return float(value)
    except (TypeError, ValueError):
        return missing


class PipelineMetrics:
    """Everything /metrics shows for one process.

    registry: a fresh `CollectorRegistry` by default (never the global one, so several
        instances can live in one test process and nothing else leaks in).
    process: add prometheus-client's process collector (CPU seconds, resident memory, fds).
    gpu: "auto" or "off" (see `gpu_collector`); nvml: inject an NVML stand-in (tests).
    """

    def __init__(
        self,
        *,
        registry: CollectorRegistry | None = None,
        process: bool = True,
        gpu: str = "auto",
        nvml: Any | None = None,
    ) -> None:
        self.registry = registry or CollectorRegistry()
        r = self.registry
        self.cameras = CameraCollector()
        r.register(self.cameras)
        self.recordings = RecordingCollector()
        r.register(self.recordings)
        self._stage = Histogram(
            "pyuniproc_stage_latency_seconds",
            "Time a frame spent in one pipeline stage (a batched stage: the whole batch's time)",
            ["stage", "camera"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self._end_to_end = Histogram(
            "pyuniproc_end_to_end_latency_seconds",
            "From decoded to outputs written, per frame",
            ["camera"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self._batch_size = Histogram(
            "pyuniproc_batch_size", "Frames per detector batch", buckets=BATCH_SIZE_BUCKETS, registry=r
        )
        self._identities = Gauge(
            "pyuniproc_fusion_active_identities",
            "Global identities currently seen by at least one camera",
            registry=r,
        )
        self._backlog = Gauge(
            "pyuniproc_fusion_backlog", "Per-camera track messages waiting for the fusion stage", registry=r
        )
        self._matches = Counter(
            "pyuniproc_fusion_matches", "Tracks assigned to an existing global identity", registry=r
        )
        self._transitions = Counter(
            "pyuniproc_fusion_transitions",
            "An identity seen on one camera reappearing on another",
            ["from_camera", "to_camera"],
            registry=r,
        )
        self._children: dict[tuple[str, str], Any] = {}  # (stage, camera) -> histogram child
        self._transition_pairs: set[tuple[str, str]] = set()  # label pairs of _transitions
        self._forgotten: set[str] = set()  # cameras removed from the site (forget_camera)
        self._loop_ticks = Counter("pyuniproc_loop_iterations", "Iterations of the run loop", registry=r)
        if process:
            ProcessCollector(registry=r)
        self.gpu = gpu_collector(gpu, nvml)
        if self.gpu is not None:
            r.register(self.gpu)

    # -- cameras -----------------------------------------------------------------------------

    def watch_cameras(self, provider: CameraProvider | None) -> None:
        """Read per-camera dicts from `provider()` at every scrape (and every /readyz)."""
        self.cameras.watch(provider)

    def watch_recordings(self, provider: RecordingProvider | None) -> None:
        """Read the recorders' counters from `provider()` (`RunOutputs.recording_stats`) at every scrape."""
        self.recordings.watch(provider)

    def update_from_summary(self, summary: Mapping[str, Any]) -> None:
        """Take the cameras of a `Pipeline.summary()` dict (used while no provider is watched)."""
        self.cameras.push(summary.get("cameras") or {})

    def set_queue_depth(self, camera_id: str, depth: int) -> None:
        """Frames buffered for `camera_id`, when the provider's dicts do not carry queue_depth."""
        self.cameras.set_queue_depth(camera_id, depth)

    def forget_camera(self, camera_id: str) -> None:
        """Drop a camera's series (removed from the site; not for a camera that just ended): its
        latency histograms and the fusion transitions from or to it (its health series come from
        the camera provider, which no longer lists it)."""
        self.cameras.forget(camera_id)
        # fusion may still decide a removed camera's pending tracks after this (its transitions would bring
        # the series back): they are not counted until the camera is added again (`camera_added`)
        self._forgotten.add(camera_id)
        for pair in [pair for pair in self._transition_pairs if camera_id in pair]:
            self._transition_pairs.discard(pair)
            self._transitions.remove(*pair)
        for stage, camera in list(self._children):
            if camera != camera_id:
                continue
            del self._children[(stage, camera)]
            if stage == END_TO_END:
                self._end_to_end.remove(camera)
            else:
                self._stage.remove(stage, camera)

    # -- latency -----------------------------------------------------------------------------

    def observe_stage(self, stage: str, seconds: float, camera: str) -> None:
        """One frame's time in `stage`; "end_to_end" goes to the end-to-end histogram."""
        child = self._children.get((stage, camera))
        if child is None:  # first time: `labels()` validates and locks, too slow for every frame
            child = (
                self._end_to_end.labels(camera) if stage == END_TO_END else self._stage.labels(stage, camera)
            )
            self._children[(stage, camera)] = child
        child.observe(seconds)

    def observe_batch(self, size: int) -> None:
        self._batch_size.observe(size)

    def tick(self) -> None:
        """One run-loop iteration (its rate shows the loop is alive in Grafana)."""
        self._loop_ticks.inc()

    # -- fusion ------------------------------------------------------------------------------

    def set_fusion_state(self, *, active_identities: int | None = None, backlog: int | None = None) -> None:
        if active_identities is not None:
            self._identities.set(active_identities)
        if backlog is not None:
            self._backlog.set(backlog)

    def add_matches(self, n: int = 1) -> None:
        self._matches.inc(n)

    def camera_added(self, camera_id: str) -> None:
        """A camera (again) in the site: its fusion transitions count again."""
        self._forgotten.discard(camera_id)

    def add_transition(self, from_camera: str, to_camera: str, n: int = 1) -> None:
        if from_camera in self._forgotten or to_camera in self._forgotten:
            return
        self._transitions.labels(from_camera, to_camera).inc(n)
        self._transition_pairs.add((from_camera, to_camera))

    # -- output ------------------------------------------------------------------------------

    def exposition(self) -> bytes:
        """The Prometheus text format, as /metrics serves it."""
        return generate_latest(self.registry)
