"""Annotated H.264 MP4 of one camera: the frames with their tracks drawn on, via PyAV/libx264.

A plain MP4 is only playable once its index (the moov atom) is written at `close()`; a run
killed before that leaves an unplayable file. So by default (`fragmented=True`) the file is a
fragmented MP4 (movflags `frag_keyframe+empty_moov+default_base_moof+frag_every_frame`): an
empty index up front, then one small fragment per frame, flushed to the OS as it is muxed
(`flush_packets=1`). The encoder runs with `tune=zerolatency` so it holds no frames back
(no lookahead, no B-frames). A killed run then leaves a playable file missing only the last
frame written (the muxer needs the next frame to close a fragment). The cost is ~100 bytes of
fragment headers per frame and slightly worse compression, fine for a review video.
`fragmented=False` gives a classic MP4 that needs `close()`.
"""

from __future__ import annotations

import math
import os
import time
from fractions import Fraction
from pathlib import Path
from types import TracebackType

import av
import cv2
import numpy as np

from pyuniproc.outputs.draw import draw_tracks
from pyuniproc.types import Detections, Frame

FRAGMENTED_MOVFLAGS = "frag_keyframe+empty_moov+default_base_moof+frag_every_frame"
_FPS_SMOOTHING = 0.1  # weight of the newest interval in the measured-fps moving average


class AnnotatedVideoWriter:
    """Draws tracks on frames and encodes them to `path`.

    fps: frame rate written into the file (the source's rate, so playback runs at real speed).
    width, height: size of the video; frames of another size are resized. H.264 4:2:0 needs
        even sizes, so an odd size is rounded down by one pixel.
    crf: x264 quality, 0 (lossless) .. 51; higher makes smaller, blurrier files.
    preset: x264 speed/size trade-off ("ultrafast", "veryfast", ...); faster costs size, not quality.
    keyframe_seconds: distance between keyframes; shorter seeks faster, costs size.
    label: banner text; defaults to the `Frame.camera_id` of each frame written.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        fps: float,
        width: int,
        height: int,
        fragmented: bool = True,
        crf: int = 28,
        preset: str = "veryfast",
        keyframe_seconds: float = 2.0,
        label: str = "",
    ) -> None:
        if not (isinstance(fps, (int, float)) and math.isfinite(fps) and fps > 0):
            raise ValueError(f"fps must be > 0, got {fps!r}")
        if int(width) < 2 or int(height) < 2:
            raise ValueError(f"width and height must be >= 2, got {width}x{height}")
        if not 0 <= int(crf) <= 51:
            raise ValueError(f"crf must be in 0..51, got {crf!r}")
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.width, self.height = int(width) & ~1, int(height) & ~1
        self.fragmented = fragmented
        self.label = label
        self.frames_written = 0
        self._rate = Fraction(fps).limit_denominator(1001)
        options = {"movflags": FRAGMENTED_MOVFLAGS, "flush_packets": "1"} if fragmented else {}
        self._container = av.open(str(self.path), mode="w", format="mp4", options=options)
        codec_options = {
            "crf": str(int(crf)),
            "preset": preset,
            "g": str(max(1, round(float(fps) * keyframe_seconds))),
        }
        if fragmented:
            codec_options["tune"] = "zerolatency"
        self._stream = self._container.add_stream("libx264", rate=self._rate, options=codec_options)
        self._stream.width, self._stream.height = self.width, self.height
        self._stream.pix_fmt = "yuv420p"
        self._time_base = 1 / self._rate
        self._last_write: float | None = None
        self._measured_fps: float | None = None
        self._closed = False

    def write(
        self, frame: Frame | np.ndarray, tracks: Detections | None = None, *, current_fps: float | None = None
    ) -> None:
        """Draw `tracks` on the frame (an RGB `Frame` or (H, W, 3) uint8 array) and encode it.

        current_fps: the processing rate to print in the banner; when None the writer shows the
            rate at which `write` itself is being called.
        """
        if self._closed:
            raise ValueError(f"{self.path}: write() after close()")
        image, label = (
            (frame.image, self.label or frame.camera_id) if isinstance(frame, Frame) else (frame, self.label)
        )
        if not (
            isinstance(image, np.ndarray)
            and image.ndim == 3
            and image.shape[2] == 3
            and image.dtype == np.uint8
        ):
            raise ValueError(f"frame must be (H, W, 3) uint8 RGB, got {getattr(image, 'shape', type(image))}")
        fps = self._tick() if current_fps is None else current_fps
        canvas = draw_tracks(image, tracks, label=label, fps=fps)
        if canvas.shape[:2] != (self.height, self.width):
            canvas = cv2.resize(canvas, (self.width, self.height), interpolation=cv2.INTER_AREA)
        video_frame = av.VideoFrame.from_ndarray(canvas, format="rgb24")
        video_frame.pts = self.frames_written
        video_frame.time_base = self._time_base
        self._container.mux(self._stream.encode(video_frame))
        self.frames_written += 1

    def close(self) -> None:
        """Drain the encoder and finish the file (writes the index of a non-fragmented MP4)."""
        if self._closed:
            return
        self._closed = True
        try:
            self._container.mux(self._stream.encode(None))
        finally:
            self._container.close()

    def _tick(self) -> float | None:
        now = time.monotonic()
        if self._last_write is not None and now > self._last_write:
            instant = 1.0 / (now - self._last_write)
            previous = self._measured_fps
            self._measured_fps = (
                instant if previous is None else previous + _FPS_SMOOTHING * (instant - previous)
            )
        self._last_write = now
        return self._measured_fps

    def __enter__(self) -> AnnotatedVideoWriter:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()
