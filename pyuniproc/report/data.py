"""What the HTML report shows, read from a run folder: visits, identities, hand-overs, topology.

A run folder (`pyuniproc run --out OUT`, or one replay folder of `pyuniproc ablation --out`) holds
`tracks.csv` (every tracked box with its global id) and usually `summary.json` (camera URIs). The
topology comes from the cameras file. From those:

    Visit       one identity's continuous presence in one camera (rows of its global id in that
                camera with gaps shorter than `gap_seconds`)
    Identity    a global id: its visits in time order
    Handover    an identity's visit continuing its previous one in another camera: travel seconds
                from leaving the first to entering the second (entering while still visible in an
                overlapping view counts as co-visibility instead)
    EdgeStats   per ordered camera pair: how many hand-overs and their median travel time
    covisible   per overlapping camera pair: how often an identity entered one while seen in the other
"""

from __future__ import annotations

import csv
import json
import statistics
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

from pyuniproc.config.cameras import Site, load_cameras


class Row(NamedTuple):
    """One tracked box of a visit, as tracks.csv has it."""

    frame: int  # 1-based
    pts: float  # site seconds
    track_id: int
    x1: float
    y1: float
    x2: float
    y2: float

    @property
    def box(self) -> tuple[float, float, float, float]:
        return (self.x1, self.y1, self.x2, self.y2)

    @property
    def foot(self) -> tuple[float, float]:
        """Bottom centre of the box: where the person stands in the image."""
        return ((self.x1 + self.x2) / 2, self.y2)


@dataclass
class Visit:
    global_id: int
    camera_id: str
    start: float  # site seconds of the first row
    end: float  # site seconds of the last row
    first_frame: int  # 1-based, as in tracks.csv
    last_frame: int
    track_ids: set[int] = field(default_factory=set)
    rows: list[Row] = field(default_factory=list)  # time order

    @property
    def seconds(self) -> float:
        return self.end - self.start


@dataclass
class Identity:
    global_id: int
    visits: list[Visit]

    @property
    def first_seen(self) -> float:
        return self.visits[0].start

    @property
    def last_seen(self) -> float:
        return max(v.end for v in self.visits)

    @property
    def cameras(self) -> list[str]:
        return list(dict.fromkeys(v.camera_id for v in self.visits))


@dataclass(frozen=True)
class Handover:
    global_id: int
    from_camera: str
    to_camera: str
    travel_seconds: float


@dataclass
class EdgeStats:
    from_camera: str
    to_camera: str
    travel_seconds: list[float] = field(default_factory=list)

    @property
    def count(self) -> int:
        return len(self.travel_seconds)

    @property
    def median(self) -> float | None:
        return statistics.median(self.travel_seconds) if self.travel_seconds else None


@dataclass
class RunData:
    run_dir: Path
    site: Site | None
    camera_ids: list[str]
    identities: list[Identity]
    handovers: list[Handover]
    edges: dict[tuple[str, str], EdgeStats]
    covisible: dict[tuple[str, str], int]  # sorted camera pair -> identities seen in both at once
    rows: int
    unassigned_rows: int
    summary: dict[str, Any]
    time_range: tuple[float, float]

    def edge(self, a: str, b: str) -> EdgeStats:
        return self.edges.get((a, b)) or EdgeStats(a, b)


def load_run(run_dir: str | Path, cameras: str | Path | None = None, *, gap_seconds: float = 2.0) -> RunData:
    """Read `run_dir/tracks.csv` (+ summary.json) and the cameras file into a `RunData`."""
    run_dir = Path(run_dir)
    table = run_dir / "tracks.csv"
    if not table.is_file():
        raise FileNotFoundError(f"{table}: no tracks.csv; is {run_dir} a `pyuniproc run --out` folder?")
    summary_path = run_dir / "summary.json"
    summary = json.loads(summary_path.read_text()) if summary_path.is_file() else {}
    if cameras is None and summary.get("cameras_file") and Path(summary["cameras_file"]).is_file():
        cameras = summary["cameras_file"]  # recorded by runs that know their cameras file
    site = load_cameras(cameras) if cameras is not None else None
    by_key: dict[tuple[int, str], list[tuple[float, int, int, tuple[float, float, float, float]]]] = (
        defaultdict(list)
    )
    seen_cameras: list[str] = []
    rows = unassigned = 0
    t_min, t_max = float("inf"), float("-inf")
    with open(table, newline="") as f:
        for row in csv.DictReader(f):
            rows += 1
            camera = row["camera_id"]
            if camera not in seen_cameras:
                seen_cameras.append(camera)
            pts = float(row["pts_seconds"])
            t_min, t_max = min(t_min, pts), max(t_max, pts)
            gid = row.get("global_id") or ""
            if gid == "" or int(float(gid)) < 0:
                unassigned += 1
                continue
            box = tuple(float(row[k]) for k in ("x1", "y1", "x2", "y2"))
            by_key[(int(float(gid)), camera)].append(
                (pts, int(row["frame"]), int(float(row["track_id"])), box)
            )
    if site is not None:
        camera_ids = [c.id for c in site.cameras] + [
            c for c in seen_cameras if c not in {s.id for s in site.cameras}
        ]
    else:
        camera_ids = list(summary.get("cameras") or {}) or sorted(seen_cameras)
        camera_ids += [c for c in sorted(seen_cameras) if c not in camera_ids]
    visits: dict[int, list[Visit]] = defaultdict(list)
    for (gid, camera), items in by_key.items():
        items.sort(key=lambda item: (item[0], item[1]))
        current: Visit | None = None
        for pts, frame, track, box in items:
            if current is None or pts - current.end > gap_seconds:
                current = Visit(gid, camera, pts, pts, frame, frame)
                visits[gid].append(current)
            current.end, current.last_frame = pts, frame
            current.track_ids.add(track)
            current.rows.append(Row(frame, pts, track, *box))
    identities = []
    for gid, items in visits.items():
        items.sort(key=lambda v: (v.start, v.camera_id))
        identities.append(Identity(gid, items))
    identities.sort(key=lambda i: (i.first_seen, i.global_id))
    handovers, edges, covisible = _handovers(identities)
    if not rows:
        t_min = t_max = 0.0
    return RunData(
        run_dir,
        site,
        camera_ids,
        identities,
        handovers,
        edges,
        covisible,
        rows,
        unassigned,
        summary,
        (t_min, t_max),
    )


def _handovers(
    identities: list[Identity],
) -> tuple[list[Handover], dict[tuple[str, str], EdgeStats], dict[tuple[str, str], int]]:
    """Per identity, each visit after its first continues the visit that ended last before it began (a
    hand-over, travel = gap) unless the identity was still visible in another camera when it began
    (overlapping views: counted as co-visibility of that camera pair, not as a hand-over). A visit that
    continues one in the same camera is a re-entry and is not drawn."""
    handovers: list[Handover] = []
    edges: dict[tuple[str, str], EdgeStats] = {}
    covisible: dict[tuple[str, str], int] = {}
    for identity in identities:
        for i, visit in enumerate(identity.visits):
            earlier = [u for u in identity.visits[:i] if u.start <= visit.start]
            if not earlier:
                continue
            along = [u for u in earlier if u.end >= visit.start and u.camera_id != visit.camera_id]
            if along:
                for u in along:
                    pair = tuple(sorted((u.camera_id, visit.camera_id)))
                    covisible[pair] = covisible.get(pair, 0) + 1
                continue
            before = max(earlier, key=lambda u: u.end)
            if before.camera_id == visit.camera_id:
                continue
            travel = visit.start - before.end
            handovers.append(Handover(identity.global_id, before.camera_id, visit.camera_id, travel))
            key = (before.camera_id, visit.camera_id)
            edges.setdefault(key, EdgeStats(*key)).travel_seconds.append(travel)
    return handovers, edges, covisible


def camera_sources(data: RunData) -> dict[str, tuple[str, float]]:
    """Per camera, a local video to cut thumbnails from and the seconds skipped at its start: the
    camera's source file when it is a local file (cameras file or summary.json), else the run's
    annotated video/<camera>.mp4 (which shows the drawn boxes)."""
    out: dict[str, tuple[str, float]] = {}
    specs = {c.id: c for c in data.site.cameras} if data.site is not None else {}
    summary_cameras = data.summary.get("cameras") or {}
    for camera in data.camera_ids:
        spec = specs.get(camera)
        uri = spec.uri if spec is not None else (summary_cameras.get(camera) or {}).get("uri")
        if uri and "://" not in uri and Path(uri).is_file():
            out[camera] = (uri, spec.start_seconds if spec is not None else 0.0)
            continue
        annotated = data.run_dir / "video" / f"{camera}.mp4"
        if annotated.is_file():
            out[camera] = (str(annotated), 0.0)
    return out
