"""Cameras spread over worker processes: each decodes, batches, detects, tracks and embeds its own share.

Why: in one process, every camera's decoder thread, the batch loop and the trackers share one GIL; on the
H100 that capped the pipeline near 1,500 frames/s with the GPU 55-70 % busy. Here a `ShardPool` starts
`processes` workers (spawned: forking a process that holds a CUDA context is unsafe); each builds its own
detector, embedder and `BatchEngine`s once, then runs a `GpuPipeline` over the cameras it is given. NV12
frames never leave the process that decoded them; only boxes, ids and timings cross process borders.

GPUs: worker i runs on GPU `gpus[i % len(gpus)]` (it sees only that one, as cuda:0), so with two GPUs the
cameras are sharded over both. Camera c goes to worker c % processes, so every worker used gets an equal
share (and with several GPUs the workers used alternate between them).

A run is timed by the parent: every worker opens its decoders and starts (`ready`), the parent fixes one
measurement window [start, end] on the shared monotonic clock, every worker snapshots its counters at the
window's edges, stops, and sends back its frame records (`pyuniproc.gpu.tracking.RECORD_FIELDS`).
"""

from __future__ import annotations

import multiprocessing as mp
import os
import queue
import sys
import threading
import time
import traceback
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from pyuniproc.gpu.engine import CROP_BUCKETS, FRAME_BUCKETS

THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


@dataclass(frozen=True)
class ShardSpec:
    """What every worker builds once (plain values: it is pickled to the workers).

    workers: inference threads (and engines) per process. reid_kind: None builds no embedder.
    detector_options: the module detector's confidence_threshold, nms_iou_threshold, min_width, min_height
    (`pyuniproc.gpu.detector.GpuDetector`'s keywords; `pyuniproc.bench.gpu.module_settings` reads them).
    tracker_kind / tracker_options: the module's `parameters.tracker`.
    reid_selection: the module's `parameters.reid` (flat, `pyuniproc.reid.selection.EmbedSelection`), None:
    no ReID choice.
    blocking_sync: CUDA waits sleep instead of spin (`cuda_flags`); off only to measure what it is worth.
    """

    detector: str
    detector_dir: str
    reid_dir: str
    frame_shape: tuple[int, int]
    detector_options: dict[str, float] = field(default_factory=dict)
    reid_kind: str | None = None
    workers: int = 1
    frame_buckets: tuple[int, ...] = FRAME_BUCKETS
    crop_buckets: tuple[int, ...] = CROP_BUCKETS
    tracker_kind: str = "bytetrack"
    tracker_options: dict[str, Any] = field(default_factory=dict)
    reid_selection: dict[str, Any] | None = None
    switch_interval_ms: float = 1.0
    blocking_sync: bool = True


# --- worker side -------------------------------------------------------------------------------------------
def _build(spec: ShardSpec) -> tuple[Any, dict[str, Any]]:
    import torch

    from pyuniproc.gpu import triton_image
    from pyuniproc.gpu.detector import GpuDetector, GpuEmbedder
    from pyuniproc.gpu.pipeline import prepare_engines

    torch.set_num_threads(1)
    device = torch.device("cuda") if torch.cuda.is_available() else torch.device("cpu")
    detector = GpuDetector(
        spec.detector, model_dir=spec.detector_dir, device=device, **spec.detector_options
    )
    embedder = GpuEmbedder(spec.reid_kind, model_dir=spec.reid_dir, device=device) if spec.reid_kind else None
    started = time.perf_counter()
    engines = prepare_engines(
        detector,
        embedder,
        spec.frame_shape,
        spec.workers,
        frame_buckets=spec.frame_buckets,
        crop_buckets=spec.crop_buckets,
    )
    info = {
        "pid": os.getpid(),
        "device": str(device),
        "build_seconds": time.perf_counter() - started,
        "engine_reserved_mib": [e.reserved_bytes / 2**20 for e in engines],
        "reserved_mib": (torch.cuda.memory_reserved() / 2**20) if device.type == "cuda" else None,
        "image_kernels": "triton" if triton_image.usable(device) else "torch",
    }
    return engines, info


def _wait_until(moment: float) -> None:
    delay = moment - time.perf_counter()
    if delay > 0:
        time.sleep(delay)


def _decode_only(
    index: int, video: str, backend: str, cameras: Sequence[int], inbox: Any, outbox: Any,
    frame_shape: tuple[int, int],
) -> dict[str, Any]:
    if backend == "native":
        return _decode_only_native(video, cameras, inbox, outbox, index, frame_shape)
    from pyuniproc.gpu.nvdec import open_stream

    counts = [0] * len(cameras)
    stop = threading.Event()
    opened = threading.Barrier(len(cameras) + 1)
    errors: list[BaseException] = []

    def loop(i: int) -> None:
        try:
            stream = open_stream(video, backend=backend, loop=True)
        except BaseException as error:
            errors.append(error)
            opened.abort()
            return
        opened.wait()
        while not stop.is_set() and stream.read() is not None:
            counts[i] += 1
        stream.close()

    threads = [threading.Thread(target=loop, args=(i,), daemon=True) for i in range(len(cameras))]
    for thread in threads:
        thread.start()
    opened.wait(timeout=300)
    outbox.put(("ready", index, None))
    _, start, end = inbox.get()
    _wait_until(start)
    before = sum(counts)
    _wait_until(end)
    after = sum(counts)
    stop.set()
    for thread in threads:
        thread.join(timeout=30)
    if errors:
        raise errors[0]
    return {"decoded": after - before}


def _decode_only_native(video: str, cameras: Sequence[int], inbox: Any, outbox: Any, index: int,
                        frame_shape: tuple[int, int], threads: int = 2, slots: int = 64) -> dict[str, Any]:
    """Decode-only with the native loop: its C threads decode into a pool and a Python thread gives
    every slot straight back (one call per batch), so the count is what decoding alone sustains."""
    import torch

    from pyuniproc.gpu.native_nvdec import NativeNvdecGroup, annexb_for

    data, codec = annexb_for(video)
    pool = torch.empty((slots, *frame_shape), dtype=torch.uint8, device="cuda")  # NV12 (rows, width)
    # the decode-only optimum measured on the H100 (fifth GPU session, benchmarks/gpu history): 2 threads
    # mapping only finished pictures; the pipeline's own default differs (6 threads waiting in the map)
    group = NativeNvdecGroup(
        [data] * len(cameras), pool, threads=threads, codec=codec, poll=True, access_units=False
    )
    stop = threading.Event()

    def drain() -> None:
        while not stop.is_set():
            rows = group.wait_ready(slots, 0.1, 0.0)
            if len(rows):
                group.release(rows["slot"])

    drainer = threading.Thread(target=drain, daemon=True)
    try:
        group.start()
        drainer.start()
        outbox.put(("ready", index, None))
        _, start, end = inbox.get()
        _wait_until(start)
        before = int(group.status()[0].sum())
        _wait_until(end)
        decoded, failed, _ = group.status()
    finally:
        stop.set()  # the drainer calls into the loop: it must be gone before the loop is freed
        if drainer.is_alive():
            drainer.join(timeout=30)
        group.stop()
        if not drainer.is_alive():
            group.close()
    if failed:
        raise RuntimeError(f"native decode failed: {failed}")
    return {"decoded": int(decoded.sum()) - before}


def _pipeline(
    index: int,
    engines: list[Any],
    spec: ShardSpec,
    video: str,
    backend: str,
    cameras: Sequence[int],
    options: dict[str, Any],
    inbox: Any,
    outbox: Any,
) -> dict[str, Any]:
    import numpy as np

    from pyuniproc.gpu.nvdec import open_stream
    from pyuniproc.gpu.pipeline import GpuPipeline, PipelineOptions
    from pyuniproc.gpu.tracking import TrackingStage

    options = dict(options)
    priority = options.get("decode_priority", "normal")
    tracker_kind = options.pop("tracker_kind", None) or spec.tracker_kind  # a run may swap the tracker
    tracking = TrackingStage(
        tracker_kind=tracker_kind, tracker_options=spec.tracker_options, selection=spec.reid_selection
    )
    fallbacks = sum(e.fallbacks for e in engines)
    native_sources, codec = None, "h264"
    if options.get("decode_loop") == "native":
        from pyuniproc.gpu.native_nvdec import annexb_for

        data, codec = annexb_for(video)
        native_sources = [data] * len(cameras)  # one buffer, read in place by every session
    pipeline = GpuPipeline(
        [lambda: open_stream(video, backend=backend, loop=True, priority=priority)]
        * len(cameras),
        engines,
        PipelineOptions(**options),
        tracking,
        camera_ids=cameras,
        native_sources=native_sources,
        native_codec=codec,
    )
    pipeline.start()
    outbox.put(("ready", index, None))
    _, start, end = inbox.get()
    _wait_until(start)
    decoded0, dropped0 = pipeline.counters.snapshot()
    cpu0 = pipeline.thread_cpu_seconds()
    stats0 = pipeline.native.stats() if pipeline.native is not None else None
    _wait_until(end)
    decoded1, dropped1 = pipeline.counters.snapshot()
    cpu1 = pipeline.thread_cpu_seconds()
    stats1 = pipeline.native.stats() if pipeline.native is not None else None
    native_stats = {k: stats1[k] - stats0[k] for k in stats1} if stats0 and stats1 else None
    pipeline.stop()
    return {
        "records": np.array(pipeline.records, dtype=np.float64),
        "batches": np.array(pipeline.batches, dtype=np.float64).reshape(-1, 6),
        "decoded": decoded1 - decoded0,
        "dropped": dropped1 - dropped0,
        "fallbacks": sum(e.fallbacks for e in engines) - fallbacks,
        "thread_cpu_seconds": {k: cpu1[k] - cpu0[k] for k in cpu1},
        "tracker_kind": tracker_kind,
        "native_stats": native_stats,
    }


def _worker_main(index: int, spec: ShardSpec, inbox: Any, outbox: Any) -> None:
    from pyuniproc.gpu.cuda_flags import prefer_blocking_sync

    blocking = prefer_blocking_sync() if spec.blocking_sync else False  # before torch touches the GPU
    sys.setswitchinterval(spec.switch_interval_ms / 1000.0)
    try:
        engines, info = _build(spec)
        info["blocking_sync"] = blocking
    except BaseException:
        outbox.put(("error", index, traceback.format_exc()))
        return
    outbox.put(("built", index, info))
    while True:
        message = inbox.get()
        tag = message[0]
        if tag == "stop":
            return
        try:
            if tag == "decode":
                result = _decode_only(index, *message[1:], inbox, outbox, spec.frame_shape)
            elif tag == "pipeline":
                result = _pipeline(index, engines, spec, *message[1:], inbox, outbox)
            else:
                raise ValueError(f"unknown command {tag!r}")
            outbox.put(("result", index, result))
        except BaseException:
            outbox.put(("error", index, traceback.format_exc()))


# --- parent side -------------------------------------------------------------------------------------------
class ShardError(RuntimeError):
    """A worker failed; the message holds its traceback."""


class ShardPool:
    """`processes` workers built from `spec`, worker i on GPU gpus[i % len(gpus)].

    gpus: indices into this process's visible CUDA devices; None runs the workers without touching
    CUDA_VISIBLE_DEVICES (CPU tests).
    """

    def __init__(
        self,
        spec: ShardSpec,
        processes: int,
        *,
        gpus: Sequence[int] | None = (0,),
        build_timeout: float = 600.0,
    ) -> None:
        if processes < 1:
            raise ValueError(f"processes must be >= 1, got {processes!r}")
        self.spec = spec
        self.gpus = list(gpus) if gpus is not None else None
        context = mp.get_context("spawn")
        self.inboxes = [context.Queue() for _ in range(processes)]
        self.outbox = context.Queue()
        visible = os.environ.get("CUDA_VISIBLE_DEVICES")
        visible_ids = visible.split(",") if visible else None
        saved = {name: os.environ.get(name) for name in (*THREAD_VARIABLES, "CUDA_VISIBLE_DEVICES")}
        self.workers = []
        try:
            os.environ.update({name: "1" for name in THREAD_VARIABLES})  # no BLAS pool per worker
            for i, inbox in enumerate(self.inboxes):
                if self.gpus is not None:
                    gpu = self.gpus[i % len(self.gpus)]
                    os.environ["CUDA_VISIBLE_DEVICES"] = visible_ids[gpu] if visible_ids else str(gpu)
                worker = context.Process(
                    target=_worker_main,
                    args=(i, spec, inbox, self.outbox),
                    daemon=True,
                    name=f"pyuniproc-shard-{i}",
                )
                worker.start()
                self.workers.append(worker)
        finally:
            for name, value in saved.items():
                if value is None:
                    os.environ.pop(name, None)
                else:
                    os.environ[name] = value
        self.info = self._gather("built", range(processes), build_timeout)

    @property
    def pids(self) -> list[int]:
        return [w.pid for w in self.workers if w.pid is not None]

    def gpu_of(self, worker: int) -> int:
        return self.gpus[worker % len(self.gpus)] if self.gpus else 0

    def _gather(self, tag: str, workers: Sequence[int] | range, timeout: float) -> dict[int, Any]:
        wanted = set(workers)
        replies: dict[int, Any] = {}
        deadline = time.monotonic() + timeout
        while len(replies) < len(wanted):
            try:
                reply, index, payload = self.outbox.get(timeout=max(0.1, deadline - time.monotonic()))
            except queue.Empty as error:
                missing = sorted(wanted - set(replies))
                raise ShardError(f"workers {missing} did not answer {tag!r} within {timeout} s") from error
            if reply == "error":
                raise ShardError(f"worker {index} failed:\n{payload}")
            if reply == tag and index in wanted:
                replies[index] = payload
        return replies

    def assign(self, cameras: int, processes: int) -> dict[int, list[int]]:
        """Camera ids per worker: camera c to worker c % processes (workers 0..processes-1)."""
        processes = max(1, min(processes, len(self.workers), cameras))
        return {w: list(range(w, cameras, processes)) for w in range(processes)}

    def run(
        self,
        command: str,
        cameras: int,
        *,
        processes: int,
        video: str,
        backend: str,
        warmup: float,
        seconds: float,
        options: dict[str, Any] | None = None,
        on_start: Callable[[], None] | None = None,
        on_end: Callable[[], None] | None = None,
        timeout: float = 300.0,
    ) -> tuple[dict[int, Any], float, float]:
        """Run `command` ("pipeline" or "decode") over `cameras` cameras on `processes` workers.

        Returns ({worker: its result}, window start, window end). on_start / on_end are called at the
        window's edges in this process (samplers)."""
        if command not in ("pipeline", "decode"):
            raise ValueError(f"command must be 'pipeline' or 'decode', got {command!r}")
        shares = self.assign(cameras, processes)
        for worker, ids in shares.items():
            arguments: tuple[Any, ...] = (video, backend, ids)
            if command == "pipeline":
                arguments += (dict(options or {}),)
            self.inboxes[worker].put((command, *arguments))
        self._gather("ready", shares, timeout)
        start = time.perf_counter() + warmup
        end = start + seconds
        for worker in shares:
            self.inboxes[worker].put(("window", start, end))
        _wait_until(start)
        if on_start:
            on_start()
        _wait_until(end)
        if on_end:
            on_end()
        return self._gather("result", shares, timeout), start, end

    def close(self) -> None:
        for inbox in self.inboxes:
            inbox.put(("stop",))
        for worker in self.workers:
            worker.join(timeout=20)
            if worker.is_alive():
                worker.terminate()


def spec_dict(spec: ShardSpec) -> dict[str, Any]:
    """The spec as JSON-able values (for the report)."""
    return {k: (list(v) if isinstance(v, tuple) else v) for k, v in asdict(spec).items()}
