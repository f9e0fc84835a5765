"""Replay a recorded `TrackStream` through `Fusion` with one configuration.

The calls are the ones the runtime makes (`pyuniproc.runtime.pipeline`): `update` per frame in the
recorded order, `end_camera` after a camera's last frame, `flush` at the end. The global ids are
taken as the run would write them to `mtmc/<camera>.txt` (rows with id -1 left out), and, for
comparison, with every row of a local track relabelled to the id that track ended with ("final":
what an offline relabelling of the run's output by its "corrected" events would give).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from pyuniproc.ablation.stream import TrackStream
from pyuniproc.config.cameras import Site
from pyuniproc.fusion import Fusion, FusionConfig, Transition


@dataclass
class Replay:
    """What one fusion configuration made of a stream.

    online: per camera (n, 6) rows frame (1-based), global id, x, y, w, h as the run writes them.
    final: the same rows, each relabelled to the id its local track ended with.
    row_track: per camera (n,) the local tracker id of each row of `online`/`final`.
    every: per camera every tracked row as `tracks.csv` has it (global id -1 where none yet).
    floor: `Fusion.floor_report()` at the end (None when the floor is off).
    """

    online: dict[str, np.ndarray]
    final: dict[str, np.ndarray]
    row_track: dict[str, np.ndarray]
    events: list[dict[str, Any]] = field(default_factory=list)
    transitions: list[Transition] = field(default_factory=list)
    stats: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0
    every: dict[str, np.ndarray] = field(default_factory=dict)
    floor: dict[str, Any] | None = None


def replay(stream: TrackStream, site: Site, config: FusionConfig) -> Replay:
    fusion = Fusion(site, config)
    last = stream.last_frame_of_cameras()
    ended_at = {position: f for position, f in last.items()}
    frames: dict[str, list[int]] = {c: [] for c in stream.camera_ids}
    ids: dict[str, list[np.ndarray]] = {c: [] for c in stream.camera_ids}
    boxes: dict[str, list[np.ndarray]] = {c: [] for c in stream.camera_ids}
    tracks: dict[str, list[np.ndarray]] = {c: [] for c in stream.camera_ids}
    events: list[dict[str, Any]] = []
    started = time.monotonic()
    for f, item in enumerate(stream.frames()):
        out = fusion.update(item.camera_id, item.pts_seconds, item.tracks)
        events.extend(fusion.events())
        n = len(out)
        frames[item.camera_id].append(np.full(n, item.index + 1))
        ids[item.camera_id].append(out.data["global_id"])
        boxes[item.camera_id].append(out.xyxy)
        tracks[item.camera_id].append(out.tracker_id)
        if ended_at.get(int(stream.frame_camera[f])) == f:
            fusion.end_camera(item.camera_id)
            events.extend(fusion.events())
    fusion.flush()
    events.extend(fusion.events())
    seconds = time.monotonic() - started

    relabel = _final_labels(events)
    online, final, row_track, every = {}, {}, {}, {}
    for camera_id in stream.camera_ids:
        if not frames[camera_id]:
            online[camera_id] = final[camera_id] = every[camera_id] = np.zeros((0, 6))
            row_track[camera_id] = np.zeros(0, np.int64)
            continue
        frame = np.concatenate(frames[camera_id]).astype(np.float64)
        gid = np.concatenate(ids[camera_id]).astype(np.int64)
        xyxy = np.concatenate(boxes[camera_id]).astype(np.float64)
        track = np.concatenate(tracks[camera_id]).astype(np.int64)
        rows = np.column_stack(
            [frame, gid, xyxy[:, 0], xyxy[:, 1], xyxy[:, 2] - xyxy[:, 0], xyxy[:, 3] - xyxy[:, 1]]
        )
        keep = gid >= 0
        every[camera_id] = rows
        online[camera_id] = rows[keep]
        row_track[camera_id] = track[keep]
        labels = np.array(
            [relabel.get((camera_id, t), g) for t, g in zip(track.tolist(), gid.tolist(), strict=True)],
            np.int64,
        ).reshape(-1)
        relabelled = rows.copy()
        relabelled[:, 1] = labels
        final[camera_id] = relabelled[labels >= 0]
    return Replay(
        online, final, row_track, events, fusion.transitions, fusion.stats(), seconds, every,
        fusion.floor_report(),
    )


def unlinked(stream: TrackStream) -> Replay:
    """The reference without fusion: every local track is an identity of its own (no cross-camera
    links, no re-entries joined). Multi-camera IDF1 then credits each person's longest track only."""
    online, row_track = {}, {}
    for position, camera_id in enumerate(stream.camera_ids):
        rows = stream.camera_rows(camera_id)
        row_track[camera_id] = rows[:, 1].astype(np.int64)
        relabelled = rows.copy()
        relabelled[:, 1] = (position + 1) * 10_000_000 + rows[:, 1]
        online[camera_id] = relabelled
    return Replay(online, online, row_track)


def ideal(stream: TrackStream, owners: dict[tuple[str, int], int]) -> Replay:
    """The upper bound of fusion on this stream: every local track takes the id of the ground-truth
    person it covers most (`Scorer.track_owners`); tracks covering nobody keep an id of their own. What
    is still lost here is lost to detection and tracking (missed boxes, tracks that switch people)."""
    online, row_track = {}, {}
    for position, camera_id in enumerate(stream.camera_ids):
        rows = stream.camera_rows(camera_id)
        row_track[camera_id] = rows[:, 1].astype(np.int64)
        relabelled = rows.copy()
        relabelled[:, 1] = [
            owners.get((camera_id, int(t)), (position + 1) * 10_000_000 + int(t)) for t in rows[:, 1]
        ]
        online[camera_id] = relabelled
    return Replay(online, online, row_track)


def _final_labels(events: list[dict[str, Any]]) -> dict[tuple[str, int], int]:
    """(camera, track) -> the id its track ended with (its last "assigned" or "corrected" event)."""
    last: dict[tuple[str, int], int] = {}
    for event in events:
        if event["event"] == "assigned":
            last[(event["camera_id"], int(event["track_id"]))] = int(event["global_id"])
        elif event["event"] == "corrected":
            last[(event["camera_id"], int(event["track_id"]))] = int(event["to_global_id"])
    return last
