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

import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np

from pyuniproc.types import Detections


@dataclass(frozen=True)
class DetectedBatch:
    """The detector's output for one batch and when each of its steps ended (time.monotonic())."""

    boxes: list[Detections]
    started: float
    preprocessed: float
    inferred: float
    decoded: float


def detect_batch(detector: Any, images: Sequence[np.ndarray]) -> DetectedBatch:
    """preprocess -> infer -> decode boxes for (H, W, 3) uint8 RGB images, timing each step."""
    started = time.monotonic()
    tensor = detector.preprocess(list(images))
    preprocessed = time.monotonic()
    raw = detector.infer(tensor)
    inferred = time.monotonic()
    boxes = detector.postprocess(raw, [image.shape[:2] for image in images])
    return DetectedBatch(boxes, started, preprocessed, inferred, time.monotonic())


class DetectStage:
    """One worker thread that runs `detect_batch`; `on_done` is called (on the worker) as each
    batch finishes, so a run loop waiting for frames can wake up for the result instead."""

    def __init__(self, workers: int = 1, on_done: Callable[[], None] | None = None) -> None:
        self.workers = workers
        self._executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="detect")
        self._on_done = on_done

    def submit(self, detector: Any, images: Sequence[np.ndarray]) -> Future[DetectedBatch]:
        future = self._executor.submit(detect_batch, detector, images)
        if self._on_done is not None:
            on_done = self._on_done
            future.add_done_callback(lambda _: on_done())
        return future

    def close(self) -> None:
        """Wait for the batch in progress, then end the thread."""
        self._executor.shutdown(wait=True)
