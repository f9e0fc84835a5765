"""The cameras file: a site's cameras, their counting lines and zones, how they connect, and (optionally)
where each camera's ground lies on one site plane.

Format: docs/cameras-file.md. Relative file URIs are resolved against the cameras file's folder.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pyuniproc.calibration import DegenerateCalibration, GroundCalibration
from pyuniproc.config.yaml_source import ConfigError, YamlDocument, load_yaml

CAMERA_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
LIVE_SCHEMES = ("rtsp://", "rtsps://", "tcp://", "udp://", "http://", "https://", "/dev/", "webcam:")


@dataclass(frozen=True)
class LineSpec:
    name: str
    points: tuple[tuple[float, float], tuple[float, float]]


@dataclass(frozen=True)
class ZoneSpec:
    name: str
    polygon: tuple[tuple[float, float], ...]


@dataclass(frozen=True)
class CameraSpec:
    id: str
    uri: str
    realtime: bool = False
    loop: bool = False
    start_seconds: float = 0.0
    rtsp_transport: str = "tcp"
    lines: tuple[LineSpec, ...] = ()
    zones: tuple[ZoneSpec, ...] = ()
    # annotated video of this camera: True / False override `parameters.pyuniproc.annotated_video`;
    # None follows it (pyuniproc/runtime/outputs.py `recording_plan`)
    record: bool | None = None
    # frame rate of a video file whose container declares none or a wrong one (a raw .h264/.h265
    # stream has none: FFmpeg assumes 25); None: the file's own. Spaces the frames (pts, realtime pacing).
    fps: float | None = None


@dataclass(frozen=True)
class Link:
    """A person leaving `source` may appear in `target` between min and max seconds later.

    exit_zone: polygon (pixels of `source`) where people leave `source` on this way; entry_zone: polygon
    (pixels of `target`) where they appear in `target`. None: anywhere (or learned from the run)."""

    source: str
    target: str
    min_seconds: float
    max_seconds: float
    exit_zone: tuple[tuple[float, float], ...] | None = None
    entry_zone: tuple[tuple[float, float], ...] | None = None


@dataclass(frozen=True)
class Topology:
    links: tuple[Link, ...] = ()
    overlaps: tuple[frozenset[str], ...] = ()


@dataclass(frozen=True)
class Site:
    name: str
    cameras: tuple[CameraSpec, ...]
    topology: Topology = field(default_factory=Topology)
    path: Path | None = None
    ground: dict[str, GroundCalibration] = field(default_factory=dict)
    """Per camera id, its ground-plane calibration (cameras without one are absent)."""

    def camera(self, camera_id: str) -> CameraSpec:
        for camera in self.cameras:
            if camera.id == camera_id:
                return camera
        raise KeyError(camera_id)


def load_cameras(path: Path | str) -> Site:
    """Read and check a cameras file; raises `ConfigError` naming file, line and field."""
    doc = load_yaml(path)
    cameras_raw = doc.data.get("cameras")
    if not isinstance(cameras_raw, list) or not cameras_raw:
        raise doc.error("cameras", "needs a non-empty list of cameras")
    cameras = tuple(_camera(doc, f"cameras[{i}]", raw) for i, raw in enumerate(cameras_raw))
    seen: dict[str, int] = {}
    for i, camera in enumerate(cameras):
        if camera.id in seen:
            first = seen[camera.id]
            raise doc.error(f"cameras[{i}].id", f"duplicate camera id '{camera.id}': cameras[{i}] (line "
                            f"{doc.line_of(f'cameras[{i}].id')}) and cameras[{first}] (line "
                            f"{doc.line_of(f'cameras[{first}].id')})")
        seen[camera.id] = i
    topology = _topology(doc, doc.data.get("topology") or {}, set(seen))
    ground = _ground(doc, doc.data.get("ground") or {}, list(seen))
    return Site(name=str(doc.data.get("site", doc.path.parent.name)), cameras=cameras, topology=topology,
                path=doc.path, ground=ground)


def site_from_sources(sources: list[str]) -> Site:
    """Cameras given on the command line as `ID=URI` (no topology)."""
    cameras = []
    for item in sources:
        camera_id, sep, uri = item.partition("=")
        if not sep or not CAMERA_ID.match(camera_id) or not uri:
            raise ConfigError("--source",
                              f"expected ID=URI with ID made of letters, digits, _ or -; got {item!r}")
        cameras.append(CameraSpec(id=camera_id, uri=uri))
    ids = [c.id for c in cameras]
    duplicates = sorted({i for i in ids if ids.count(i) > 1})
    if duplicates:
        raise ConfigError("--source", f"duplicate camera ids: {', '.join(duplicates)}")
    return Site(name="cli", cameras=tuple(cameras))


def _camera(doc: YamlDocument, where: str, raw: Any) -> CameraSpec:
    if not isinstance(raw, dict):
        raise doc.error(where, "each camera must be a mapping with at least 'id' and 'uri'")
    known = {"id", "uri", "realtime", "loop", "start_seconds", "rtsp_transport", "lines", "zones", "record",
             "fps"}
    for key in raw:
        if key not in known:
            raise doc.error(f"{where}.{key}", f"unknown camera field; known: {sorted(known)}")
    camera_id = raw.get("id")
    if not isinstance(camera_id, str) or not CAMERA_ID.match(camera_id):
        raise doc.error(f"{where}.id", f"camera id must be 1-64 letters, digits, _ or -; got {camera_id!r}")
    uri = raw.get("uri")
    if not isinstance(uri, str) or not uri:
        raise doc.error(f"{where}.uri", "required field is missing")
    if not uri.startswith(LIVE_SCHEMES) and "://" not in uri and not Path(uri).is_absolute():
        uri = str((doc.path.parent / uri).resolve())
    transport = raw.get("rtsp_transport", "tcp")
    if transport not in ("tcp", "udp"):
        raise doc.error(f"{where}.rtsp_transport", f"must be tcp or udp, got {transport!r}")
    start = raw.get("start_seconds", 0.0)
    if isinstance(start, bool) or not isinstance(start, (int, float)) or start < 0:
        raise doc.error(f"{where}.start_seconds", f"must be a number >= 0, got {start!r}")
    fps = raw.get("fps")
    if fps is not None and not (_is_number(fps) and 0 < fps <= 1000):
        raise doc.error(f"{where}.fps", f"must be a frame rate > 0 and <= 1000 (or left out: the file's "
                        f"own), got {fps!r:.60}")
    record = raw.get("record")
    if record is not None and not isinstance(record, bool):
        raise doc.error(f"{where}.record", f"must be true or false (or left out: the module's "
                        f"annotated_video decides), got {record!r:.60}")
    lines = tuple(_line(doc, f"{where}.lines[{i}]", item)
                  for i, item in enumerate(_list(doc, f"{where}.lines", raw)))
    zones = tuple(_zone(doc, f"{where}.zones[{i}]", item)
                  for i, item in enumerate(_list(doc, f"{where}.zones", raw)))
    for kind, items in (("line", lines), ("zone", zones)):
        names = [item.name for item in items]
        if len(set(names)) != len(names):
            raise doc.error(f"{where}.{kind}s", f"{kind} names must be unique, got {names}")
    return CameraSpec(id=camera_id, uri=uri, realtime=bool(raw.get("realtime", False)),
                      loop=bool(raw.get("loop", False)), start_seconds=float(start),
                      rtsp_transport=transport, lines=lines, zones=zones, record=record,
                      fps=None if fps is None else float(fps))


def _list(doc: YamlDocument, where: str, parent: dict[str, Any]) -> list[Any]:
    """The list under the last key of `where` in `parent` ([] when absent or empty)."""
    value = parent.get(where.rsplit(".", 1)[-1])
    if value is None:
        return []
    if not isinstance(value, list):
        raise doc.error(where, f"must be a list, got {type(value).__name__}: {value!r:.60}")
    return value


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _points(doc: YamlDocument, where: str, raw: Any, minimum: int) -> tuple[tuple[float, float], ...]:
    if not isinstance(raw, list) or not all(isinstance(p, list) and len(p) == 2 and all(map(_is_number, p))
                                            for p in raw):
        raise doc.error(where, f"expected a list of [x, y] points (finite numbers), got {raw!r:.80}")
    points = tuple((float(p[0]), float(p[1])) for p in raw)
    if len(points) < minimum:
        raise doc.error(where, f"needs at least {minimum} points, got {len(points)}")
    return points


def _line(doc: YamlDocument, where: str, raw: Any) -> LineSpec:
    if not isinstance(raw, dict) or "name" not in raw:
        raise doc.error(where, "a line needs 'name' and 'points'")
    points = _points(doc, f"{where}.points", raw.get("points"), 2)
    if len(points) != 2:
        raise doc.error(f"{where}.points", f"a line has exactly 2 points, got {len(points)}")
    return LineSpec(name=str(raw["name"]), points=(points[0], points[1]))


def _zone(doc: YamlDocument, where: str, raw: Any) -> ZoneSpec:
    if not isinstance(raw, dict) or "name" not in raw:
        raise doc.error(where, "a zone needs 'name' and 'polygon'")
    return ZoneSpec(name=str(raw["name"]), polygon=_points(doc, f"{where}.polygon", raw.get("polygon"), 3))


def _topology(doc: YamlDocument, raw: Any, camera_ids: set[str]) -> Topology:
    if not isinstance(raw, dict):
        raise doc.error("topology", "must be a mapping with 'links' and/or 'overlaps'")
    links: list[Link] = []
    for i, item in enumerate(_list(doc, "topology.links", raw)):
        where = f"topology.links[{i}]"
        if not isinstance(item, dict):
            raise doc.error(where, "a link is a mapping {from, to, min_seconds, max_seconds}")
        ends = []
        for key in ("from", "to"):
            if not isinstance(item.get(key), str) or item[key] not in camera_ids:
                raise doc.error(f"{where}.{key}",
                                f"unknown camera {item.get(key)!r:.60}; cameras: {sorted(camera_ids)}")
            ends.append(item[key])
        lo, hi = item.get("min_seconds", 0.0), item.get("max_seconds")
        unbounded = hi == math.inf and not isinstance(hi, bool)  # max_seconds: .inf, no upper bound
        if not _is_number(lo) or not (_is_number(hi) or unbounded) or not 0 <= lo <= hi:
            raise doc.error(where, f"needs 0 <= min_seconds <= max_seconds, got {lo!r}..{hi!r}")
        unknown = sorted(set(item) - {"from", "to", "min_seconds", "max_seconds", "bidirectional", "exit",
                                      "entry"})
        if unknown:
            raise doc.error(f"{where}.{unknown[0]}", "unknown link field; known: from, to, min_seconds, "
                            "max_seconds, bidirectional, exit, entry")
        exit_zone, entry_zone = (_points(doc, f"{where}.{key}", item[key], 3) if item.get(key) is not None
                                 else None for key in ("exit", "entry"))
        links.append(Link(ends[0], ends[1], float(lo), float(hi), exit_zone, entry_zone))
        if item.get("bidirectional", True):  # the way back leaves where this way enters
            links.append(Link(ends[1], ends[0], float(lo), float(hi), entry_zone, exit_zone))
    overlaps: list[frozenset[str]] = []
    for i, pair in enumerate(_list(doc, "topology.overlaps", raw)):
        if not isinstance(pair, list) or len(pair) < 2 or any(not isinstance(c, str) or c not in camera_ids
                                                              for c in pair):
            raise doc.error(f"topology.overlaps[{i}]", f"expected a list of known camera ids, got {pair!r}")
        overlaps.append(frozenset(pair))
    return Topology(links=tuple(links), overlaps=tuple(overlaps))


def _ground(doc: YamlDocument, raw: Any, camera_ids: list[str]) -> dict[str, GroundCalibration]:
    """`ground:` camera id -> {points: [{image: [x, y], plane: [X, Y]}, ...]} and/or {homography: 3 x 3}."""
    if not isinstance(raw, dict):
        raise doc.error("ground", "must be a mapping of camera id -> {points: [...]} or {homography: [...]}")
    ground = {}
    for camera_id, item in raw.items():
        where = f"ground.{camera_id}"
        if camera_id not in camera_ids:
            raise doc.error(where, f"camera {camera_id!r} is not in the site's cameras {camera_ids}")
        if not isinstance(item, dict) or not {"points", "homography"} & set(item):
            raise doc.error(where, f"camera {camera_id}: give 'points' (>= 4 pairs {{image: [x, y], plane: "
                            "[X, Y]}) or 'homography' (3 rows of 3 numbers, image pixels -> plane metres)")
        unknown = sorted(set(item) - {"points", "homography"})
        if unknown:
            raise doc.error(f"{where}.{unknown[0]}", f"camera {camera_id}: unknown ground field; known: "
                            "points, homography")
        image, plane = _pairs(doc, f"{where}.points", camera_id, item.get("points"))
        field_name = f"{where}.homography" if "homography" in item else f"{where}.points"
        try:
            if "homography" in item:
                if not isinstance(item["homography"], list):
                    raise DegenerateCalibration(
                        f"a homography is 3 rows of 3 numbers, got {item['homography']!r:.60}")
                ground[camera_id] = GroundCalibration.from_matrix(camera_id, item["homography"], image, plane)
            else:
                ground[camera_id] = GroundCalibration.from_points(camera_id, image, plane)
        except (DegenerateCalibration, TypeError, ValueError) as exc:
            raise doc.error(field_name, f"camera {camera_id}: {exc}") from None
    return ground


def _pairs(doc: YamlDocument, where: str, camera_id: str, raw: Any) -> tuple[list, list]:
    """The image and plane points of a `points` list ([] and [] when absent)."""
    if raw is None:
        return [], []
    if not isinstance(raw, list):
        raise doc.error(where, f"camera {camera_id}: must be a list of {{image: [x, y], plane: [X, Y]}}")
    image, plane = [], []
    for i, pair in enumerate(raw):
        ok = isinstance(pair, dict) and set(pair) == {"image", "plane"} and all(
            isinstance(pair[k], list) and len(pair[k]) == 2 and all(map(_is_number, pair[k]))
            for k in ("image", "plane"))
        if not ok:
            raise doc.error(f"{where}[{i}]", f"camera {camera_id}: expected {{image: [x, y], plane: [X, Y]}} "
                            f"(finite numbers: pixels, metres), got {pair!r:.80}")
        image.append([float(v) for v in pair["image"]])
        plane.append([float(v) for v in pair["plane"]])
    return image, plane
