"""`FrameHub`: the latest picture of every camera, JPEG-encoded only for someone watching.

The pipeline thread hands every processed frame to `on_frame`. With nobody watching a camera
that call is one dict lookup and a comparison: no copy, no drawing, no encoding. While a viewer
watches (an open MJPEG stream, or a snapshot poll in the last `lease_seconds`), `on_frame` keeps
a reference to the newest frame and its tracks, still without copying (frames and the tracks a
stage returns are not modified afterwards).

Drawing and JPEG encoding happen in `tile()`, which the web server calls from its own threads,
at most `max_fps` times a second per camera however many viewers there are: every viewer of a
camera gets the same encoded bytes. A camera that stops delivering keeps its last tile, so a
dead camera shows its last picture (the page marks it) and never holds up the others.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import cv2
import numpy as np

from pyuniproc.outputs.draw import draw_tracks
from pyuniproc.types import Detections, Frame


@dataclass(frozen=True, slots=True)
class Tile:
    """One encoded picture of one camera.

    seq: which stored frame it shows (increases by one per frame stored while watched), so a
        stream sends a tile only when it is newer than the last one it sent.
    jpeg: the JPEG bytes, boxes and ids drawn, at most `max_width` pixels wide.
    """

    camera_id: str
    seq: int
    frame_index: int
    pts_seconds: float
    jpeg: bytes
    encoded_at: float


class _Slot:
    """Everything the hub keeps for one camera."""

    __slots__ = ("latest", "stored", "streams", "lease_until", "lock", "tile", "encodes", "next_due")

    def __init__(self) -> None:
        self.latest: tuple[int, Frame, Detections | None] | None = None  # (seq, frame, tracks)
        self.stored = 0  # frames stored so far; written by the pipeline thread only
        self.streams = 0  # open streams watching this camera
        self.lease_until = float("-inf")  # a snapshot poller watches until then
        self.lock = threading.Lock()  # one encode at a time per camera
        self.tile: Tile | None = None
        self.encodes = 0
        self.next_due = float("-inf")  # earliest time of the next encode


class FrameHub:
    """Latest frame per camera, encoded on demand at a capped rate.

    camera_ids: the cameras of the site (more can be added with `add_camera`).
    max_fps: most tiles encoded per second per camera. Higher looks smoother in the browser and
        costs CPU (roughly 5-15 ms per 640 px tile) that the pipeline might want; 5 is enough to
        follow people walking.
    max_width: tiles wider than this are scaled down after drawing. Smaller saves encode time
        and bandwidth; the page scales tiles to fit anyway.
    jpeg_quality: 1-100; lower is smaller and blurrier.
    lease_seconds: how long one snapshot request (`touch`) keeps a camera watched. Longer than
        the pollers' interval, or every poll would find a stale frame.
    clock: time source (tests inject a fake one).
    """

    def __init__(
        self,
        camera_ids: Iterable[str] = (),
        *,
        max_fps: float = 5.0,
        max_width: int = 640,
        jpeg_quality: int = 75,
        lease_seconds: float = 2.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if not max_fps > 0:
            raise ValueError(f"max_fps must be > 0, got {max_fps!r}")
        if not (isinstance(max_width, int) and max_width >= 16):
            raise ValueError(f"max_width must be an int >= 16, got {max_width!r}")
        if not (isinstance(jpeg_quality, int) and 1 <= jpeg_quality <= 100):
            raise ValueError(f"jpeg_quality must be an int in 1..100, got {jpeg_quality!r}")
        if not lease_seconds > 0:
            raise ValueError(f"lease_seconds must be > 0, got {lease_seconds!r}")
        self.max_fps = float(max_fps)
        self.max_width = max_width
        self.jpeg_quality = jpeg_quality
        self.lease_seconds = float(lease_seconds)
        self._clock = clock
        self._lock = threading.Lock()  # guards the stream counts
        self._slots: dict[str, _Slot] = {}
        self._closed = threading.Event()
        for camera_id in camera_ids:
            self.add_camera(camera_id)

    @property
    def min_interval(self) -> float:
        """Seconds between two encodes of one camera."""
        return 1.0 / self.max_fps

    @property
    def camera_ids(self) -> list[str]:
        return list(self._slots)

    def __contains__(self, camera_id: object) -> bool:
        return camera_id in self._slots

    def add_camera(self, camera_id: str) -> None:
        if camera_id not in self._slots:
            self._slots = {**self._slots, camera_id: _Slot()}  # replace, never mutate: lock-free readers

    # -- the pipeline thread -------------------------------------------------------------------

    def on_frame(self, frame: Frame, tracks: Detections | None) -> None:
        """Keep `frame` if anyone watches its camera; otherwise return at once."""
        slot = self._slots.get(frame.camera_id)
        if slot is None or (not slot.streams and slot.lease_until < self._clock()):
            return
        slot.stored += 1
        slot.latest = (slot.stored, frame, tracks)

    # -- viewers (server threads) --------------------------------------------------------------

    @contextmanager
    def watching(self, camera_id: str) -> Iterator[None]:
        """A stream of `camera_id` is open while inside (frames are kept for it)."""
        slot = self._slots[camera_id]
        with self._lock:
            slot.streams += 1
        try:
            yield
        finally:
            with self._lock:
                slot.streams -= 1

    def touch(self, camera_id: str) -> None:
        """A snapshot poller looked at `camera_id`: keep its frames for `lease_seconds`."""
        self._slots[camera_id].lease_until = self._clock() + self.lease_seconds

    def watched(self, camera_id: str) -> bool:
        slot = self._slots[camera_id]
        return slot.streams > 0 or slot.lease_until >= self._clock()

    def viewers(self) -> int:
        """Open streams over all cameras."""
        return sum(slot.streams for slot in self._slots.values())

    def encodes(self, camera_id: str) -> int:
        """Tiles encoded so far for `camera_id` (for tests and the overhead benchmark)."""
        return self._slots[camera_id].encodes

    def tile(self, camera_id: str) -> Tile | None:
        """The newest tile of `camera_id`, encoding the newest frame first when it is newer than
        the last tile and its encode slot is due; None before any frame.

        Slots lie on a grid `min_interval` apart, so however the callers' polls fall, a camera
        gets at most `max_fps` encodes a second (and close to that when frames keep coming); a
        camera that was idle for longer than a slot starts a new grid."""
        slot = self._slots[camera_id]
        with slot.lock:
            latest, tile = slot.latest, slot.tile
            if latest is None:
                return tile
            now = self._clock()
            if tile is not None and (tile.seq >= latest[0] or now < slot.next_due):
                return tile
            on_grid = now - slot.next_due < self.min_interval
            slot.next_due = (slot.next_due if on_grid else now) + self.min_interval
            seq, frame, tracks = latest
            jpeg = encode_tile(frame, tracks, max_width=self.max_width, quality=self.jpeg_quality)
            slot.tile = Tile(camera_id, seq, frame.index, frame.pts_seconds, jpeg, now)
            slot.encodes += 1
            return slot.tile

    # -- shutdown ------------------------------------------------------------------------------

    def close(self) -> None:
        """Streams end at their next turn (the server is going down)."""
        self._closed.set()

    @property
    def closed(self) -> bool:
        return self._closed.is_set()


def encode_tile(frame: Frame, tracks: Detections | None, *, max_width: int = 640, quality: int = 75) -> bytes:
    """JPEG of `frame` with its tracks drawn (colour by global id when there is one), scaled
    down to at most `max_width` pixels wide."""
    image = draw_tracks(frame.image, tracks, label=frame.camera_id)
    height, width = image.shape[:2]
    if width > max_width:
        image = cv2.resize(image, (max_width, max(1, round(height * max_width / width))),
                           interpolation=cv2.INTER_AREA)
    ok, data = cv2.imencode(".jpg", cv2.cvtColor(image, cv2.COLOR_RGB2BGR),
                            [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:  # pragma: no cover - OpenCV only fails on impossible input
        raise RuntimeError(f"camera {frame.camera_id}: JPEG encoding failed")
    return np.asarray(data).tobytes()
