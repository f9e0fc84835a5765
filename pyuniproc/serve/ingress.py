"""Savant's source adapters in, cameras of the pipeline out: the `Feed` of `pyuniproc serve`.

One thread reads the module's input socket (a ROUTER, as Savant's module binds it) and sorts messages by
source id, following what Savant's ZeroMQ source and demuxer do with them:

- A source appears with its first frame; its stream starts at a keyframe (frames before one are
  counted and dropped: a decoder cannot start there) and becomes a pipeline camera (`add_camera`).
- EndOfStream ends the stream: the pipeline processes what was received, its pyfuncs see the end, the
  end is published. A frame whose codec or size differs from its stream's, or whose dts (pts when it
  has none) goes back (an adapter restarted without an end of stream), ends that stream the same way
  and, from a keyframe, starts the next one. A source silent for `source_timeout` seconds ends too.
- After its stream ended the source keeps its camera (tracker, counters, numbering) for
  `source_timeout` seconds, so a restarting adapter continues where it left off; then it is removed
  (`remove_camera`: pyfuncs' `on_source_delete`, everything it held released). A source stream that
  starts while the previous one is still being processed waits for it (its frames wait in its queue).
- Shutdown with the module's key (`shutdown_auth`) ends every stream, waits until the pipeline has
  processed and published them, and stops the service; without the key it is counted and ignored.

Frames of a stream go to its `SocketSource`, whose bounded queue makes this thread wait when the
pipeline is full: the ROUTER is then not read, and ZeroMQ pushes back on the adapters. Unusable input
is counted (`Accounting`), never fatal.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from pyuniproc.config.cameras import CameraSpec, Site
from pyuniproc.outputs._files import check_camera_id
from pyuniproc.serve.accounting import Accounting
from pyuniproc.serve.source import SocketSource
from pyuniproc.sources.stats import CameraStats
from pyuniproc.transport import (
    CODECS,
    Envelope,
    IncomingFrame,
    TransportError,
    read_frame_batch,
    read_video_frame,
)
from pyuniproc.types import Frame

log = logging.getLogger("pyuniproc.serve")

CHECK_SECONDS = 0.5  # how often silent and ended sources are looked at
MAX_WAITING_STREAMS = 4  # streams of one source waiting for the previous one; more makes the reader wait
SHUTDOWN_WAIT_SECONDS = 60.0  # a Shutdown waits this long for the streams to be processed
STILL_CODECS = ("jpeg", "png", "raw-rgba", "raw-rgb24")  # every picture decodes alone, flagged or not


@dataclass
class SourceRecord:
    """Everything kept for one source id between its first frame and its removal."""

    source_id: str
    stats: CameraStats
    originals: dict[int, IncomingFrame] = field(default_factory=dict)  # by frame index, until published
    receiving: SocketSource | None = None  # the stream this source's frames go to now
    active: SocketSource | None = None  # the stream the pipeline runs (or was asked to)
    waiting: deque[SocketSource] = field(default_factory=deque)  # started while `active` finished
    in_pipeline: bool = False  # the pipeline holds a camera for it (running or ended)
    last_message: float = 0.0
    ended_at: float | None = None

    @property
    def idle(self) -> bool:
        """No stream receives, runs or waits: only the retained camera (if any) is left."""
        return self.receiving is None and self.active is None and not self.waiting


class SavantIngress:
    """The ROUTER reader thread and the per-source state; the pipeline's `Feed`.

    reader: a `FrameReader` on the input endpoint (its `receive_envelope` is used).
    site: the cameras file (ids listed there bring their lines and zones; others are reported).
    source_timeout: seconds of silence that end a source's stream, and that an ended source's camera
        is kept for a restart; longer rides out adapter restarts, shorter frees memory sooner.
    queue_frames: encoded frames queued per stream (see `SocketSource`).
    shutdown_auth: the key a Shutdown message must carry; None ignores every Shutdown.
    """

    def __init__(self, reader: Any, *, site: Site, source_timeout: float = 10.0, queue_frames: int = 4,
                 shutdown_auth: str | None = None, clock: Callable[[], float] = time.monotonic) -> None:
        if not source_timeout > 0:
            raise ValueError(f"source_timeout must be > 0 seconds, got {source_timeout!r}")
        self.reader = reader
        self.site_cameras: Mapping[str, CameraSpec] = {camera.id: camera for camera in site.cameras}
        self.source_timeout = float(source_timeout)
        self.queue_frames = int(queue_frames)
        self.shutdown_auth = shutdown_auth
        self._clock = clock
        self.accounting = Accounting(stats_of=self._stats_of)
        self.events: Counter[str] = Counter()  # appeared, streams, ended_silent, removed, unlisted
        self.unlisted: list[str] = []  # ids not in the cameras file (the first 100)
        self._records: dict[str, SourceRecord] = {}
        self._lock = threading.Lock()
        self._room = threading.Condition(self._lock)  # a waiting stream started
        self._stop = threading.Event()
        self._shutdown_at: float | None = None
        self._pipeline: Any = None
        self._thread = threading.Thread(target=self._run, name="serve-ingress", daemon=True)

    # -- wiring ------------------------------------------------------------------------------------

    def attach(self, pipeline: Any) -> None:
        """The pipeline whose cameras this feed adds and removes (and stops on Shutdown)."""
        self._pipeline = pipeline

    def start(self) -> None:
        self._thread.start()

    def close(self, timeout: float = 5.0) -> None:
        """Stop reading (after the pipeline stopped); streams still open are stopped."""
        self._stop.set()
        with self._room:
            self._room.notify_all()
        if self._thread.ident is not None:
            self._thread.join(timeout)

    # -- Feed (pipeline thread) ---------------------------------------------------------------------

    def open_source(self, spec: CameraSpec, first_index: int) -> SocketSource:
        with self._lock:
            record = self._records[spec.id]
            stream = record.active
        assert stream is not None, f"source {spec.id}: the pipeline asked for a stream nobody started"
        stream.first_index = first_index
        return stream

    def trace_parent(self, frame: Frame) -> Mapping[str, str] | None:
        record = self._records.get(frame.camera_id)
        original = record.originals.get(frame.index) if record is not None else None
        return original.trace_carrier if original is not None and original.trace_carrier else None

    def take_original(self, camera_id: str, index: int) -> IncomingFrame | None:
        """The received frame a processed frame came from (taken: asked once, by the egress)."""
        record = self._records.get(camera_id)
        return record.originals.pop(index, None) if record is not None else None

    def camera_ended(self, camera_id: str) -> None:
        with self._lock:
            record = self._records.get(camera_id)
            if record is None:
                return
            record.active = record.waiting.popleft() if record.waiting else None
            record.ended_at = None if record.active is not None else self._clock()
            following = record.active
            self._room.notify_all()
        if following is not None:
            self._add(record, following)

    # -- the reader thread --------------------------------------------------------------------------

    def _run(self) -> None:
        last_check = self._clock()
        while not self._stop.is_set():
            if self._shutdown_at is not None:
                self._finish_shutdown()
                return
            try:
                envelope = self.reader.receive_envelope()
            except TransportError as error:
                self.accounting.reject(None, error.reason, str(error))
                envelope = None
            if envelope is not None:
                try:
                    self._handle(envelope)
                except Exception:  # a bug must not end the service; the message is lost, counted
                    log.exception("serve: message on topic %r could not be handled", envelope.topic)
                    self.accounting.reject(None, "internal_error", "message handling failed")
            now = self._clock()
            if now - last_check >= CHECK_SECONDS:
                last_check = now
                self._check_sources(now)
        self._stop_all()

    def _handle(self, envelope: Envelope) -> None:
        message = envelope.message
        if message.is_video_frame():
            self.accounting.received("frame")
            self._frame_message(envelope.topic, lambda: [read_video_frame(message, envelope.extra)])
        elif message.is_video_frame_batch():
            self.accounting.received("frame_batch")
            self._frame_message(envelope.topic, lambda: read_frame_batch(message))
        elif message.is_end_of_stream():
            self.accounting.received("end_of_stream")
            self._end_of_stream(str(message.as_end_of_stream().source_id))
        elif message.is_shutdown():
            self.accounting.received("shutdown")
            self._shutdown(str(message.as_shutdown().auth))
        else:
            self.accounting.received("other")
            self.accounting.reject(None, "unsupported_message", f"message on topic {envelope.topic!r} is "
                                   "neither a frame, an end of stream nor a shutdown")

    def _frame_message(self, topic: str, read: Callable[[], list[IncomingFrame]]) -> None:
        try:
            frames = read()
        except ValueError as error:
            self.accounting.reject(topic if self._records.get(topic) else None, "malformed_frame",
                                   f"frame on topic {topic!r}: {error}")
            return
        for frame in frames:
            self._frame(frame)

    def _frame(self, frame: IncomingFrame) -> None:
        source_id = frame.source_id
        try:
            check_camera_id(source_id)
        except ValueError as error:
            self.accounting.reject(None, "invalid_source_id", str(error))
            return
        record = self._record(source_id)
        record.stats.record_frame()
        record.last_message = self._clock()
        problem = self._unusable(frame)
        if problem is not None:
            self.accounting.reject(source_id, *problem)
            return
        stream = record.receiving
        if stream is not None and stream.params != frame.params:
            log.info("serve: source %r changed from %s to %s: its stream restarts", source_id,
                     _describe(stream.params), _describe(frame.params))
            self._end_stream(record)
            stream = None
        elif stream is not None and stream.last_decode_time is not None \
                and frame.decode_time < stream.last_decode_time:
            log.info("serve: source %r: timestamps went back (%d after %d): its stream restarts", source_id,
                     frame.decode_time, stream.last_decode_time)
            self.events["timestamp_resets"] += 1
            self._end_stream(record)
            stream = None
        if stream is None:
            if not (frame.keyframe or frame.codec in STILL_CODECS):
                self.accounting.reject(source_id, "before_keyframe",
                                       f"frame pts {frame.pts} before a keyframe: a stream starts at one")
                return
            stream = self._start_stream(record, frame)
            if stream is None:
                return
        stream.last_decode_time = frame.decode_time
        if not stream.put(frame, give_up=self._stop.is_set):
            self.accounting.reject(source_id, "stopped", "frame of a stream that was stopped")

    def _unusable(self, frame: IncomingFrame) -> tuple[str, str] | None:
        """(reason, message) for a frame that cannot be decoded at all, else None."""
        if frame.codec not in CODECS:
            return "unsupported_codec", f"codec {frame.codec!r} is not one of {', '.join(CODECS)}"
        if frame.content is None:
            return frame.content_problem or "no_content", f"frame pts {frame.pts} has no picture to decode"
        return None

    def _record(self, source_id: str) -> SourceRecord:
        record = self._records.get(source_id)
        if record is None:
            record = SourceRecord(source_id, CameraStats(source_id, f"savant:{source_id}"))
            with self._lock:
                self._records[source_id] = record
            self.events["appeared"] += 1
            if source_id not in self.site_cameras:
                self.events["unlisted"] += 1
                if len(self.unlisted) < 100:
                    self.unlisted.append(source_id)
                report = log.warning if self.site_cameras else log.info  # no cameras file: none is listed
                report("serve: source %r is not in the cameras file: it is processed, without lines, zones "
                       "or topology links (fusion matches its people by appearance only where the site "
                       "allows)", source_id)
        return record

    def _start_stream(self, record: SourceRecord, frame: IncomingFrame) -> SocketSource | None:
        stream = SocketSource(record.source_id, f"savant:{record.source_id}", stats=record.stats,
                              originals=record.originals, first_index=0, params=frame.params,
                              reject=self.accounting.reject, capacity=self.queue_frames)
        with self._room:
            while record.active is not None and len(record.waiting) >= MAX_WAITING_STREAMS:
                if self._stop.is_set():
                    return None
                self._room.wait(CHECK_SECONDS)
            record.receiving = stream
            record.ended_at = None
            starts_now = record.active is None
            if starts_now:
                record.active = stream
            else:
                record.waiting.append(stream)
        self.events["streams"] += 1
        if starts_now:
            self._add(record, stream)
        return stream

    def _add(self, record: SourceRecord, stream: SocketSource) -> None:
        """Ask the pipeline to run `stream` (a new camera, or the retained one restarted)."""
        listed = self.site_cameras.get(record.source_id)
        spec = CameraSpec(id=record.source_id, uri=stream.uri, lines=listed.lines if listed else (),
                          zones=listed.zones if listed else ())
        record.in_pipeline = True
        future = self._pipeline.add_camera(spec)

        def refused(done: Any) -> None:
            error = done.exception()
            if error is not None:
                log.error("serve: source %r: the pipeline refused it: %s", record.source_id, error)
                stream.abandon("stopped")
                self.camera_ended(record.source_id)

        future.add_done_callback(refused)

    def _end_stream(self, record: SourceRecord) -> None:
        if record.receiving is not None:
            record.receiving.close(give_up=self._stop.is_set)
            record.receiving = None

    def _end_of_stream(self, source_id: str) -> None:
        record = self._records.get(source_id)
        if record is None:
            return  # Savant's demuxer drops the end of a source it has no stream of, too
        record.last_message = self._clock()
        self._end_stream(record)

    def _check_sources(self, now: float) -> None:
        """End streams silent for `source_timeout`; remove sources ended that long ago."""
        for record in list(self._records.values()):
            if now - record.last_message < self.source_timeout:
                continue
            if record.receiving is not None:
                log.info("serve: source %r silent for %.0f s: its stream ends", record.source_id,
                         now - record.last_message)
                self.events["ended_silent"] += 1
                self._end_stream(record)
            elif record.idle and (record.ended_at is None or now - record.ended_at >= self.source_timeout):
                self._remove(record)

    def _remove(self, record: SourceRecord) -> None:
        with self._lock:
            del self._records[record.source_id]
        self.events["removed"] += 1
        if record.in_pipeline:
            self._pipeline.remove_camera(record.source_id)
        log.info("serve: source %r removed after %.0f s without frames", record.source_id,
                 self.source_timeout)

    # -- shutdown --------------------------------------------------------------------------------

    def _shutdown(self, auth: str) -> None:
        if self.shutdown_auth is None or auth != self.shutdown_auth:
            reason = "shutdown is not enabled" if self.shutdown_auth is None else "wrong key"
            self.accounting.reject(None, "shutdown_refused", f"Shutdown message ignored: {reason}")
            return
        log.info("serve: Shutdown received: ending every stream, then stopping")
        for record in list(self._records.values()):
            self._end_stream(record)
        self._shutdown_at = self._clock()

    def _finish_shutdown(self) -> None:
        """Wait until the pipeline processed and published every stream, then stop it."""
        while not self._stop.is_set() and self._clock() - self._shutdown_at < SHUTDOWN_WAIT_SECONDS:
            with self._lock:
                busy = [r.source_id for r in self._records.values() if r.active is not None or r.waiting]
            if not busy:
                break
            time.sleep(0.05)
        self._pipeline.stop()

    def _stop_all(self) -> None:
        for record in list(self._records.values()):
            for stream in (record.receiving, *record.waiting):
                if stream is not None and stream is not record.active:
                    stream.abandon("stopped")

    # -- reporting -------------------------------------------------------------------------------

    def _stats_of(self, source_id: str) -> CameraStats | None:
        record = self._records.get(source_id)
        return record.stats if record is not None else None

    def summary(self) -> dict[str, Any]:
        """JSON-ready: messages by kind, rejections by reason, source events, sources now, unlisted ids."""
        with self._lock:
            sources = {r.source_id: {"streaming": r.receiving is not None, "frames_waiting": len(r.originals)}
                       for r in self._records.values()}
        return {**self.accounting.snapshot(), "source_events": dict(self.events), "sources": sources,
                "unlisted_sources": list(self.unlisted)}


def _describe(params: tuple[str | None, int, int]) -> str:
    codec, width, height = params
    return f"{codec} {width}x{height}"


__all__ = ["SavantIngress", "SourceRecord"]
