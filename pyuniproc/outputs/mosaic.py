"""The mosaic recording: every camera's annotated picture in one grid video, on the cameras' clock.

The timeline is stream time (the frames' pts), not wall clock: a 60 s scene gives a 60 s video
whatever the machine's speed, and grid picture k shows, for each camera, its latest frame at or
before k / fps seconds. Each camera joins the timeline where it stands when its first frame comes,
and its pts count from there: the first picture waits (up to `stale_seconds` of wall clock) for
every camera of the site, so they all start at 0 together; a camera added later joins at that moment.

The pipeline thread only appends a reference per frame (`on_frame`, microseconds). A compositor
thread draws each camera's frames with their tracks (each box in the colour of its global id, as
in the per-camera videos, so one person keeps one colour across tiles), fits them into the camera's
tile (letterboxed, aspect kept), names the camera at the tile's bottom-left, writes the stream time
at the top-right, and hands the grid to a `SegmentedVideoWriter` (camera id "mosaic"), which encodes
on its own thread and segments like the per-camera recordings.

The cameras' clocks advance at different speeds when files are read as fast as possible, so the
timeline moves up to the slowest camera still delivering; frames of cameras ahead wait, one per
grid picture, at most `max_lead_seconds` of them (beyond that the timeline moves on without the
slow camera). A camera that finished, or sent nothing for `stale_seconds` of wall clock, does not
hold the timeline back: it shows its last picture, dimmed once that is `stale_seconds` older than
the timeline ("no signal" before its first frame).
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from pyuniproc.outputs.draw import draw_tracks
from pyuniproc.outputs.recording import EncoderFactory, SegmentedVideoWriter
from pyuniproc.types import Detections, Frame

MOSAIC_ID = "mosaic"
_WAKE_SECONDS = 0.2  # the compositor looks at wall clock this often (cameras going quiet)


@dataclass
class _Shot:
    """One camera frame on the timeline; drawn into a tile on the compositor thread."""

    t: float  # seconds on the mosaic timeline
    frame: Frame | None
    tracks: Detections | None
    tile: np.ndarray | None = None


@dataclass
class _Camera:
    offset: float  # timeline t = pts - offset
    last_t: float
    heard_at: float  # wall clock of the last frame
    pending: deque[_Shot] = field(default_factory=deque)  # ahead of the timeline, oldest first
    current: _Shot | None = None  # what the tile shows
    ended: bool = False


class MosaicRecorder:
    """Records a grid of `camera_ids` (in that order, row by row) to `<directory>/mosaic...mp4`.

    width: width of the whole mosaic in pixels; tiles are 16:9 within it. Wider is sharper and
        costs encoder time roughly in proportion to the area.
    fps: grid pictures per second of stream time (the video plays at this rate, in real time).
    segment_seconds, queue_frames, encoder_factory: as `SegmentedVideoWriter`.
    stale_seconds: a camera whose picture is this much older than the timeline is drawn dimmed, and
        one silent for this long (wall clock) stops holding the timeline back.
    max_lead_seconds: how far ahead of the slowest camera the others may get before the timeline
        moves on without it; frames waiting cost one tile each (a 640x360 tile is 0.7 MB).
    start: run the compositor thread; tests pass False and call `advance()` / `tick()` themselves.
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
        max_lead_seconds: float = 10.0,
        clock: Callable[[], float] = time.monotonic,
        start: bool = True,
    ) -> None:
        if not camera_ids:
            raise ValueError("a mosaic needs at least one camera id")
        if not (math.isfinite(fps) and fps > 0):
            raise ValueError(f"fps must be > 0, got {fps!r}")
        if not (math.isfinite(max_lead_seconds) and max_lead_seconds > 0):
            raise ValueError(f"max_lead_seconds must be > 0, got {max_lead_seconds!r}")
        self.camera_ids = list(camera_ids)
        self.columns = math.ceil(math.sqrt(len(self.camera_ids)))
        self.rows = math.ceil(len(self.camera_ids) / self.columns)
        self.tile_width = max(2, int(width) // self.columns) & ~1
        self.tile_height = max(2, round(self.tile_width * 9 / 16)) & ~1
        self.fps = fps
        self.stale_seconds = stale_seconds
        self.max_lead_seconds = max_lead_seconds
        self._max_pending = max(2, math.ceil(max_lead_seconds * fps) + 1)
        self._clock = clock
        self._cameras: dict[str, _Camera] = {}
        self._cond = threading.Condition()
        self._stop = False
        self._started_at: float | None = None  # wall clock of the first frame of any camera
        self._ticks = 0  # grid pictures made; the next one is at t = _ticks / fps
        self.writer = SegmentedVideoWriter(
            directory,
            MOSAIC_ID,
            fps=fps,
            width=self.tile_width * self.columns,
            height=self.tile_height * self.rows,
            label="",
            segment_seconds=segment_seconds,
            queue_frames=queue_frames,
            when_behind="wait",  # only the compositor waits: a dropped picture would shorten the timeline
            encoder_factory=encoder_factory,
        )
        self._thread = threading.Thread(target=self._run, name="mosaic", daemon=True) if start else None
        if self._thread is not None:
            self._thread.start()

    @property
    def now(self) -> float:
        """The timeline's time of the next grid picture, in seconds."""
        return self._ticks / self.fps

    # -- pipeline thread ------------------------------------------------------------------------

    def on_frame(self, frame: Frame, tracks: Detections | None = None) -> None:
        """The pipeline's newest frame of a camera (kept by reference; nothing is drawn here)."""
        heard_at = self._clock()
        with self._cond:
            if self._started_at is None:
                self._started_at = heard_at
            camera = self._cameras.get(frame.camera_id)
            if camera is None or camera.ended:  # joins the timeline now
                start = self.now if camera is None else max(self.now, camera.last_t)
                camera = self._cameras[frame.camera_id] = _Camera(frame.pts_seconds - start, start, heard_at,
                                                                  current=camera.current if camera else None)
            t = frame.pts_seconds - camera.offset
            if t < camera.last_t or t < self.now - self.stale_seconds:
                # pts went back (a reconnect) or stopped while the others went on: resume at the timeline
                t = max(self.now, camera.last_t)
                camera.offset = frame.pts_seconds - t
            shot = _Shot(t, frame, tracks)
            pending = camera.pending
            if pending and math.ceil(pending[-1].t * self.fps) == math.ceil(t * self.fps):
                pending[-1] = shot  # the same grid picture would show only the later one
            else:
                pending.append(shot)
                if len(pending) > self._max_pending:  # the encoder or the compositor fell behind
                    pending.popleft()
            camera.last_t, camera.heard_at = t, heard_at
            self._cond.notify()

    def end_camera(self, camera_id: str) -> None:
        """A camera's stream ended: it no longer holds the timeline back (its last picture stays)."""
        with self._cond:
            camera = self._cameras.get(camera_id)
            if camera is not None:
                camera.ended = True
                self._cond.notify()

    # -- compositor -----------------------------------------------------------------------------

    def advance(self, *, final: bool = False) -> int:
        """Make every grid picture the cameras' frames allow (with `final`, up to the latest frame of
        any camera); returns how many were made."""
        made = 0
        while True:
            with self._cond:
                # frames of closed grid intervals will be shown: draw them now, keep only their tiles
                waiting = [s for c in self._cameras.values() for s in list(c.pending)[:-1] if s.tile is None]
            for shot in waiting:  # drawn outside the lock: on_frame never waits for cv2
                self._draw(shot)
            with self._cond:
                horizon = self._horizon(final)
                if horizon is None or self.now > horizon + 1e-9:
                    return made
                t, shots = self.now, self._take_shots(self.now)
            for shot in shots:
                self._draw(shot)
            self.tick(t)
            made += 1

    def tick(self, pts_seconds: float | None = None) -> bool:
        """Compose one grid picture and queue it for encoding; False if the encoder dropped it."""
        with self._cond:
            t = self.now if pts_seconds is None else pts_seconds
            if pts_seconds is None:
                for shot in self._take_shots(t):
                    self._draw(shot)
            index = self._ticks
            self._ticks += 1
        # the banner's rate is the video's own (pictures per second of stream time), not how fast they came
        return self.writer.write(Frame(MOSAIC_ID, index, t, self.render(t)), current_fps=self.fps)

    def render(self, t: float | None = None) -> np.ndarray:
        """The grid at timeline time `t` (default: the latest frame of every camera) as (H, W, 3) RGB."""
        with self._cond:
            if t is None:
                latest = {cid: c.pending[-1] if c.pending else c.current for cid, c in self._cameras.items()}
                t = max((s.t for s in latest.values() if s is not None), default=0.0)
            else:
                latest = {cid: c.current for cid, c in self._cameras.items()}
        canvas = np.zeros((self.tile_height * self.rows, self.tile_width * self.columns, 3), np.uint8)
        for i, camera_id in enumerate(self.camera_ids):
            row, column = divmod(i, self.columns)
            y, x = row * self.tile_height, column * self.tile_width
            tile = canvas[y : y + self.tile_height, x : x + self.tile_width]
            shot = latest.get(camera_id)
            if shot is None:
                _label(tile, f"{camera_id}  no signal")
                continue
            self._draw(shot)
            tile[:] = shot.tile
            if t - shot.t > self.stale_seconds:
                tile //= 3
            _label(tile, camera_id)
        _clock_label(canvas, t)
        return canvas

    def stats(self) -> dict[str, object]:
        return self.writer.stats()

    def close(self, *, wait: bool = True) -> None:
        """Make the remaining grid pictures (up to the latest frame of any camera), then finish."""
        with self._cond:
            self._stop = True
            self._cond.notify()
        if self._thread is not None:
            self._thread.join()
        else:
            self.advance(final=True)
        self.writer.close(wait=wait)

    def _run(self) -> None:
        while True:
            with self._cond:
                if not self._stop:
                    self._cond.wait(_WAKE_SECONDS)
                stop = self._stop
            self.advance(final=stop)
            if stop:
                return

    def _horizon(self, final: bool) -> float | None:
        """How far the timeline may go now: the slowest camera still delivering, or the latest frame."""
        cameras = list(self._cameras.values())
        if not cameras:
            return None
        latest = max(c.last_t for c in cameras)
        if final:
            return latest
        quiet_after = self._clock() - self.stale_seconds
        assert self._started_at is not None  # set with the first camera
        if self._started_at >= quiet_after and not set(self.camera_ids) <= set(self._cameras):
            return None  # the start: wait for every camera of the site, so that all begin at 0
        holding = [c.last_t for c in cameras if not c.ended and c.heard_at >= quiet_after]
        return max(min(holding), latest - self.max_lead_seconds) if holding else latest

    def _take_shots(self, t: float) -> list[_Shot]:
        """Move every camera's frames up to `t` out of `pending`; the last becomes its tile. Returns
        the shots to draw."""
        fresh = []
        for camera in self._cameras.values():
            while camera.pending and camera.pending[0].t <= t + 1e-9:
                camera.current = camera.pending.popleft()
            if camera.current is not None and camera.current.tile is None:
                fresh.append(camera.current)
        return fresh

    def _draw(self, shot: _Shot) -> None:
        if shot.tile is None and shot.frame is not None:
            tile = np.zeros((self.tile_height, self.tile_width, 3), np.uint8)
            _fit(draw_tracks(shot.frame.image, shot.tracks), tile)
            shot.tile, shot.frame, shot.tracks = tile, None, None  # keep the small tile, not the frame


def _label(tile: np.ndarray, text: str) -> None:
    """The camera's name at the tile's bottom-left, white on black. Not top-left as in the per-camera
    videos: the recording's own banner ("mosaic  5.0 fps") sits at the grid's top-left corner."""
    _text(tile, text, right=False)


def _clock_label(canvas: np.ndarray, t: float) -> None:
    """The timeline's time at the grid's top-right: seconds of the cameras' streams."""
    _text(canvas, f"stream time {t:6.1f} s", right=True)


def _text(image: np.ndarray, text: str, *, right: bool) -> None:
    scale = 0.5 * max(1, round(min(image.shape[:2]) / 360))
    thickness = max(1, round(2 * scale))
    (width, height), baseline = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, thickness)
    pad = 3 * thickness
    box_w, box_h = min(image.shape[1] - 1, width + 2 * pad), height + baseline + 2 * pad
    if right:  # top-right
        left, top = max(0, image.shape[1] - 1 - box_w), 0
    else:  # bottom-left
        left, top = 0, max(0, image.shape[0] - box_h)
    cv2.rectangle(image, (left, top), (left + box_w, min(image.shape[0] - 1, top + box_h)), (0, 0, 0), -1)
    cv2.putText(image, text, (left + pad, top + pad + height), cv2.FONT_HERSHEY_SIMPLEX, scale,
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
