"""Helpers for source tests: tiny generated clips and a live MPEG-TS server over plain sockets.

The live server is a Python socket server sending pre-encoded MPEG-TS bytes. (An FFmpeg
listening output, `av.open("tcp://...?listen=1", "w")`, holds the GIL while it waits for a
client, which would freeze the reader under test in the same process.)
"""

from __future__ import annotations

import socket
import threading
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

VTEST = Path(__file__).resolve().parents[2] / "samples" / "vtest" / "vtest.avi"
VTEST_FRAMES = 795


def gray_level(index: int) -> int:
    """Brightness of frame `index` of the numbered clip (so a test can tell which frame it got)."""
    return 20 + 10 * index


def frame_number(image: np.ndarray) -> int:
    """Inverse of `gray_level` for a decoded (lossy) frame."""
    return round((float(image.mean()) - 20) / 10)


def write_clip(
    path: Path, images: list[np.ndarray], fps: int = 10, codec: str = "mpeg4", gop: int = 12
) -> Path:
    with av.open(str(path), "w") as out:
        stream = out.add_stream(codec, rate=fps)
        stream.height, stream.width = images[0].shape[:2]
        stream.pix_fmt = "yuv420p"
        stream.codec_context.gop_size = gop
        stream.codec_context.time_base = Fraction(1, fps)
        for i, image in enumerate(images):
            frame = av.VideoFrame.from_ndarray(image, format="rgb24")
            frame.pts = i
            out.mux(stream.encode(frame))
        out.mux(stream.encode())
    return path


class TsServer:
    """Serves `data` to every client that connects (paced in TS-packet chunks), then hangs up.

    stall_after_bytes: stop sending after this many bytes but keep the connection open (a camera
    that froze). kill() drops the listener and every client; restart() listens on the same port.
    """

    CHUNK = 188 * 7

    def __init__(
        self, data: bytes, *, chunk_delay: float = 0.003, stall_after_bytes: int | None = None
    ) -> None:
        self.data = data
        self.chunk_delay = chunk_delay
        self.stall_after_bytes = stall_after_bytes
        self.port = 0
        self.connections = 0
        self._killed = threading.Event()
        self._listener: socket.socket | None = None
        self._clients: list[socket.socket] = []
        self._threads: list[threading.Thread] = []

    @property
    def url(self) -> str:
        return f"tcp://127.0.0.1:{self.port}"

    def start(self) -> TsServer:
        self._killed = threading.Event()
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen()
        listener.settimeout(0.05)
        self.port = listener.getsockname()[1]
        self._listener = listener
        thread = threading.Thread(target=self._accept_loop, args=(listener, self._killed), daemon=True)
        thread.start()
        self._threads.append(thread)
        return self

    def kill(self) -> None:
        self._killed.set()
        for client in self._clients:
            try:
                client.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        for thread in self._threads:
            thread.join(2.0)
        self._threads.clear()
        self._clients.clear()

    def restart(self) -> TsServer:
        return self.start()

    def _accept_loop(self, listener: socket.socket, killed: threading.Event) -> None:
        with listener:
            while not killed.is_set():
                try:
                    client, _ = listener.accept()
                except TimeoutError:
                    continue
                except OSError:
                    return
                self.connections += 1
                self._clients.append(client)
                thread = threading.Thread(target=self._serve, args=(client, killed), daemon=True)
                thread.start()
                self._threads.append(thread)

    def _serve(self, client: socket.socket, killed: threading.Event) -> None:
        with client:
            try:
                for offset in range(0, len(self.data), self.CHUNK):
                    if self.stall_after_bytes is not None and offset >= self.stall_after_bytes:
                        killed.wait()
                        return
                    if killed.wait(self.chunk_delay):
                        return
                    client.sendall(self.data[offset : offset + self.CHUNK])
            except OSError:
                return


def free_port() -> int:
    """A localhost TCP port with nothing listening (bound then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]
