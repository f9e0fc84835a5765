"""Per-camera tracking on the CPU, sharded over worker processes.

Why processes: ByteTrack costs a fraction of a millisecond per frame in numpy, which at 2,000 frames/s is
more than one core, and threads would serialise on the GIL with the decoder threads of the GPU process.
Cameras are sharded by id (`camera % processes`), so each camera's frames stay in order in one process
and its tracker state lives there (one `ByteTrack` per camera, dropped on `reset`).

Frames of one camera can come back from the GPU out of order (two inference workers finish their batches in
either order), so each worker puts every camera's frames back in pipeline order (`sequence`) before tracking.

Each worker records, per frame, the timestamps the benchmark needs; all clocks are `time.perf_counter`
(CLOCK_MONOTONIC on Linux, shared by every process), so latencies can span processes.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import queue
import time
from collections.abc import Sequence
from typing import Any

import numpy as np

THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
RECORD_FIELDS = (
    "stream",
    "index",
    "due",
    "decoded",
    "decode_ms",
    "formed",
    "inferred",
    "tracked",
    "detections",
    "tracks",
)
"""Columns of a worker record: camera, frame index, due time (paced runs; else decoded), time the frame
left the decoder, decode time, time its batch was formed, time the batch's results reached the host,
time tracking finished, number of detections and of reported tracks."""


def _worker_main(inbox: Any, outbox: Any, kind: str, options: dict[str, Any]) -> None:
    from pyuniproc.track import create_tracker
    from pyuniproc.types import Detections

    trackers: dict[int, Any] = {}
    waiting: dict[int, dict[int, tuple[Any, ...]]] = {}  # camera -> sequence -> frame that came early
    expected: dict[int, int] = {}
    records: list[tuple[float, ...]] = []

    def track(frame: tuple[Any, ...]) -> None:
        stream, _, index, due, decoded, decode_ms, formed, inferred, xyxy, confidence, class_id, embedding = (
            frame
        )
        tracker = trackers.get(stream)
        if tracker is None:
            tracker = trackers[stream] = create_tracker(kind, **options)
        data = {} if embedding is None else {"embedding": embedding}
        detections = Detections(xyxy=xyxy, confidence=confidence, class_id=class_id, data=data)
        tracked = tracker.update(detections)
        records.append(
            (
                stream,
                index,
                due,
                decoded,
                decode_ms,
                formed,
                inferred,
                time.perf_counter(),
                len(detections),
                len(tracked),
            )
        )

    while True:
        message = inbox.get()
        tag = message[0]
        if tag == "frames":
            for frame in message[1]:
                stream, sequence = frame[0], frame[1]
                pending = waiting.setdefault(stream, {})
                pending[sequence] = frame
                following = expected.get(stream, 0)
                while following in pending:
                    track(pending.pop(following))
                    following += 1
                expected[stream] = following
        elif tag == "report":
            outbox.put(("report", np.array(records, dtype=np.float64).reshape(-1, len(RECORD_FIELDS))))
            records = []
        elif tag == "reset":
            trackers.clear()
            waiting.clear()
            expected.clear()
            records = []
            outbox.put(("reset", None))
        elif tag == "stop":
            return


class TrackerPool:
    """`processes` tracking workers; `submit` frames of a batch, `collect` their records.

    kind / options: the tracker as `pyuniproc.track.create_tracker` takes it (one instance per camera).
    Workers are started with the "spawn" method: forking a process that holds a CUDA context is unsafe.
    """

    def __init__(
        self, processes: int, *, kind: str = "bytetrack", options: dict[str, Any] | None = None
    ) -> None:
        if processes < 1:
            raise ValueError(f"processes must be >= 1, got {processes!r}")
        context = mp.get_context("spawn")
        # one thread per worker: BLAS pools in every tracking process would fight over the cores
        saved = {name: os.environ.get(name) for name in THREAD_VARIABLES}
        os.environ.update({name: "1" for name in THREAD_VARIABLES})
        self.inboxes = [context.Queue() for _ in range(processes)]
        self.outbox = context.Queue()
        self.workers = [
            context.Process(
                target=_worker_main,
                args=(inbox, self.outbox, kind, dict(options or {})),
                daemon=True,
                name=f"pyuniproc-track-{i}",
            )
            for i, inbox in enumerate(self.inboxes)
        ]
        try:
            for worker in self.workers:
                worker.start()
        finally:
            for name, value in saved.items():
                if value is None:
                    os.environ.pop(name, None)
                else:
                    os.environ[name] = value

    @property
    def pids(self) -> list[int]:
        return [w.pid for w in self.workers if w.pid is not None]

    def submit(self, frames: Sequence[tuple[Any, ...]]) -> None:
        """Frames as tuples (stream, sequence, index, due, decoded, decode_ms, formed, inferred, xyxy,
        confidence, class_id, embedding or None); one message per worker."""
        shards: dict[int, list[tuple[Any, ...]]] = {}
        for frame in frames:
            shards.setdefault(int(frame[0]) % len(self.inboxes), []).append(frame)
        for shard, items in shards.items():
            self.inboxes[shard].put(("frames", items))

    def _ask(self, tag: str, timeout: float) -> list[Any]:
        for inbox in self.inboxes:
            inbox.put((tag,))
        replies = []
        deadline = time.monotonic() + timeout
        while len(replies) < len(self.inboxes):
            try:
                reply_tag, payload = self.outbox.get(timeout=max(0.1, deadline - time.monotonic()))
            except queue.Empty as error:
                raise RuntimeError(f"tracking workers did not answer {tag!r} within {timeout} s") from error
            if reply_tag == tag:
                replies.append(payload)
        return replies

    def reset(self, timeout: float = 60.0) -> None:
        """Forget every camera's tracker and every record (after the queued frames are processed)."""
        self._ask("reset", timeout)

    def collect(self, timeout: float = 120.0) -> np.ndarray:
        """All records since the last collect/reset, (n, len(RECORD_FIELDS)) float64."""
        parts = self._ask("report", timeout)
        return np.concatenate(parts) if parts else np.zeros((0, len(RECORD_FIELDS)))

    def close(self) -> None:
        for inbox in self.inboxes:
            inbox.put(("stop",))
        for worker in self.workers:
            worker.join(timeout=10)
            if worker.is_alive():
                worker.terminate()
