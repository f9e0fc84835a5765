"""Continuous per-camera recording, encoded off the pipeline thread, optionally in segments.

Why a thread: encoding a frame (draw + x264) costs milliseconds, and a camera's video must never
slow tracking. `SegmentedVideoWriter.write` only appends the frame to a bounded queue; one
encoder thread per camera draws and encodes. If the encoder falls behind, the queue fills and
further frames are dropped *for the recording only* (counted, logged at most every 10 s); the
pipeline's other outputs still get every frame. `when_behind="wait"` trades that for back
pressure (every frame recorded, the pipeline waits), for offline runs that want a complete video.

Why segments: a recording of days must be browsable and prunable. With `segment_seconds` set,
a new file starts every `segment_seconds` of stream time (pts): segment k holds the frames with
pts in [t0 + k*S, t0 + (k+1)*S), t0 the first frame's pts; a gap in the stream skips to the
segment of the next frame (no empty files). Each segment is a fragmented MP4 (playable while
written, and after a crash) closed properly (encoder drained) by the encoder thread when the
next one starts. Files:

    segment_seconds None   <directory>/<camera_id>.mp4                     (one file per run)
    segment_seconds S      <directory>/<camera_id>/<camera_id>-<YYYYmmdd-HHMMSS>-<seq>.mp4

with the wall-clock time (UTC) of the segment's first frame and `seq` counting segments of this
run from 0 (names sort in time order; two segments opened in the same second stay distinct).
"""

from __future__ import annotations

import functools
import logging
import math
import threading
import time
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple, Protocol

from pyuniproc.outputs._files import check_camera_id
from pyuniproc.outputs.video import AnnotatedVideoWriter
from pyuniproc.types import Detections, Frame

log = logging.getLogger(__name__)
_DROP_LOG_PERIOD = 10.0
WHEN_BEHIND = ("drop", "wait")  # what one recorder does; the config also takes "auto" (record_choice.py)


class VideoEncoder(Protocol):
    def write(
        self, frame: Frame, tracks: Detections | None = None, *, current_fps: float | None = None
    ) -> None: ...

    def close(self) -> None: ...


class EncoderFactory(Protocol):
    """Opens one file: `AnnotatedVideoWriter` by default; tests pass a slow one."""

    def __call__(self, path: Path, *, fps: float, width: int, height: int, label: str) -> VideoEncoder: ...


class RecordingConfigError(ValueError):
    """A recording setting that cannot be used; `field` is its dotted path."""

    def __init__(self, field: str, message: str) -> None:
        self.field = field
        self.message = message
        super().__init__(f"field '{field}': {message}")


@dataclass(frozen=True)
class RecordingConfig:
    """`parameters.pyuniproc.recording` (which cameras are recorded: `annotated_video` and the cameras
    file's `record`, see record_choice.py).

    segment_seconds: length of one file in stream seconds (e.g. 300); None: one file per run.
        Shorter files are easier to prune and lose less to a broken disk; each costs a keyframe.
    queue_frames: frames waiting for the encoder per camera. Larger absorbs longer encoder
        hiccups, at one decoded frame of memory each (a 1080p frame is 6 MB).
    when_behind: "drop" (never slow the pipeline; dropped frames are counted), "wait" (record
        every frame; the pipeline waits for the encoder) or "auto" (default: wait for offline
        cameras, drop for live ones; record_choice.py).
    crf, preset, keyframe_seconds: x264 settings, as in `AnnotatedVideoWriter`.
    mosaic: also record all cameras in one grid video (video/mosaic.mp4 or video/mosaic/...),
        `mosaic_fps` pictures per second of the cameras' stream time (a 60 s scene gives a 60 s
        video), `mosaic_width` pixels wide.
    """

    segment_seconds: float | None = None
    queue_frames: int = 32
    when_behind: str = "auto"
    crf: int = 28
    preset: str = "veryfast"
    keyframe_seconds: float = 2.0
    mosaic: bool = False
    mosaic_fps: float = 5.0
    mosaic_width: int = 1280

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any] | None, *, where: str = "recording") -> RecordingConfig:
        data = {} if data is None else data
        if not isinstance(data, Mapping):
            raise RecordingConfigError(where, f"must be a mapping, got {type(data).__name__}")
        known = set(cls.__dataclass_fields__)
        values: dict[str, Any] = {}
        for key, value in data.items():
            path = f"{where}.{key}"
            if key not in known:
                raise RecordingConfigError(path, f"unknown setting; known: {sorted(known)}")
            if key in ("when_behind", "preset"):
                if not isinstance(value, str) or not value:
                    raise RecordingConfigError(path, f"expected a string, got {value!r}")
            elif key == "mosaic":
                if not isinstance(value, bool):
                    raise RecordingConfigError(path, f"expected true or false, got {value!r}")
            elif not (value is None and key == "segment_seconds"):
                if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
                    raise RecordingConfigError(path, f"expected a number, got {value!r}")
                if key in ("queue_frames", "crf", "mosaic_width") and int(value) != value:
                    raise RecordingConfigError(path, f"expected a whole number, got {value!r}")
            values[key] = value
        config = cls(**values)
        checks = [
            (
                "segment_seconds",
                config.segment_seconds is None or config.segment_seconds >= 1,
                "must be >= 1 or null",
            ),
            ("queue_frames", config.queue_frames >= 1, "must be >= 1"),
            ("when_behind", config.when_behind in (*WHEN_BEHIND, "auto"),
             f"expected one of {[*WHEN_BEHIND, 'auto']}"),
            ("crf", 0 <= config.crf <= 51, "must be in 0..51"),
            ("keyframe_seconds", config.keyframe_seconds > 0, "must be > 0"),
            ("mosaic_fps", config.mosaic_fps > 0, "must be > 0"),
            ("mosaic_width", config.mosaic_width >= 64, "must be >= 64"),
        ]
        for key, ok, message in checks:
            if not ok:
                raise RecordingConfigError(f"{where}.{key}", f"{message}, got {getattr(config, key)!r}")
        return config

    def encoder_factory(self) -> EncoderFactory:
        return functools.partial(
            AnnotatedVideoWriter, crf=self.crf, preset=self.preset, keyframe_seconds=self.keyframe_seconds
        )


class _Item(NamedTuple):
    frame: Frame
    tracks: Detections | None
    fps: float | None
    wall: float


class SegmentedVideoWriter:
    """Records one camera (or the mosaic: any `Frame` stream) on its own encoder thread.

    directory: the run's video folder (out/video).
    fps, width, height, label: as `AnnotatedVideoWriter`.
    segment_seconds, queue_frames, when_behind: see `RecordingConfig`.
    encoder_factory: opens one file; default `AnnotatedVideoWriter` (fragmented MP4, x264).
    """

    def __init__(
        self,
        directory: str | Path,
        camera_id: str,
        *,
        fps: float,
        width: int,
        height: int,
        label: str = "",
        segment_seconds: float | None = None,
        queue_frames: int = 32,
        when_behind: str = "drop",
        encoder_factory: EncoderFactory | None = None,
    ) -> None:
        if segment_seconds is not None and not (math.isfinite(segment_seconds) and segment_seconds > 0):
            raise ValueError(f"segment_seconds must be > 0 or None, got {segment_seconds!r}")
        if queue_frames < 1:
            raise ValueError(f"queue_frames must be >= 1, got {queue_frames!r}")
        if when_behind not in WHEN_BEHIND:
            raise ValueError(f"when_behind must be one of {WHEN_BEHIND}, got {when_behind!r}")
        self.directory = Path(directory)
        self.camera_id = check_camera_id(camera_id)
        self.fps, self.width, self.height, self.label = fps, width, height, label or camera_id
        self.segment_seconds = segment_seconds
        self.queue_frames = queue_frames
        self.when_behind = when_behind
        self._factory = encoder_factory or RecordingConfig().encoder_factory()
        self._queue: deque[_Item] = deque()
        self._in_hand = 0  # the frame the encoder thread is working on
        self._cond = threading.Condition()
        self._closing = False
        self.frames_written = 0
        self.frames_dropped = 0
        self.segments: list[Path] = []  # every file opened, in order; the last may still be open
        self.error: str | None = None
        self._drops_since_log = 0
        self._last_drop_log = -math.inf
        self._encoder: VideoEncoder | None = None
        self._segment_start = 0.0
        self._segment_end = math.inf
        self._thread = threading.Thread(target=self._run, name=f"record-{camera_id}", daemon=True)
        self._thread.start()

    # -- pipeline thread ---------------------------------------------------------------------

    def write(
        self, frame: Frame, tracks: Detections | None = None, *, current_fps: float | None = None
    ) -> bool:
        """Queue a frame for recording; returns False if it was dropped (encoder behind)."""
        item = _Item(frame, tracks, current_fps, time.time())
        with self._cond:
            if self._closing:
                raise ValueError(f"recording of {self.camera_id}: write() after close()")
            if len(self._queue) >= self.queue_frames or self.error is not None:
                if self.when_behind == "drop" or self.error is not None:
                    self._drop()
                    return False
                while len(self._queue) >= self.queue_frames and self.error is None:
                    self._cond.wait()
            self._queue.append(item)
            self._cond.notify_all()
        return True

    def close(self, *, wait: bool = True, timeout: float | None = None) -> None:
        """Finish: the encoder thread records what is queued, then closes the last segment.
        `wait=False` returns at once (the end of one camera must not stall the others)."""
        with self._cond:
            self._closing = True
            self._cond.notify_all()
        if wait:
            self._thread.join(timeout)

    @property
    def closed(self) -> bool:
        return self._closing and not self._thread.is_alive()

    def stats(self) -> dict[str, Any]:
        with self._cond:
            return {
                "frames_written": self.frames_written,
                "frames_dropped": self.frames_dropped,
                "queued": len(self._queue) + self._in_hand,
                "when_behind": self.when_behind,
                "segments": len(self.segments),
                "current": str(self.segments[-1]) if self.segments else None,
                "error": self.error,
            }

    def _drop(self) -> None:
        """Count a dropped frame (lock held); log the first and then at most every 10 s."""
        self.frames_dropped += 1
        self._drops_since_log += 1
        now = time.monotonic()
        if now - self._last_drop_log >= _DROP_LOG_PERIOD:
            log.warning(
                "recording %s: encoder behind (%d frames queued), dropped %d frames, %d in total",
                self.camera_id,
                self.queue_frames,
                self._drops_since_log,
                self.frames_dropped,
            )
            self._last_drop_log, self._drops_since_log = now, 0

    # -- encoder thread ----------------------------------------------------------------------

    def _run(self) -> None:
        try:
            while (item := self._take()) is not None:
                if self.error is None:
                    self._encode(item)
                else:  # queued just before the recording failed
                    with self._cond:
                        self._in_hand = 0
                        self.frames_dropped += 1
        finally:
            self._close_segment()

    def _take(self) -> _Item | None:
        with self._cond:
            while not self._queue and not self._closing:
                self._cond.wait()
            if not self._queue:
                return None
            item = self._queue.popleft()
            self._in_hand = 1
            self._cond.notify_all()
            return item

    def _encode(self, item: _Item) -> None:
        try:
            pts = item.frame.pts_seconds
            if self._encoder is None or pts >= self._segment_end:
                self._roll(pts, item.wall)
            assert self._encoder is not None
            self._encoder.write(item.frame, item.tracks, current_fps=item.fps)
            with self._cond:
                self.frames_written += 1
                self._in_hand = 0
        except Exception as exc:  # noqa: BLE001 - a broken recording must not end the run
            log.exception("recording %s stopped", self.camera_id)
            with self._cond:
                self.error = f"{type(exc).__name__}: {exc}"
                self._in_hand = 0
                self.frames_dropped += 1 + len(self._queue)
                self._queue.clear()
                self._cond.notify_all()

    def _roll(self, pts: float, wall: float) -> None:
        """Close the current segment and open the one that holds `pts`."""
        self._close_segment()
        if self.segment_seconds is None:
            path = self.directory / f"{self.camera_id}.mp4"
        else:
            if self.segments:  # align to the grid started by the first frame; skip empty segments
                skipped = math.floor((pts - self._segment_start) / self.segment_seconds)
                self._segment_start += skipped * self.segment_seconds
            else:
                self._segment_start = pts
            self._segment_end = self._segment_start + self.segment_seconds
            stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime(wall))
            path = self.directory / self.camera_id / f"{self.camera_id}-{stamp}-{len(self.segments):04d}.mp4"
        path.parent.mkdir(parents=True, exist_ok=True)
        self._encoder = self._factory(
            path, fps=self.fps, width=self.width, height=self.height, label=self.label
        )
        with self._cond:  # the file actually opened (a factory may pick a free name, e.g. cam1.1.mp4)
            self.segments.append(Path(getattr(self._encoder, "path", path)))

    def _close_segment(self) -> None:
        encoder, self._encoder = self._encoder, None
        if encoder is not None:
            try:
                encoder.close()
            except Exception as exc:  # noqa: BLE001
                log.exception("recording %s: closing %s failed", self.camera_id, self.segments[-1])
                self.error = f"{type(exc).__name__}: {exc}"
