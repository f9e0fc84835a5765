"""Live cameras (RTSP, tcp/udp/http streams, webcams): connect, decode, and reconnect forever.

A reader thread owns the PyAV container: it connects, decodes frames into a small queue, and on a
failed open, a read error, a stall (no packet for the read timeout) or the end of the stream, waits
a backoff delay and connects again. `frames()` of the camera source only drains the queue, so
`stop()` ends it within one poll interval even while FFmpeg is blocked in a connect or read (the
reader notices the stop when that call returns, at the latest after its timeout, and then closes
the connection). FFmpeg cannot resume an input after PyAV's interrupt fired, which is another
reason a timeout is handled as a lost connection.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
import traceback
from collections.abc import Iterator

import av
import av.error
import numpy as np

from pyuniproc.sources.av_open import describe, error_reason, open_input, video_stream
from pyuniproc.sources.backoff import Backoff
from pyuniproc.sources.stats import CameraState, CameraStats
from pyuniproc.sources.uri import SourceUri

logger = logging.getLogger("pyuniproc.sources")

Item = tuple[np.ndarray, float, float]  # (RGB image, pts_seconds, decoded_at)

POLL_SECONDS = 0.05
"""How often a waiting `frames()` checks for `stop()`; bounds how promptly a live source ends."""

MAX_CLOCK_SKEW_SECONDS = 10.0
"""A stream clock further than this from the monotonic clock is re-anchored (camera clock jump)."""

LIVE_AV_OPTIONS = {"fpsprobesize": "0"}
"""FFmpeg input options for live sources (`av_options` override them). Without `fpsprobesize=0`,
opening waits for ~20 frames to guess a frame rate that live pts never use (2 s at 10 fps)."""

_END = object()


class LiveClock:
    """pts for live frames: the stream's own frame spacing, anchored to the monotonic clock.

    Each connection anchors its first frame at the time it arrived (seconds since `origin`), so
    pts keeps increasing across reconnects, jumps forward by the real length of an outage, and
    is comparable between cameras that share `origin`.
    """

    def __init__(self, origin: float) -> None:
        self.origin = origin
        self.last: float | None = None
        self._anchor: tuple[float, float] | None = None  # (stream seconds, pts seconds)

    def reconnect(self) -> None:
        self._anchor = None

    def pts(self, stream_seconds: float | None, now: float) -> float:
        wall = now - self.origin
        floor = wall if self.last is None else max(wall, self.last + 1e-3)
        if stream_seconds is None:
            pts = floor
        else:
            if self._anchor is None:
                self._anchor = (stream_seconds, floor)
            pts = self._anchor[1] + (stream_seconds - self._anchor[0])
            if abs(pts - wall) > MAX_CLOCK_SKEW_SECONDS or (self.last is not None and pts < self.last - 1.0):
                self._anchor = (stream_seconds, floor)
                pts = floor
        if self.last is not None and pts <= self.last:
            pts = self.last + 1e-6
        self.last = pts
        return pts


class LiveReader:
    """Connection loop of one live camera, run in its own daemon thread.

    Failure semantics: a connection attempt that yields no frame (open failed, no video, dropped
    before the first frame) extends the failure streak; the first frame ends it. After any loss the
    reader waits `backoff` (retry k of a streak waits up to initial * factor**k) and reconnects,
    counting `reconnect_attempts`. When the streak reaches `backoff.max_attempts` the camera is dead
    and the reader ends; with `max_attempts=None` it retries forever (state connecting, the streak
    length visible as `consecutive_failures`).
    """

    def __init__(
        self,
        camera_id: str,
        uri: SourceUri,
        stats: CameraStats,
        stop: threading.Event,
        *,
        rtsp_transport: str,
        open_timeout_seconds: float,
        read_timeout_seconds: float,
        backoff: Backoff,
        clock_origin: float,
        av_options: dict[str, str] | None = None,
        queue_size: int = 2,
    ) -> None:
        self.camera_id = camera_id
        self.uri = uri
        self.stats = stats
        self.stop = stop
        self.rtsp_transport = rtsp_transport
        self.open_timeout_seconds = open_timeout_seconds
        self.read_timeout_seconds = read_timeout_seconds
        self.backoff = backoff
        self.av_options = LIVE_AV_OPTIONS | (av_options or {})
        self.clock = LiveClock(clock_origin)
        self._queue: queue.Queue[object] = queue.Queue(maxsize=queue_size)
        self._thread = threading.Thread(target=self._run, name=f"pyuniproc-source-{camera_id}", daemon=True)

    def items(self) -> Iterator[Item]:
        """Decoded frames until the reader ends (dead) or `stop` is set; starts the reader."""
        self._thread.start()
        while not self.stop.is_set():
            try:
                item = self._queue.get(timeout=POLL_SECONDS)
            except queue.Empty:
                continue
            if item is _END:
                return
            yield item  # type: ignore[misc]

    def join(self, timeout: float | None = None) -> bool:
        """Wait for the reader thread to close its connection; True when it has ended."""
        if self._thread.ident is None:
            return True
        self._thread.join(timeout)
        return not self._thread.is_alive()

    def _run(self) -> None:
        try:
            self._connect_loop()
        except Exception as exc:  # a bug, not a camera problem: report it, never leak the URI
            text = self.uri.scrub("".join(traceback.format_exception(exc)))
            logger.error("camera %s: reader crashed: %s", self.camera_id, text)
            self.stats.record_error(f"camera {self.camera_id}: reader crashed: {self.uri.scrub(repr(exc))}")
            self.stats.set_state(CameraState.DEAD)
        finally:
            self._put(_END, force=True)

    def _connect_loop(self) -> None:
        schedule = self.backoff.schedule()
        failures = 0
        attempt = 0
        while not self.stop.is_set():
            if attempt:
                self.stats.record_reconnect_attempt()
            attempt += 1
            self.stats.set_state(CameraState.CONNECTING)
            delivered, problem = self._connect_and_read()
            if self.stop.is_set():
                return
            failures = 0 if delivered else failures + 1
            self.stats.set_consecutive_failures(failures)
            if self.backoff.exhausted(failures):
                message = f"{problem} (gave up after {failures} failed attempts in a row)"
                self.stats.record_error(message)
                self.stats.set_state(CameraState.DEAD)
                logger.error("%s", message)
                return
            delay = schedule.delay(max(failures - 1, 0))
            logger.warning("%s; reconnecting in %.2f s", problem, delay)
            if self.stop.wait(delay):
                return

    def _connect_and_read(self) -> tuple[bool, str]:
        """One connection: (whether it delivered a frame, why it ended)."""
        started = time.monotonic()
        try:
            container = open_input(
                self.uri,
                rtsp_transport=self.rtsp_transport,
                open_timeout_seconds=self.open_timeout_seconds,
                read_timeout_seconds=self.read_timeout_seconds,
                av_options=self.av_options,
            )
        except (av.error.FFmpegError, OSError) as exc:
            reason = error_reason(exc, self.uri, timeout_seconds=self.open_timeout_seconds,
                                  elapsed_seconds=time.monotonic() - started)
            return False, self._error("cannot open", reason)
        delivered = False
        with container:
            try:
                stream = video_stream(container)
            except ValueError as exc:
                return False, self._error("cannot use", str(exc))
            self.clock.reconnect()
            packets = container.demux(stream)
            last_frame_at = time.monotonic()
            try:
                while True:
                    asked = time.monotonic()
                    try:
                        packet = next(packets)
                    except StopIteration:
                        break
                    now = time.monotonic()
                    if now - asked >= self.read_timeout_seconds:
                        # The read timeout fired, but FFmpeg's RTSP demuxer answers the interrupt with
                        # a packet still held for reordering instead of an error: the connection has
                        # stalled all the same (that packet is stale), so drop it now rather than one
                        # more read timeout later, with a camera reading "live" meanwhile.
                        return delivered, self._lost(f"no data for {self.read_timeout_seconds:g} s (stalled)")
                    if self.stop.is_set():
                        return delivered, "stopped"
                    try:
                        decoded = packet.decode()
                    except av.error.FFmpegError as exc:
                        reason = error_reason(exc, self.uri)
                        self.stats.record_read_error(
                            describe(self.camera_id, self.uri, "bad packet from", reason)
                        )
                        decoded = []
                    if not decoded and delivered and now - last_frame_at >= self.read_timeout_seconds:
                        # Packets keep coming but none decodes (a damaged bitstream, a wedged
                        # encoder): as useless as a stall; a new session restarts at a keyframe.
                        return delivered, self._lost(
                            f"no decodable frame for {self.read_timeout_seconds:g} s (corrupt stream)"
                        )
                    for frame in decoded:
                        image = frame.to_ndarray(format="rgb24")
                        now = time.monotonic()
                        pts = self.clock.pts(None if frame.time is None else float(frame.time), now)
                        if not delivered:
                            delivered = True
                            self.stats.set_consecutive_failures(0)
                            self.stats.set_state(CameraState.LIVE)
                            logger.info("camera %s: connected to %s", self.camera_id, self.uri.redacted)
                        if not self._put((image, pts, now)):
                            return delivered, "stopped"
                    if decoded:
                        last_frame_at = time.monotonic()  # after _put: a slow consumer is no corrupt stream
            except av.error.FFmpegError as exc:
                if isinstance(exc, av.error.ExitError):
                    reason = f"no data for {self.read_timeout_seconds:g} s (stalled)"
                else:
                    reason = error_reason(exc, self.uri)
                return delivered, self._lost(reason)
        return delivered, self._error("connection lost to", "end of stream")

    def _lost(self, reason: str) -> str:
        """A connection that delivered is given up: counted as a read error, reported redacted."""
        message = describe(self.camera_id, self.uri, "connection lost to", reason)
        self.stats.record_read_error(message)
        return message

    def _error(self, what: str, reason: str) -> str:
        message = describe(self.camera_id, self.uri, what, reason)
        self.stats.record_error(message)
        return message

    def _put(self, item: object, *, force: bool = False) -> bool:
        """Queue `item`, waiting while `frames()` is behind; False when stopped first."""
        while force or not self.stop.is_set():
            try:
                self._queue.put(item, timeout=POLL_SECONDS)
                return True
            except queue.Full:
                if force and self.stop.is_set():
                    return False  # nobody will read it: frames() has ended
        return False
