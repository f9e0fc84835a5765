"""`Nv12Source`: a camera file decoded to NV12 pictures that stay where the decoder put them (NVDEC: the GPU).

The GPU backend's frame source: the same surface as `CameraSource` (camera id, `frames()` iterated on the
camera's own thread, `stop()`, `stats`, pacing, looping, `max_frames`, numbering that continues an earlier
run), yielding `pyuniproc.nv12.Nv12Frame`s instead of host RGB frames. The decoder is any `Nv12Reader`:
NVDEC through the native loop or PyNvVideoCodec (`pyuniproc.gpu.decoders`), or PyAV converting to NV12 on
the host (the stand-in that lets a CPU machine run and test this path).

Files only: live cameras keep `CameraSource` (reconnects, stalls; NVDEC for them is issue 19's next step).
Frames are spaced 1 / fps apart on the stream clock from pts 0 (the file's nominal rate, as `CameraSource`
reads it), which equals the container's timestamps for constant-rate files.
"""

from __future__ import annotations

import logging
import time
import traceback
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, Protocol

from pyuniproc.nv12 import COLOUR_MATRICES, Nv12Frame
from pyuniproc.sources.once import OneShotSource, check_reading
from pyuniproc.sources.stats import CameraState, CameraStats
from pyuniproc.sources.uri import SourceKind, SourceUri, parse_uri

logger = logging.getLogger("pyuniproc.sources")

DEFAULT_FPS = 25.0
"""Frame rate of a file that declares none (FFmpeg's guess for a raw H.264 stream, too)."""


class Nv12Reader(Protocol):
    """A decoder session: `read()` gives the next picture, (H * 3 // 2, W) uint8 (a CUDA tensor or a host
    array) that stays valid after the next read, or None at the end; `close()` frees the session."""

    def read(self) -> Any | None: ...

    def close(self) -> None: ...


def video_geometry(path: str | Path) -> tuple[int, int, float]:
    """(width, height, nominal fps) of a video file, read by OpenCV's FFmpeg (the same reading of the rate
    as PyAV's, which the CPU decoder uses; OpenCV also runs where PyAV is not installed). Raises ValueError
    when the file cannot be read."""
    import cv2

    capture = cv2.VideoCapture(str(path))
    try:
        if not capture.isOpened():
            raise ValueError(f"cannot read the video {path}")
        width = int(capture.get(cv2.CAP_PROP_FRAME_WIDTH))
        height = int(capture.get(cv2.CAP_PROP_FRAME_HEIGHT))
        fps = float(capture.get(cv2.CAP_PROP_FPS))
    finally:
        capture.release()
    if width < 2 or height < 2:
        raise ValueError(f"cannot read the picture size of the video {path}")
    return width, height, fps if 0 < fps < 1000 else DEFAULT_FPS


class Nv12Source(OneShotSource):
    """One camera file as a blocking iterator of `Nv12Frame`s.

    open_reader: makes the decoder session; called on the thread that iterates `frames()` (a CUDA decoder
        belongs to the thread that made it), with `loop` (start again at the end, index and pts going on).
    fps: the file's nominal rate (frames are 1 / fps apart on the stream clock).
    realtime, loop, start_seconds, max_frames, first_index: as `CameraSource`'s.
    colour_matrix: how the frames' NV12 converts to RGB ("bt601" matches the CPU decoder for untagged files).

    Errors end the camera (dead, with the message in `stats`), never the run."""

    is_live = False

    def __init__(self, camera_id: str, uri: str, open_reader: Callable[[bool], Nv12Reader], *, fps: float,
                 realtime: bool = False, loop: bool = False, start_seconds: float = 0.0,
                 max_frames: int | None = None, first_index: int = 0, colour_matrix: str = "bt601",
                 stall_timeout_seconds: float = 2.0) -> None:
        source_uri: SourceUri = parse_uri(uri)
        if source_uri.kind is not SourceKind.FILE:
            raise ValueError(f"camera {camera_id}: the NV12 source reads video files, "
                             f"not {source_uri.kind.value}")
        if not fps > 0:
            raise ValueError(f"fps must be > 0, got {fps!r}")
        check_reading(start_seconds, max_frames, first_index)
        if colour_matrix not in COLOUR_MATRICES:
            raise ValueError(f"colour matrix must be one of {', '.join(COLOUR_MATRICES)}, "
                             f"got {colour_matrix!r}")
        self.camera_id = camera_id
        self.source_uri = source_uri
        self.open_reader = open_reader
        self.fps = float(fps)
        self.realtime = bool(realtime)
        self.loop = bool(loop)
        self.start_seconds = float(start_seconds)
        self.max_frames = max_frames
        self.first_index = first_index
        self.colour_matrix = colour_matrix
        self.stats = CameraStats(camera_id, uri, stall_timeout_seconds=stall_timeout_seconds)
        super().__init__()

    @property
    def uri(self) -> str:
        return self.source_uri.redacted

    def frames(self) -> Iterator[Nv12Frame]:
        """Blocking iterator of frames; ends at the end of the file (unless looping), on `stop()` or on an
        error. May be iterated once."""
        return super().frames()

    def join(self, timeout: float | None = None) -> bool:
        return True

    def _frames(self) -> Iterator[Nv12Frame]:
        logger.info("camera %s: opening %s (NV12 decoder)", self.camera_id, self.uri)
        period = 1.0 / self.fps
        skip = round(self.start_seconds * self.fps)  # frames before start_seconds (first pass only)
        yielded = decoded = 0
        started_at: float | None = None
        reader: Nv12Reader | None = None
        failed = False
        try:
            reader = self.open_reader(self.loop)
            while not self._stop.is_set():
                picture = reader.read()
                if picture is None:
                    if decoded == 0:
                        raise ValueError("no decodable video frames")
                    if decoded <= skip:
                        raise ValueError(f"no frames at or after start_seconds={self.start_seconds:g}")
                    break
                decoded += 1
                if decoded <= skip:
                    continue
                pts = yielded * period
                if self.realtime:
                    if started_at is None:
                        started_at = time.monotonic() - pts
                    delay = started_at + pts - time.monotonic()
                    if delay > 0 and self._stop.wait(delay):
                        break
                now = time.monotonic()
                frame = Nv12Frame(self.camera_id, self.first_index + yielded, pts, picture, now,
                                  colour_matrix=self.colour_matrix)
                self.stats.record_frame(now)
                yielded += 1
                yield frame
                if self.max_frames is not None and yielded >= self.max_frames:
                    break
        except Exception as exc:  # one camera's failure must not end the run
            failed = True
            text = self.source_uri.scrub("".join(traceback.format_exception_only(exc)).strip())
            logger.error("camera %s: NV12 decoding failed: %s", self.camera_id, text)
            self.stats.record_error(f"camera {self.camera_id}: cannot decode {self.uri}: {text}")
        finally:
            self.stats.set_state(CameraState.DEAD if failed else CameraState.FINISHED)
            self._stop.set()
            if reader is not None:
                reader.close()
            logger.info("camera %s: %s after %d frames", self.camera_id, self.stats.state.value,
                        self.stats.frames_received)

    def __repr__(self) -> str:
        return f"Nv12Source({self.camera_id!r}, {self.uri!r})"
