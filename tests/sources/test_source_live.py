"""Live sources: reconnect, stall detection, stop(), and credentials that never leak.

The live camera is `TsServer` (plain sockets serving MPEG-TS) read as `tcp://127.0.0.1:PORT`;
RTSP failures use a closed localhost port.
"""

from __future__ import annotations

import json
import logging
import re
import socket
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest
from sourcekit import TsServer, free_port

from pyuniproc.sources import Backoff, CameraSource, CameraState, SourceError, probe
from pyuniproc.types import Frame

FAST = Backoff(initial_seconds=0.05, factor=2.0, max_seconds=0.2, seed=1)


class Consumer:
    """Runs `frames()` in a thread, as the runtime does, keeping frames without their images."""

    def __init__(self, source: CameraSource) -> None:
        self.source = source
        self.frames: list[Frame] = []
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        for frame in self.source.frames():
            self.frames.append(
                Frame(frame.camera_id, frame.index, frame.pts_seconds, frame.image[:1, :1], frame.decoded_at)
            )

    def stop_and_join(self, bound: float) -> float:
        """stop() and return how long frames() took to end (fails beyond `bound`)."""
        start = time.monotonic()
        self.source.stop()
        self.thread.join(bound)
        assert not self.thread.is_alive(), f"frames() still running {bound} s after stop()"
        return time.monotonic() - start


def wait_for(condition: Callable[[], Any], timeout: float = 5.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.01)


def assert_continuous(frames: list[Frame]) -> None:
    assert [f.index for f in frames] == list(range(len(frames)))
    pts = [f.pts_seconds for f in frames]
    assert all(b > a for a, b in zip(pts, pts[1:], strict=False)), "pts must keep increasing"


def test_stream_reconnects_after_the_server_hangs_up(ts_server: TsServer) -> None:
    origin = time.monotonic()
    source = CameraSource("cam1", ts_server.url, backoff=FAST, max_frames=100, clock_origin=origin)
    frames = [
        Frame(f.camera_id, f.index, f.pts_seconds, f.image[:1, :1], f.decoded_at) for f in source.frames()
    ]
    assert len(frames) == 100  # 40 frames per connection: needs two reconnects
    assert_continuous(frames)
    assert ts_server.connections >= 3
    assert frames[0].pts_seconds == pytest.approx(frames[0].decoded_at - origin, abs=0.01)
    snap = source.stats.snapshot()
    assert snap["state"] == "finished"
    assert snap["reconnect_attempts"] >= 2 and snap["consecutive_failures"] == 0
    assert "end of stream" in snap["last_error"]


def test_server_killed_mid_stream_then_restarted(ts_bytes: bytes) -> None:
    server = TsServer(ts_bytes, chunk_delay=0.01).start()
    source = CameraSource(
        "cam1", server.url, backoff=FAST, open_timeout_seconds=1.0, read_timeout_seconds=1.0
    )
    consumer = Consumer(source)
    try:
        wait_for(lambda: len(consumer.frames) >= 10, what="first frames")
        server.kill()
        wait_for(lambda: source.stats.consecutive_failures >= 2, what="failed reconnects")
        before = len(consumer.frames)
        assert source.stats.state is CameraState.CONNECTING
        assert "Connection refused" in (source.stats.last_error or "")
        server.restart()
        wait_for(lambda: len(consumer.frames) >= before + 10, what="frames after restart")
        consumer.stop_and_join(1.0)
    finally:
        source.stop()
        server.kill()
    assert_continuous(consumer.frames)
    snap = source.stats.snapshot()
    assert snap["reconnect_attempts"] >= 3 and snap["consecutive_failures"] == 0
    assert snap["state"] == "finished"


def test_stalled_stream_reads_stalled_then_reconnects(ts_bytes: bytes) -> None:
    server = TsServer(ts_bytes, stall_after_bytes=len(ts_bytes) // 2).start()
    source = CameraSource(
        "cam1", server.url, backoff=FAST, stall_timeout_seconds=0.2, read_timeout_seconds=0.8
    )
    consumer = Consumer(source)
    try:
        wait_for(lambda: len(consumer.frames) >= 5, what="first frames")
        wait_for(lambda: source.stats.state is CameraState.STALLED, timeout=0.7, what="stalled")
        assert source.stats.reconnect_attempts == 0  # read timeout not reached yet
        # The read timeout drops the connection (the demuxer may still hand out a last frame or two).
        wait_for(lambda: source.stats.reconnect_attempts >= 1, timeout=2.0, what="reconnect")
        before = len(consumer.frames)
        wait_for(lambda: len(consumer.frames) >= before + 5, what="frames after reconnect")
        consumer.stop_and_join(1.0)
    finally:
        source.stop()
        server.kill()
    assert_continuous(consumer.frames)
    snap = source.stats.snapshot()
    assert snap["read_errors"] >= 1 and snap["reconnect_attempts"] >= 1
    assert (
        snap["last_error"] == f"camera cam1: connection lost to '{server.url}': no data for 0.8 s (stalled)"
    )


def test_stop_ends_frames_promptly_while_a_read_is_blocked(ts_bytes: bytes) -> None:
    server = TsServer(ts_bytes, stall_after_bytes=len(ts_bytes) // 2).start()
    source = CameraSource("cam1", server.url, read_timeout_seconds=30.0, stall_timeout_seconds=0.1)
    consumer = Consumer(source)
    try:
        wait_for(lambda: source.stats.state is CameraState.STALLED, what="stalled")
        assert consumer.stop_and_join(1.0) < 0.3
    finally:
        server.kill()  # hangs up: the blocked reader returns and closes its connection
    assert source.join(5.0)
    assert source.stats.state is CameraState.FINISHED


def test_rtsp_with_credentials_to_a_closed_port(caplog: pytest.LogCaptureFixture) -> None:
    uri = f"rtsp://user:secret@127.0.0.1:{free_port()}/x?token=tok123"
    policy = Backoff(initial_seconds=0.02, factor=2.0, max_seconds=0.1, max_attempts=5, seed=1)
    source = CameraSource("cam1", uri, backoff=policy, open_timeout_seconds=1.0)
    caplog.set_level(logging.DEBUG)
    started = time.monotonic()
    assert list(source.frames()) == []
    elapsed = time.monotonic() - started
    snap = source.stats.snapshot()
    assert snap["state"] == "dead"
    assert (snap["reconnect_attempts"], snap["consecutive_failures"]) == (4, 5)
    assert elapsed < 0.02 + 0.04 + 0.08 + 0.1 + 1.0
    assert snap["last_error"].startswith("camera cam1: cannot open 'rtsp://***@127.0.0.1:")
    assert "Connection refused" in snap["last_error"] and "gave up after 5" in snap["last_error"]
    # Delays are logged, jittered below the capped ceilings 0.02, 0.04, 0.08, 0.1.
    delays = [float(m) for m in re.findall(r"reconnecting in ([0-9.]+) s", caplog.text)]
    assert len(delays) == 4 and all(d <= policy.ceiling(k) + 0.005 for k, d in enumerate(delays))
    with pytest.raises(SourceError) as raised:
        probe(uri, camera_id="cam1", timeout_seconds=1.0)
    texts = [json.dumps(snap), repr(source), source.uri, str(raised.value), raised.value.reason, caplog.text]
    texts += [record.getMessage() for record in caplog.records] + [
        repr(record.args) for record in caplog.records
    ]
    for text in texts:
        assert "secret" not in text and "tok123" not in text


def test_unlimited_retries_stay_connecting_and_stop_ends_the_backoff_wait_as_dead() -> None:
    policy = Backoff(initial_seconds=30.0, max_seconds=30.0, seed=0)
    assert policy.schedule().delay(0) > 5.0  # the first wait is long: stop() must cut it short
    source = CameraSource("cam1", f"tcp://127.0.0.1:{free_port()}", backoff=policy)
    consumer = Consumer(source)
    wait_for(lambda: source.stats.consecutive_failures >= 1, what="first failure")
    time.sleep(0.1)
    assert source.stats.state is CameraState.CONNECTING
    assert consumer.stop_and_join(1.0) < 0.3
    assert source.join(1.0)
    # Stopped while it could not connect: it ends dead, so a summary shows the failure.
    assert source.stats.state is CameraState.DEAD
    assert consumer.frames == []


def test_udp_stream_is_read_as_live(ts_bytes: bytes) -> None:
    port = free_port()
    sending = threading.Event()
    sending.set()

    def send() -> None:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            while sending.is_set():
                for offset in range(0, len(ts_bytes), 1316):
                    sock.sendto(ts_bytes[offset : offset + 1316], ("127.0.0.1", port))
                    time.sleep(0.001)

    sender = threading.Thread(target=send, daemon=True)
    sender.start()
    try:
        source = CameraSource(
            "cam1", f"udp://127.0.0.1:{port}", backoff=FAST, read_timeout_seconds=1.0, max_frames=30
        )
        frames = [
            Frame(f.camera_id, f.index, f.pts_seconds, f.image[:1, :1], f.decoded_at) for f in source.frames()
        ]
    finally:
        sending.clear()
        sender.join(2.0)
    assert len(frames) == 30
    assert_continuous(frames)
    assert source.stats.state is CameraState.FINISHED


def test_missing_webcam_retries_then_is_dead() -> None:
    source = CameraSource("cam9", "webcam:99", backoff=Backoff(initial_seconds=0.01, max_attempts=2))
    assert list(source.frames()) == []
    snap = source.stats.snapshot()
    assert (snap["state"], snap["reconnect_attempts"]) == ("dead", 1)
    assert snap["last_error"].startswith("camera cam9: cannot open 'webcam:99': No such file or directory")
