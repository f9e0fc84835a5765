"""Score one scene: the pipeline at the module's settings, per camera and across cameras.

Two steps, both existing tools, so the protocol measures exactly what they measure elsewhere:

1. `pyuniproc.ablation.capture_pipeline` runs the embedded pipeline (decode, detector, per-camera
   tracker, ReID selection and embedder) on the scene with fusion off, the files read as fast as
   possible (no frame is ever skipped, so the result does not depend on the machine's speed), and
   records every frame's tracks and embeddings. The recording is cached under the work folder by
   its fingerprint (scene files, detector, precision, tracker, ReID settings and weights): a
   second run at the same settings, or a switch back to a setting measured before, costs nothing.
2. The recording is scored per camera (TrackEval HOTA, CLEAR, Identity: `pyuniproc eval`'s code)
   and replayed through `pyuniproc.fusion` with the module's `parameters.fusion`, making the same
   calls in the same order as the runtime (`pyuniproc.ablation.replay`), for multi-camera IDF1 of
   the ids the run writes. Replaying a fixed frame order makes it deterministic (a live run's batch
   order depends on decoding speed and moves multi-camera IDF1 by ~0.01, benchmarks/quality).

Reference rows beside the real one: "ideal linking" (every local track given the GT person it
covers most), the most fusion could make of these tracks.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from pyuniproc.ablation.capture import cached, capture_pipeline, fingerprint, scenario_site
from pyuniproc.ablation.replay import ideal, replay
from pyuniproc.ablation.score import Scorer
from pyuniproc.ablation.stream import TrackStream
from pyuniproc.accuracy.bands import add_counts, band_counts, band_rates
from pyuniproc.accuracy.gallery import TOP_IDS, identity_gallery
from pyuniproc.config.module import ModuleConfig


def record(scenario: Path, module: ModuleConfig, cache: Path, *, log=None) -> TrackStream:
    """The scene's pipeline recording at the module's settings (from the cache when current)."""
    key = fingerprint(scenario, module, "pipeline")
    path = Path(cache) / f"pipeline-{key}.npz"
    if log and not path.is_file():
        log(f"accuracy: running the pipeline on {scenario} (fusion replayed afterwards)")
    return cached(path, key, lambda: capture_pipeline(scenario, module, Path(cache) / "capture"))


def score_stream(
    scenario: Path, stream: TrackStream, module: ModuleConfig, *, gallery_ids: int = TOP_IDS
) -> dict[str, Any]:
    """Per-camera scores, multi-camera IDF1 of the module's fusion and of ideal linking, recall and
    precision per person height, and (fusion on) the gallery of the `gallery_ids` largest global ids
    with the GT people they cover (`pyuniproc.accuracy.gallery`), for one recorded stream."""
    scorer = Scorer(scenario)
    per_camera = scorer.per_camera(stream)
    counts: dict[str, dict[str, int]] = {}
    per_camera_bands = {}
    for camera in scorer.cameras:
        rows = stream.camera_rows(camera) if camera in stream.camera_ids else scorer._empty
        found = band_counts(scorer.gt[camera], rows, scorer.distractors.get(camera))
        per_camera_bands[camera] = band_rates(found)
        add_counts(counts, found)
    result: dict[str, Any] = {
        "per_camera": {c: v for c, v in per_camera.items() if c != "all"},
        "all_cameras": per_camera["all"],
        "height_bands": band_rates(counts),
        "height_band_counts": counts,
        "height_bands_per_camera": per_camera_bands,
        "multi_camera": None,
        "ideal_multi_camera": None,
    }
    owners = scorer.track_owners(stream)
    result["ideal_multi_camera"] = scorer.multi_camera(ideal(stream, owners).online)
    if module.fusion is not None:
        started = time.monotonic()
        done = replay(stream, scenario_site(scenario), module.fusion)
        result["multi_camera"] = scorer.multi_camera(done.online)
        result["multi_camera"]["final_IDF1"] = scorer.multi_camera(done.final)["IDF1"]
        result["linking"] = scorer.linking(done, owners)
        result["gallery"] = identity_gallery(stream, done, owners, top=gallery_ids)
        result["fusion_seconds"] = round(time.monotonic() - started, 2)
    meta = stream.meta
    seconds, frames = meta.get("seconds"), meta.get("frames")
    result["pipeline"] = {
        "frames": frames,
        "seconds": seconds,
        "frames_per_second": round(frames / seconds, 1) if seconds and frames else None,
        "cached": "cached" in meta,
        "tracked_rows": stream.rows,
        "embeddings": int(len(stream.embeddings)),
    }
    return result


def measure_scene(
    scenario: Path, module: ModuleConfig, cache: Path, *, log=None, gallery_ids: int = TOP_IDS
) -> dict[str, Any]:
    """record + score_stream."""
    return score_stream(scenario, record(scenario, module, cache, log=log), module, gallery_ids=gallery_ids)
