"""`pyuniproc fusion` as a separate process, driven by a client that uses savant-rs alone — as a
real Savant module's ZeroMQ sink would — and reads the frames back with global ids."""

import os
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
RED = np.array([1.0] + [0.0] * 15, np.float32)
BLUE = np.array([0.0, 1.0] + [0.0] * 14, np.float32)
GREEN = np.array([0.0, 0.0, 1.0] + [0.0] * 13, np.float32)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def savant_frame(camera: str, pts_seconds: float, people: list[tuple[int, np.ndarray, float]]):
    """A Savant-style frame: people in the detector's namespace, the ReID vector as an attribute."""
    from savant_rs.primitives import Attribute, AttributeValue, VideoFrame, VideoFrameContent
    from savant_rs.primitives.geometry import RBBox

    frame = VideoFrame(source_id=camera, framerate="10/1", width=640, height=360,
                       content=VideoFrameContent.none(), time_base=(1, 1_000_000_000),
                       pts=int(pts_seconds * 1e9))
    for track_id, embedding, x in people:
        box = RBBox(x, 200, 50, 120)
        reid = Attribute(namespace="person_reid", name="embedding",
                         values=[AttributeValue.floats(embedding.tolist(), None)])
        frame.create_object("person_detector", "person", confidence=0.9, detection_box=box,
                            track_id=track_id, track_box=box, attributes=[reid])
    return frame.to_message()


def global_ids(message) -> dict[int, int]:
    frame = message.as_video_frame()
    ids = {}
    for obj in frame.get_all_objects():
        attribute = obj.get_attribute("mtmc", "global_id")
        if attribute is not None:
            ids[obj.track_id] = attribute.values[0].as_integer()
    return ids


def test_global_ids_come_back_on_savant_messages(tmp_path):
    from savant_rs.zmq import BlockingReader, BlockingWriter, ReaderConfigBuilder, WriterConfigBuilder

    cameras = tmp_path / "cameras.yml"
    cameras.write_text("cameras:\n  - {id: cam1, uri: a.mp4}\n  - {id: cam2, uri: b.mp4}\n"
                       "topology:\n  links:\n    - {from: cam1, to: cam2, min_seconds: 4, max_seconds: 20}\n")
    inbound, outbound = f"ipc://{tmp_path}/in.ipc", f"ipc://{tmp_path}/out.ipc"
    telemetry_port = free_port()
    reader_config = ReaderConfigBuilder(f"router+bind:{outbound}")
    reader_config.with_receive_timeout(100)
    reader = BlockingReader(reader_config.build())
    reader.start()
    service = subprocess.Popen(
        [sys.executable, "-m", "pyuniproc.cli", "fusion", "--in", f"router+bind:{inbound}",
         "--out", f"dealer+connect:{outbound}", "--cameras", str(cameras), "--idle-seconds", "5",
         "--max-seconds", "60"],
        cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO), "TELEMETRY_PORT": str(telemetry_port)},
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        text=True)
    received: list = []

    def read() -> None:
        deadline = time.monotonic() + 40
        while time.monotonic() < deadline and len(received) < 45:
            result = reader.receive()
            if type(result).__name__ == "ReaderResultMessage" and result.message.is_video_frame():
                received.append(result.message)

    listener = threading.Thread(target=read)
    listener.start()
    writer_config = WriterConfigBuilder(f"dealer+connect:{inbound}")
    writer_config.with_send_timeout(5000)
    writer = BlockingWriter(writer_config.build())
    writer.start()
    # Two people walk through cam1 for 2 s; 8 s later the same two (same looks) walk through cam2.
    for i in range(20):
        writer.send_message("cam1", savant_frame("cam1", i * 0.1, [(1, RED, 100 + i), (2, BLUE, 400 - i)]),
                            b"")
    for i in range(20):
        writer.send_message("cam2",
                            savant_frame("cam2", 10 + i * 0.1, [(7, BLUE, 100 + i), (8, RED, 400 - i)]),
                            b"")
    # cam9 is not in the cameras file (an adapter started later): its frames get ids, none is dropped.
    for i in range(5):
        writer.send_message("cam9", savant_frame("cam9", 12 + i * 0.1, [(3, GREEN, 200 + i)]), b"")
    listener.join(45)
    # While it idles before exiting, its /metrics counts what came in and what went out.
    with urllib.request.urlopen(f"http://127.0.0.1:{telemetry_port}/metrics", timeout=5) as response:
        metrics = response.read().decode()
    writer.shutdown()
    output, _ = service.communicate(timeout=60)
    reader.shutdown()
    assert service.returncode == 0, output
    assert len(received) == 45, output
    cam1 = [global_ids(m) for m in received if m.as_video_frame().source_id == "cam1"]
    cam2 = [global_ids(m) for m in received if m.as_video_frame().source_id == "cam2"]
    red, blue = cam1[-1][1], cam1[-1][2]
    assert red != blue
    # The people seen in cam2 keep the identities they had in cam1.
    assert cam2[-1] == {7: blue, 8: red}
    assert "0 bad messages" in output
    cam9 = [global_ids(m) for m in received if m.as_video_frame().source_id == "cam9"]
    assert len(cam9) == 5 and cam9[-1][3] not in (red, blue)  # a new person, with a global id
    assert output.count("camera 'cam9' is not in the cameras file") == 1  # warned once
    assert 'pyuniproc_fusion_service_messages_total{kind="frames"} 45.0' in metrics
    assert 'pyuniproc_fusion_service_frames_total{outcome="fused"} 45.0' in metrics
    assert 'pyuniproc_fusion_service_frames_total{outcome="skipped"} 0.0' in metrics
