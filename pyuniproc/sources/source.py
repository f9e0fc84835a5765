"""`CameraSource`: one camera as a blocking iterator of `Frame`s, plus its health counters.

The runtime runs each source's `frames()` in a thread of its own and batches what comes out; this
module knows nothing about batching. Whatever goes wrong with a camera ends up in `stats` (state,
counters, a redacted `last_error`) and in the `pyuniproc.sources` log, never as an exception out
of `frames()`: one bad camera must not take the others down.
"""

from __future__ import annotations

import logging
import time
import traceback
from collections.abc import Iterator
from typing import Any

from pyuniproc.sources.av_open import SourceDead, probe
from pyuniproc.sources.backoff import Backoff
from pyuniproc.sources.files import FileReader
from pyuniproc.sources.live import LiveReader
from pyuniproc.sources.once import OneShotSource, check_reading
from pyuniproc.sources.stats import CameraState, CameraStats
from pyuniproc.sources.uri import SourceUri, parse_uri
from pyuniproc.types import Frame

logger = logging.getLogger("pyuniproc.sources")

RTSP_TRANSPORTS = ("tcp", "udp")


class CameraSource(OneShotSource):
    """Decodes one camera (file, image folder, RTSP, tcp/udp stream or webcam) with PyAV.

    camera_id: the camera's id, used in every message.
    uri: see `parse_uri`; credentials in it are never logged or reported.
    realtime: pace a file or image folder at its native rate (sleep to the pts schedule); live
        sources are paced by the camera. If decoding falls behind, frames come as fast as
        possible until the schedule is met again (no frames are skipped).
    loop: start a file/folder again at its end (from the very start, not `start_seconds`);
        index and pts keep increasing.
    start_seconds: skip this much of a file/folder first; pts 0 is the first frame played.
    rtsp_transport: "tcp" (reliable, default) or "udp" (less latency, loses packets on busy networks).
    images_fps: frame rate of an image folder.
    fps: frame rate of a video file, in place of its container's (None: the file's own; a raw .h264
        stream declares none and FFmpeg assumes 25): frames are 1 / fps apart from the first.
    open_timeout_seconds: a live connect (and stream probing) gives up after this long.
    read_timeout_seconds: a live connection that delivers no packet for this long is dropped and
        reconnected. Lower notices dead cameras sooner; below the camera's frame interval
        it drops healthy connections.
    stall_timeout_seconds: `stats` reads "stalled" when a live camera gave no frame for this long.
        Keep it below `read_timeout_seconds`: "stalled" is what health shows between frames stopping
        and the reader giving up on the connection (then "connecting" while it retries); at or above
        the read timeout a stall is never seen as such.
    backoff: reconnect policy of live sources (see `Backoff`, `LiveReader` for the semantics).
    max_frames: end (finished) after this many frames.
    clock_origin: `time.monotonic()` value that is pts 0 of a live source; give all live cameras
        of a site the same origin so their pts share one clock. Default: when `frames()` starts.
    av_options: extra FFmpeg input options (e.g. {"video_size": "1280x720"} for a webcam).

    `frames()` may be iterated once; `stop()` may be called from any thread.
    """

    def __init__(
        self,
        camera_id: str,
        uri: str,
        *,
        realtime: bool = False,
        loop: bool = False,
        start_seconds: float = 0.0,
        rtsp_transport: str = "tcp",
        images_fps: float = 10.0,
        open_timeout_seconds: float = 5.0,
        read_timeout_seconds: float = 5.0,
        stall_timeout_seconds: float = 2.0,
        backoff: Backoff | None = None,
        max_frames: int | None = None,
        clock_origin: float | None = None,
        av_options: dict[str, str] | None = None,
        first_index: int = 0,
        fps: float | None = None,
    ) -> None:
        if not isinstance(camera_id, str) or not camera_id:
            raise ValueError(f"camera_id must be a non-empty string, got {camera_id!r}")
        if rtsp_transport not in RTSP_TRANSPORTS:
            raise ValueError(f"rtsp_transport must be one of {RTSP_TRANSPORTS}, got {rtsp_transport!r}")
        for name, value in (
            ("images_fps", images_fps),
            ("open_timeout_seconds", open_timeout_seconds),
            ("read_timeout_seconds", read_timeout_seconds),
            ("fps", 1.0 if fps is None else fps),
        ):
            if not value > 0:
                raise ValueError(f"{name} must be > 0, got {value!r}")
        check_reading(start_seconds, max_frames, first_index)
        self.camera_id = camera_id
        self.source_uri: SourceUri = parse_uri(uri)
        self.realtime = bool(realtime)
        self.loop = bool(loop)
        self.start_seconds = float(start_seconds)
        self.rtsp_transport = rtsp_transport
        self.images_fps = float(images_fps)
        self.fps = None if fps is None else float(fps)
        self.open_timeout_seconds = float(open_timeout_seconds)
        self.read_timeout_seconds = float(read_timeout_seconds)
        self.backoff = backoff if backoff is not None else Backoff()
        self.max_frames = max_frames
        self.clock_origin = clock_origin
        self.av_options = dict(av_options or {})
        self.first_index = first_index
        self.stats = CameraStats(camera_id, uri, stall_timeout_seconds=stall_timeout_seconds)
        super().__init__()
        self._live_reader: LiveReader | None = None

    @property
    def uri(self) -> str:
        """The redacted URI (the raw one stays inside `source_uri` for FFmpeg)."""
        return self.source_uri.redacted

    @property
    def is_live(self) -> bool:
        return self.source_uri.is_live

    def frames(self) -> Iterator[Frame]:
        """Blocking iterator of frames; ends at the end of a file, on `stop()`, or when dead.

        Frame.index counts the frames yielded (first_index, first_index + 1, ... across loops and
        reconnects; first_index continues an earlier run's numbering, `pyuniproc.runtime.resume`).
        Frame.pts_seconds: files and folders use the stream clock from the first frame played
        (continuing across loops); live sources use `LiveClock` (stream spacing anchored to the
        monotonic clock, increasing across reconnects). Frame.decoded_at is when the frame was
        decoded (live) or released by the realtime pacing (files).
        """
        return super().frames()

    def join(self, timeout: float | None = None) -> bool:
        """After `frames()` ended: wait until a live reader closed its connection (True if it did)."""
        return True if self._live_reader is None else self._live_reader.join(timeout)

    def probe(self) -> dict[str, Any]:
        """`probe` of this camera's URI with its settings; raises `SourceError`."""
        return probe(
            self.source_uri.raw,
            camera_id=self.camera_id,
            rtsp_transport=self.rtsp_transport,
            timeout_seconds=self.open_timeout_seconds,
            images_fps=self.images_fps,
            av_options=self.av_options,
        )

    def _frames(self) -> Iterator[Frame]:
        logger.info("camera %s: opening %s (%s)", self.camera_id, self.uri, self.source_uri.kind.value)
        yielded = 0
        items = self._live_items() if self.is_live else self._file_items()
        try:
            for image, pts, decoded_at in items:
                frame = Frame(self.camera_id, self.first_index + yielded, pts, image, decoded_at)
                self.stats.record_frame(decoded_at)
                yielded += 1
                yield frame
                if self._stop.is_set() or (self.max_frames is not None and yielded >= self.max_frames):
                    break
        except SourceDead as exc:
            message = str(exc)
            self.stats.record_error(message)
            self.stats.set_state(CameraState.DEAD)
            logger.error("%s", message)
        except Exception as exc:  # a bug, not a camera problem: report it, never leak the URI
            text = self.source_uri.scrub("".join(traceback.format_exception(exc)))
            logger.error("camera %s: source crashed: %s", self.camera_id, text)
            self.stats.record_error(
                f"camera {self.camera_id}: source crashed: {self.source_uri.scrub(repr(exc))}"
            )
            self.stats.set_state(CameraState.DEAD)
        finally:
            stopped_while_failing = self._stop.is_set() and self.stats.state is CameraState.CONNECTING \
                and self.stats.consecutive_failures > 0
            self._stop.set()
            items.close()
            # A camera stopped while it could not connect ends dead, so the summary shows the failure.
            self.stats.set_state(CameraState.DEAD if stopped_while_failing else CameraState.FINISHED)
            logger.info(
                "camera %s: %s after %d frames",
                self.camera_id,
                self.stats.state.value,
                self.stats.frames_received,
            )

    def _file_items(self) -> Iterator[tuple[Any, float, float]]:
        reader = FileReader(
            self.camera_id,
            self.source_uri,
            self.stats,
            loop=self.loop,
            start_seconds=self.start_seconds,
            images_fps=self.images_fps,
            should_stop=self._stop.is_set,
            fps=self.fps,
        )
        started_at: float | None = None  # monotonic time of pts 0, for realtime pacing
        for image, pts in reader.frames():
            if self.realtime:
                if started_at is None:
                    started_at = time.monotonic() - pts
                delay = started_at + pts - time.monotonic()
                if delay > 0 and self._stop.wait(delay):
                    return
            yield image, pts, time.monotonic()

    def _live_items(self) -> Iterator[tuple[Any, float, float]]:
        self._live_reader = LiveReader(
            self.camera_id,
            self.source_uri,
            self.stats,
            self._stop,
            rtsp_transport=self.rtsp_transport,
            open_timeout_seconds=self.open_timeout_seconds,
            read_timeout_seconds=self.read_timeout_seconds,
            backoff=self.backoff,
            clock_origin=time.monotonic() if self.clock_origin is None else self.clock_origin,
            av_options=self.av_options,
        )
        return self._live_reader.items()

    def __repr__(self) -> str:
        return f"CameraSource({self.camera_id!r}, {self.uri!r}, kind={self.source_uri.kind.value})"
