"""Detection on its own thread, one batch ahead of the run loop.

On a small CPU the run loop's per-frame Python (tracking, ReID gating, fusion, pyfuncs, outputs)
would otherwise leave the cores idle while it runs, and the detector idle with them: measured on 2
cores, the pipeline used 1.3 of them. The detector's work - resize, one ONNX Runtime call, box
decoding - releases the GIL for most of its time, so running it on a worker thread while the loop
finishes the previous batch keeps both busy. One worker: batches stay in order, and the detector
object (an ONNX Runtime session, or the GPU engine) is only ever called from that thread.

The worker only computes; the run loop records every timing and span from `DetectedBatch`, so the
latency tables and telemetry are written from one thread as before.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any

import numpy as np

from pyuniproc.types import Detections, Frame


@dataclass(frozen=True)
class DetectedBatch:
    """The detector's output for one batch and when each of its steps ended (time.monotonic())."""

    boxes: list[Detections]
    started: float
    preprocessed: float
    inferred: float
    decoded: float


def detect_batch(detector: Any, pictures: Sequence[Frame | np.ndarray]) -> DetectedBatch:
    """preprocess -> infer -> decode boxes for `Frame`s or (H, W, 3) uint8 RGB images, timing each step.

    A detector with `preprocess_frames` (the GPU one) is given the frames themselves, so it reads an
    `Nv12Frame`'s pixels where the decoder left them; any other gets each frame's RGB `image`."""
    started = time.monotonic()
    frames = [p for p in pictures if isinstance(p, Frame)]
    if frames and len(frames) != len(pictures):
        raise ValueError("detect_batch takes Frames or images, not both in one batch")
    if frames and hasattr(detector, "preprocess_frames"):
        tensor = detector.preprocess_frames(frames)
    else:
        tensor = detector.preprocess([p.image if isinstance(p, Frame) else p for p in pictures])
    preprocessed = time.monotonic()
    raw = detector.infer(tensor)
    inferred = time.monotonic()
    sizes = [(p.height, p.width) if isinstance(p, Frame) else p.shape[:2] for p in pictures]
    boxes = detector.postprocess(raw, sizes)
    return DetectedBatch(boxes, started, preprocessed, inferred, time.monotonic())


class DetectStage:
    """`workers` threads that run `detect_batch`, started at once (so a run's thread count does not
    change while it runs); `on_done` is called (on the worker) as each batch finishes, so a run loop
    waiting for frames can wake up for the result instead."""

    def __init__(self, workers: int = 1, on_done: Callable[[], None] | None = None) -> None:
        self._on_done = on_done
        self._jobs: queue.SimpleQueue[tuple[Future[DetectedBatch], Any, list[Frame | np.ndarray]] | None] = (
            queue.SimpleQueue()
        )
        self._threads = [
            threading.Thread(target=self._work, name=f"detect-{index}", daemon=True)
            for index in range(workers)
        ]
        for thread in self._threads:
            thread.start()

    def submit(self, detector: Any, pictures: Sequence[Frame | np.ndarray]) -> Future[DetectedBatch]:
        future: Future[DetectedBatch] = Future()
        self._jobs.put((future, detector, list(pictures)))
        return future

    def _work(self) -> None:
        while (job := self._jobs.get()) is not None:
            future, detector, pictures = job
            if not future.set_running_or_notify_cancel():
                continue
            try:
                future.set_result(detect_batch(detector, pictures))
            except BaseException as error:  # handed to whoever waits for the batch
                future.set_exception(error)
            if self._on_done is not None:
                self._on_done()

    def close(self) -> None:
        """Finish the batches submitted, then end the threads."""
        for _ in self._threads:
            self._jobs.put(None)
        for thread in self._threads:
            thread.join()
