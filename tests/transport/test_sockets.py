"""Real ZeroMQ round trips over ipc sockets with savant-rs, in the socket pairs the deployment uses."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from pyuniproc.transport import FrameMessage, FrameReader, FrameWriter, StreamEnd
from pyuniproc.types import Detections


def frame(camera_id: str, index: int) -> FrameMessage:
    tracks = Detections(xyxy=[[10 + index, 20, 50 + index, 120]], confidence=[0.9], class_id=[0],
                        tracker_id=[index % 3 + 1], data={"embedding": np.full((1, 4), 0.5, np.float32)})
    return FrameMessage(camera_id, pts=index * 100_000_000, width=768, height=576, tracks=tracks, index=index)


def read_until_end(reader: FrameReader, ends: int, received: list, deadline: float = 10.0) -> None:
    stop = time.monotonic() + deadline
    while ends and time.monotonic() < stop:
        item = reader.receive()
        if item is not None:
            received.append(item)
            ends -= isinstance(item, StreamEnd)


def test_dealer_to_router_delivers_every_frame_in_order_then_the_end(tmp_path):
    """Sources -> module: several DEALERs on one ROUTER; nothing is lost, order per camera is kept."""
    address = f"ipc://{tmp_path}/input-video.ipc"
    received: list = []
    with FrameReader(f"router+bind:{address}", receive_timeout_ms=100) as reader:
        worker = threading.Thread(target=read_until_end, args=(reader, 2, received))
        worker.start()  # an end of stream waits for the reader's acknowledgement
        with FrameWriter(f"dealer+connect:{address}") as cam1, \
                FrameWriter(f"dealer+connect:{address}") as cam2:
            for i in range(20):
                cam1.send(frame("cam1", i))
                cam2.send(frame("cam2", i))
            cam1.send_end("cam1")
            cam2.send_end("cam2")
        worker.join(timeout=15)
    frames = [r for r in received if isinstance(r, FrameMessage)]
    for camera in ("cam1", "cam2"):
        assert [f.index for f in frames if f.camera_id == camera] == list(range(20))
    assert {r.camera_id for r in received if isinstance(r, StreamEnd)} == {"cam1", "cam2"}
    last = [f for f in frames if f.camera_id == "cam1"][-1]
    np.testing.assert_allclose(last.tracks.xyxy, [[29, 20, 69, 120]])
    assert last.tracks.data["embedding"].shape == (1, 4) and last.pts_seconds == pytest.approx(1.9)


def test_pub_to_sub_fans_out_to_every_subscriber_once_joined(tmp_path):
    """Module -> fusion and sinks: one PUB, several SUBs. A SUB misses what was published before it
    joined (ZeroMQ's slow joiner), so the writer first sends until both readers hear it."""
    address = f"ipc://{tmp_path}/output-video.ipc"
    with FrameWriter(f"pub+bind:{address}") as module, \
            FrameReader(f"sub+connect:{address}", receive_timeout_ms=50) as fusion, \
            FrameReader(f"sub+connect:{address}", receive_timeout_ms=50) as sink:
        joined = set()
        for _ in range(100):
            module.send(frame("warmup", 0))
            joined |= {name for name, r in (("fusion", fusion), ("sink", sink)) if r.receive() is not None}
            if joined == {"fusion", "sink"}:
                break
        assert joined == {"fusion", "sink"}
        for reader in (fusion, sink):
            while reader.receive() is not None:
                pass  # drain the warm-up frames
        for i in range(10):
            module.send(frame("cam1", i))
        module.send_end("cam1")
        results = {}
        for name, reader in (("fusion", fusion), ("sink", sink)):
            got: list = []
            read_until_end(reader, 1, got)
            results[name] = got
    for got in results.values():
        assert [f.index for f in got if isinstance(f, FrameMessage)] == list(range(10))
        assert got[-1] == StreamEnd("cam1")


def test_wrong_direction_is_refused_before_any_socket_opens(tmp_path):
    with pytest.raises(ValueError, match="a writer needs"):
        FrameWriter(f"sub+bind:ipc://{tmp_path}/x.ipc")
    with pytest.raises(ValueError, match="a reader needs"):
        FrameReader(f"pub+bind:ipc://{tmp_path}/x.ipc")


def test_a_quiet_socket_times_out_with_none(tmp_path):
    with FrameReader(f"sub+bind:ipc://{tmp_path}/quiet.ipc", receive_timeout_ms=20) as reader:
        start = time.monotonic()
        assert reader.receive() is None
        assert time.monotonic() - start < 2
