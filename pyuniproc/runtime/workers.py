"""Cameras split into groups, each run by a worker process; fusion, pyfuncs and outputs stay in the parent.

Why: in one process every camera's decode thread, the batch loop, the trackers and the ReID selection
share one GIL (and, on a GPU, one CUDA context); past some number of cameras one process cannot keep
up. `parameters.pyuniproc.workers` (or `pyuniproc run --workers`) splits the cameras into N groups:
group i takes cameras i, i+N, i+2N, ... in the cameras file's order, and runs on device
`devices[i % len(devices)]` (`plan_groups`; the GPU bench's `ShardPool` assigns cameras and GPUs the
same way, and can move onto this plan). Each group's process (`worker_process.py`, spawned: a forked
CUDA context is unsafe) runs the same `Pipeline` for decode -> detector -> per-camera tracker -> ReID
-> relink, and sends each processed frame to the parent: metadata, tracks with embeddings, stage
timings, and the picture only for a camera the parent records (annotated video) or shows (live view).

The parent is the same `Pipeline` too: each camera's frame source is a `RemoteSource` fed by its
group's receiver thread, so batching, fusion, pyfuncs, outputs, events, summary.json, /metrics and
traces run exactly as in one process (`Pipeline(upstream=WorkerGroups(...))` skips detection and
tracking and takes each frame's tracks from here).

Bounded: each camera's `RemoteSource` holds at most `queue_size` frames; when the parent is behind,
the receiver waits, the pipe fills, the child's sends block and its camera buffers drop as a
one-process run's do (live: `queue_full` / `stale`; files wait). Accounting per camera: the child's
received and dropped counts (sent with its health snapshots) and the parent's processed count,
so `received = processed + sum(dropped)` at the end, as in one process.

Failure isolation: a child that dies (killed, crashed, out of memory) is noticed when its pipe
closes. Every frame it had sent is still read and processed; its cameras are marked dead with an
error naming the worker and its exit code; frames it had received but not sent are counted as
dropped (`worker_died`); the other groups keep running. The summary's `workers` lists each group's
cameras, device, pid, state and error; `pyuniproc run` exits non-zero when a group died.
"""

from __future__ import annotations

import logging
import multiprocessing as mp
import os
import queue
import threading
import time
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from pyuniproc.sources.stats import CameraStats
from pyuniproc.types import Detections, Frame

log = logging.getLogger(__name__)

AUTO = "auto"
WORKER_DIED = "worker_died"  # drop reason: frames a dead worker had received but not sent
SHUTDOWN = "shutdown"
WORKER_STAGES = frozenset({"decode_wait", "preprocess", "infer", "decode_boxes", "track", "embed"})
STOP_SECONDS = 30.0  # how long a group may take to finish its frames in flight after a stop
_BLACK = np.zeros((1, 1, 3), np.uint8)  # broadcast to a frame's size when its picture stayed in the child


# --- the plan: which cameras and which device each group gets ------------------------------------------
@dataclass(frozen=True)
class WorkerGroup:
    """index: the group's number; camera_ids: its cameras; device: the GPU it runs on, an index into
    the parent's visible CUDA devices (None: the CPU, CUDA_VISIBLE_DEVICES left as it is)."""

    index: int
    camera_ids: tuple[str, ...]
    device: int | None = None

    def environment(self, visible: str | None = None) -> dict[str, str]:
        """What the group's process sets before it opens a device: it sees only its own GPU (as cuda:0).
        visible: the parent's CUDA_VISIBLE_DEVICES (its entries are what `device` indexes)."""
        if self.device is None:
            return {}
        ids = [v.strip() for v in visible.split(",") if v.strip()] if visible else None
        if ids is not None and self.device >= len(ids):
            raise ValueError(f"group {self.index}: device {self.device} but CUDA_VISIBLE_DEVICES={visible!r} "
                             f"lists {len(ids)}")
        return {"CUDA_VISIBLE_DEVICES": ids[self.device] if ids is not None else str(self.device)}


def check_workers(value: Any) -> int | str:
    """`parameters.pyuniproc.workers` / `--workers`: a count >= 1 or "auto"; anything else is a ValueError."""
    if value == AUTO:
        return AUTO
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"workers must be a count >= 1 or 'auto', got {value!r}")
    return value


def resolve_workers(setting: int | str, *, cameras: int, devices: Sequence[int] | None = None) -> int:
    """How many groups: the setting, at most one per camera. "auto": one per GPU when there are several,
    else 1 (on the CPU a second process measured no faster on 2 cores: benchmarks/workers)."""
    count = check_workers(setting)
    if count == AUTO:
        count = len(devices) if devices and len(devices) > 1 else 1
    return max(1, min(int(count), cameras))


def plan_groups(camera_ids: Sequence[str], workers: int,
                devices: Sequence[int] | None = None) -> list[WorkerGroup]:
    """Camera c (in order) goes to group c % workers; group i runs on devices[i % len(devices)]."""
    if workers < 1:
        raise ValueError(f"workers must be >= 1, got {workers!r}")
    if devices is not None and not devices:
        raise ValueError("devices must name at least one device, or be None for the CPU")
    workers = max(1, min(workers, len(camera_ids)))
    return [WorkerGroup(i, tuple(camera_ids[i::workers]), devices[i % len(devices)] if devices else None)
            for i in range(workers)]


def visible_gpus(backend: str) -> list[int] | None:
    """The GPUs the groups are spread over: every visible CUDA device on the GPU backend, None on the CPU."""
    if backend != "gpu":
        return None
    import torch  # only on the GPU backend, where it is installed

    return list(range(torch.cuda.device_count())) or None


# --- parent side: per camera ---------------------------------------------------------------------------
class RemoteStats:
    """A camera's health as the parent sees it: the child's latest snapshot (received, dropped, state,
    fps, errors) with the parent's processed count and its own drops added. The snapshot ages while
    nothing comes: a live camera whose child stays silent past the stall timeout reads stalled (a hung
    worker, or one held up that long by the parent), as a camera that stops sending frames does."""

    def __init__(self, camera_id: str, uri: str, *, clock: Any = time.monotonic) -> None:
        self._local = CameraStats(camera_id, uri)
        self._clock = clock
        self._updated_at = clock()
        self._child: dict[str, Any] = {}
        self._dead: str | None = None
        self._lock = threading.Lock()
        self.delivered = 0  # frames the child sent (read by the parent)

    def update(self, snapshot: Mapping[str, Any]) -> None:
        with self._lock:
            self._child = dict(snapshot)
            self._updated_at = self._clock()

    def mark_processed(self, n: int = 1) -> None:
        self._local.mark_processed(n)

    def mark_dropped(self, reason: str, n: int = 1) -> None:
        self._local.mark_dropped(reason, n)

    def mark_dead(self, error: str) -> None:
        """The camera's worker died: frames it had received but not sent count as `worker_died`."""
        with self._lock:
            child = self._child
            lost = int(child.get("frames_received", 0)) - int(child.get("dropped_total", 0)) - self.delivered
            self._dead = error
        if lost > 0:
            self._local.mark_dropped(WORKER_DIED, lost)

    def snapshot(self) -> dict[str, Any]:
        local = self._local.snapshot()
        with self._lock:
            child, dead, age = self._child, self._dead, self._clock() - self._updated_at
        out = {key: child.get(key, value) for key, value in local.items()}  # the child's, where it sent them
        if out.get("seconds_since_last_frame") is not None:
            out["seconds_since_last_frame"] = round(out["seconds_since_last_frame"] + age, 3)
            if out["state"] == "live" and out["seconds_since_last_frame"] > self._local.stall_timeout_seconds:
                out["state"] = "stalled"
        dropped = Counter(child.get("dropped") or {}) + Counter(local["dropped"])
        out["frames_processed"] = local["frames_processed"]
        out["dropped"] = dict(dropped)
        out["dropped_total"] = sum(dropped.values())
        # between two health snapshots the child's count of received frames may lag what was processed
        out["frames_received"] = max(int(out.get("frames_received", 0)),
                                     out["frames_processed"] + out["dropped_total"])
        if dead is not None:
            out.update(state="dead", last_error=dead, fps=0.0)
        return out


_END = object()


class RemoteSource:
    """A camera of a group, as a frame source for the parent's `CameraWorker`: yields the frames its
    child processed, in order, each with its tracks and stage spans waiting in `results`."""

    is_live = False  # never drop here: these frames are already detected and tracked
    realtime = False

    def __init__(self, camera_id: str, uri: str, first_index: int, queue_size: int, *,
                 live: bool = False) -> None:
        self.camera_id = camera_id
        self.live = live  # the child's camera drops when behind (RTSP, paced): so does its recorder here
        self.uri = uri
        self.first_index = first_index
        self.stats = RemoteStats(camera_id, uri)
        self.results: dict[int, tuple[Detections, list[Any], int]] = {}
        self._queue: queue.Queue[Any] = queue.Queue(maxsize=queue_size)
        self._stopped = threading.Event()
        self.ended = False

    @property
    def stopped(self) -> bool:
        return self._stopped.is_set()

    def frames(self):
        while not self._stopped.is_set():
            try:
                item = self._queue.get(timeout=0.1)
            except queue.Empty:
                continue
            if item is _END:
                return
            yield item

    def deliver(self, frame: Frame, result: tuple[Detections, list[Any], int]) -> None:
        """A processed frame from the child (receiver thread); waits while this camera's buffer is full."""
        self.stats.delivered += 1
        self.results[frame.index] = result
        if not self._put(frame):
            self.results.pop(frame.index, None)
            self.stats.mark_dropped(SHUTDOWN)

    def end(self) -> None:
        self.ended = True
        self._put(_END)

    def _put(self, item: Any) -> bool:
        while not self._stopped.is_set():
            try:
                self._queue.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def stop(self) -> None:
        self._stopped.set()


# --- parent side: the groups ---------------------------------------------------------------------------
@dataclass
class _Running:
    group: WorkerGroup
    process: Any = None
    connection: Any = None
    receiver: threading.Thread | None = None
    state: str = "created"  # running / finished / died
    exit_code: int | None = None
    error: str | None = None  # one line: which worker, how it ended, the last line of its traceback
    traceback: str | None = None  # what the child sent before it exited, if it could
    gpu_memory_mib: dict[str, float] | None = None  # the child's latest `process_gpu_memory()`


class WorkerGroups:
    """The groups of a run: their processes, pipes and receiver threads, and the cameras' sources.

    module / site / options: the run's; each child gets a copy of the module without fusion and pyfuncs
    (those run here), its cameras' part of the site, and `options` without a time limit (the parent
    stops the groups). resume: where the output folder's numbering stands (read once, by the parent)."""

    def __init__(self, groups: Sequence[WorkerGroup], *, module: Any, site: Any, options: Any, resume: Any,
                 backend: str, queue_size: int) -> None:
        self.groups = [_Running(group) for group in groups]
        self._module, self._site, self._options, self._resume = module, site, options, resume
        self._backend = backend
        self._queue_size = queue_size
        self.sources: dict[str, RemoteSource] = {}
        self.overload: dict[str, dict[str, Any]] = {}  # camera -> its child's overload counters
        self._stop_sent = False
        self._lock = threading.Lock()

    def source(self, camera_id: str, uri: str, first_index: int, *, live: bool = False) -> RemoteSource:
        source = RemoteSource(camera_id, uri, first_index, self._queue_size, live=live)
        self.sources[camera_id] = source
        return source

    def start(self, *, images_of: frozenset[str]) -> None:
        """Spawn every group's process and its receiver thread. images_of: the cameras whose pictures
        the parent needs (recorded, or shown in the live view); the others send none."""
        context = mp.get_context("spawn")
        visible = os.environ.get("CUDA_VISIBLE_DEVICES")
        cpus = os.cpu_count() or 1
        for running in self.groups:
            parent_end, child_end = context.Pipe(duplex=True)
            job = {"module": self._child_module(cpus), "site": self._child_site(running.group),
                   "options": replace(self._options, max_seconds=None, progress=False, watch_module=False,
                                      workers=1, backend=self._backend),
                   "resume": self._resume, "images_of": images_of & set(running.group.camera_ids),
                   "log_level": logging.getLogger().getEffectiveLevel()}
            group = running.group
            process = context.Process(target=_child_entry, name=f"pyuniproc-worker-{group.index}",
                                      args=(group.index, child_end, group.environment(visible), job),
                                      daemon=True)
            process.start()
            child_end.close()  # the parent's copy: the pipe reports EOF once the child is gone
            running.process, running.connection, running.state = process, parent_end, "running"
            running.receiver = threading.Thread(target=self._receive, args=(running,),
                                                name=f"worker-{running.group.index}-receiver", daemon=True)
            running.receiver.start()
            log.info("worker %d (pid %d, %s): cameras %s", running.group.index, process.pid,
                     "cpu" if running.group.device is None else f"GPU {running.group.device}",
                     ", ".join(running.group.camera_ids))

    def _child_module(self, cpus: int) -> Any:
        runtime = self._module.runtime
        threads = runtime.detector_threads or max(1, cpus // (len(self.groups) * runtime.detector_workers))
        return replace(self._module, pyfuncs=[], fusion=None,
                       runtime=replace(runtime, detector_threads=threads, annotated_video=False,
                                       summary_period_seconds=min(runtime.summary_period_seconds, 0.5)))

    def _child_site(self, group: WorkerGroup) -> Any:
        return replace(self._site, cameras=tuple(c for c in self._site.cameras if c.id in group.camera_ids))

    def _receive(self, running: _Running) -> None:
        try:
            while True:
                message = running.connection.recv()
                kind = message[0]
                if kind == "frame":
                    _, camera_id, index, pts, decoded_at, (height, width), image, tracks, spans = message
                    if image is None:
                        image = np.broadcast_to(_BLACK, (height, width, 3))
                    self.sources[camera_id].deliver(Frame(camera_id, index, pts, image, decoded_at),
                                                    (tracks, *spans))
                elif kind == "stats":
                    for camera_id, snapshot in message[1].items():
                        self.sources[camera_id].stats.update(snapshot)
                elif kind == "overload":
                    self.overload.update(message[1])
                elif kind == "gpu_memory":
                    running.gpu_memory_mib = message[1]
                elif kind == "end":
                    source = self.sources[message[1]]
                    if message[2]:
                        source.stats.update(message[2])
                    source.end()
                elif kind == "error":
                    running.traceback = message[1].strip()
        except (EOFError, OSError):
            pass  # the child is gone; everything it sent was read first
        except Exception:  # a bug here must not hang the run: the group is reported like a dead child
            log.exception("worker %d: receiving failed", running.group.index)
            running.process.kill()
        running.process.join(timeout=10)
        running.exit_code = running.process.exitcode
        self._group_ended(running)

    def _group_ended(self, running: _Running) -> None:
        left = [c for c in running.group.camera_ids if not self.sources[c].ended]
        if not left and running.exit_code == 0:
            running.state = "finished"
            return
        running.state = "died"
        cause = _exit_cause(running.exit_code)
        detail = f": {running.traceback.splitlines()[-1]}" if running.traceback else ""
        message = (f"worker {running.group.index} (pid {running.process.pid}, cameras "
                   f"{', '.join(running.group.camera_ids)}) {cause}{detail}")
        running.error = message
        log.error("%s; its cameras are marked dead, the other workers go on%s", message,
                  f"\n{running.traceback}" if running.traceback else "")
        for camera_id in left:
            source = self.sources[camera_id]
            source.stats.mark_dead(message)
            source.end()

    # -- control --------------------------------------------------------------------------------------------
    @property
    def stopping(self) -> bool:
        return self._stop_sent

    def stop(self) -> None:
        """Ask every group to end its run (each finishes and sends its frames in flight)."""
        with self._lock:
            if self._stop_sent:
                return
            self._stop_sent = True
        for running in self.groups:
            if running.state == "running":
                try:
                    running.connection.send(("stop",))
                except OSError:
                    pass  # already gone: its receiver reports it

    def close(self, timeout: float = STOP_SECONDS) -> None:
        """End the groups: stop them, wait for their processes, kill any still running after `timeout`."""
        self.stop()
        for running in self.groups:
            if running.receiver is None:
                continue
            running.receiver.join(timeout)  # it ends once the child's pipe closes, and reaps the child
            if running.receiver.is_alive():
                log.error("worker %d did not stop within %.0f s; killed", running.group.index, timeout)
                running.process.kill()
                running.receiver.join(timeout)
            running.connection.close()

    def take(self, frame: Frame) -> tuple[Detections, list[Any], int]:
        """The tracks, stage spans and detector batch size the child sent with `frame`."""
        return self.sources[frame.camera_id].results.pop(frame.index)

    def failures(self) -> list[str]:
        return [r.error or f"worker {r.group.index} died" for r in self.groups if r.state == "died"]

    def summary(self) -> list[dict[str, Any]]:
        """summary.json's `workers`: one entry per group."""
        return [{"group": r.group.index, "cameras": list(r.group.camera_ids), "device": r.group.device,
                 "pid": r.process.pid if r.process is not None else None, "state": r.state,
                 "exit_code": r.exit_code, "error": r.error, "traceback": r.traceback,
                 "gpu_memory_mib": r.gpu_memory_mib} for r in self.groups]


def replay(latency: Mapping[str, Any], telemetry: Any, trace: Any, camera_id: str, spans: list[Any],
           batch_size: int) -> None:
    """Record a child's stage timings for one frame as the one-process loop records its own: per-frame
    latency (a batch stage's time shared among its frames), /metrics, and the frame's trace, where a
    batch stage carries its batch's size, id and the frame's position (the links between the frames of
    one batch are not rebuilt: they reach the parent one by one)."""
    if batch_size:
        telemetry.metrics.observe_batch(batch_size)
    for stage, start, end, frames, batch_id, position in spans:
        if stage not in WORKER_STAGES:
            continue
        latency[stage].add((end - start) * 1000 / frames)
        if batch_id is None:
            telemetry.record_stage(trace, camera_id, stage, start, end)
        else:
            telemetry.metrics.observe_stage(stage, end - start, camera_id)
            attributes = {"batch.size": frames, "batch.id": batch_id, "batch.position": position}
            trace.stage(stage, start, end, attributes)


def _exit_cause(code: int | None) -> str:
    if code is None:
        return "did not exit"
    if code < 0:
        import signal

        try:
            return f"was killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"was killed by signal {-code}"
    return f"exited with code {code}"


def _child_entry(index: int, connection: Any, environment: dict[str, str], job: dict[str, Any]) -> None:
    from pyuniproc.runtime.worker_process import worker_main

    worker_main(index, connection, environment, job)
