"""Helpers of the chaos tests: a real RTSP server to break, a server that never answers, and a
running pipeline whose per-camera rates and latencies can be measured over time windows.

The RTSP server (rtsp_server.py, GStreamer's RTSP server) runs under Debian's /usr/bin/python3
as a subprocess: SIGKILL kills it, SIGSTOP stalls it (connections stay open, nothing is sent),
and a line on its stdin damages the H.264 bitstream it sends.
"""

from __future__ import annotations

import gzip
import json
import os
import select
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
import zlib
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
SYSTEM_PYTHON = "/usr/bin/python3"
Row = tuple[float, str, float, int, tuple[int, int]]
"""A processed frame: (monotonic time written, camera id, latency ms, tracks, (width, height))."""
SERVER_SCRIPT = Path(__file__).with_name("rtsp_server.py")


def rtsp_server_available() -> str | None:
    """None when GStreamer's RTSP server can run here, else why not (a skip reason)."""
    if not os.path.exists(SYSTEM_PYTHON):
        return f"{SYSTEM_PYTHON} missing"
    probe = subprocess.run(
        [
            SYSTEM_PYTHON,
            "-c",
            "import gi; gi.require_version('GstRtspServer', '1.0'); "
            "from gi.repository import Gst, GstRtspServer; Gst.init(None); "
            "import sys; sys.exit(0 if all(Gst.ElementFactory.find(e) for e in "
            "('tsdemux', 'h264parse', 'rtph264pay', 'breakmydata')) else 3)",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    if probe.returncode != 0:
        return "GStreamer RTSP server or plugins missing: run scripts/system-deps.sh"
    return None


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class RtspServer:
    """GStreamer's RTSP server on 127.0.0.1 serving `mounts` ({name: MPEG-TS file}) in real time."""

    def __init__(self, mounts: dict[str, Path], *, port: int = 0) -> None:
        self.mounts = dict(mounts)
        self.port = port
        self.process: subprocess.Popen[str] | None = None
        self.stopped = False

    def url(self, mount: str, userinfo: str = "") -> str:
        return f"rtsp://{userinfo + '@' if userinfo else ''}127.0.0.1:{self.port}/{mount}"

    def start(self, timeout: float = 20.0) -> RtspServer:
        """Start (or restart on the same port after `kill`); returns once it listens."""
        args = [SYSTEM_PYTHON, str(SERVER_SCRIPT), "--port", str(self.port)]
        for name, path in self.mounts.items():
            args += ["--mount", f"{name}={path}"]
        deadline = time.monotonic() + timeout
        while True:
            self.process = subprocess.Popen(
                args, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
            )
            line = self._read_line(deadline)
            if line.startswith("READY"):
                self.port = int(line.split()[1])
                self.stopped = False
                return self
            self.process.kill()
            self.process.wait()
            if time.monotonic() > deadline:  # e.g. the port is still held by a dying predecessor
                raise RuntimeError(f"RTSP server did not start on port {self.port}: {line!r}")
            time.sleep(0.2)

    def _read_line(self, deadline: float) -> str:
        assert self.process and self.process.stdout
        ready, _, _ = select.select([self.process.stdout], [], [], max(0.0, deadline - time.monotonic()))
        return self.process.stdout.readline().strip() if ready else ""

    def kill(self) -> None:
        """SIGKILL: every client connection is reset at once, as when a camera loses power."""
        if self.process is not None:
            if self.stopped:
                self.process.send_signal(signal.SIGCONT)
            self.process.kill()
            self.process.wait(10)
            self.process = None

    def stall(self) -> None:
        """SIGSTOP: connections stay open but nothing more is sent or answered."""
        assert self.process is not None
        self.process.send_signal(signal.SIGSTOP)
        self.stopped = True

    def resume(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGCONT)
        self.stopped = False

    def corrupt(self, mount: str, probability: float) -> None:
        """Damage this share of the H.264 buffers of every session of `mount` (0 stops it)."""
        assert self.process is not None and self.process.stdin is not None
        self.process.stdin.write(f"corrupt {mount} {probability}\n")
        self.process.stdin.flush()
        line = self._read_line(time.monotonic() + 10)
        assert line.startswith("OK corrupt"), line

    def close(self) -> None:
        self.kill()


class SilentServer:
    """A TCP listener that accepts connections and never says a word (a hung camera or NVR)."""

    def __init__(self, port: int = 0) -> None:
        self._listener = socket.socket()
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._listener.bind(("127.0.0.1", port))
        self._listener.listen(16)
        self._listener.settimeout(0.05)
        self.port = self._listener.getsockname()[1]
        self.connections = 0
        self._clients: list[socket.socket] = []
        self._closed = threading.Event()
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        while not self._closed.is_set():
            try:
                client, _ = self._listener.accept()
            except (TimeoutError, OSError):
                continue
            self.connections += 1
            self._clients.append(client)  # held open, never read nor written

    def close(self) -> None:
        self._closed.set()
        self._thread.join(2)
        self._listener.close()
        for client in self._clients:
            client.close()


@dataclass(frozen=True)
class Window:
    """What each camera did between two instants: processed frames/s and end-to-end latency."""

    seconds: float
    fps: dict[str, float]
    latency_p50_ms: dict[str, float]
    frames_with_tracks: dict[str, int]


class FrameLog:
    """A pipeline observer recording (when, camera, latency, tracks, size) of every processed frame."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.rows: list[Row] = []
        self.summaries: list[dict[str, Any]] = []

    def on_frame(self, frame: Any, tracks: Any, events: Any) -> None:
        now = time.monotonic()
        with self._lock:
            self.rows.append(
                (
                    now,
                    frame.camera_id,
                    (now - frame.decoded_at) * 1000,
                    len(tracks),
                    (frame.width, frame.height),
                )
            )

    def on_summary(self, summary: dict[str, Any]) -> None:
        with self._lock:
            self.summaries.append(summary)

    def since(self, t0: float, t1: float | None = None) -> list[Row]:
        with self._lock:
            return [r for r in self.rows if r[0] >= t0 and (t1 is None or r[0] < t1)]

    def window(self, t0: float, t1: float, cameras: list[str]) -> Window:
        rows = self.since(t0, t1)
        seconds = t1 - t0
        fps, latency, tracked = {}, {}, {}
        for camera in cameras:
            mine = [r for r in rows if r[1] == camera]
            # Frames per second from the decode times of the first and last frame processed in the
            # window: counting frames per window is off by one frame either way (8 % of 12 frames),
            # and processing times jitter with the batches. A dropped frame still lowers the rate;
            # a frame that was late is seen in the latency instead.
            decoded = [r[0] - r[2] / 1000 for r in mine]
            span = max(decoded) - min(decoded) if len(mine) >= 2 else 0.0
            fps[camera] = round((len(mine) - 1) / span, 2) if span > 0 else 0.0
            latency[camera] = round(statistics.median([r[2] for r in mine]), 1) if mine else float("nan")
            tracked[camera] = sum(1 for r in mine if r[3] > 0)
        return Window(seconds, fps, latency, tracked)


class RunningPipeline:
    """A `Pipeline` run in a thread, with a `FrameLog` attached and its /metrics at hand."""

    def __init__(self, pipeline: Any) -> None:
        self.pipeline = pipeline
        self.log = FrameLog()
        pipeline.observers.append(self.log)
        self.result: dict[str, Any] | None = None
        self._thread = threading.Thread(target=self._run, name="chaos-pipeline", daemon=True)

    def _run(self) -> None:
        self.result = self.pipeline.run()

    def start(self) -> RunningPipeline:
        self._thread.start()
        return self

    def stop(self, timeout: float = 30) -> dict[str, Any]:
        self.pipeline.stop()
        self._thread.join(timeout)
        assert not self._thread.is_alive(), "pipeline did not stop"
        assert self.result is not None
        return self.result

    def camera(self, camera_id: str) -> dict[str, Any]:
        return self.pipeline.summary()["cameras"][camera_id]

    def wait(self, what: Callable[[], bool], timeout: float, poll: float = 0.05) -> float | None:
        """Seconds until `what()` held, or None after `timeout`."""
        started = time.monotonic()
        while time.monotonic() - started < timeout:
            if what():
                return time.monotonic() - started
            time.sleep(poll)
        return None

    def wait_state(self, camera_id: str, states: set[str], timeout: float) -> float | None:
        return self.wait(lambda: self.camera(camera_id)["state"] in states, timeout)

    def get(self, path: str) -> str:
        """The body of a telemetry endpoint (/metrics, /readyz, /healthz), whatever its status."""
        url = self.pipeline.telemetry.url
        assert url, "telemetry server not running"
        try:
            with urllib.request.urlopen(f"{url}{path}", timeout=5) as response:
                return response.read().decode()
        except urllib.error.HTTPError as error:
            return error.read().decode()

    def metrics(self) -> str:
        return self.get("/metrics")

    def metric(self, name: str, **labels: str) -> float | None:
        """The value of one sample of /metrics, e.g. metric("pyuniproc_camera_up", camera="a")."""
        wanted = {f'{k}="{v}"' for k, v in labels.items()}
        for line in self.metrics().splitlines():
            if line.startswith(name + "{") or line.startswith(name + " "):
                head, _, value = line.rpartition(" ")
                inside = head[len(name) + 1 : -1].split(",") if "{" in head else []
                if wanted <= set(inside):
                    return float(value)
        return None

    def saved_summary(self) -> dict[str, Any]:
        return json.loads((Path(self.pipeline.outputs.out_dir) / "summary.json").read_text())


def tracks_by_camera(rows: list[Row]) -> dict[str, int]:
    counts: dict[str, int] = defaultdict(int)
    for row in rows:
        if row[3] > 0:
            counts[row[1]] += 1
    return dict(counts)


class RawOtlpReceiver:
    """OTLP/HTTP receiver keeping every request body as sent (so nothing in a span can hide)."""

    def __init__(self) -> None:
        self.bodies: list[bytes] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                encoding = self.headers.get("Content-Encoding", "")
                if encoding == "gzip":
                    body = gzip.decompress(body)
                elif encoding == "deflate":
                    body = zlib.decompress(body)
                receiver.bodies.append(body)
                self.send_response(200)
                self.send_header("Content-Type", "application/x-protobuf")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def spans(self) -> list:
        """The received spans, decoded as a collector would (tests/telemetry/otlpkit.py)."""
        sys.path.insert(0, str(REPO / "tests" / "telemetry"))
        from opentelemetry.proto.collector.trace.v1 import trace_service_pb2
        from otlpkit import decode

        found = []
        for body in self.bodies:
            request = trace_service_pb2.ExportTraceServiceRequest()
            request.ParseFromString(body)
            found += decode(request)
        return found

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
