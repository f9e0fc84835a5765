"""The ingress's handling of Savant's source protocol, against a stand-in pipeline (no models): sources
appear, restart, change, fall silent and are removed; bad input is counted per source and reason; a full
pipeline pushes back on the sources."""

import logging
import queue
import threading
import time
from concurrent.futures import Future

import numpy as np
import pytest
from savant_rs.primitives import (
    EndOfStream,
    Shutdown,
    UserData,
    VideoFrame,
    VideoFrameBatch,
    VideoFrameContent,
)
from savant_rs.utils.serialization import Message
from savantkit import AdapterSource, Encoded, encode

from pyuniproc.config.cameras import CameraSpec, Site
from pyuniproc.serve.ingress import SavantIngress
from pyuniproc.transport import Envelope, FrameReader, TransportError

SIZE = (32, 24)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class FakeReader:
    """What `FrameReader.receive_envelope` gives, from a queue the test fills."""

    def __init__(self) -> None:
        self.queue: queue.Queue = queue.Queue()

    def receive_envelope(self):
        try:
            item = self.queue.get(timeout=0.02)
        except queue.Empty:
            return None
        if isinstance(item, Exception):
            raise item
        return item


class FakePipeline:
    """Runs each added stream's frames() on a thread (as a camera worker does) and reports its end."""

    def __init__(self, ingress: SavantIngress, *, consume: bool = True, delay: float = 0.0) -> None:
        self.ingress, self.consume, self.delay = ingress, consume, delay
        self.added: list[tuple[str, int]] = []
        self.removed: list[str] = []
        self.frames: dict[str, list] = {}
        self.stopped = threading.Event()
        self.last_frame: dict[str, int] = {}

    def add_camera(self, spec: CameraSpec) -> Future:
        source = self.ingress.open_source(spec, self.last_frame.get(spec.id, 0))
        self.added.append((spec.id, source.first_index))
        if self.consume:
            threading.Thread(target=self._run, args=(spec.id, source), daemon=True).start()
        future: Future = Future()
        future.set_result(None)
        return future

    def _run(self, camera_id: str, source) -> None:
        for frame in source.frames():
            time.sleep(self.delay)
            self.frames.setdefault(camera_id, []).append(frame)
            self.last_frame[camera_id] = frame.index + 1
            self.ingress.take_original(camera_id, frame.index)
        self.ingress.camera_ended(camera_id)

    def remove_camera(self, camera_id: str) -> Future:
        self.removed.append(camera_id)
        future: Future = Future()
        future.set_result({})
        return future

    def stop(self) -> None:
        self.stopped.set()


def frame_message(source_id: str, picture: Encoded, codec: str = "raw-rgba", size=SIZE, external=True):
    video_frame = VideoFrame(source_id=source_id, framerate="10/1", width=size[0], height=size[1],
                             codec=codec,
                             content=VideoFrameContent.external("zeromq", None) if external
                             else VideoFrameContent.internal(picture.data),
                             keyframe=picture.keyframe, pts=picture.pts, time_base=(1, 1_000_000_000))
    return Envelope(source_id, video_frame.to_message(), picture.data if external else b"")


def raw(n: int, size=SIZE, start: int = 0) -> list[Encoded]:
    pictures = [np.full((size[1], size[0], 3), 10 * i, np.uint8) for i in range(start, start + n)]
    return encode(pictures, "raw-rgba")


def h264(n: int, size=SIZE, gop: int = 30) -> list[Encoded]:
    pictures = [np.full((size[1], size[0], 3), 20 * i, np.uint8) for i in range(n)]
    return encode(pictures, "h264", gop=gop)


def eos(source_id: str) -> Envelope:
    return Envelope(source_id, EndOfStream(source_id).to_message())


def idle(ingress: SavantIngress, source_id: str) -> bool:
    """The source is known and nothing of it streams, runs or waits."""
    record = ingress._records.get(source_id)
    return record is not None and record.idle


def wait_until(condition, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.01)


@pytest.fixture
def served():
    """(ingress, reader, pipeline, clock): the ingress thread running on a fake reader and pipeline."""
    made = []

    def make(site=None, **options):
        site = site or Site("test", ())
        clock = Clock()
        reader = FakeReader()
        ingress = SavantIngress(reader, site=site, clock=clock, source_timeout=5.0, **options)
        pipeline = FakePipeline(ingress)
        ingress.attach(pipeline)
        ingress.start()
        made.append(ingress)
        return ingress, reader, pipeline, clock

    yield make
    for ingress in made:
        ingress.close()


def test_a_source_starts_at_a_keyframe_ends_with_eos_and_is_removed_later(served):
    ingress, reader, pipeline, clock = served()
    stream = h264(6, gop=3)
    assert [p.keyframe for p in stream] == [True, False, False, True, False, False]
    for picture in stream[1:]:  # the adapter joined mid-GOP: two frames before a keyframe
        reader.queue.put(frame_message("cam1", picture, codec="h264"))
    reader.queue.put(eos("cam1"))
    wait_until(lambda: ingress.summary()["source_events"].get("streams") == 1 and idle(ingress, "cam1"))
    assert [f.pts_seconds for f in pipeline.frames["cam1"]] == [0.3, 0.4, 0.5]
    assert [f.index for f in pipeline.frames["cam1"]] == [0, 1, 2]
    stats = ingress._records["cam1"].stats.snapshot()
    assert stats["frames_received"] == 5 and stats["dropped"] == {"before_keyframe": 2}
    clock.now += 4.0
    time.sleep(0.7)
    assert pipeline.removed == []  # kept for a restart
    clock.now += 2.0
    wait_until(lambda: pipeline.removed == ["cam1"])
    assert "cam1" not in ingress.summary()["sources"]


def test_a_restart_waits_for_the_previous_stream_and_continues_its_numbering(served):
    ingress, reader, pipeline, clock = served()
    pipeline.delay = 0.05  # the first stream is still being processed when the second starts
    for picture in raw(4):
        reader.queue.put(frame_message("cam1", picture))
    reader.queue.put(eos("cam1"))
    for picture in raw(3, start=4):
        reader.queue.put(frame_message("cam1", picture))
    reader.queue.put(eos("cam1"))
    wait_until(lambda: len(pipeline.added) == 2 and idle(ingress, "cam1"))
    assert pipeline.added == [("cam1", 0), ("cam1", 4)]
    assert [f.index for f in pipeline.frames["cam1"]] == list(range(7))
    assert ingress._records["cam1"].originals == {}  # every frame taken once published


def test_a_new_size_or_codec_restarts_the_stream_from_a_keyframe(served):
    ingress, reader, pipeline, clock = served()
    for picture in raw(2):
        reader.queue.put(frame_message("cam1", picture))
    bigger = h264(3, size=(48, 32), gop=2)[1:]  # starts with a frame that is not a keyframe
    for picture in bigger:
        later = Encoded(picture.data, picture.pts + 10**9, None, picture.keyframe)
        reader.queue.put(frame_message("cam1", later, codec="h264", size=(48, 32)))
    jpeg = encode([np.zeros((24, 32, 3), np.uint8)], "jpeg")[0]
    reader.queue.put(frame_message("cam1", Encoded(jpeg.data, 2 * 10**9, None, True), codec="jpeg"))
    reader.queue.put(eos("cam1"))
    wait_until(lambda: idle(ingress, "cam1") and len(pipeline.added) == 3)
    sizes = [f.image.shape[:2] for f in pipeline.frames["cam1"]]
    assert sizes == [(24, 32), (24, 32), (32, 48), (24, 32)]
    assert ingress._records["cam1"].stats.snapshot()["dropped"] == {"before_keyframe": 1}


def test_a_silent_source_ends_then_goes(served):
    ingress, reader, pipeline, clock = served()
    for picture in raw(2):
        reader.queue.put(frame_message("cam1", picture))
    wait_until(lambda: len(pipeline.frames.get("cam1", [])) == 2)
    clock.now += 5.5
    wait_until(lambda: idle(ingress, "cam1"))
    assert ingress.summary()["source_events"]["ended_silent"] == 1
    clock.now += 5.5
    wait_until(lambda: pipeline.removed == ["cam1"])


def test_bad_input_is_counted_per_source_and_reason_and_logged_once(served, caplog):
    ingress, reader, pipeline, clock = served()
    caplog.set_level(logging.DEBUG, logger="pyuniproc.serve")
    good = raw(3)
    reader.queue.put(frame_message("cam1", good[0]))
    for _ in range(2):
        reader.queue.put(frame_message("cam1", good[1], codec="vp9"))  # unknown here
        cut = Encoded(good[1].data[:-7], good[1].pts, None, True)
        reader.queue.put(frame_message("cam1", cut))  # truncated
        reader.queue.put(Envelope("cam1", frame_message("cam1", good[1]).message, b""))  # external, no part
        reader.queue.put(frame_message("bad/id", good[1]))
        reader.queue.put(Envelope("x", Message.user_data(UserData("x"))))
        reader.queue.put(TransportError("garbage", reason="undecodable"))
    reader.queue.put(frame_message("cam1", good[2]))
    reader.queue.put(eos("cam1"))
    wait_until(lambda: idle(ingress, "cam1") and len(pipeline.frames.get("cam1", [])) == 2)
    assert ingress._records["cam1"].stats.snapshot()["dropped"] == {
        "unsupported_codec": 2, "truncated": 2, "no_content": 2}
    assert ingress.summary()["rejected"] == {
        "unsupported_codec": 2, "truncated": 2, "no_content": 2, "invalid_source_id": 2,
        "unsupported_message": 2, "undecodable": 2}
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING and "further ones" in r.message]
    assert len(warnings) == 6  # one per reason


def test_shutdown_needs_the_modules_key(served):
    ingress, reader, pipeline, clock = served(shutdown_auth="secret")
    for picture in raw(3):
        reader.queue.put(frame_message("cam1", picture))
    reader.queue.put(Envelope("cam1", Shutdown("wrong").to_message()))
    time.sleep(0.3)
    assert not pipeline.stopped.is_set()
    assert ingress.summary()["rejected"] == {"shutdown_refused": 1}
    reader.queue.put(Envelope("cam1", Shutdown("secret").to_message()))
    wait_until(pipeline.stopped.is_set)
    assert len(pipeline.frames["cam1"]) == 3  # what came before was processed first


def test_cameras_not_in_the_cameras_file_are_accepted_and_reported(served):
    site = Site("test", (CameraSpec(id="cam1", uri="rtsp://cam1/stream"),))
    ingress, reader, pipeline, clock = served(site=site)
    for source_id in ("cam1", "lobby"):
        reader.queue.put(frame_message(source_id, raw(1)[0]))
    wait_until(lambda: len(pipeline.frames) == 2)
    assert ingress.summary()["unlisted_sources"] == ["lobby"]


def test_a_full_pipeline_pushes_back_on_the_source(tmp_path):
    """Nothing consumes: the ingress waits at the stream's queue and stops reading the ROUTER; once
    ZeroMQ's queues are full the adapter's send blocks (its timeout, then its retries): nothing is queued
    without bound, nothing is dropped."""
    endpoint = f"ipc://{tmp_path}/in.ipc"
    reader = FrameReader(f"router+bind:{endpoint}", receive_hwm=2)
    ingress = SavantIngress(reader, site=Site("test", ()), queue_frames=2)
    pipeline = FakePipeline(ingress, consume=False)
    ingress.attach(pipeline)
    ingress.start()
    size = (320, 240)
    source = AdapterSource(f"dealer+connect:{endpoint}", "cam1", width=size[0], height=size[1],
                           codec="raw-rgba", timeout_ms=200, retries=1)
    try:
        picture = raw(1, size=size)[0]
        sent = 0
        while sent < 500:
            started = time.monotonic()
            result = source.frame(picture)
            if time.monotonic() - started >= 0.2 or type(result).__name__ != "WriterResultSuccess":
                break
            sent += 1
        assert sent < 500, "the source was never held back"
        assert ingress.accounting.snapshot()["messages"]["frame"] <= 3  # two queued, one waiting to be
        assert len(pipeline.added) == 1 and ingress._records["cam1"].active._queue.full()
    finally:
        source.close()
        ingress.close()
        reader.close()


def test_timestamps_going_back_restart_the_stream(served):
    """An adapter restarted without an end of stream starts its pts again: a new stream, as in Savant."""
    ingress, reader, pipeline, clock = served()
    for picture in raw(3) + raw(2):  # pts 0, 0.1, 0.2, then 0, 0.1 again
        reader.queue.put(frame_message("cam1", picture))
    reader.queue.put(eos("cam1"))
    wait_until(lambda: idle(ingress, "cam1") and len(pipeline.added) == 2)
    assert [f.index for f in pipeline.frames["cam1"]] == list(range(5))
    assert ingress.summary()["source_events"]["timestamp_resets"] == 1


def test_frame_batches_and_still_pictures_without_a_keyframe_flag_are_taken(served):
    ingress, reader, pipeline, clock = served()
    batch = VideoFrameBatch()
    for i, picture in enumerate(raw(2)):
        frame = frame_message("cam1", picture, external=False).message.as_video_frame()
        batch.add(i, frame)
    reader.queue.put(Envelope("cam1", Message.video_frame_batch(batch)))
    unflagged = raw(1, start=2)[0]
    unflagged.keyframe = None  # adapters other than the GStreamer ones may leave it unset
    reader.queue.put(frame_message("cam1", Encoded(unflagged.data, 2 * 10**8, None, None)))
    reader.queue.put(eos("cam1"))
    wait_until(lambda: idle(ingress, "cam1") and len(pipeline.frames.get("cam1", [])) == 3)
    assert ingress.summary()["messages"] == {"frame_batch": 1, "frame": 1, "end_of_stream": 1}
