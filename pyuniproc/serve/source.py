"""One stream of one Savant source, as a frame source the pipeline's camera worker runs.

The ingress thread `put`s the source's frames (encoded, as they arrived) into a small bounded queue;
the pipeline's `CameraWorker` thread iterates `frames()`, which decodes them with PyAV (`StreamDecoder`)
and yields `Frame`s. So decoding runs on one thread per source, as it does for cameras, and a full
pipeline stops the ingress thread at `put` (the worker waits for room instead of dropping, because the
stream is neither live nor paced: `is_live` and `realtime` are False), and with it the ROUTER socket:
ZeroMQ then holds the adapters' messages and, past its high-water mark, blocks their sends.

A stream is opened for one codec and frame size: the ingress starts a new stream when they change,
and `close()`s a stream at the source's end of stream. Every frame that does not come out decoded is
counted with its reason through `reject` (the ingress counts and logs it, once per reason).
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator, MutableMapping

from pyuniproc.serve.decode import DecodeError, Picture, StreamDecoder
from pyuniproc.sources.stats import CameraState, CameraStats
from pyuniproc.transport import IncomingFrame
from pyuniproc.types import Frame

log = logging.getLogger(__name__)

_END = object()  # queued by close(): the stream ends after the frames before it
PUT_WAIT_SECONDS = 0.1  # how often a blocked `put` looks whether it should give up
MAX_PENDING = 32  # frames handed to the decoder without a picture yet (B-frames need a few)

Reject = Callable[[str, str, str], None]
"""reject(source_id, reason, message): count one frame that did not make it, log the first of a kind."""


class SocketSource:
    """The frames of one stream of source `camera_id`, numbered from `first_index`.

    stats: the source's counters, shared by all its streams until the source is removed.
    originals: where each decoded frame's `IncomingFrame` is kept by frame index, until the frame is
        published (the egress takes it back to send the same savant-rs frame on).
    capacity: frames queued before `put` blocks; more smooths bursts, fewer holds less memory.
    """

    is_live = False
    realtime = False

    def __init__(self, camera_id: str, uri: str, *, stats: CameraStats,
                 originals: MutableMapping[int, IncomingFrame], first_index: int,
                 params: tuple[str | None, int, int], reject: Reject, capacity: int = 4) -> None:
        self.camera_id = camera_id
        self.uri = uri
        self.stats = stats
        self.first_index = int(first_index)
        self.params = params
        self._originals = originals
        self._reject = reject
        self._queue: queue.Queue[object] = queue.Queue(maxsize=max(1, int(capacity)))
        self._stop = threading.Event()
        self._started = False
        self.closed = False
        self.last_decode_time: int | None = None  # of the last frame put (the ingress watches resets)

    # -- ingress thread ------------------------------------------------------------------------

    def put(self, frame: IncomingFrame, give_up: Callable[[], bool] = lambda: False) -> bool:
        """Queue an encoded frame, waiting while the queue is full (backpressure); False when the
        stream was stopped or `give_up()` became true before there was room."""
        return self._put(frame, give_up)

    def close(self, give_up: Callable[[], bool] = lambda: False) -> None:
        """End of stream: the frames queued before are still decoded and processed."""
        if not self.closed:
            self.closed = True
            self._put(_END, give_up)

    def _put(self, item: object, give_up: Callable[[], bool]) -> bool:
        while not self._stop.is_set():
            try:
                self._queue.put(item, timeout=PUT_WAIT_SECONDS)
                return True
            except queue.Full:
                if give_up():
                    return False
        return False

    # -- pipeline side -------------------------------------------------------------------------

    def stop(self) -> None:
        """Make `frames()` end promptly (the camera is removed or the service stops)."""
        self._stop.set()

    def abandon(self, reason: str) -> None:
        """The pipeline never ran this stream (it refused the source): stop it and count what waits."""
        self._stop.set()
        while True:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                return
            if isinstance(item, IncomingFrame):
                self._reject(self.camera_id, reason, "frame of a stream the pipeline did not take")

    @property
    def stopped(self) -> bool:
        return self._stop.is_set()

    def frames(self) -> Iterator[Frame]:
        """Decoded frames until the end of the stream or `stop()`; iterate once."""
        if self._started:
            raise RuntimeError(f"source {self.camera_id}: frames() can be iterated only once")
        self._started = True
        return self._frames()

    def _frames(self) -> Iterator[Frame]:
        self.stats.set_state(CameraState.LIVE)
        decoder: StreamDecoder | None = None
        pending: deque[IncomingFrame] = deque()  # sent to the decoder, no picture yet, in decode order
        index = self.first_index
        try:
            while not self._stop.is_set():
                try:
                    item = self._queue.get(timeout=PUT_WAIT_SECONDS)
                except queue.Empty:
                    continue
                if item is _END:
                    break
                assert isinstance(item, IncomingFrame)
                try:
                    if decoder is None:
                        decoder = StreamDecoder(item.codec or "", item.width, item.height, item.time_base)
                    pending.append(item)
                    pictures = decoder.decode(item.content or b"", item.pts, item.keyframe)
                except DecodeError as error:
                    if pending and pending[-1] is item:
                        pending.pop()
                    self._reject(self.camera_id, error.reason, f"frame pts {item.pts}: {error}")
                    continue
                for picture in pictures:
                    frame = self._frame(picture, pending, index)
                    if frame is not None:
                        index += 1
                        yield frame
                while len(pending) > MAX_PENDING:
                    lost = pending.popleft()
                    self._reject(self.camera_id, "no_picture",
                                 f"frame pts {lost.pts}: the decoder gave no picture")
            if decoder is not None and not self._stop.is_set():
                for picture in decoder.flush():
                    frame = self._frame(picture, pending, index)
                    if frame is not None:
                        index += 1
                        yield frame
        finally:
            self._account_left(pending)

    def _frame(self, picture: Picture, pending: deque[IncomingFrame], index: int) -> Frame | None:
        """The Frame of a decoded picture, matched to the frame it came from by pts (decode order
        otherwise); None for a picture of a frame already counted as lost."""
        item = next((p for p in pending if p.pts == picture.pts), None)
        if item is None:
            if not pending:
                return None
            item = pending[0]
        pending.remove(item)
        self._originals[index] = item
        return Frame(self.camera_id, index, item.pts_seconds, picture.image, time.monotonic())

    def _account_left(self, pending: deque[IncomingFrame]) -> None:
        """Frames that never came out: without a picture at the end, or still queued when stopped."""
        for lost in pending:
            self._reject(self.camera_id, "no_picture" if not self._stop.is_set() else "stopped",
                         f"frame pts {lost.pts}: no picture before the stream ended")
        while True:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                break
            if isinstance(item, IncomingFrame):
                self._reject(self.camera_id, "stopped", "frame still queued when the source was stopped")
        self.stats.set_state(CameraState.CONNECTING)  # between streams; the summary shows it as waiting

    def __repr__(self) -> str:
        return f"SocketSource({self.camera_id!r}, params={self.params}, closed={self.closed})"


__all__ = ["SocketSource"]
