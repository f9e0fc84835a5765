"""`pyuniproc fusion`: the fusion stage as its own process.

Reads the module's frames (Savant's ZeroMQ output, or pyuniproc's) with tracked people and their
ReID embeddings, gives every person a global id across cameras, and writes the same frames back
with the `("mtmc", "global_id")` attribute on each object. In production the Savant module embeds
every person; the quality gate here decides which embeddings fusion trusts (crops too small,
occluded or cut by the frame edge get weight 0), as the embedded runtime's ReID step does.

Edits of the module YAML while it runs: the crop-quality gate applies between messages, fusion's own
parameters apply live but for the floor's (pyuniproc.fusion_edits); the notices go with the next frame sent.

A malformed message is logged and counted, never fatal; an end of stream drops that camera's
tracks (identities live on until their travel windows close). A camera missing from the cameras
file (a source adapter added later) is taken as a camera without topology links, with one warning,
as the embedded runtime takes cameras added while it runs (docs/robustness.md): its frames still get
global ids and go out, they are never dropped for that.
"""

from __future__ import annotations

import argparse
import json
import logging
import threading
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np
from prometheus_client.core import CounterMetricFamily

from pyuniproc.config.cameras import load_cameras
from pyuniproc.config.module import load_module_config
from pyuniproc.fusion import Fusion
from pyuniproc.fusion_edits import FusionEdits, quality_gate
from pyuniproc.module_files import default_module_file
from pyuniproc.reid import QualityGate
from pyuniproc.runtime.fusion_stage import FusionMetrics, to_run_event
from pyuniproc.runtime.stop_signals import stop_on_signals
from pyuniproc.telemetry import Telemetry
from pyuniproc.transport import FrameMessage, FrameReader, FrameWriter, StreamEnd, TransportError
from pyuniproc.types import Detections

log = logging.getLogger(__name__)
CONFIG_EVENTS_TAG = "config.events"


class FusionService:
    def __init__(self, reader: Any, writer: Any, fusion: Fusion, gate: QualityGate,
                 metrics: FusionMetrics | None = None, tick: Any = None,
                 site_cameras: frozenset[str] | None = None, edits: FusionEdits | None = None):
        self.reader, self.writer, self.fusion, self.gate = reader, writer, fusion, gate
        self.edits = edits
        self._notices: list[dict[str, Any]] = []  # config notices for the next frame sent
        self.metrics = metrics
        self.site_cameras = site_cameras  # None: do not warn about cameras outside the cameras file
        self._unlisted: set[str] = set()
        self.tick = tick or (lambda: None)  # liveness for /healthz
        self.counts = {"frames": 0, "ends": 0, "bad_messages": 0, "send_errors": 0}
        self.events: list[dict[str, Any]] = []
        self._stop = threading.Event()

    def stop(self) -> None:
        self._stop.set()

    def run(self, *, max_seconds: float | None = None, idle_seconds: float | None = None) -> dict[str, int]:
        """Serve until stopped, `max_seconds` pass, or nothing arrived for `idle_seconds`."""
        started = last_message = time.monotonic()
        while not self._stop.is_set():
            self.tick()
            now = time.monotonic()
            if max_seconds is not None and now - started >= max_seconds:
                break
            if idle_seconds is not None and now - last_message >= idle_seconds:
                break
            self.follow_edits()
            try:
                message = self.reader.receive()
            except (TransportError, ValueError, RuntimeError) as exc:
                self.counts["bad_messages"] += 1
                log.warning("fusion: unreadable message skipped: %s", exc)
                continue
            if message is None:
                continue
            last_message = time.monotonic()
            self.handle(message)
        self.fusion.flush()
        self.events.extend(to_run_event(e) for e in self.fusion.events())
        return dict(self.counts)

    def follow_edits(self) -> None:
        """Apply an edit of the module YAML between two messages (see pyuniproc.fusion_edits)."""
        if self.edits is None:
            return
        gate, notices = self.edits.poll()
        if gate is not None:
            self.gate = gate
        self.events.extend(notices)
        self._notices.extend(notices)

    def handle(self, message: FrameMessage | StreamEnd) -> None:
        if isinstance(message, StreamEnd):
            self.counts["ends"] += 1
            self.fusion.end_camera(message.camera_id)
            self._send(lambda: self.writer.send_end(message.camera_id))
            return
        camera_id = message.camera_id
        unlisted = self.site_cameras is not None and camera_id not in self.site_cameras
        if unlisted and camera_id not in self._unlisted:
            self._unlisted.add(camera_id)
            log.warning("fusion: camera %r is not in the cameras file: it has no topology links, so its "
                        "people are not matched with other cameras' (add it and its links there)", camera_id)
        try:
            tracks = self.fusion.update(camera_id, message.pts_seconds, self._weighted(message))
        except (KeyError, ValueError) as exc:  # an unknown camera, NaN times, a malformed embedding
            self.counts["bad_messages"] += 1
            log.warning("fusion: frame of camera %r skipped: %s", camera_id, exc)
            return
        self.counts["frames"] += 1
        self.events.extend(to_run_event(e) for e in self.fusion.events())
        if self.metrics is not None and self.counts["frames"] % 10 == 0:
            self.metrics.update(self.fusion)
        message.tracks = tracks
        if self._notices:  # with the module's own notices of this frame, if any
            earlier = json.loads(message.tags.get(CONFIG_EVENTS_TAG) or "[]")
            message.tags[CONFIG_EVENTS_TAG] = json.dumps(earlier + self._notices)
            self._notices = []
        self._send(lambda: self.writer.send(message))

    def _weighted(self, message: FrameMessage) -> Detections:
        """Embeddings weighted by crop quality: every object carries one in Savant, not all deserve trust."""
        tracks = message.tracks
        if "embedding" not in tracks.data or not len(tracks):
            return tracks
        good, quality = self.gate.assess(tracks.xyxy, tracks.confidence, (message.height, message.width))
        fresh = np.isfinite(np.asarray(tracks.data["embedding"], np.float32)).all(axis=1)
        data = {**tracks.data, "embedding_quality": np.where(good & fresh, quality, 0.0).astype(np.float32)}
        return Detections(tracks.xyxy, tracks.confidence, tracks.class_id, tracks.tracker_id, data)

    def _send(self, send: Any) -> None:
        try:
            send()
        except TransportError as exc:
            self.counts["send_errors"] += 1
            log.warning("fusion: %s", exc)


class ServiceCollector:
    """The service's and its reader's counters on /metrics, read at scrape time: what came in (frames,
    stream ends, ignored kinds, messages rejected and why) and what could not be handled or sent."""

    def __init__(self, service: FusionService, reader: Any) -> None:
        self.service, self.reader = service, reader

    def collect(self) -> Iterable[CounterMetricFamily]:
        stats = self.reader.stats()
        received = CounterMetricFamily("pyuniproc_fusion_service_messages",
                                       "Messages the fusion service's reader took, by kind", labels=["kind"])
        for kind in ("messages", "frames", "ends", "ignored", "rejected"):
            received.add_metric([kind], float(stats.get(kind, 0)))
        rejected = CounterMetricFamily("pyuniproc_fusion_service_rejected",
                                       "Messages the reader could not read, by reason", labels=["reason"])
        for reason, count in sorted(stats.get("rejected_by_reason", {}).items()):
            rejected.add_metric([reason], float(count))
        counts = dict(self.service.counts)
        handled = CounterMetricFamily("pyuniproc_fusion_service_frames",
                                      "Frames fused, skipped (unusable) or not sent", labels=["outcome"])
        outcomes = (("fused", "frames"), ("skipped", "bad_messages"), ("send_failed", "send_errors"))
        for outcome, key in outcomes:
            handled.add_metric([outcome], float(counts.get(key, 0)))
        return [received, rejected, handled]


def register(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser("fusion", help="give people global ids across cameras (ZeroMQ in and out)")
    parser.add_argument("--in", dest="inbound", required=True,
                        help="reader endpoint, e.g. sub+connect:ipc:///tmp/zmq-sockets/output-video.ipc")
    parser.add_argument("--out", dest="outbound", required=True,
                        help="writer endpoint, e.g. pub+bind:ipc:///tmp/zmq-sockets/fusion-output.ipc")
    parser.add_argument("--cameras", type=Path, required=True, help="cameras file: topology and travel times")
    parser.add_argument("--module", type=Path, default=default_module_file(),
                        help="module YAML whose parameters.fusion and parameters.reid apply (default: the "
                             "module shipped with pyuniproc, %(default)s; followed live: reid's gate applies "
                             "at once, fusion's parameters on a restart)")
    parser.add_argument("--max-seconds", type=float, help="stop after this long")
    parser.add_argument("--idle-seconds", type=float, help="stop when nothing arrived for this long")
    parser.set_defaults(func=fusion_command)


def fusion_command(args: argparse.Namespace) -> int:
    module = load_module_config(args.module)
    site = load_cameras(args.cameras)
    gate = quality_gate(module)
    # /metrics, /healthz, /readyz as the pipeline serves them (TELEMETRY_HOST/PORT in the module YAML).
    telemetry = Telemetry(module.runtime.telemetry, cameras=dict)
    telemetry.start()
    with FrameReader(args.inbound) as reader, FrameWriter(args.outbound) as writer:
        fusion = Fusion(site, module.fusion, accept_unknown_cameras=True)
        listed = frozenset(camera.id for camera in site.cameras)
        service = FusionService(reader, writer, fusion, gate, FusionMetrics(telemetry.metrics),
                                tick=telemetry.tick, site_cameras=listed, edits=FusionEdits(module, fusion))
        telemetry.metrics.registry.register(ServiceCollector(service, reader))
        try:
            with stop_on_signals(service.stop):
                counts = service.run(max_seconds=args.max_seconds, idle_seconds=args.idle_seconds)
        except KeyboardInterrupt:  # a second SIGINT
            counts = dict(service.counts)
        finally:
            telemetry.stop()
    stats = service.fusion.stats()
    print(f"fusion: {counts['frames']} frames, {counts['ends']} stream ends, {counts['bad_messages']} bad "
          f"messages; {stats['active_identities']} identities, {len(service.fusion.transitions)} transitions")
    return 0
