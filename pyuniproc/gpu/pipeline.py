"""The GPU pipeline: NVDEC decode -> batched detect + ReID on the GPU -> per-camera ByteTrack on the CPU.

Stages and how they overlap:

1. One decoder thread per camera (PyNvVideoCodec releases the GIL while it decodes). Each frame, still
   NV12, is copied on the thread's own CUDA stream into a free slot of a shared frame pool on the GPU and
   announced on the ready queue. Paced runs (`pace_fps`) decode like live cameras: a camera that falls
   more than `max_lag_ms` behind skips ahead (the frames it missed count as dropped), and a frame that
   finds no free slot is dropped instead of stalling its decoder. Unpaced runs block on a full pool
   (back-pressure, nothing dropped).
2. `inference_workers` threads, each with its own CUDA stream and its own `BatchEngine` (captured CUDA
   graphs), take up to `batch_size` ready frames (waiting at most `max_batch_wait_ms` for a full batch):
   one graph replay does NV12 -> net input, the fp16 detector and a fixed-shape decode + NMS; one copy
   brings the boxes to the host and frees the pool slots; a second replay cuts the ReID crops from the same
   frames and embeds them; one copy brings the embeddings back.
3. A `TrackerPool` of processes runs one ByteTrack per camera on the results and time-stamps them.
"""

from __future__ import annotations

import contextlib
import logging
import queue
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch

from pyuniproc.gpu.detector import GpuDetector, GpuEmbedder
from pyuniproc.gpu.engine import BatchEngine
from pyuniproc.gpu.nvdec import NV12Stream
from pyuniproc.gpu.tracking import TrackerPool

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PipelineOptions:
    """batch_size: most frames per inference; larger batches use the GPU better and add waiting time.
    max_batch_wait_ms: how long a worker waits to fill a batch; lower cuts latency at light load.
    inference_workers: threads running batches concurrently (2 overlaps one's copy with the other's compute).
    pool_frames: NV12 frames the pool holds (decoded, not yet inferred); default batch_size *
        (inference_workers + 1). More smooths bursts, but in an overloaded unpaced run every waiting frame
        adds to latency.
    pace_fps: 0 decodes as fast as possible; > 0 paces every camera like a live one at that rate.
    max_lag_ms: paced runs: a camera further behind than this skips to "now" (missed frames are dropped).
    reid: embed every detection of every frame (crops cut on the GPU) and ship the embeddings with them.
    """

    batch_size: int = 64
    max_batch_wait_ms: float = 5.0
    inference_workers: int = 2
    pool_frames: int | None = None
    pace_fps: float = 0.0
    max_lag_ms: float = 250.0
    reid: bool = True

    def __post_init__(self) -> None:
        if self.batch_size < 1 or self.inference_workers < 1:
            raise ValueError(
                f"batch_size and inference_workers must be >= 1, got {self.batch_size}, "
                f"{self.inference_workers}"
            )
        if self.pace_fps < 0 or self.max_batch_wait_ms < 0 or self.max_lag_ms <= 0:
            raise ValueError("pace_fps and max_batch_wait_ms must be >= 0 and max_lag_ms > 0")


@dataclass(slots=True)
class Ticket:
    stream: int
    sequence: int  # consecutive over this camera's frames that enter the pipeline (tracking order)
    index: int
    due: float
    decoded: float
    decode_ms: float
    slot: int


class FramePool:
    """Fixed NV12 frame slots on the device, allocated at the first frame's size; a queue of free slots."""

    def __init__(self, slots: int, device: torch.device) -> None:
        self.slots = slots
        self.device = device
        self.frames: torch.Tensor | None = None
        self._free: queue.Queue[int] = queue.Queue()
        for slot in range(slots):
            self._free.put(slot)
        self._lock = threading.Lock()

    def ensure(self, shape: tuple[int, int]) -> torch.Tensor:
        if self.frames is None:
            with self._lock:
                if self.frames is None:
                    self.frames = torch.empty((self.slots, *shape), dtype=torch.uint8, device=self.device)
        if tuple(self.frames.shape[1:]) != tuple(shape):
            raise ValueError(
                f"every camera must have one frame size; pool holds {tuple(self.frames.shape[1:])}, "
                f"got {tuple(shape)}"
            )
        return self.frames

    def acquire(self, timeout: float | None) -> int | None:
        try:
            return self._free.get(timeout=timeout) if timeout else self._free.get_nowait()
        except queue.Empty:
            return None

    def release(self, slots: Sequence[int]) -> None:
        for slot in slots:
            self._free.put(slot)


class Counters:
    """Per-camera counts, each written by one decoder thread only (so no lock)."""

    def __init__(self, streams: int) -> None:
        self.decoded = [0] * streams
        self.dropped = [0] * streams

    def snapshot(self) -> tuple[int, int]:
        return sum(self.decoded), sum(self.dropped)


class GpuPipeline:
    """Runs the stages above for `len(open_streams)` cameras until `stop()`.

    open_streams: one zero-argument factory per camera returning an `NV12Stream` (opened in the camera's
    own thread, so that 96 sessions start in parallel).
    engines: one `BatchEngine` per inference worker (`prepare_engines`), built once and reusable across
    pipelines; they fix the frame size every camera must have.
    """

    def __init__(
        self,
        open_streams: Sequence[Callable[[], NV12Stream]],
        engines: Sequence[BatchEngine],
        trackers: TrackerPool,
        options: PipelineOptions,
    ) -> None:
        if len(engines) < options.inference_workers:
            raise ValueError(
                f"{options.inference_workers} inference workers need as many engines, got {len(engines)}"
            )
        if options.batch_size > engines[0].capacity:
            raise ValueError(
                f"batch_size {options.batch_size} exceeds the engines' largest bucket {engines[0].capacity}"
            )
        self.open_streams = list(open_streams)
        self.options = options
        self.engines = list(engines)[: options.inference_workers]
        self.device = self.engines[0].device
        self.trackers = trackers
        self.embedder_enabled = options.reid and self.engines[0].embedder is not None
        pool_frames = options.pool_frames or options.batch_size * (options.inference_workers + 1)
        self.pool = FramePool(pool_frames, self.device)
        self.pool.ensure(tuple(self.engines[0].frames.shape[1:]))
        # max-speed runs: each camera may hold only its share of the pool, so no camera starves the others
        share = max(1, pool_frames // max(1, len(self.open_streams)))
        self._quota = [threading.Semaphore(share) for _ in self.open_streams]
        self.ready: queue.Queue[Ticket] = queue.Queue()
        self.counters = Counters(len(self.open_streams))
        self.batches: list[tuple[float, float, float, int, int]] = []
        """(formed, detected, done, frames, detections) per batch."""
        self.errors: list[BaseException] = []
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._ready_barrier = threading.Barrier(len(self.open_streams) + 1)

    # --- decode ---------------------------------------------------------------------------------------
    def _decode_loop(self, stream_id: int) -> None:
        try:
            stream = self.open_streams[stream_id]()
        except BaseException as error:
            self.errors.append(error)
            self._ready_barrier.abort()
            return
        cuda = self.device.type == "cuda"
        copy_stream = torch.cuda.Stream(self.device) if cuda else None
        try:
            self._ready_barrier.wait()
        except threading.BrokenBarrierError:
            stream.close()
            return
        pace = self.options.pace_fps
        period = 1.0 / pace if pace else 0.0
        lag_limit = self.options.max_lag_ms / 1000.0
        n_streams = len(self.open_streams)
        anchor = time.perf_counter() + (stream_id / n_streams) * period  # spread cameras over one period
        since_anchor = 0
        index = 0
        sequence = 0
        try:
            while not self._stop.is_set():
                due = anchor + since_anchor * period
                if pace:
                    wait = due - time.perf_counter()
                    if wait > 0:
                        time.sleep(wait)
                started = time.perf_counter()
                frame = stream.read()
                if frame is None:
                    break
                got = time.perf_counter()
                self.counters.decoded[stream_id] += 1
                index += 1
                since_anchor += 1
                if pace:
                    lag = got - due
                    if lag > lag_limit:  # a live camera does not wait: skip what it sent meanwhile
                        skipped = int(lag * pace)
                        self.counters.dropped[stream_id] += skipped
                        index += skipped
                        anchor, since_anchor = got, 1
                    slot = self.pool.acquire(timeout=None)
                    if slot is None:
                        self.counters.dropped[stream_id] += 1
                        continue
                else:
                    due = started
                    while not self._quota[stream_id].acquire(timeout=0.1):
                        if self._stop.is_set():
                            break
                    slot = None
                    while slot is None and not self._stop.is_set():
                        slot = self.pool.acquire(timeout=0.1)
                    if slot is None:
                        break
                frames = self.pool.ensure(tuple(frame.shape))
                with torch.cuda.stream(copy_stream) if cuda else contextlib.nullcontext():
                    frames[slot].copy_(frame, non_blocking=True)
                if copy_stream is not None:
                    copy_stream.synchronize()  # the decoder may reuse its buffer at the next read
                done = time.perf_counter()
                self.ready.put(
                    Ticket(stream_id, sequence, index - 1, due, done, (done - started) * 1000.0, slot)
                )
                sequence += 1
        except BaseException as error:  # surfaced by stop()
            self.errors.append(error)
        finally:
            stream.close()

    # --- inference ------------------------------------------------------------------------------------
    def _collect(self) -> list[Ticket]:
        try:
            first = self.ready.get(timeout=0.1)
        except queue.Empty:
            return []
        tickets = [first]
        deadline = time.perf_counter() + self.options.max_batch_wait_ms / 1000.0
        while len(tickets) < self.options.batch_size:
            try:
                tickets.append(self.ready.get_nowait())
                continue
            except queue.Empty:
                pass
            remaining = deadline - time.perf_counter()
            if remaining <= 0:
                break
            try:
                tickets.append(self.ready.get(timeout=remaining))
            except queue.Empty:
                break
        return tickets

    def _infer_loop(self, worker: int) -> None:
        engine = self.engines[worker]
        cuda = self.device.type == "cuda"
        stream = torch.cuda.Stream(self.device) if cuda else None
        try:
            with torch.cuda.stream(stream) if cuda else contextlib.nullcontext(), torch.no_grad():
                while not self._stop.is_set():
                    tickets = self._collect()
                    if tickets:
                        self._run_batch(tickets, engine)
        except BaseException as error:
            self.errors.append(error)
            self._stop.set()

    def _release(self, tickets: Sequence[Ticket]) -> None:
        self.pool.release([t.slot for t in tickets])
        if not self.options.pace_fps:
            for ticket in tickets:
                self._quota[ticket.stream].release()

    def _run_batch(self, tickets: list[Ticket], engine: BatchEngine) -> None:
        formed = time.perf_counter()
        assert self.pool.frames is not None
        slots = torch.tensor([t.slot for t in tickets], dtype=torch.int64).to(self.device, non_blocking=True)
        engine.load(self.pool.frames, slots)
        per_frame, kept, _ = engine.detect_frames(len(tickets))  # waited for the copy: slots are free again
        self._release(tickets)
        detected = time.perf_counter()
        if self.embedder_enabled:
            if kept is None:  # exact fallback decode: boxes go to the embedder from the host
                boxes = [d.xyxy for d in per_frame]
                index = np.repeat(np.arange(len(per_frame)), [len(b) for b in boxes])
                embeddings = engine.embed(
                    torch.from_numpy(index).to(self.device),
                    torch.from_numpy(np.concatenate(boxes)).to(self.device),
                )
            else:
                embeddings = engine.embed_kept(kept)
            vectors = embeddings.half().cpu().numpy()
            start = 0
            for detections in per_frame:
                detections.data["embedding"] = vectors[start : start + len(detections)]
                start += len(detections)
        done = time.perf_counter()
        self.batches.append((formed, detected, done, len(tickets), sum(len(d) for d in per_frame)))
        self.trackers.submit(
            [
                (
                    t.stream,
                    t.sequence,
                    t.index,
                    t.due,
                    t.decoded,
                    t.decode_ms,
                    formed,
                    done,
                    d.xyxy,
                    d.confidence,
                    d.class_id,
                    d.data.get("embedding"),
                )
                for t, d in zip(tickets, per_frame, strict=True)
            ]
        )

    # --- control --------------------------------------------------------------------------------------
    def start(self, timeout: float = 120.0) -> None:
        """Open every camera's decoder (in parallel), then start decoding and inference."""
        for stream_id in range(len(self.open_streams)):
            thread = threading.Thread(
                target=self._decode_loop, args=(stream_id,), daemon=True, name=f"decode-{stream_id}"
            )
            thread.start()
            self._threads.append(thread)
        try:
            self._ready_barrier.wait(timeout=timeout)
        except threading.BrokenBarrierError:
            self.stop()
            raise RuntimeError(f"decoders failed to open: {self.errors[:1]!r}") from None
        for worker in range(len(self.engines)):
            thread = threading.Thread(
                target=self._infer_loop, args=(worker,), daemon=True, name=f"infer-{worker}"
            )
            thread.start()
            self._threads.append(thread)

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=30)
        while True:  # frames decoded but never inferred: give their slots back
            try:
                self._release([self.ready.get_nowait()])
            except queue.Empty:
                break
        if self.errors:
            raise RuntimeError(f"pipeline failed: {self.errors[0]!r}") from self.errors[0]


def prepare_engines(
    detector: GpuDetector,
    embedder: GpuEmbedder | None,
    frame_shape: tuple[int, int],
    count: int,
    **engine_options: object,
) -> list[BatchEngine]:
    """`count` engines (one per inference worker), CUDA graphs captured now, before threads start."""
    return [BatchEngine(detector, embedder, frame_shape, **engine_options) for _ in range(count)]
