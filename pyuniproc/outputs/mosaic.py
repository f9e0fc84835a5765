"""The mosaic recording: every camera's latest annotated picture in one grid video.

The pipeline thread only swaps a reference per frame (`on_frame`, microseconds). A compositor
thread wakes `fps` times a second of wall clock, draws each camera's latest frame with its
tracks (each box in the colour of its global id, as in the per-camera videos, so one person keeps
one colour across tiles), fits it into the camera's tile (letterboxed, aspect kept), names the
camera at the tile's bottom-left and hands the grid to a
`SegmentedVideoWriter` (camera id "mosaic"), which encodes on its own thread and segments like
the per-camera recordings. Wall clock, not stream time, paces it: the cameras' clocks differ and
a camera may stop; the mosaic shows what was current at each moment (a stopped camera's last
picture, dimmed once it is older than `stale_seconds`; "no signal" before its first frame).
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import cv2
import numpy as np

from pyuniproc.outputs.draw import draw_tracks
from pyuniproc.outputs.recording import EncoderFactory, SegmentedVideoWriter
from pyuniproc.types import Detections, Frame

MOSAIC_ID = "mosaic"


class MosaicRecorder:
    """Records a grid of `camera_ids` (in that order, row by row) to `<directory>/mosaic...mp4`.

    width: width of the whole mosaic in pixels; tiles are 16:9 within it. Wider is sharper and
        costs encoder time roughly in proportion to the area.
    fps: grid pictures per second of wall clock.
    segment_seconds, queue_frames, encoder_factory: as `SegmentedVideoWriter`.
    stale_seconds: a camera whose last frame is older than this is drawn dimmed.
    start: run the compositor thread; tests pass False and call `tick(pts)` themselves.
    """

    def __init__(
        self,
        directory: str | Path,
        camera_ids: Sequence[str],
        *,
        width: int = 1280,
        fps: float = 5.0,
        segment_seconds: float | None = None,
        queue_frames: int = 8,
        encoder_factory: EncoderFactory | None = None,
        stale_seconds: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
        start: bool = True,
    ) -> None:
        if not camera_ids:
            raise ValueError("a mosaic needs at least one camera id")
        if not (math.isfinite(fps) and fps > 0):
            raise ValueError(f"fps must be > 0, got {fps!r}")
        self.camera_ids = list(camera_ids)
        self.columns = math.ceil(math.sqrt(len(self.camera_ids)))
        self.rows = math.ceil(len(self.camera_ids) / self.columns)
        self.tile_width = max(2, int(width) // self.columns) & ~1
        self.tile_height = max(2, round(self.tile_width * 9 / 16)) & ~1
        self.fps = fps
        self.stale_seconds = stale_seconds
        self._clock = clock
        self._latest: dict[str, tuple[Frame, Detections | None, float]] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._ticks = 0
        self.writer = SegmentedVideoWriter(
            directory,
            MOSAIC_ID,
            fps=fps,
            width=self.tile_width * self.columns,
            height=self.tile_height * self.rows,
            label="",
            segment_seconds=segment_seconds,
            queue_frames=queue_frames,
            encoder_factory=encoder_factory,
        )
        self._thread = threading.Thread(target=self._run, name="mosaic", daemon=True) if start else None
        if self._thread is not None:
            self._thread.start()

    def on_frame(self, frame: Frame, tracks: Detections | None = None) -> None:
        """The pipeline's newest frame of a camera (kept by reference; nothing is drawn here)."""
        with self._lock:
            self._latest[frame.camera_id] = (frame, tracks, self._clock())

    def tick(self, pts_seconds: float | None = None) -> bool:
        """Compose one grid picture and queue it for encoding; False if the encoder dropped it."""
        pts = self._ticks / self.fps if pts_seconds is None else pts_seconds
        self._ticks += 1
        return self.writer.write(Frame(MOSAIC_ID, self._ticks - 1, pts, self.render()))

    def render(self) -> np.ndarray:
        """The grid as an (H, W, 3) uint8 RGB picture."""
        with self._lock:
            latest = dict(self._latest)
        now = self._clock()
        canvas = np.zeros((self.tile_height * self.rows, self.tile_width * self.columns, 3), np.uint8)
        for i, camera_id in enumerate(self.camera_ids):
            row, column = divmod(i, self.columns)
            y, x = row * self.tile_height, column * self.tile_width
            tile = canvas[y : y + self.tile_height, x : x + self.tile_width]
            entry = latest.get(camera_id)
            if entry is None:
                _label(tile, f"{camera_id}  no signal")
                continue
            frame, tracks, seen_at = entry
            _fit(draw_tracks(frame.image, tracks), tile)
            if now - seen_at > self.stale_seconds:
                tile //= 3
            _label(tile, camera_id)
        return canvas

    def stats(self) -> dict[str, object]:
        return self.writer.stats()

    def close(self, *, wait: bool = True) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        self.writer.close(wait=wait)

    def _run(self) -> None:
        period = 1.0 / self.fps
        next_at = self._clock()
        while not self._stop.wait(max(0.0, next_at - self._clock())):
            self.tick()
            next_at += period
            if self._clock() - next_at > period:  # fell behind (e.g. suspended): skip, don't burst
                next_at = self._clock()


def _label(tile: np.ndarray, text: str) -> None:
    """The camera's name at the tile's bottom-left, white on black. Not top-left as in the per-camera
    videos: the recording's own banner ("mosaic  5.0 fps") sits at the grid's top-left corner."""
    scale = 0.5 * max(1, round(min(tile.shape[:2]) / 360))
    thickness = max(1, round(2 * scale))
    (width, height), baseline = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, thickness)
    pad = 3 * thickness
    top = max(0, tile.shape[0] - height - baseline - 2 * pad)
    cv2.rectangle(tile, (0, top), (min(tile.shape[1] - 1, width + 2 * pad), tile.shape[0] - 1), (0, 0, 0), -1)
    cv2.putText(tile, text, (pad, tile.shape[0] - baseline - pad), cv2.FONT_HERSHEY_SIMPLEX, scale,
                (255, 255, 255), thickness, cv2.LINE_AA)


def _fit(image: np.ndarray, tile: np.ndarray) -> None:
    """Scale `image` into `tile` keeping its aspect, centred on black."""
    height, width = tile.shape[:2]
    scale = min(width / image.shape[1], height / image.shape[0])
    w, h = max(1, int(image.shape[1] * scale)), max(1, int(image.shape[0] * scale))
    resized = cv2.resize(image, (w, h), interpolation=cv2.INTER_AREA)
    tile[:] = 0
    top, left = (height - h) // 2, (width - w) // 2
    tile[top : top + h, left : left + w] = resized
