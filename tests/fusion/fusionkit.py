"""Helpers for fusion tests: tiny sites, literal people and a player that feeds frames in time order.

A scene is a list of `Visit`s (one local track each: camera, track id, from/to seconds, embedding);
`play` turns it into per-camera frames at `fps`, feeds them to a `Fusion` in site-clock order and
returns, per visit, the global ids its rows were given.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

import numpy as np

from pyuniproc.config.cameras import CameraSpec, Link, Site, Topology
from pyuniproc.fusion import Fusion, FusionConfig
from pyuniproc.types import Detections

# Four looks, far apart (cosine 0 between any two).
RED, GREEN, BLUE, GREY = (np.eye(4, dtype=np.float32)[i] for i in range(4))


def make_site(
    links: list[tuple[str, str, float, float]] = (),
    overlaps: list[tuple[str, ...]] = (),
    cameras: tuple[str, ...] = ("cam1", "cam2", "cam3", "cam4"),
) -> Site:
    """A site whose links are bidirectional: (a, b, min_seconds, max_seconds)."""
    both = [Link(a, b, lo, hi) for a, b, lo, hi in links] + [Link(b, a, lo, hi) for a, b, lo, hi in links]
    return Site(
        name="test",
        cameras=tuple(CameraSpec(id=c, uri=f"{c}.mp4") for c in cameras),
        topology=Topology(links=tuple(both), overlaps=tuple(frozenset(o) for o in overlaps)),
    )


def config(**overrides) -> FusionConfig:
    """Test defaults: decide after one embedding, no bonuses, no travel slack - numbers read as written."""
    values = dict(
        min_embeddings=1,
        decision_seconds=0.0,
        travel_time_slack_seconds=0.0,
        covisibility_bonus=0.0,
        transition_bonus=0.0,
        window_seconds=0.2,
    )
    values.update(overrides)
    return FusionConfig(**values)


def unit(*values: float) -> np.ndarray:
    vector = np.asarray(values, dtype=np.float32)
    return vector / np.linalg.norm(vector)


def with_similarities(gram: list[list[float]]) -> list[np.ndarray]:
    """Unit vectors whose pairwise cosines are exactly the given (symmetric, positive-definite) table."""
    return list(np.linalg.cholesky(np.asarray(gram, dtype=np.float64)).astype(np.float32))


@dataclass
class Visit:
    """One local track: `camera`, tracker id `track`, seen from `start` to `end` seconds (inclusive)."""

    camera: str
    track: int
    start: float
    end: float
    look: np.ndarray
    looks_later: np.ndarray | None = None  # embedding from `change_at` on (a track that shows its true face)
    change_at: float = np.inf


def frame(rows: list[tuple[int, np.ndarray | None]]) -> Detections:
    """One frame of rows (track id, embedding or None = not fresh on this frame)."""
    n = len(rows)
    dim = next((len(e) for _, e in rows if e is not None), 4)
    embeddings = np.full((n, dim), np.nan, np.float32)
    for i, (_, embedding) in enumerate(rows):
        if embedding is not None:
            embeddings[i] = embedding
    boxes = np.tile(np.array([[100, 50, 140, 150]], np.float32), (n, 1))
    return Detections(
        xyxy=boxes,
        confidence=np.full(n, 0.9),
        class_id=np.zeros(n),
        tracker_id=[track for track, _ in rows],
        data={"embedding": embeddings},
    )


def play(
    fusion: Fusion,
    visits: list[Visit],
    fps: float = 5.0,
    until: float | None = None,
    flush: bool = False,
    lag: dict[str, float] | None = None,
) -> dict[tuple[str, int], list[tuple[float, int]]]:
    """Feed the scene; returns {(camera, track): [(pts, global_id) per row]}.

    lag: seconds by which a camera's frames arrive late (its frame for pts t comes after the other
    cameras' frames up to t + lag).
    """
    end = max(v.end for v in visits) + 5.0 if until is None else until
    out: dict[tuple[str, int], list[tuple[float, int]]] = defaultdict(list)
    cameras = list(fusion._cameras)  # every camera sends frames, empty or not
    lag = lag or {}
    steps = range(int(round(end * fps)) + 1)
    arrivals = sorted(
        (step / fps + lag.get(camera, 0.0), order, camera, round(step / fps, 6))
        for step in steps
        for order, camera in enumerate(cameras)
    )
    for _, _, camera, pts in arrivals:
        here = [v for v in visits if v.camera == camera and v.start <= pts + 1e-9 and pts <= v.end + 1e-9]
        rows = [
            (v.track, v.looks_later if v.looks_later is not None and pts >= v.change_at else v.look)
            for v in here
        ]
        result = fusion.update(camera, pts, frame(rows))
        for (track, _), gid in zip(rows, result.data["global_id"].tolist(), strict=True):
            out[(camera, track)].append((pts, gid))
    if flush:
        fusion.flush()
    return out


def final_id(fusion: Fusion, out: dict, camera: str, track: int) -> int:
    """The id a visit ended with (its last decided row, or its current assignment if still held)."""
    held = fusion.assignment(camera, track)
    if held != -1:
        return held
    decided = [gid for _, gid in out[(camera, track)] if gid != -1]
    return decided[-1] if decided else -1


def first_id(out: dict, camera: str, track: int) -> int:
    """The first id a visit's rows were given (its first decision, before any correction)."""
    return next((gid for _, gid in out[(camera, track)] if gid != -1), -1)


@dataclass
class Crowd:
    """A synthetic site and a stream of frames: people arrive, walk through `hops` cameras of a ring, leave.

    truth: (camera, track id) -> person index; frames: (camera, pts, Detections) in site-clock order.
    """

    site: Site
    truth: dict[tuple[str, int], int]
    frames: object  # iterator of (camera_id, pts, Detections)


def crowd(
    n_people: int,
    *,
    cameras: int = 4,
    arrivals_per_second: float = 5.0,
    fps: float = 2.0,
    dwell: tuple[float, float] = (2.0, 4.0),
    travel: tuple[float, float] = (3.0, 8.0),
    hops: int = 2,
    dim: int = 16,
    noise: float = 0.1,
    embed_every: int = 1,
    seed: int = 0,
) -> Crowd:
    """Deterministic synthetic traffic (same seed, same frames); each person has a random look plus noise."""
    rng = np.random.default_rng(seed)
    names = [f"cam{i + 1}" for i in range(cameras)]
    links = [(names[i], names[(i + 1) % cameras], *travel) for i in range(cameras)]
    looks = rng.normal(size=(n_people, dim)).astype(np.float32)
    looks /= np.linalg.norm(looks, axis=1, keepdims=True)
    visits, next_track, truth = [], [0] * cameras, {}
    for person in range(n_people):
        t, c = person / arrivals_per_second, int(rng.integers(cameras))
        for _ in range(hops):
            stay = float(rng.uniform(*dwell))
            next_track[c] += 1
            visits.append((t, t + stay, c, next_track[c], person))
            truth[(names[c], next_track[c])] = person
            low, high = travel
            t += stay + float(rng.uniform(low + 0.5, high - 0.5))
            c = (c + int(rng.choice([-1, 1]))) % cameras
    visits.sort()

    def frames():
        pointer, active = 0, [[] for _ in range(cameras)]
        end = max(v[1] for v in visits) + 1.0
        for step in range(int(end * fps) + 1):
            pts = step / fps
            while pointer < len(visits) and visits[pointer][0] <= pts:
                active[visits[pointer][2]].append(visits[pointer])
                pointer += 1
            for c in range(cameras):
                active[c] = [v for v in active[c] if v[1] >= pts]
                rows = active[c]
                n = len(rows)
                embeddings = np.full((n, dim), np.nan, np.float32)
                for i, (start, _, _, _, person) in enumerate(rows):
                    if round((pts - start) * fps) % embed_every == 0:
                        embeddings[i] = looks[person] + noise * rng.normal(size=dim).astype(np.float32)
                boxes = np.tile(np.array([[100, 50, 140, 150]], np.float32), (n, 1))
                yield (
                    names[c],
                    pts,
                    Detections(
                        xyxy=boxes,
                        confidence=np.full(n, 0.9),
                        class_id=np.zeros(n),
                        tracker_id=[v[3] for v in rows],
                        data={"embedding": embeddings},
                    ),
                )

    return Crowd(make_site(links=links, cameras=tuple(names)), truth, frames())


def idle(fusion: Fusion, start: float, end: float, fps: float = 5.0) -> None:
    """Empty frames from every camera from `start` to `end` seconds (the site clock moves on)."""
    for step in range(int(round(start * fps)), int(round(end * fps)) + 1):
        for camera in fusion._cameras:
            fusion.update(camera, round(step / fps, 6), frame([]))
