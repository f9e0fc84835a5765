"""Per scene, the largest global ids as crops from every camera they were seen in: a wrong merge at a glance.

The fusion replay (`pyuniproc.ablation.replay`) gives every reported row a global id and its local
track; the scorer gives each local track the GT person it covers most (`Scorer.track_owners`). A global
id holding rows of tracks of more than one person is a wrong merge (counted by rows, as the output shows
them: a track shown for a moment under a tentative id that a correction later moved counts for both
ids; `Scorer.linking`'s "wrong merges" count tracks by the id each mostly showed instead, so it is
lower). For the `top` ids with most rows, one crop
per camera (the largest box mid-way through the id's rows there, as `pyuniproc report` picks; one per
GT person there when several people's tracks were merged into the id) is cut from the scene's video and
kept as a small base64 JPEG for the self-contained HTML page; the JSON keeps only where each crop was
taken from.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Hashable
from html import escape
from pathlib import Path
from typing import Any

from pyuniproc.ablation.capture import scenario_site
from pyuniproc.ablation.replay import Replay
from pyuniproc.ablation.stream import TrackStream
from pyuniproc.report.data import Row
from pyuniproc.report.svg import identity_color
from pyuniproc.report.thumbs import best_row, cut_crops

TOP_IDS = 8
THUMB_HEIGHT = 64
"""Crop height in pixels: ~2-3 KB a JPEG, so six scenes x 8 ids x 4 cameras stay well under 1 MB."""
THUMB_QUALITY = 70

Thumbs = dict[tuple[int, str, int], str]
"""(global id, camera, frame) -> base64 JPEG."""


def identity_gallery(
    stream: TrackStream, done: Replay, owners: dict[tuple[str, int], int], *, top: int = TOP_IDS
) -> dict[str, Any]:
    """JSON-ready: how many ids the replay wrote and how many are wrong merges, and for the `top` ids
    with most rows, per camera the row to show and the GT person of its track."""
    pts = {
        (stream.camera_ids[int(c)], int(i) + 1): float(p)
        for c, i, p in zip(stream.frame_camera, stream.frame_index, stream.frame_pts, strict=True)
    }
    rows: dict[int, dict[str, list[Row]]] = defaultdict(lambda: defaultdict(list))
    people: dict[int, Counter] = defaultdict(Counter)
    for camera, table in done.online.items():
        tracks = done.row_track[camera].tolist()
        for (frame, gid, x, y, w, h), track in zip(table.tolist(), tracks, strict=True):
            frame, gid = int(frame), int(gid)
            rows[gid][camera].append(Row(frame, pts.get((camera, frame), 0.0), track, x, y, x + w, y + h))
            person = owners.get((camera, track))
            if person is not None:
                people[gid][person] += 1
    merged = sorted(g for g in rows if len(people[g]) > 1)
    size = {gid: sum(len(r) for r in by_camera.values()) for gid, by_camera in rows.items()}
    largest = sorted(rows, key=lambda g: (-size[g], g))[:top]
    ids = []
    for gid in largest:
        cameras = []
        for camera in sorted(rows[gid]):
            for person, group in _by_person(rows[gid][camera], camera, owners).items():
                chosen = best_row(sorted(group, key=lambda r: r.pts))
                cameras.append({
                    "camera": camera,
                    "frame": chosen.frame,
                    "pts": round(chosen.pts, 2),
                    "track": chosen.track_id,
                    "box": [round(v, 1) for v in chosen.box],
                    "person": person,
                    "rows": len(group),
                })
        ids.append({
            "global_id": gid,
            "rows": size[gid],
            "people": [p for p, _ in people[gid].most_common()],
            "wrong_merge": gid in merged,
            "cameras": cameras,
        })
    return {"identities": len(rows), "wrong_merges": len(merged), "ids": ids}


def _by_person(
    rows: list[Row], camera: str, owners: dict[tuple[str, int], int]
) -> dict[int | None, list[Row]]:
    """One camera's rows of one id grouped by the GT person of their track (so each person merged into the
    id gets a crop there); rows of tracks covering nobody form a group only when no other group exists."""
    groups: dict[int | None, list[Row]] = defaultdict(list)
    for row in rows:
        groups[owners.get((camera, row.track_id))].append(row)
    if len(groups) > 1:
        groups.pop(None, None)
    return dict(groups)


def cut_thumbnails(scenario: Path, gallery: dict[str, Any], *, height: int = THUMB_HEIGHT,
                   quality: int = THUMB_QUALITY) -> Thumbs:
    """The gallery's crops from the scene's videos (each video decoded once, up to its last crop)."""
    site = scenario_site(scenario)
    specs = {camera.id: camera for camera in site.cameras}
    wanted: dict[str, dict[int, list[tuple[Hashable, tuple[float, float, float, float]]]]] = defaultdict(dict)
    for entry in gallery.get("ids", []):
        for shot in entry["cameras"]:
            box = tuple(shot["box"])
            wanted[shot["camera"]].setdefault(shot["frame"] - 1, []).append(
                ((entry["global_id"], shot["camera"], shot["frame"]), box)
            )
    out: Thumbs = {}
    for camera, frames in wanted.items():
        spec = specs[camera]
        crops = cut_crops(camera, spec.uri, spec.start_seconds, frames, height=height, quality=quality)
        out.update(crops)
    return out


CSS = (
    ".gallery{display:flex;flex-wrap:wrap;gap:8px;margin:6px 0 14px}"
    ".gid{border:1px solid #ddd;border-radius:6px;padding:4px 6px;font-size:11px}"
    ".gid.bad{border:2px solid #c0392b;background:#fdf2f1}"
    ".gid b{font-size:12px}.gid .shots{display:flex;gap:4px;margin-top:3px}"
    ".gid figure{margin:0;text-align:center}.gid img{height:64px;display:block}"
    ".gid figcaption{font-size:10px;color:#555;white-space:nowrap}"
    ".sw{display:inline-block;width:9px;height:9px;border-radius:50%;border:1px solid #333}"
    ".merge{color:#fff;background:#c0392b;border-radius:3px;padding:0 4px;font-weight:600}"
)


def render_gallery(seed: int | str, gallery: dict[str, Any] | None, thumbs: Thumbs) -> str:
    """One scene's gallery as HTML: a box per id (red when a wrong merge), a crop per camera."""
    if not gallery:
        return ""
    cards = []
    for entry in gallery["ids"]:
        gid = entry["global_id"]
        shots = []
        for shot in entry["cameras"]:
            jpeg = thumbs.get((gid, shot["camera"], shot["frame"]))
            image = ""
            if jpeg:
                image = f'<img alt="g{gid} {escape(shot["camera"])}" src="data:image/jpeg;base64,{jpeg}">'
            person = "none" if shot["person"] is None else shot["person"]
            shots.append(f"<figure>{image}<figcaption>{escape(shot['camera'])} · {shot['pts']:.1f} s · "
                         f"GT {person}</figcaption></figure>")
        people = entry["people"]
        if entry["wrong_merge"]:
            who = '<span class="merge">wrong merge: ' + " + ".join(f"GT {p}" for p in people) + "</span>"
        else:
            who = f"GT {people[0]}" if people else "GT none"
        cameras = len({shot["camera"] for shot in entry["cameras"]})
        cards.append(
            f'<div class="gid{" bad" if entry["wrong_merge"] else ""}"><span class="sw" style="background:'
            f'{identity_color(gid)}"></span> <b>g{gid}</b> {entry["rows"]} rows · {cameras} camera'
            f'{"s" if cameras != 1 else ""} · {who}<div class="shots">{"".join(shots)}</div></div>'
        )
    return (
        f"<h3>Seed {escape(str(seed))}: the {len(gallery['ids'])} largest of {gallery['identities']} global "
        f"ids ({gallery['wrong_merges']} of all ids hold rows of more than one GT person's tracks)</h3>"
        f'<div class="gallery">{"".join(cards)}</div>'
    )
