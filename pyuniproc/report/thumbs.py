"""Thumbnails of each identity's crops, cut from the cameras' videos, as base64 JPEG for inline <img>.

Per identity, one visit per camera it was seen in (every camera is shown, so a wrong merge across
cameras is seen at a glance), then its other visits by length up to `per_identity` in all, get one
thumbnail each: the frame where the box is largest within the middle 80% of the visit (away from the
entry and exit, where the person is cut by the frame edge). In a scored run, each GT person whose
tracks the identity holds gets a thumbnail as well (both sides of a wrong merge). Each camera's video is
decoded once per run that appended to the folder, front to back, stopping after the last frame needed.
"""

from __future__ import annotations

import base64
from collections import defaultdict
from collections.abc import Hashable, Iterator
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from pyuniproc.report.data import Identity, Row, RunData, Visit, camera_sources
from pyuniproc.runtime.resume import frame_in_source

Box = tuple[float, float, float, float]


@dataclass(frozen=True)
class Thumbnail:
    global_id: int
    camera_id: str
    frame: int  # 1-based
    pts: float  # site seconds of the frame shown
    jpeg_base64: str
    track_id: int = -1  # the local track the box belongs to


def pick_visits(identity: Identity, per_identity: int) -> list[Visit]:
    """The longest visit of every camera (always all of them, even beyond `per_identity`), then the
    other visits by length while fewer than `per_identity` are chosen; in time order."""
    by_length = sorted(identity.visits, key=lambda v: -v.seconds)
    chosen: list[Visit] = []
    for camera in identity.cameras:
        chosen.append(next(v for v in by_length if v.camera_id == camera))
    chosen += [v for v in by_length if v not in chosen][: max(0, per_identity - len(chosen))]
    return sorted(chosen, key=lambda v: v.start)


def pick_rows(
    identity: Identity, per_identity: int, owners: dict[tuple[str, int], int] | None = None
) -> list[tuple[Visit, Row]]:
    """The row to show of each visit `pick_visits` chooses; with owners, then one more for each GT
    person whose tracks the identity holds and none of those rows shows (the person's largest box in
    the visit holding most of their rows)."""
    shots = [(visit, best_row(visit.rows)) for visit in pick_visits(identity, per_identity)]
    if not owners:
        return shots
    shown = {owners.get((visit.camera_id, row.track_id)) for visit, row in shots}
    by_person: dict[int, list[tuple[Visit, list[Row]]]] = defaultdict(list)
    for visit in identity.visits:
        groups: dict[int, list[Row]] = defaultdict(list)
        for row in visit.rows:
            person = owners.get((visit.camera_id, row.track_id))
            if person is not None:
                groups[person].append(row)
        for person, rows in groups.items():
            by_person[person].append((visit, rows))
    for person in sorted(set(by_person) - shown):
        visit, rows = max(by_person[person], key=lambda item: len(item[1]))
        shots.append((visit, best_row(rows)))
    return sorted(shots, key=lambda shot: shot[1].pts)


def best_row(rows: list[Row]) -> Row:
    """The row with the largest box within the middle 80% of `rows` (time order)."""
    lo, hi = int(len(rows) * 0.1), max(int(len(rows) * 0.9), int(len(rows) * 0.1) + 1)
    middle = rows[lo:hi] or rows
    return max(middle, key=lambda r: (r.x2 - r.x1) * (r.y2 - r.y1))


def make_thumbnails(
    data: RunData,
    *,
    per_identity: int = 6,
    height: int = 96,
    quality: int = 80,
    max_identities: int | None = None,
    owners: dict[tuple[str, int], int] | None = None,
) -> dict[int, list[Thumbnail]]:
    """global id -> its thumbnails in time order ({} for identities whose camera video is not found).

    owners ((camera, local track) -> GT person, for a scored run): every person whose tracks the id
    holds gets a thumbnail too, so each side of a wrong merge is shown.

    A folder that several runs appended to numbers each run's frames on from the last
    (`pyuniproc.runtime.resume`); summary.json's `numbering` says where each camera's source began
    again, which maps a frame number back to the frame of the source (or of that run's recording)."""
    sources = camera_sources(data)
    starts = source_starts(data.summary)
    # (camera, source start) -> 0-based frame of the source -> [(key, box)]
    wanted: dict[tuple[str, int], dict[int, list[tuple[Hashable, Box]]]] = defaultdict(dict)
    chosen: dict[tuple[int, str, int], Row] = {}
    for identity in data.identities[:max_identities]:
        for visit, row in pick_rows(identity, per_identity, owners):
            if visit.camera_id not in sources:
                continue
            run, index = frame_in_source(row.frame, starts.get(visit.camera_id, ()))
            key = (identity.global_id, visit.camera_id, row.frame)
            chosen[key] = row
            wanted[visit.camera_id, run].setdefault(index, []).append((key, row.box))
    out: dict[int, list[Thumbnail]] = defaultdict(list)
    for (camera, run), frames in wanted.items():
        uri, start_seconds = sources[camera]
        if Path(uri).parent == data.run_dir / "video" and run > 0:  # the run's own recording
            uri = str(Path(uri).with_name(f"{camera}.{run}.mp4"))
            if not Path(uri).is_file():
                continue
        for key, jpeg in cut_crops(camera, uri, start_seconds, frames, height=height, quality=quality):
            gid, _, _ = key
            row = chosen[key]
            out[gid].append(Thumbnail(gid, camera, row.frame, row.pts, jpeg, row.track_id))
    for items in out.values():
        items.sort(key=lambda t: t.pts)
    return dict(out)


def cut_crops(
    camera: str,
    uri: str,
    start_seconds: float,
    frames: dict[int, list[tuple[Hashable, Box]]],
    *,
    height: int = 96,
    quality: int = 80,
) -> Iterator[tuple[Hashable, str]]:
    """(key, base64 JPEG) of every box wanted: frames maps a 0-based frame of the source to the
    (key, (x1, y1, x2, y2)) boxes to cut from it. The video is decoded once, up to the last frame."""
    if not frames:
        return
    for index, image in _decode(camera, uri, start_seconds, set(frames)):
        for key, box in frames[index]:
            yield key, encode_jpeg(crop_box(image, box), height, quality)


def source_starts(summary: dict) -> dict[str, tuple[int, ...]]:
    """Per camera, the 1-based frame numbers where its source began again (summary.json `numbering`;
    none in a folder written by one run before that bookkeeping: its numbering began at 1)."""
    cameras = (summary.get("numbering") or {}).get("cameras") or {}
    return {
        str(camera): tuple(int(s) for s in entry.get("source_starts") or ())
        for camera, entry in cameras.items()
        if isinstance(entry, dict)
    }


def _decode(camera: str, uri: str, start_seconds: float, frames: set[int]):
    """(0-based index, RGB image) of the wanted 0-based `frames` of the source, decoded with the runtime's
    own reader (so indices count as the run counted them)."""
    from pyuniproc.sources import CameraSource

    last = max(frames)
    source = CameraSource(
        camera, uri, realtime=False, loop=False, start_seconds=start_seconds, max_frames=last + 1
    )
    try:
        for frame in source.frames():
            if frame.index in frames:
                yield frame.index, frame.image
            if frame.index >= last:
                break
    finally:
        source.stop()


def crop_box(image: np.ndarray, box: Box, pad: float = 0.08) -> np.ndarray:
    """(h, w, 3) the box (x1, y1, x2, y2) of `image`, widened by `pad` of its size, clipped to the frame."""
    x1, y1, x2, y2 = box
    w, h = x2 - x1, y2 - y1
    height, width = image.shape[:2]
    left, right = int(max(0, x1 - pad * w)), int(min(width, x2 + pad * w))
    top, bottom = int(max(0, y1 - pad * h)), int(min(height, y2 + pad * h))
    if right - left < 2 or bottom - top < 2:
        return np.zeros((8, 4, 3), np.uint8)
    return image[top:bottom, left:right]


def encode_jpeg(crop: np.ndarray, height: int, quality: int) -> str:
    """RGB crop -> base64 JPEG scaled to `height` pixels."""
    scale = height / crop.shape[0]
    width = max(1, int(round(crop.shape[1] * scale)))
    resized = cv2.resize(
        crop, (width, height), interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
    )
    ok, buffer = cv2.imencode(
        ".jpg", cv2.cvtColor(resized, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, quality]
    )
    if not ok:
        raise RuntimeError("JPEG encoding failed")
    return base64.b64encode(buffer.tobytes()).decode("ascii")
