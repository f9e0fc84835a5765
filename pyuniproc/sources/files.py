"""Reading a video file or an image folder as one endless-or-finite clock of frames.

The reader yields `(image, pts_seconds)`; pts 0 is the first frame played (after `start_seconds`),
so every camera of a site starts its clock at the same instant, and a loop continues the clock
instead of restarting it. Problems that end the source raise `SourceDead` with a final,
redacted message; single bad packets or images only count a read error.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterator

import av
import av.error
import numpy as np

from pyuniproc.sources.av_open import (
    SourceDead,
    decode_image,
    describe,
    error_reason,
    open_input,
    stream_duration_seconds,
    stream_fps,
    stream_start_seconds,
    video_stream,
)
from pyuniproc.sources.stats import CameraStats
from pyuniproc.sources.uri import SourceKind, SourceUri, list_images

logger = logging.getLogger("pyuniproc.sources")

MAX_DECODE_ERRORS_IN_A_ROW = 50
"""Packets in a row that fail to decode before a file is declared corrupt (one bad packet is not)."""

DEFAULT_FPS = 25.0
"""Frame rate assumed for a file that declares none (only used to space frames without pts)."""


class FileReader:
    """Frames of a video file or image folder, with `loop` and `start_seconds`.

    A loop restarts at the very beginning of the file (not at `start_seconds`), so a
    time-shifted copy stays shifted by the same amount on every pass.
    """

    def __init__(
        self,
        camera_id: str,
        uri: SourceUri,
        stats: CameraStats,
        *,
        loop: bool,
        start_seconds: float,
        images_fps: float,
        should_stop: Callable[[], bool],
        fps: float | None = None,
    ) -> None:
        if uri.kind not in (SourceKind.FILE, SourceKind.IMAGES):
            raise ValueError(f"FileReader reads files and image folders, got kind {uri.kind.value!r}")
        self.camera_id = camera_id
        self.uri = uri
        self.stats = stats
        self.loop = loop
        self.start_seconds = start_seconds
        self.images_fps = images_fps
        self.should_stop = should_stop
        self.fps = fps  # given: frames are 1 / fps apart from the first, whatever the container says

    def frames(self) -> Iterator[tuple[np.ndarray, float]]:
        """(RGB image, pts_seconds) until the end (or forever with `loop`); raises `SourceDead`."""
        last_pts: float | None = None
        passes = 0
        while True:
            skip_until = self.start_seconds if passes == 0 else 0.0
            base: float | None = None
            count = 0
            if self.uri.kind is SourceKind.IMAGES:
                source = self._image_pass(skip_until)
            else:
                source = self._video_pass(skip_until)
            for rel, image, frame_seconds in source:
                if base is None:  # first frame of the pass: continue the clock where it was
                    base = -skip_until if last_pts is None else last_pts + frame_seconds - rel
                pts = base + rel
                if last_pts is not None and pts <= last_pts:  # keep pts strictly increasing
                    pts = last_pts + 1e-6
                last_pts = pts
                count += 1
                yield image, pts
            if self.should_stop():
                return
            if count == 0:
                if passes == 0 and self.start_seconds > 0:
                    reason = f"no frames at or after start_seconds={self.start_seconds:g}"
                elif self.uri.kind is SourceKind.IMAGES:
                    reason = "no readable images in the folder"
                else:
                    reason = "no decodable video frames"
                raise SourceDead(describe(self.camera_id, self.uri, "cannot use", reason))
            if not self.loop:
                return
            passes += 1
            logger.debug("camera %s: looping %s (pass %d)", self.camera_id, self.uri.redacted, passes + 1)

    def _video_pass(self, skip_until: float) -> Iterator[tuple[float, np.ndarray, float]]:
        """One pass over the file: (seconds since the stream's first frame, image, frame period)."""
        try:
            container = open_input(self.uri)
        except (av.error.FFmpegError, OSError) as exc:
            raise SourceDead(self._message("cannot open", error_reason(exc, self.uri))) from None
        with container:
            try:
                stream = video_stream(container)
            except ValueError as exc:
                raise SourceDead(self._message("cannot use", str(exc))) from None
            stream.thread_type = "AUTO"  # frame threads: files favour throughput over latency
            start = stream_start_seconds(stream)
            frame_seconds = 1.0 / (self.fps or stream_fps(stream) or DEFAULT_FPS)
            if skip_until > 0 and not self.fps:  # with a given rate frames are counted from the first
                self._seek(container, stream, start + skip_until)
            last_rel: float | None = None
            counted = 0
            failed_in_a_row = 0
            try:
                for packet in container.demux(stream):
                    if self.should_stop():
                        return
                    try:
                        decoded = packet.decode()
                    except av.error.FFmpegError as exc:
                        failed_in_a_row += 1
                        reason = error_reason(exc, self.uri)
                        self.stats.record_read_error(self._message("cannot decode a packet of", reason))
                        if failed_in_a_row >= MAX_DECODE_ERRORS_IN_A_ROW:
                            raise SourceDead(
                                self._message(
                                    "cannot decode", f"{failed_in_a_row} packets in a row: {reason}"
                                )
                            ) from None
                        continue
                    if decoded:
                        failed_in_a_row = 0
                    for frame in decoded:
                        if self.fps:
                            rel = counted * frame_seconds
                            counted += 1
                        elif frame.time is not None:
                            rel = float(frame.time) - start
                        else:
                            rel = 0.0 if last_rel is None else last_rel + frame_seconds
                        last_rel = rel
                        if rel < skip_until - frame_seconds / 2:
                            continue
                        yield rel, frame.to_ndarray(format="rgb24"), frame_seconds
            except av.error.FFmpegError as exc:
                where = "" if last_rel is None else f" at {last_rel:.2f} s"
                message = self._message("cannot read", f"{error_reason(exc, self.uri)}{where}")
                self.stats.record_read_error(message)
                raise SourceDead(message) from None
            self._check_complete(stream, container, last_rel, frame_seconds)

    def _seek(self, container: av.container.InputContainer, stream: av.VideoStream, seconds: float) -> None:
        """Jump to the keyframe before `seconds`; the pass then skips the frames before it."""
        try:
            container.seek(int(seconds / stream.time_base), stream=stream, backward=True)
        except (av.error.FFmpegError, OverflowError, ZeroDivisionError, TypeError) as exc:
            # Not seekable: decoding from the start and skipping gives the same frames, slower.
            logger.debug("camera %s: seek failed (%s); skipping by decoding", self.camera_id, exc)

    def _check_complete(
        self,
        stream: av.VideoStream,
        container: av.container.InputContainer,
        last_rel: float | None,
        frame_seconds: float,
    ) -> None:
        """A file whose video ends well before its declared length is truncated: dead, not finished."""
        expected = stream_duration_seconds(stream, container)
        if not expected or last_rel is None:
            return
        reached = last_rel + frame_seconds
        if expected - reached > max(1.0, 0.05 * expected) + 2 * frame_seconds:
            reason = f"video stops at {reached:.1f} s of {expected:.1f} s (truncated or corrupt file)"
            message = self._message("incomplete file", reason)
            self.stats.record_read_error(message)
            raise SourceDead(message)

    def _image_pass(self, skip_until: float) -> Iterator[tuple[float, np.ndarray, float]]:
        """One pass over the folder (listed again on each pass, so new images are picked up)."""
        frame_seconds = 1.0 / self.images_fps
        try:
            paths = list_images(self.uri.target)
        except OSError as exc:
            raise SourceDead(self._message("cannot open", error_reason(exc, self.uri))) from None
        if not paths:
            raise SourceDead(self._message("cannot use", "no jpg/png/bmp images in the folder"))
        for i, path in enumerate(paths):
            rel = i * frame_seconds
            if rel < skip_until - frame_seconds / 2:
                continue
            if self.should_stop():
                return
            try:
                image = decode_image(path)
            except (av.error.FFmpegError, OSError, ValueError) as exc:
                reason = f"{os.path.basename(path)!r}: {error_reason(exc, self.uri)}"
                self.stats.record_read_error(self._message("cannot read an image of", reason))
                continue
            yield rel, image, frame_seconds

    def _message(self, what: str, reason: str) -> str:
        return describe(self.camera_id, self.uri, what, reason)
