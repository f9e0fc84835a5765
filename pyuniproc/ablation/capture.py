"""Record the `TrackStream` that fusion would see, two ways.

`capture_pipeline`: the real embedded pipeline (decode, detector, per-camera tracker, ReID quality
gate and schedule, embedder) runs once on a scenario with fusion off; a `StreamRecorder` observer
keeps every frame's tracks and fresh embeddings. Only what fusion does not touch runs: no pyfuncs,
no metrics server, annotated video only when asked.

`capture_oracle`: ground-truth boxes and ids stand in for detector and tracker (perfect detection
and tracking); the embeddings are computed exactly as the pipeline does (same quality gate, same
schedule, same embedder) from the scenario's video at those boxes. Fusion on this stream shows what
is lost to fusion and the embedder alone; the gap to the pipeline stream is what detection and
tracking cost.
"""

from __future__ import annotations

import hashlib
import shutil
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from pyuniproc.ablation.stream import StreamRecorder, TrackStream
from pyuniproc.config.cameras import Site, load_cameras
from pyuniproc.config.module import ModuleConfig
from pyuniproc.types import Detections

STREAM_VERSIONS = {"pipeline": 1, "oracle": 2}  # bump when what a stream holds changes: caches re-record


def scenario_site(scenario: str | Path) -> Site:
    path = Path(scenario) / "cameras.yml"
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no cameras file; is {scenario} a `pyuniproc scenario` folder?")
    return load_cameras(path)


def fingerprint(scenario: str | Path, module: ModuleConfig, kind: str) -> str:
    """What a recorded stream depends on; a cached stream with another fingerprint is recorded again.

    Both streams: the scenario's cameras file, videos and GT; the ReID model (file name, and the contents
    of the weights, so a retrained embedder dropped in under the same name records again) and its
    crop selection. The pipeline stream also: the detector's settings, weights and CPU precision, and
    the tracker's settings (the oracle stream uses GT boxes and ids instead)."""
    version = STREAM_VERSIONS.get(kind, 1)
    digest = hashlib.sha256((kind if version == 1 else f"{kind}:{version}").encode())
    scenario = Path(scenario)
    files = [scenario / "cameras.yml", *(scenario / "video").glob("*"), *(scenario / "gt").glob("*")]
    detector, reid = module.detector, module.reid
    settings: list[Any] = [reid and (reid.model_file, sorted(reid.selection.items()))]
    models = [(Path(reid.model_dir), reid.model_file)] if reid else []
    if kind != "oracle":
        models.append((Path(detector.model_dir), detector.model_file))
        settings += [
            getattr(module.runtime, "cpu_precision", None),
            detector.converter,
            detector.model_file,
            detector.confidence_threshold,
            detector.nms_iou_threshold,
            detector.min_width,
            detector.min_height,
            module.tracker.kind,
            sorted(module.tracker.params.items()),
        ]
        if getattr(module, "relink", None) is not None:  # absent: the fingerprint of before relinking
            settings.append(("relink", sorted(module.relink.items())))
    for folder, model_file in models:  # the weights and their variants (int8 copy, anchors)
        files += folder.glob(f"{Path(model_file).stem}*")
    named = {
        str(path.relative_to(scenario) if path.is_relative_to(scenario) else Path("models") / path.name): path
        for path in files
    }
    for where, path in sorted(named.items()):  # contents, not mtimes: a fresh checkout keeps its caches
        digest.update(f"{where}:{hashlib.sha256(path.read_bytes()).hexdigest()}".encode())
    digest.update(repr(settings).encode())
    return digest.hexdigest()[:16]


def capture_pipeline(
    scenario: str | Path,
    module: ModuleConfig,
    out_dir: str | Path,
    *,
    annotated_video: bool = False,
    max_frames: int | None = None,
    progress: bool = False,
) -> TrackStream:
    """Run the pipeline once on `scenario` (fusion off) writing its outputs to `out_dir`, the capture's
    own folder; return the recorded stream. An earlier capture in `out_dir` is replaced: the pipeline
    would continue its frame numbers, and the scorer counts the scenario's frames from 1. The module
    needs a ReID element (`nvinfer@attribute_model`)."""
    from pyuniproc.runtime.pipeline import Pipeline, RunOptions

    if module.reid is None:
        raise ValueError(f"{module.path}: no nvinfer@attribute_model (ReID) element: nothing to fuse with")
    shutil.rmtree(out_dir, ignore_errors=True)
    site = scenario_site(scenario)
    runtime = module.runtime
    telemetry = replace(
        runtime.telemetry,
        metrics=replace(runtime.telemetry.metrics, enabled=False),
        tracing=replace(runtime.telemetry.tracing, enabled=False),
    )
    quiet = replace(
        module,
        fusion=None,
        pyfuncs=[],
        runtime=replace(runtime, annotated_video=annotated_video, telemetry=telemetry),
    )
    options = RunOptions(
        out_dir=Path(out_dir),
        realtime=False,
        loop=False,
        max_frames=max_frames,
        progress=progress,
        watch_module=False,
    )
    pipeline = Pipeline(quiet, site, options)
    recorder = StreamRecorder(
        [camera.id for camera in site.cameras],
        meta={
            "source": "pipeline",
            "scenario": str(scenario),
            "fingerprint": fingerprint(scenario, module, "pipeline"),
        },
    )
    pipeline.observers.append(recorder)
    started = time.monotonic()
    summary = pipeline.run()
    recorder.meta.update(
        seconds=round(time.monotonic() - started, 1),
        frames=summary["frames_processed"],
        detector=module.detector.model_file,
        tracker=dict(module.tracker.params),
    )
    return recorder.stream()


def read_gt_all(path: str | Path) -> np.ndarray:
    """(n, 6) rows frame, id, x, y, w, h of every GT row, scored or not (distractors are people too)."""
    raw = np.loadtxt(path, delimiter=",", ndmin=2) if Path(path).stat().st_size else np.zeros((0, 6))
    return raw[:, :6].reshape(-1, 6)


def capture_oracle(
    scenario: str | Path, module: ModuleConfig, *, max_frames: int | None = None, max_gap_frames: int = 10
) -> TrackStream:
    """The stream a perfect detector and tracker would give: GT boxes with GT ids, embedded from the
    scenario's video with the module's ReID gate, schedule and embedder (frames in time order,
    cameras interleaved, batched across cameras as the pipeline does).

    A person who leaves a view and comes back later gets a new local track (as from a real tracker),
    so re-entries are fusion's job here too: a GT id's rows in one camera are split where more than
    `max_gap_frames` frames pass without it; track id = GT id * 1000 + segment number."""
    from pyuniproc.runtime.build import build_reid
    from pyuniproc.sources import CameraSource

    if module.reid is None:
        raise ValueError(f"{module.path}: no nvinfer@attribute_model (ReID) element: nothing to fuse with")
    site = scenario_site(scenario)
    reid = build_reid(module)
    gt: dict[str, dict[int, np.ndarray]] = {}
    for camera in site.cameras:
        rows = split_at_gaps(read_gt_all(Path(scenario) / "gt" / f"{camera.id}.txt"), max_gap_frames)
        order = np.argsort(rows[:, 0], kind="stable")
        rows = rows[order]
        frames, starts = np.unique(rows[:, 0].astype(np.int64), return_index=True)
        bounds = list(starts) + [len(rows)]
        gt[camera.id] = {int(f): rows[bounds[i] : bounds[i + 1]] for i, f in enumerate(frames)}
    sources = {
        c.id: CameraSource(
            c.id, c.uri, realtime=False, loop=False, start_seconds=c.start_seconds, max_frames=max_frames
        )
        for c in site.cameras
    }
    iterators = {camera_id: source.frames() for camera_id, source in sources.items()}
    recorder = StreamRecorder(
        list(sources),
        meta={
            "source": "oracle",
            "scenario": str(scenario),
            "fingerprint": fingerprint(scenario, module, "oracle"),
        },
    )
    started = time.monotonic()
    while iterators:
        batch = []
        for camera_id in list(iterators):
            frame = next(iterators[camera_id], None)
            if frame is None:
                del iterators[camera_id]
            else:
                batch.append(frame)
        if not batch:
            break
        tracks = [
            _gt_detections(gt[frame.camera_id].get(frame.index + 1), frame.width, frame.height)
            for frame in batch
        ]
        for frame, frame_tracks in zip(batch, reid.process(batch, tracks), strict=True):
            recorder.record(frame.camera_id, frame.index, frame.pts_seconds, frame_tracks)
    for source in sources.values():
        source.stop()
    recorder.meta.update(seconds=round(time.monotonic() - started, 1))
    return recorder.stream()


def split_at_gaps(rows: np.ndarray, max_gap_frames: int) -> np.ndarray:
    """GT rows (frame, id, ...) with the id replaced by id * 1000 + its segment number in this camera."""
    rows = rows[np.lexsort((rows[:, 0], rows[:, 1]))].copy()
    if not len(rows):
        return rows
    new_person = np.r_[True, rows[1:, 1] != rows[:-1, 1]]
    gap = np.r_[False, rows[1:, 0] - rows[:-1, 0] > max_gap_frames] & ~new_person
    segment = np.zeros(len(rows), np.int64)
    for start, end in zip(
        np.flatnonzero(new_person), [*np.flatnonzero(new_person)[1:], len(rows)], strict=True
    ):
        segment[start:end] = np.cumsum(gap[start:end])
    rows[:, 1] = rows[:, 1] * 1000 + segment
    return rows


def _gt_detections(rows: np.ndarray | None, width: int, height: int) -> Detections:
    if rows is None or not len(rows):
        return Detections(np.zeros((0, 4)), np.zeros(0), np.zeros(0, np.int32), np.zeros(0, np.int64))
    xyxy = np.column_stack([rows[:, 2], rows[:, 3], rows[:, 2] + rows[:, 4], rows[:, 3] + rows[:, 5]])
    xyxy[:, [0, 2]] = xyxy[:, [0, 2]].clip(0, width)
    xyxy[:, [1, 3]] = xyxy[:, [1, 3]].clip(0, height)
    return Detections(xyxy, np.ones(len(rows)), np.zeros(len(rows), np.int32), rows[:, 1].astype(np.int64))


def cached(path: str | Path | None, expected: str, record: Any) -> TrackStream:
    """The stream at `path` if it was recorded with fingerprint `expected`, else `record()` saved there."""
    if path is not None and Path(path).is_file():
        stream = TrackStream.load(path)
        if stream.meta.get("fingerprint") == expected:
            stream.meta["cached"] = str(path)
            return stream
    stream = record()
    if path is not None:
        stream.save(path)
    return stream
