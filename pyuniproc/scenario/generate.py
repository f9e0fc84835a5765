"""`pyuniproc scenario`: plan a site, render every camera (one process per camera), write the
benchmark folder.

    DIR/video/<camera_id>.mp4   H.264, the rendered camera
    DIR/gt/<camera_id>.txt      MOTChallenge ground truth (see write_gt)
    DIR/cameras.yml             the cameras file (docs/cameras-file.md): uris, links, overlaps, and
                                each camera's true ground-plane calibration (ground.py)
    DIR/identities.json         per global id: sprite identity, split, lookalike-of, visits,
                                per-camera appearance intervals, walks between cameras
    DIR/scenario.json           how it was made: arguments, frame count, each camera's view and look
    DIR/README                  one line: the command that made it

Same arguments -> same files (the planner and every camera draw from generators seeded by the
seed; the sprite bank is extracted deterministically).
"""

from __future__ import annotations

import gc
import json
import multiprocessing as mp
import os
import shlex
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from .. import __version__
from .ground import ground_yaml
from .render import render_camera
from .site import MIN_VISIBLE, Person, Site, make_site, plan_people
from .sprites import DEFAULT_VIDEO, SpriteBank, load_sprite_bank
from .views import Source, load_sources

GENERATOR_VERSION = 3
"""2: views no wider than their source allows, sprites at most 1.25x their native size, mild looks,
premultiplied blending, distractor rows for people less than half visible, crf 23.
3: views, sprites and the camera blur resampled in numpy (`scenario.resample`) instead of OpenCV,
whose warpAffine / resize / GaussianBlur results depended on the CPU's SIMD path and on IPP: the same
spec now gives the same pixels on every machine (same rules, pixels within 1-2 levels of v2)."""


@dataclass(frozen=True)
class ScenarioSpec:
    seed: int = 0
    cameras: int = 4
    people: int = 30
    seconds: float = 60.0
    fps: float = 10.0
    width: int = 640
    height: int = 360
    distractors: int | None = None  # default: people // 6
    overlaps: int = 0
    split: str = "all"
    crf: int = 23  # x264 quality; 26 cost SSDLite a third of its score on 70 px people

    def __post_init__(self) -> None:
        if not 2 <= self.cameras <= 16:
            raise ValueError(f"cameras must be 2..16, got {self.cameras}")
        if self.people < 1:
            raise ValueError(f"people must be >= 1, got {self.people}")
        if self.seconds <= 0 or self.fps <= 0:
            raise ValueError(f"seconds and fps must be > 0, got {self.seconds}, {self.fps}")
        if self.width < 64 or self.height < 64 or self.width % 2 or self.height % 2:
            raise ValueError(f"width/height must be even and >= 64, got {self.width}x{self.height}")
        if self.split not in ("all", "train", "test"):
            raise ValueError(f"split must be all, train or test, got {self.split!r}")
        if self.overlaps < 0 or (self.distractors is not None and self.distractors < 0):
            raise ValueError("overlaps and distractors must be >= 0")

    @property
    def n_distractors(self) -> int:
        return self.people // 6 if self.distractors is None else self.distractors

    @property
    def n_frames(self) -> int:
        return round(self.seconds * self.fps)

    def command(self, out: Path | str) -> str:
        args = [
            "pyuniproc",
            "scenario",
            "--seed",
            self.seed,
            "--cameras",
            self.cameras,
            "--people",
            self.people,
            "--seconds",
            _num(self.seconds),
            "--fps",
            _num(self.fps),
            "--width",
            self.width,
            "--height",
            self.height,
            "--distractors",
            self.n_distractors,
            "--overlaps",
            self.overlaps,
            "--split",
            self.split,
            "--crf",
            self.crf,
            "--out",
            out,
        ]
        return shlex.join(str(a) for a in args)


def _num(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)


# Workers are forked after these are set, so they inherit the plan and the sprite bank unpickled.
_JOB: dict = {}


def _render_job(camera_index: int):
    job = _JOB
    started = time.perf_counter()
    gt, seen, _ = render_camera(
        camera_index,
        job["site"],
        job["people"],
        job["sources"],
        job["bank"],
        n_frames=job["n_frames"],
        fps=job["fps"],
        seed=job["seed"],
        crf=job["crf"],
        video_path=job["out"] / "video" / f"{job['site'].cameras[camera_index].id}.mp4",
        progress=job.get("progress"),
    )
    return camera_index, gt, seen, time.perf_counter() - started


def plan(
    spec: ScenarioSpec, *, show_progress: bool = False
) -> tuple[SpriteBank, dict[str, Source], Site, list[Person]]:
    """The sprite bank, the backgrounds, the site and every person's route for `spec`."""
    bank = load_sprite_bank(DEFAULT_VIDEO, progress=show_progress)
    sources = load_sources(bank.background, bank.height_model)
    site = make_site(
        np.random.default_rng([spec.seed, 1]),
        sources,
        n_cameras=spec.cameras,
        n_overlaps=spec.overlaps,
        width=spec.width,
        height=spec.height,
    )
    people = plan_people(
        np.random.default_rng([spec.seed, 2]),
        site,
        sources,
        bank,
        n_people=spec.people,
        n_distractors=spec.n_distractors,
        split=spec.split,
        seconds=spec.seconds,
        fps=spec.fps,
    )
    return bank, sources, site, people


def generate(
    spec: ScenarioSpec,
    out: Path | str,
    *,
    workers: int | None = None,
    show_progress: bool = True,
) -> dict:
    """Writes the scenario into `out`; returns a summary (timings, counts). Cameras render in
    `workers` forked processes (default: one per CPU); `workers=1` renders in this process, the
    safe choice in a process that already runs threads. Output does not depend on `workers`."""
    out = Path(out)
    started = time.perf_counter()
    bank, sources, site, people = plan(spec, show_progress=show_progress)
    t_bank = time.perf_counter() - started
    for sub in ("video", "gt"):
        (out / sub).mkdir(parents=True, exist_ok=True)
        for stale in (out / sub).glob("cam*.mp4" if sub == "video" else "cam*.txt"):
            stale.unlink()

    counter = mp.get_context("fork").Value("l", 0)
    _JOB.update(
        site=site,
        people=people,
        sources=sources,
        bank=bank,
        n_frames=spec.n_frames,
        fps=spec.fps,
        seed=spec.seed,
        crf=spec.crf,
        out=out,
        progress=counter,
    )
    n_workers = max(1, min(workers or os.cpu_count() or 1, len(site.cameras)))
    total = spec.n_frames * len(site.cameras)
    results = {}
    t_render = time.perf_counter()
    try:
        if n_workers == 1:
            # In this process: forking one that runs threads (a pipeline, onnxruntime) can deadlock
            # the children, so callers inside such processes (tests) ask for one worker.
            for camera_index in range(len(site.cameras)):
                _, gt, seen, seconds = _render_job(camera_index)
                results[camera_index] = (gt, seen, seconds)
        else:
            # The children must never garbage-collect objects inherited from this process: a native
            # object's destructor there (an onnxruntime session) can wait forever on a lock that one of
            # this process's threads held at the fork. gc.freeze() leaves them to this process alone.
            gc.freeze()
            try:
                with mp.get_context("fork").Pool(n_workers) as pool:
                    pending = pool.map_async(_render_job, range(len(site.cameras)), chunksize=1)
                    while not pending.ready():
                        pending.wait(0.5)
                        if show_progress:
                            _progress(counter.value, total, time.perf_counter() - t_render)
                    for camera_index, gt, seen, seconds in pending.get():
                        results[camera_index] = (gt, seen, seconds)
            finally:
                gc.unfreeze()
    finally:
        _JOB.clear()
    if show_progress:
        _progress(total, total, time.perf_counter() - t_render, end=True)

    for camera_index, camera in enumerate(site.cameras):
        write_gt(out / "gt" / f"{camera.id}.txt", results[camera_index][0])
    seen_by_camera = {site.cameras[c].id: results[c][1] for c in results}
    write_cameras_yml(out / "cameras.yml", site, spec, sources)
    identities = identities_doc(site, people, seen_by_camera, spec.fps, spec.n_frames)
    (out / "identities.json").write_text(json.dumps(identities, indent=1) + "\n")
    elapsed = time.perf_counter() - started
    meta = {
        "generator_version": GENERATOR_VERSION,
        "pyuniproc_version": __version__,
        "spec": asdict(spec),
        "frames": spec.n_frames,
        "fps": spec.fps,
        "width": spec.width,
        "height": spec.height,
        "min_visible": MIN_VISIBLE,
        "sprite_video_sha256": bank.video_sha256,
        "cameras": [
            {
                "id": c.id,
                "group": c.group,
                "view": c.view.describe(),
                "look": asdict(c.look),
                "gt_rows": int(np.sum(results[i][0][:, 6] == 1)),
                "gt_rows_ignored": int(np.sum(results[i][0][:, 6] == 0)),
            }
            for i, c in enumerate(site.cameras)
        ],
    }
    (out / "scenario.json").write_text(json.dumps(meta, indent=1) + "\n")
    (out / "README").write_text(
        f"Synthetic multi-camera benchmark made by `{spec.command(out)}` (pyuniproc {__version__}, "
        f"generator v{GENERATOR_VERSION}; people cut out of samples/vtest/vtest.avi).\n"
    )
    return {
        "seconds_total": elapsed,
        "seconds_plan": t_bank,
        "seconds_render": time.perf_counter() - t_render,
        "per_camera_seconds": {site.cameras[c].id: results[c][2] for c in results},
        "gt_rows": {site.cameras[c].id: int(np.sum(results[c][0][:, 6] == 1)) for c in results},
        "people": len(people),
        "frames": spec.n_frames,
        "cameras": len(site.cameras),
    }


def _progress(done: int, total: int, seconds: float, end: bool = False) -> None:
    rate = done / seconds if seconds > 0 else 0.0
    line = f"\rrendering: {done}/{total} frames ({100 * done / max(total, 1):.0f}%), {rate:.0f} frames/s"
    if sys.stderr.isatty() or end:
        print(line, end="\n" if end else "", file=sys.stderr, flush=True)


def write_gt(path: Path, rows: np.ndarray) -> None:
    """MOTChallenge ground truth, one row per visible person per frame, sorted by frame then id:

    frame (1-based), id (global person id), x, y, w, h (pixels, 0-based left/top of the visible
    extent; w, h inclusive pixel counts), consider and class (1, 1: a scored pedestrian, visibility
    >= MIN_VISIBLE; 0, 8: a MOTChallenge distractor, less visible, neither scored nor an error
    to find), visibility (visible share of the person's drawn mask).
    """
    order = np.lexsort((rows[:, 1], rows[:, 0])) if len(rows) else np.zeros(0, int)
    with open(path, "w") as f:
        for r in rows[order]:
            f.write(
                f"{int(r[0])},{int(r[1])},{int(r[2])},{int(r[3])},{int(r[4])},{int(r[5])},"
                f"{int(r[6])},{int(r[7])},{r[8]:.3f}\n"
            )


def write_cameras_yml(
    path: Path, site: Site, spec: ScenarioSpec, sources: dict[str, Source] | None = None
) -> None:
    """The cameras file; with `sources`, also every camera's true ground calibration (`ground:`)."""
    lines = [f"# Made by: {spec.command(path.parent)}", f"site: scenario-seed{spec.seed}", "cameras:"]
    for camera in site.cameras:
        lines += [f"  - id: {camera.id}", f"    uri: video/{camera.id}.mp4"]
    lines += ["topology:", "  links:"]
    for link in site.links:
        for a in site.groups[link.a]:
            for b in site.groups[link.b]:
                lines.append(
                    f"    - {{from: {site.cameras[a].id}, to: {site.cameras[b].id}, "
                    f"min_seconds: {link.min_seconds:.1f}, max_seconds: {link.max_seconds:.1f}, "
                    "bidirectional: true}"
                )
    overlaps = site.overlaps
    lines.append("  overlaps:" + ("" if overlaps else " []"))
    lines += [f"    - [{a}, {b}]" for a, b in overlaps]
    if sources is not None:
        lines.append("ground:  # the generator's truth: image foot point -> site plane (metres)")
        for camera in site.cameras:
            lines += ground_yaml(camera.id, camera.view, sources[camera.view.source], camera.group)
    path.write_text("\n".join(lines) + "\n")


def identities_doc(
    site: Site, people: list[Person], seen: dict[str, dict], fps: float, n_frames: int
) -> dict:
    """identities.json: frames are 1-based like gt/*.txt; *_seconds are frame_index / fps."""
    cam_ids = [c.id for c in site.cameras]
    doc_people = []
    for person in people:
        visits, appearances = [], {}
        for v_index, visit in enumerate(person.visits):
            in_gt = {}
            for c in site.groups[visit.group]:
                span = seen[cam_ids[c]].get((person.id, v_index))
                if span is not None:
                    in_gt[cam_ids[c]] = [span[0] + 1, span[1] + 1]
                    appearances.setdefault(cam_ids[c], []).append([span[0] + 1, span[1] + 1])
            visits.append(
                {
                    "cameras": in_gt,
                    "planned": {
                        cam_ids[c]: [max(f, 0) + 1, min(last, n_frames - 1) + 1]
                        for c, (f, last) in visit.visible.items()
                        if last >= 0 and f < n_frames
                    },
                    "entry_side": visit.entry_side,
                    "exit_side": visit.exit_side,
                    "sprite_sequence": visit.sequence,
                }
            )
        transitions = []
        for t in person.transitions:
            exit_span = seen[cam_ids[t.from_camera]].get((person.id, t.from_visit))
            entry_span = seen[cam_ids[t.to_camera]].get((person.id, t.from_visit + 1))
            transitions.append(
                {
                    "kind": t.kind,
                    "from_visit": t.from_visit,
                    "from": cam_ids[t.from_camera],
                    "to": cam_ids[t.to_camera],
                    "window_seconds": list(t.window) if t.window else None,
                    "planned_seconds": round((t.entry_frame - t.exit_frame) / fps, 3),
                    "gt_seconds": (
                        round((entry_span[0] - exit_span[1]) / fps, 3) if exit_span and entry_span else None
                    ),
                }
            )
        doc_people.append(
            {
                "id": person.id,
                "sprite_identity": person.sprite_identity,
                "split": person.split,
                "distractor_of": person.distractor_of,
                "recoloured": person.recolour is not None,
                "speed_mps": round(person.speed_mps, 3),
                "height_scale": round(person.height_scale, 3),
                "appearances": appearances,
                "visits": visits,
                "transitions": transitions,
            }
        )
    return {"frames": "1-based, as in gt/*.txt", "fps": fps, "people": doc_people}
