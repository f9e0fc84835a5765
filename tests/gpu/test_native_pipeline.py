"""The pipeline's native-decode branch (batches of ready slots in, slots back, counts, one camera failing
alone), run on the CPU: a PyAV stand-in plays the C loop's part with the same methods."""

from __future__ import annotations

import pytest

pytest.importorskip("torch")
pytest.importorskip("onnx")
pytest.importorskip("av")

import threading
import time

import av
import numpy as np
import torch

from pyuniproc.detect import DEFAULT_MODEL_DIR
from pyuniproc.gpu.detector import GpuDetector
from pyuniproc.gpu.native_nvdec import READY_DTYPE
from pyuniproc.gpu.pipeline import GpuPipeline, PipelineOptions, prepare_engines
from pyuniproc.gpu.tracking import RECORD_FIELDS, TrackingStage

FIELD = {name: i for i, name in enumerate(RECORD_FIELDS)}


class PyAvGroup:
    """NativeNvdecGroup's interface over PyAV: each camera's Annex-B bytes decoded once, then looped
    into free pool slots round robin by one thread; undecodable bytes fail that camera alone."""

    def __init__(self, sources, pool, *, threads, codec, loop, lookahead, poll, access_units, priority):
        self.sessions, self._pool, self.priority = len(sources), pool, priority
        self._frames: list[list[np.ndarray]] = []
        self._errors: dict[int, str] = {}
        for session, data in enumerate(sources):
            try:
                decoder = av.CodecContext.create(codec, "r")
                frames = [f.to_ndarray(format="nv12") for p in decoder.parse(data) for f in decoder.decode(p)]
                frames += [f.to_ndarray(format="nv12") for f in decoder.decode(None)]
                if not frames:
                    raise ValueError("no picture in the stream")
            except Exception as error:  # the C loop marks the session failed with its message
                self._errors[session], frames = f"cannot decode: {error}", []
            self._frames.append(frames)
        self._free = list(range(len(pool)))
        self._ready: list[tuple] = []
        self.decoded = np.zeros(self.sessions, dtype=np.uint64)
        self._lock = threading.Condition()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        turn = 0
        while not self._stop.is_set():
            session = turn % self.sessions
            turn += 1
            frames = self._frames[session]
            if not frames:
                continue
            with self._lock:
                while not self._free and not self._stop.is_set():
                    self._lock.wait(0.05)
                if self._stop.is_set():
                    return
                slot = self._free.pop()
            index = int(self.decoded[session])
            self._pool[slot].copy_(torch.from_numpy(frames[index % len(frames)]))
            now = time.perf_counter()
            with self._lock:
                self._ready.append((session, slot, index, now, now))
                self.decoded[session] += 1
                self._lock.notify_all()

    def start(self):
        self._thread.start()

    def wait_ready(self, most, first_timeout, fill_wait):
        with self._lock:
            self._lock.wait_for(lambda: self._ready or self._stop.is_set(), first_timeout)
            rows, self._ready = self._ready[:most], self._ready[most:]
        return np.array(rows, dtype=READY_DTYPE)

    def release(self, slots):
        with self._lock:
            self._free.extend(int(s) for s in slots)
            self._lock.notify_all()

    def status(self):
        return self.decoded.copy(), dict(self._errors), np.zeros(self.sessions, dtype=bool)

    def stats(self):
        return {}

    def cpu_seconds(self):
        return 0.0

    def stop(self):
        self._stop.set()
        self._thread.join(timeout=10)

    def close(self):
        self.stop()


@pytest.fixture(scope="module")
def annexb(tmp_path_factory, pyav) -> bytes:
    from pyuniproc.bench.gpu import make_synthetic_video

    video = make_synthetic_video(tmp_path_factory.mktemp("native") / "small.mp4", frames=12, width=384,
                                 height=288)
    return video.with_suffix(".h264").read_bytes()


@pytest.fixture(scope="module")
def engines():
    detector = GpuDetector(
        "ssdlite_pedestrian", model_dir=DEFAULT_MODEL_DIR, confidence_threshold=0.3, device="cpu"
    )
    return prepare_engines(detector, None, (288 * 3 // 2, 384), 1)


def _run(sources, engines, seconds=2.0, **settings):
    options = PipelineOptions(batch_size=4, pool_frames=8, reid="off", decode_loop="native", **settings)
    pipeline = GpuPipeline([], engines, options, TrackingStage(), camera_ids=[7, 9][: len(sources)],
                           native_sources=sources, native_group=PyAvGroup)
    pipeline.start()
    time.sleep(seconds)
    group = pipeline.native
    decoded, _ = pipeline.counters.snapshot()
    return pipeline, group, decoded


def test_native_batches_reach_the_trackers_in_each_cameras_order(annexb, engines):
    pipeline, group, decoded = _run([annexb, annexb], engines)
    pipeline.stop()
    records = np.array(pipeline.records).reshape(-1, len(RECORD_FIELDS))
    assert decoded > 0 and len(records) > 0
    for camera in (7, 9):
        indices = records[records[:, FIELD["stream"]] == camera, FIELD["index"]]
        assert len(indices) > 4 and np.array_equal(indices, np.arange(len(indices)))  # in order, none lost
    assert len(group._free) + len(group._ready) == 8  # every slot came back or waits to be taken
    assert pipeline.counters.snapshot()[0] >= len(records)  # final counts outlive the loop


def test_a_camera_whose_stream_fails_is_reported_and_the_other_runs_on(annexb, engines):
    pipeline, _, _ = _run([annexb, b"\x00\x00\x00\x01" + bytes(range(256)) * 8], engines, seconds=1.5)
    with pytest.raises(RuntimeError, match="camera 9"):
        pipeline.stop()
    records = np.array(pipeline.records).reshape(-1, len(RECORD_FIELDS))
    assert set(records[:, FIELD["stream"]].astype(int)) == {7}


def test_the_decode_priority_reaches_the_native_loop(annexb, engines):
    pipeline, group, _ = _run([annexb], engines, seconds=0.5, decode_priority="high")
    pipeline.stop()
    assert group.priority == "high"
