"""Counting lines and zones of one camera: typed, validated once, then trusted.

The cameras file (docs/cameras-file.md) lists them as plain mappings
(`{name: door, points: [[100, 300], [400, 300]]}`); `parse_lines` / `parse_zones` turn those
(or ready-made `LineConfig` / `ZoneConfig` values) into frozen dataclasses. Every error is a
`ValueError` that names the bad item, so a typo in the YAML points at its line and not at a
numpy traceback three stages later.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

Point = tuple[float, float]

DEFAULT_MIN_OFFSET_PX = 8.0
"""Hysteresis band, in pixels, used when a line or zone does not set `min_offset_px`."""


@dataclass(frozen=True, slots=True)
class LineConfig:
    """A counting line: the segment from `points[0]` (A) to `points[1]` (B), in frame pixels.

    Direction: a crossing is "in" when the feet end on the side where
    `cross(B - A, P - A) > 0`. In image coordinates (y grows downwards) that is the
    right-hand side of the arrow A -> B as drawn on the picture; e.g. for A=(100, 300),
    B=(400, 300) "in" means walking down the image (towards the camera, usually).
    Swap the two points to swap "in" and "out".

    min_offset_px: how far past the line the feet must be before the side counts as changed.
        Raising it suppresses double counts from box jitter and people standing on the line;
        lowering it catches people who step over and immediately turn back.
    """

    name: str
    points: tuple[Point, Point]
    min_offset_px: float = DEFAULT_MIN_OFFSET_PX

    def __post_init__(self) -> None:
        label = f"line {self.name!r}"
        _check_name(self.name, label)
        points = _points(self.points, label, "points")
        if len(points) != 2:
            raise ValueError(f"{label}: points must be exactly 2 points [[x, y], [x, y]], got {len(points)}")
        if points[0] == points[1]:
            raise ValueError(f"{label}: the two points are the same {list(points[0])}; a line needs length")
        object.__setattr__(self, "points", (points[0], points[1]))
        object.__setattr__(self, "min_offset_px", _offset(self.min_offset_px, label))


@dataclass(frozen=True, slots=True)
class ZoneConfig:
    """A dwell/occupancy zone: a closed polygon in frame pixels (>= 3 corners, any winding).

    A track is inside when its feet (bottom centre of the box) are inside the polygon.
    min_offset_px: how far across the edge the feet must be before inside/outside changes
        (same trade-off as for lines: more suppresses enter/exit flicker at the border, less
        reacts to short visits).
    """

    name: str
    polygon: tuple[Point, ...]
    min_offset_px: float = DEFAULT_MIN_OFFSET_PX

    def __post_init__(self) -> None:
        label = f"zone {self.name!r}"
        _check_name(self.name, label)
        polygon = _points(self.polygon, label, "polygon")
        if len(polygon) < 3:
            raise ValueError(f"{label}: polygon needs at least 3 points, got {len(polygon)}")
        if abs(_shoelace_area(polygon)) < 1e-6:
            raise ValueError(f"{label}: polygon has zero area (its points are collinear): {list(polygon)}")
        object.__setattr__(self, "polygon", polygon)
        object.__setattr__(self, "min_offset_px", _offset(self.min_offset_px, label))


LineLike = LineConfig | Mapping[str, Any] | tuple[Any, ...]
ZoneLike = ZoneConfig | Mapping[str, Any] | tuple[Any, ...]


def parse_lines(items: Iterable[LineLike] | None) -> tuple[LineConfig, ...]:
    """Lines from `LineConfig`s, mappings `{name, points[, min_offset_px]}`, tuples
    `(name, points[, min_offset_px])` or any object with `name` and `points` attributes
    (e.g. the cameras file's `LineSpec`); names must be unique."""
    return _parse(items, LineConfig, "lines", ("name", "points", "min_offset_px"))


def parse_zones(items: Iterable[ZoneLike] | None) -> tuple[ZoneConfig, ...]:
    """Zones from `ZoneConfig`s, mappings `{name, polygon[, min_offset_px]}`, tuples
    `(name, polygon[, min_offset_px])` or objects with `name` and `polygon` attributes;
    names must be unique."""
    return _parse(items, ZoneConfig, "zones", ("name", "polygon", "min_offset_px"))


def _parse(items: Any, cls: type, what: str, keys: tuple[str, ...]) -> tuple[Any, ...]:
    if items is None:
        return ()
    if isinstance(items, (str, bytes, Mapping)) or not isinstance(items, Iterable):
        raise ValueError(f"{what} must be a list, got {type(items).__name__}")
    parsed: list[Any] = []
    first_index: dict[str, int] = {}
    for i, item in enumerate(items):
        if not isinstance(item, cls):
            item = _build(item, cls, f"{what}[{i}]", keys)
        if item.name in first_index:
            raise ValueError(
                f"duplicate {what[:-1]} name {item.name!r} ({what}[{first_index[item.name]}] and {what}[{i}])"
            )
        first_index[item.name] = i
        parsed.append(item)
    return tuple(parsed)


def _build(item: Any, cls: type, where: str, keys: tuple[str, ...]) -> Any:
    if isinstance(item, Mapping):
        fields = dict(item)
    elif isinstance(item, (tuple, list)) and 2 <= len(item) <= len(keys) and isinstance(item[0], str):
        fields = dict(zip(keys, item, strict=False))
    elif all(hasattr(item, key) for key in keys[:2]):
        fields = {key: getattr(item, key) for key in keys if hasattr(item, key)}
    else:
        raise ValueError(
            f"{where} must be a {cls.__name__}, a mapping {{{', '.join(keys)}}} or a tuple "
            f"({', '.join(keys[:2])}), got {item!r}"
        )
    unknown = sorted(set(fields) - set(keys))
    if unknown:
        raise ValueError(f"{where}: unknown key(s) {unknown}; allowed: {list(keys)}")
    missing = [key for key in keys[:2] if key not in fields]
    if missing:
        raise ValueError(f"{where} ({fields.get('name', '?')!r}): missing key(s) {missing}")
    try:
        return cls(**fields)
    except TypeError as error:  # e.g. an unhashable name
        raise ValueError(f"{where}: {error}") from None


def _check_name(name: Any, label: str) -> None:
    if not isinstance(name, str) or not name.strip():
        raise ValueError(f"{label}: name must be a non-empty string")


def _points(values: Any, label: str, key: str) -> tuple[Point, ...]:
    points: list[Point] = []
    try:
        for x, y in values:
            points.append((float(x), float(y)))
    except (TypeError, ValueError):
        raise ValueError(f"{label}: {key} must be a list of [x, y] numbers, got {values!r}") from None
    for x, y in points:
        if not (math.isfinite(x) and math.isfinite(y)):
            raise ValueError(f"{label}: {key} has a non-finite point [{x}, {y}]")
    return tuple(points)


def _offset(value: Any, label: str) -> float:
    try:
        offset = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{label}: min_offset_px must be a number, got {value!r}") from None
    if not (math.isfinite(offset) and offset >= 0):
        raise ValueError(f"{label}: min_offset_px must be >= 0, got {value!r}")
    return offset


def _shoelace_area(polygon: tuple[Point, ...]) -> float:
    return 0.5 * sum(
        x0 * y1 - x1 * y0 for (x0, y0), (x1, y1) in zip(polygon, polygon[1:] + polygon[:1], strict=True)
    )
