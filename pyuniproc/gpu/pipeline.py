"""The GPU pipeline: NVDEC decode -> batched detect on the GPU -> per-camera ByteTrack -> scheduled ReID.

Stages and how they overlap:

1. One decoder thread per camera by default (PyNvVideoCodec releases the GIL while it decodes), or per
   `sessions_per_decoder` cameras served round robin. Each frame, still NV12, is copied on the camera's
   own CUDA stream into a free slot of a shared frame pool on the GPU and announced on the ready queue.
   Paced runs (`pace_fps`) decode like live cameras: a camera that falls more than `max_lag_ms` behind
   skips ahead (the frames it missed count as dropped), and a frame that finds no free slot is dropped
   instead of stalling its decoder. Unpaced runs take a slot (within the
   camera's share of the pool) before decoding and wait for one when there is none (back-pressure,
   nothing dropped); a thread serving several cameras passes over a camera without room instead.
2. `inference_workers` threads, each with its own CUDA stream and its own `BatchEngine` (captured CUDA
   graphs), take up to `batch_size` ready frames (waiting at most `max_batch_wait_ms` for a full batch):
   one graph replay does NV12 -> net input, the fp16 detector and a fixed-shape decode + NMS; one copy
   brings the boxes to the host and frees the pool slots.
3. The same thread tracks the batch's frames (`TrackingStage`: one ByteTrack per camera) and, with
   `reid="scheduled"`, lets the CPU path's quality gate and embed schedule pick the tracks to embed; a
   second replay cuts only those crops from the batch's frames (still in the engine) and embeds them.
   Batches are tracked in the order they were formed (a turnstile), so every camera's frames reach its
   tracker in order even with two workers; detect and embed of different workers still overlap.

With `decode_loop="native"` step 1 is the C loop of `pyuniproc.gpu.native_nvdec` instead: `native_threads` C
threads decode all cameras round robin straight into the pool and the inference workers take batches of
ready slots from it (one call per batch), so no Python thread runs per frame on the decode side.

One pipeline is one process's share of the cameras; `pyuniproc.gpu.shards` runs several (one per group of
cameras, on one or several GPUs) so that no single GIL serialises all decoders and trackers.
"""

from __future__ import annotations

import contextlib
import logging
import os
import queue
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from pyuniproc.gpu.detector import GpuDetector, GpuEmbedder
from pyuniproc.gpu.engine import BatchEngine
from pyuniproc.gpu.nvdec import NV12Stream, check_decode_priority
from pyuniproc.gpu.tracking import REID_MODES, TrackingStage
from pyuniproc.reid.selection import EMBEDDING, attach_embeddings
from pyuniproc.types import Detections

DECODE_LOOPS = ("python", "native")

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
    reid: "scheduled" (the tracks the gate and schedule pick, as the CPU runtime), "all" (every detection
        of every frame: the upper bound of ReID work) or "off".
    decode_priority: CUDA stream priority of the NVDEC sessions ("normal" or "high", see
        `pyuniproc.gpu.nvdec.NvdecStream`); the stream factories apply it (`pyuniproc.gpu.shards` passes
        it on), the pipeline copies each frame on the stream its session decodes on when it has one.
    sessions_per_decoder: cameras one decoder thread serves round robin. 1 (a thread per camera) hides
        each decode call's wait under inference load; more threads waiting in the driver cost more host
        CPU per frame (benchmarks/gpu/README.md: decode only under load, 2 threads x 4 sessions on
        high-priority streams took 1.28 ms CPU per frame against 2.07 for 8 x 1).
    decode_loop: "python" (the decoder threads above, over `NV12Stream`s) or "native" (the C loop of
        `pyuniproc.gpu.native_nvdec` over Annex-B streams; unpaced runs only).
    native_threads: C decoder threads of the native loop (each serves its share of the cameras).
    native_lookahead: pictures a camera's native session decodes ahead (1: the next only once the last
        was copied out).
    native_poll: map only finished pictures (True) or each camera's next one at once, waiting (False).
    native_access_units: feed whole pictures to NVDEC's parser (True) or fixed-size chunks (False).
    """

    batch_size: int = 64
    max_batch_wait_ms: float = 5.0
    inference_workers: int = 1
    pool_frames: int | None = None
    pace_fps: float = 0.0
    max_lag_ms: float = 250.0
    reid: str = "scheduled"
    decode_priority: str = "normal"
    sessions_per_decoder: int = 1
    decode_loop: str = "python"
    native_threads: int = 6
    native_lookahead: int = 1
    native_poll: bool = False
    native_access_units: bool = False

    def __post_init__(self) -> None:
        if self.decode_loop not in DECODE_LOOPS:
            raise ValueError(
                f"decode_loop must be one of {', '.join(DECODE_LOOPS)}, got {self.decode_loop!r}"
            )
        if self.decode_loop == "native" and self.pace_fps:
            raise ValueError(
                "the native decode loop decodes as fast as the pool allows; paced (live-camera) "
                "runs use decode_loop='python'"
            )
        if self.native_threads < 1:
            raise ValueError(f"native_threads must be >= 1, got {self.native_threads}")
        if self.sessions_per_decoder < 1:
            raise ValueError(f"sessions_per_decoder must be >= 1, got {self.sessions_per_decoder}")
        if self.batch_size < 1 or self.inference_workers < 1:
            raise ValueError(
                f"batch_size and inference_workers must be >= 1, got {self.batch_size}, "
                f"{self.inference_workers}"
            )
        if self.pace_fps < 0 or self.max_batch_wait_ms < 0 or self.max_lag_ms <= 0:
            raise ValueError("pace_fps and max_batch_wait_ms must be >= 0 and max_lag_ms > 0")
        if self.reid not in REID_MODES:
            raise ValueError(f"reid must be one of {', '.join(REID_MODES)}, got {self.reid!r}")
        check_decode_priority(self.decode_priority)


@dataclass(slots=True)
class Ticket:
    stream: int
    sequence: int  # consecutive over this camera's frames that enter the pipeline (tracking order)
    index: int
    due: float
    decoded: float
    decode_ms: float
    slot: int


@dataclass(slots=True)
class _CameraDecode:
    """One camera's decoding state inside the decoder thread that serves it."""

    stream_id: int
    stream: NV12Stream
    copy_stream: torch.cuda.Stream | None
    copied: torch.cuda.Event | None
    anchor: float = 0.0  # paced: when frame `since_anchor` = 0 was due
    since_anchor: int = 0
    index: int = 0  # the camera's frames so far, skipped ones included (Ticket.index is index - 1)
    sequence: int = 0  # frames that entered the pipeline (tracking order)
    ended: bool = False

    def due(self, period: float) -> float:
        return self.anchor + self.since_anchor * period


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
        self._room = threading.Condition()

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
        with self._room:
            self._room.notify_all()

    def wait_for_room(self, timeout: float) -> None:
        """Sleep until slots come back (or `timeout` seconds): a decoder thread whose cameras all had
        no room waits here instead of polling."""
        with self._room:
            self._room.wait(timeout)


class Counters:
    """Per-camera counts, each written by one decoder thread only (so no lock)."""

    def __init__(self, streams: int) -> None:
        self.decoded = [0] * streams
        self.dropped = [0] * streams

    def snapshot(self) -> tuple[int, int]:
        return sum(self.decoded), sum(self.dropped)


class NativeCounters(Counters):
    """Counts read from the native loop (it decodes; nothing is dropped in unpaced runs)."""

    def __init__(self, native) -> None:
        super().__init__(native.sessions)
        self._native = native

    def snapshot(self) -> tuple[int, int]:
        decoded, _, _ = self._native.status()
        return int(decoded.sum()), 0


def _no_python_stream() -> NV12Stream:
    raise RuntimeError("decode_loop='native' opens no Python streams")


class Turnstile:
    """Lets numbered batches through one at a time, in number order (0, 1, 2, ...).

    Two inference workers detect and embed concurrently, but tracking and delivering results must follow
    the order the batches were formed in, so each camera's frames stay in order."""

    def __init__(self, errors: list[BaseException]) -> None:
        self._condition = threading.Condition()
        self._next = 0
        self._errors = errors

    @contextlib.contextmanager
    def turn(self, number: int):
        with self._condition:
            while self._next != number:
                if self._errors:  # the worker holding an earlier batch failed: its turn never ends
                    raise RuntimeError("another inference worker failed before this batch's turn")
                self._condition.wait(timeout=0.5)
        try:
            yield
        finally:
            with self._condition:
                self._next += 1
                self._condition.notify_all()

    def wake(self) -> None:
        with self._condition:
            self._condition.notify_all()


class GpuPipeline:
    """Runs the stages above for `len(open_streams)` cameras until `stop()`.

    open_streams: one zero-argument factory per camera returning an `NV12Stream` (opened in the camera's
    own thread, so that many sessions start in parallel).
    engines: one `BatchEngine` per inference worker (`prepare_engines`), built once and reusable across
    pipelines; they fix the frame size every camera must have.
    tracking: the per-camera trackers and the ReID choice (fresh per run: it holds camera state).
    camera_ids: the id each camera has in records and in `tracking` (default 0..n-1); a process that runs
    one share of a site's cameras passes their site-wide ids.
    sink: called as sink(camera_id, frame_index, tracks) for every frame, in each camera's order, from an
    inference thread; tracks carry `data["embedding"]` (n, D) float32, NaN rows where not embedded this
    frame, and `data["embedding_quality"]`, as the CPU runtime's ReID stage writes them.
    native_sources: with options.decode_loop "native", each camera's Annex-B stream (bytes, looped;
    `pyuniproc.gpu.native_nvdec.read_annexb`) in place of `open_streams`; native_codec "h264" or "hevc";
    native_group: what runs them (default `NativeNvdecGroup`; anything with its methods, e.g. a CPU
    stand-in in tests).
    """

    def __init__(
        self,
        open_streams: Sequence[Callable[[], NV12Stream]],
        engines: Sequence[BatchEngine],
        options: PipelineOptions,
        tracking: TrackingStage,
        *,
        camera_ids: Sequence[int] | None = None,
        sink: Callable[[int, int, Detections], None] | None = None,
        native_sources: Sequence[bytes] | None = None,
        native_codec: str = "h264",
        native_group: Callable[..., Any] | None = None,
    ) -> None:
        self.native_sources = list(native_sources or [])
        self.native_codec = native_codec
        self._native_group = native_group  # NativeNvdecGroup's signature; None: NativeNvdecGroup itself
        self.native = None  # the NativeNvdecGroup while running
        if options.decode_loop == "native":
            if not self.native_sources:
                raise ValueError("decode_loop='native' needs native_sources (one Annex-B stream per camera)")
            open_streams = [_no_python_stream] * len(self.native_sources)
        if len(engines) < options.inference_workers:
            raise ValueError(
                f"{options.inference_workers} inference workers need as many engines, got {len(engines)}"
            )
        if options.batch_size > engines[0].capacity:
            raise ValueError(
                f"batch_size {options.batch_size} exceeds the engines' largest bucket {engines[0].capacity}"
            )
        if options.reid != "off" and engines[0].embedder is None:
            raise ValueError(f"reid={options.reid!r} needs engines built with an embedder")
        if options.reid == "scheduled" and tracking.selection is None:
            raise ValueError("reid='scheduled' needs a TrackingStage with a ReID selection")
        self.open_streams = list(open_streams)
        self.camera_ids = list(camera_ids) if camera_ids is not None else list(range(len(self.open_streams)))
        if len(self.camera_ids) != len(self.open_streams):
            raise ValueError(
                f"{len(self.open_streams)} cameras need as many camera_ids, got {len(self.camera_ids)}"
            )
        self.options = options
        self.engines = list(engines)[: options.inference_workers]
        self.device = self.engines[0].device
        self.frame_size = (self.engines[0].height, self.engines[0].width)
        self.tracking = tracking
        self.sink = sink
        pool_frames = options.pool_frames or options.batch_size * (options.inference_workers + 1)
        self.pool = FramePool(pool_frames, self.device)
        self.pool.ensure(tuple(self.engines[0].frames.shape[1:]))
        # max-speed runs: each camera may hold only its share of the pool, so no camera starves the others
        share = max(1, pool_frames // max(1, len(self.open_streams)))
        self._quota = [threading.Semaphore(share) for _ in self.open_streams]
        self.ready: queue.Queue[Ticket] = queue.Queue()
        self.counters = Counters(len(self.open_streams))
        self.batches: list[tuple[float, float, float, int, int, int]] = []
        """(formed, detected, done, frames, detections, crops embedded) per batch."""
        self.records: list[tuple[float, ...]] = []
        """One row per frame done, columns `pyuniproc.gpu.tracking.RECORD_FIELDS`."""
        self.errors: list[BaseException] = []
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        python_decoders = 0 if options.decode_loop == "native" else len(self._decoder_groups())
        self._ready_barrier = threading.Barrier(python_decoders + 1)
        self._collect_lock = threading.Lock()
        self._formed_batches = 0
        self._tracking_turn = Turnstile(self.errors)
        self._delivery_turn = Turnstile(self.errors)

    # --- decode ---------------------------------------------------------------------------------------
    def _decoder_groups(self) -> list[list[int]]:
        """Cameras per decoder thread: consecutive runs of `sessions_per_decoder`."""
        k = self.options.sessions_per_decoder
        return [
            list(range(first, min(first + k, len(self.open_streams))))
            for first in range(0, len(self.open_streams), k)
        ]

    def _decode_loop(self, stream_ids: list[int]) -> None:
        """One decoder thread: opens its cameras' sessions, then decodes them until stop() or their ends.
        One camera: it waits for room in the pool as before. Several: round robin, one frame per camera
        per turn; a camera with no room this turn is passed over (never blocks the others)."""
        cameras: list[_CameraDecode] = []
        try:
            for stream_id in stream_ids:
                cameras.append(self._open_camera(stream_id))
        except BaseException as error:
            self.errors.append(error)
            self._ready_barrier.abort()
            for camera in cameras:
                camera.stream.close()
            return
        try:
            self._ready_barrier.wait()
        except threading.BrokenBarrierError:
            for camera in cameras:
                camera.stream.close()
            return
        pace = self.options.pace_fps
        period = 1.0 / pace if pace else 0.0
        now = time.perf_counter()
        for camera in cameras:  # spread the cameras over one period
            camera.anchor = now + (camera.stream_id / len(self.open_streams)) * period
        alone = len(cameras) == 1
        try:
            while not self._stop.is_set():
                active = [camera for camera in cameras if not camera.ended]
                if not active:
                    break
                if pace:
                    camera = min(active, key=lambda c: c.due(period))
                    wait = camera.due(period) - time.perf_counter()
                    if wait > 0:
                        time.sleep(wait)
                    self._decode_paced(camera, pace, period)
                    continue
                progressed = False
                for camera in active:
                    if self._stop.is_set():
                        break
                    progressed |= self._decode_unpaced(camera, block=alone)
                if not progressed:  # every camera's share of the pool is full: inference is behind
                    self.pool.wait_for_room(0.05)
        except BaseException as error:  # surfaced by stop()
            self.errors.append(error)
        finally:
            for camera in cameras:
                camera.stream.close()

    def _open_camera(self, stream_id: int) -> _CameraDecode:
        stream = self.open_streams[stream_id]()
        cuda = self.device.type == "cuda"
        # a session with its own stream: copy on it, ordered after the session's map of the frame
        copy_stream = getattr(stream, "cuda_stream", None)
        if copy_stream is None and cuda:
            copy_stream = torch.cuda.Stream(self.device)
        copied = torch.cuda.Event(blocking=True) if cuda else None  # the wait sleeps, never spins
        return _CameraDecode(stream_id, stream, copy_stream, copied)

    def _decode_unpaced(self, camera: _CameraDecode, *, block: bool) -> bool:
        """As fast as the pool allows: take the camera's quota and a slot, then decode into it.
        Returns False when there was no room (nothing decoded)."""
        quota = self._quota[camera.stream_id]
        if block:
            while not quota.acquire(timeout=0.1):
                if self._stop.is_set():
                    return False
        elif not quota.acquire(blocking=False):
            return False
        slot = None
        if block:
            while slot is None and not self._stop.is_set():
                slot = self.pool.acquire(timeout=0.1)
        else:
            slot = self.pool.acquire(timeout=None)
        if slot is None:
            quota.release()
            return False
        started = time.perf_counter()
        frame = camera.stream.read()
        if frame is None:
            camera.ended = True
            self.pool.release([slot])
            quota.release()
            return True
        self.counters.decoded[camera.stream_id] += 1
        camera.index += 1
        self._publish(camera, frame, slot, due=started, started=started)
        return True

    def _decode_paced(self, camera: _CameraDecode, pace: float, period: float) -> None:
        """Like a live camera: a frame is due every period; one that finds no free slot is dropped, and
        a camera further behind than max_lag_ms skips to now (what it missed counts as dropped)."""
        due = camera.due(period)
        started = time.perf_counter()
        frame = camera.stream.read()
        if frame is None:
            camera.ended = True
            return
        got = time.perf_counter()
        self.counters.decoded[camera.stream_id] += 1
        camera.index += 1
        camera.since_anchor += 1
        lag = got - due
        if lag > self.options.max_lag_ms / 1000.0:  # a live camera does not wait: skip what it sent meanwhile
            skipped = int(lag * pace)
            self.counters.dropped[camera.stream_id] += skipped
            camera.index += skipped
            camera.anchor, camera.since_anchor = got, 1
        slot = self.pool.acquire(timeout=None)
        if slot is None:
            self.counters.dropped[camera.stream_id] += 1
            return
        self._publish(camera, frame, slot, due=due, started=started)

    def _publish(
        self, camera: _CameraDecode, frame: torch.Tensor, slot: int, *, due: float, started: float
    ) -> None:
        """Copy the frame into its pool slot (the decoder may reuse its buffer at the next read) and
        announce it on the ready queue."""
        frames = self.pool.ensure(tuple(frame.shape))
        copy_stream = camera.copy_stream
        with torch.cuda.stream(copy_stream) if copy_stream is not None else contextlib.nullcontext():
            frames[slot].copy_(frame, non_blocking=True)
        if camera.copy_stream is not None and camera.copied is not None:
            camera.copied.record(camera.copy_stream)
            camera.copied.synchronize()
        done = time.perf_counter()
        decode_ms = (done - started) * 1000.0
        ticket = Ticket(camera.stream_id, camera.sequence, camera.index - 1, due, done, decode_ms, slot)
        self.ready.put(ticket)
        camera.sequence += 1

    # --- inference ---------------------------------------------------------------------------------------
    def _collect(self) -> tuple[list[Ticket], int]:
        """Up to batch_size ready frames and the batch's number. One worker collects at a time, so batches
        are consecutive runs of the ready queue (each camera's frames in order across batches)."""
        with self._collect_lock:
            if self.native is not None:
                return self._collect_native()
            try:
                first = self.ready.get(timeout=0.1)
            except queue.Empty:
                return [], -1
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
            number = self._formed_batches
            self._formed_batches += 1
            return tickets, number

    def _collect_native(self) -> tuple[list[Ticket], int]:
        assert self.native is not None
        rows = self.native.wait_ready(self.options.batch_size, 0.1, self.options.max_batch_wait_ms / 1000.0)
        if not len(rows):
            return [], -1
        tickets = [
            Ticket(int(session), int(index), int(index), started, done, (done - started) * 1000.0, int(slot))
            for session, slot, index, started, done in rows.tolist()
        ]
        number = self._formed_batches
        self._formed_batches += 1
        return tickets, number

    def _infer_loop(self, worker: int) -> None:
        engine = self.engines[worker]
        cuda = self.device.type == "cuda"
        stream = torch.cuda.Stream(self.device) if cuda else None
        try:
            with torch.cuda.stream(stream) if cuda else contextlib.nullcontext(), torch.no_grad():
                while not self._stop.is_set():
                    tickets, number = self._collect()
                    if tickets:
                        self._run_batch(tickets, number, engine)
        except BaseException as error:
            self.errors.append(error)
            self._stop.set()
            self._tracking_turn.wake()
            self._delivery_turn.wake()

    def _release(self, tickets: Sequence[Ticket]) -> None:
        if self.native is not None:
            self.native.release([t.slot for t in tickets])
            return
        if not self.options.pace_fps:  # quotas first: releasing the slots wakes decoders waiting for room
            for ticket in tickets:
                self._quota[ticket.stream].release()
        self.pool.release([t.slot for t in tickets])

    def _run_batch(self, tickets: list[Ticket], number: int, engine: BatchEngine) -> None:
        formed = time.perf_counter()
        assert self.pool.frames is not None
        n = len(tickets)
        slots = torch.tensor([t.slot for t in tickets], dtype=torch.int64).to(self.device, non_blocking=True)
        engine.load(self.pool.frames, slots)
        per_frame, kept, _ = engine.detect_frames(n)  # waited for the copy: slots are free again
        self._release(tickets)
        detected = time.perf_counter()
        reid = self.options.reid
        if reid == "all":
            self._embed_every_detection(engine, per_frame, kept)
        with self._tracking_turn.turn(number):  # each camera's frames reach its tracker in order
            tracked = [
                self.tracking.update(self.camera_ids[t.stream], t.index, d, self.frame_size)
                for t, d in zip(tickets, per_frame, strict=True)
            ]
        embedded = [len(d) if reid == "all" else 0 for d in per_frame]
        if reid == "scheduled":
            embedded = self._embed_scheduled(engine, tracked)
        with self._delivery_turn.turn(number):  # results leave in order too
            done = time.perf_counter()
            self.batches.append((formed, detected, done, n, sum(len(d) for d in per_frame), sum(embedded)))
            self._deliver(tickets, per_frame, tracked, embedded, formed, detected, done)

    def _deliver(
        self,
        tickets: Sequence[Ticket],
        per_frame: Sequence[Detections],
        tracked: Sequence[tuple[Detections, np.ndarray, np.ndarray]],
        embedded: Sequence[int],
        formed: float,
        detected: float,
        done: float,
    ) -> None:
        for ticket, detections, (tracks, _, _), count in zip(
            tickets, per_frame, tracked, embedded, strict=True
        ):
            camera = self.camera_ids[ticket.stream]
            self.records.append(
                (
                    camera,
                    ticket.index,
                    ticket.due,
                    ticket.decoded,
                    ticket.decode_ms,
                    formed,
                    detected,
                    done,
                    len(detections),
                    len(tracks),
                    count,
                )
            )
            if self.sink is not None:
                self.sink(camera, ticket.index, tracks)

    def _embed_every_detection(
        self, engine: BatchEngine, per_frame: list[Detections], kept: int | None
    ) -> None:
        if kept is None:  # exact fallback decode: boxes go to the embedder from the host
            index = np.repeat(np.arange(len(per_frame)), [len(d) for d in per_frame])
            boxes = np.concatenate([d.xyxy for d in per_frame]) if per_frame else np.zeros((0, 4))
            embeddings = engine.embed_rows(index, boxes)
        else:
            embeddings = engine.embed_kept(kept)
        vectors = embeddings.float().cpu().numpy()  # float32 at the boundary, whatever the net ran in
        start = 0
        for detections in per_frame:
            detections.data[EMBEDDING] = vectors[start : start + len(detections)]
            start += len(detections)

    def _embed_scheduled(
        self, engine: BatchEngine, tracked: list[tuple[Detections, np.ndarray, np.ndarray]]
    ) -> list[int]:
        """Embed the rows the schedule chose (frames are still in `engine`), attach them as the CPU
        runtime's ReID stage does; returns the number embedded per frame."""
        counts = [len(rows) for _, rows, _ in tracked]
        total = sum(counts)
        vectors = None
        if total:
            index = np.repeat(np.arange(len(tracked)), counts)
            boxes = np.concatenate([tracks.xyxy[rows] for tracks, rows, _ in tracked if len(rows)])
            vectors = engine.embed_rows(index, boxes).float().cpu().numpy()
        assert engine.embedder is not None
        dimension = engine.embedder.dimension
        offset = 0
        for position, (tracks, rows, quality) in enumerate(tracked):
            chosen = vectors[offset : offset + len(rows)] if vectors is not None else None
            tracked[position] = (attach_embeddings(tracks, rows, chosen, quality, dimension), rows, quality)
            offset += len(rows)
        return counts

    # --- control --------------------------------------------------------------------------------------
    def start(self, timeout: float = 120.0) -> None:
        """Open every camera's decoder (in parallel), then start decoding and inference."""
        native = self.options.decode_loop == "native"
        if native:
            self._start_native()
        for group in [] if native else self._decoder_groups():
            thread = threading.Thread(
                target=self._decode_loop, args=(group,), daemon=True, name=f"decode-{group[0]}"
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

    def _start_native(self) -> None:
        from pyuniproc.gpu.native_nvdec import NativeNvdecGroup

        assert self.pool.frames is not None
        self.native = (self._native_group or NativeNvdecGroup)(
            self.native_sources,
            self.pool.frames,
            threads=self.options.native_threads,
            codec=self.native_codec,
            loop=True,
            lookahead=self.options.native_lookahead,
            poll=self.options.native_poll,
            access_units=self.options.native_access_units,
            priority=self.options.decode_priority,
        )
        self.counters = NativeCounters(self.native)
        self.native.start()

    def thread_cpu_seconds(self) -> dict[str, float]:
        """CPU seconds used so far by the decoder threads and by the inference threads (each thread's own
        CPU clock; zeros where the platform has none): where a process's cores, and its GIL, go."""
        totals = {"decode": 0.0, "inference": 0.0}
        for thread in self._threads:
            kind = "decode" if thread.name.startswith("decode") else "inference"
            totals[kind] += _thread_cpu_seconds(thread)
        if self.native is not None:
            totals["decode"] += self.native.cpu_seconds()
        return totals

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=30)
        if self.native is not None:
            self.native.stop()
            stuck = [t.name for t in self._threads if t.is_alive()]
            decoded, failed, _ = self.native.status()
            self.counters = Counters(len(decoded))  # final counts outlive the loop
            self.counters.decoded = [int(n) for n in decoded]
            for session, message in sorted(failed.items()):  # the other cameras ran on: report, then raise
                log.error("camera %s: native decoder failed: %s", self.camera_ids[session], message)
                self.errors.append(RuntimeError(f"camera {self.camera_ids[session]}: {message}"))
            if stuck:  # a thread that may still call into the loop: leak it rather than free it under them
                log.error("threads %s did not stop; the native decode loop is left open", stuck)
            else:
                self.native.close()
            self.native = None
        while True:  # frames decoded but never inferred: give their slots back
            try:
                self._release([self.ready.get_nowait()])
            except queue.Empty:
                break
        if self.errors:
            raise RuntimeError(f"pipeline failed: {self.errors[0]!r}") from self.errors[0]


def _thread_cpu_seconds(thread: threading.Thread) -> float:
    try:
        return time.clock_gettime(time.pthread_getcpuclockid(thread.ident))  # type: ignore[arg-type]
    except (OSError, TypeError, AttributeError):
        pass
    try:  # Linux without per-thread clock ids: the kernel's per-task accounting
        with open(f"/proc/self/task/{thread.native_id}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return 0.0  # thread gone, or no accounting here


def prepare_engines(
    detector: GpuDetector,
    embedder: GpuEmbedder | None,
    frame_shape: tuple[int, int],
    count: int,
    **engine_options: object,
) -> list[BatchEngine]:
    """`count` engines (one per inference worker), CUDA graphs captured now, before threads start."""
    return [BatchEngine(detector, embedder, frame_shape, **engine_options) for _ in range(count)]
