"""Helpers for the view tests: synthetic frames, a live camera you can kill, image checks."""

from __future__ import annotations

import io
import socket
import threading
from pathlib import Path

import av
import numpy as np

from pyuniproc.types import Detections, Frame

VTEST = Path(__file__).resolve().parents[2] / "samples" / "vtest" / "vtest.avi"


def frame(camera_id: str = "cam1", index: int = 0, *, width: int = 64, height: int = 48) -> Frame:
    """A small picture whose content changes with `index`."""
    image = np.zeros((height, width, 3), np.uint8)
    image[:, :, 0] = (np.arange(width) * 4 + index * 10) % 256
    image[:, :, 1] = 80
    image[:, :, 2] = (index * 37) % 256
    return Frame(camera_id, index, index / 10, image, decoded_at=float(index))


def tracks(*rows: tuple[float, float, float, float, int], global_ids: list[int] | None = None) -> Detections:
    """Tracks from (x1, y1, x2, y2, track_id) rows; `global_ids` fills data["global_id"]."""
    data = {} if global_ids is None else {"global_id": np.asarray(global_ids, np.int64)}
    return Detections(xyxy=[r[:4] for r in rows] or np.zeros((0, 4)), confidence=[0.9] * len(rows),
                      class_id=[0] * len(rows), tracker_id=[r[4] for r in rows], data=data)


def vtest_mpegts(frames: int = 300, width: int = 384, height: int = 288, fps: int = 10) -> bytes:
    """The first `frames` frames of vtest.avi as an MPEG-2 MPEG-TS stream (keyframe every second)."""
    buffer = io.BytesIO()
    with av.open(str(VTEST)) as source, av.open(buffer, "w", format="mpegts") as out:
        stream = out.add_stream("mpeg2video", rate=fps)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.codec_context.gop_size = fps
        for i, decoded in enumerate(source.decode(video=0)):
            if i == frames:
                break
            small = decoded.reformat(width=width, height=height, format="yuv420p")
            small.pts = i
            out.mux(stream.encode(small))
        out.mux(stream.encode())
    return buffer.getvalue()


class LiveTsServer:
    """A camera on tcp://127.0.0.1:<port>: sends `data` to each client at `duration_seconds` per
    pass (so frames come at about their native rate), again and again, until `kill()`, which
    closes the listener and every connection: the camera is gone, reconnects are refused."""

    CHUNK = 188 * 7

    def __init__(self, data: bytes, duration_seconds: float) -> None:
        self.data = data
        self.chunk_delay = duration_seconds * self.CHUNK / len(data)
        self._killed = threading.Event()
        self._listener = socket.socket()
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen()
        self._listener.settimeout(0.05)
        self.port = self._listener.getsockname()[1]
        self._clients: list[socket.socket] = []
        self._threads = [threading.Thread(target=self._accept_loop, daemon=True)]
        self._threads[0].start()

    @property
    def url(self) -> str:
        return f"tcp://127.0.0.1:{self.port}"

    def kill(self) -> None:
        self._killed.set()
        for client in list(self._clients):
            try:
                client.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        for thread in self._threads:
            thread.join(2.0)

    def _accept_loop(self) -> None:
        with self._listener:
            while not self._killed.is_set():
                try:
                    client, _ = self._listener.accept()
                except TimeoutError:
                    continue
                except OSError:
                    return
                self._clients.append(client)
                thread = threading.Thread(target=self._serve, args=(client,), daemon=True)
                thread.start()
                self._threads.append(thread)

    def _serve(self, client: socket.socket) -> None:
        with client:
            try:
                while not self._killed.is_set():
                    for offset in range(0, len(self.data), self.CHUNK):
                        if self._killed.wait(self.chunk_delay):
                            return
                        client.sendall(self.data[offset:offset + self.CHUNK])
            except OSError:
                return


def region(image: np.ndarray, rect: dict[str, float]) -> np.ndarray:
    """The pixels of a page element's bounding rect (CSS px = screenshot px at scale 1), inset
    by 2 px so borders do not count."""
    x1, y1 = int(rect["x"]) + 2, int(rect["y"]) + 2
    x2, y2 = int(rect["x"] + rect["width"]) - 2, int(rect["y"] + rect["height"]) - 2
    assert x2 > x1 + 20 and y2 > y1 + 20, f"element too small to check: {rect}"
    return image[y1:y2, x1:x2].astype(np.float32)


def is_picture(pixels: np.ndarray) -> bool:
    """Not blank: real footage has spread-out values (a flat or nearly flat area does not)."""
    return float(pixels.std()) > 20.0 and len(np.unique(pixels.astype(np.uint8).reshape(-1, 3), axis=0)) > 200


def change(a: np.ndarray, b: np.ndarray) -> float:
    """Mean absolute difference of two regions, in grey levels."""
    return float(np.abs(a - b).mean())
