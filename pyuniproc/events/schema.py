"""The event schema `pyuniproc.event/1`: one envelope for everything a run reports about the scene.

Every event, whatever produced it (analytics, fusion, camera health, live config edits) and
wherever it goes (events.jsonl, Kafka), has the same envelope, so one consumer reads them all:

    {"schema": "pyuniproc.event/1", "id": "<uuid4>", "kind": "line_crossed",
     "time": "2024-05-01T12:00:00.123Z", "site": "shop", "camera_id": "cam1",
     "pts_seconds": 12.4, "frame": 125, "track_id": 7, "global_id": 3,
     "details": {"line": "door", "direction": "in", ...}}

`KINDS` (pyuniproc/events/kinds.py) is the single source of truth: `EventRecord` checks against
it when an event is built (a bad event raises `EventSchemaError` naming the field, at the line
that made it, not in a consumer days later) and `json_schema()` turns the same table into
docs/event.schema.json, so the Python check and the published JSON Schema cannot drift apart
(a test compares them).

Versioning: the number after the slash changes only for incompatible changes (a field removed,
renamed or retyped). New kinds and new optional detail fields keep `/1`; consumers ignore kinds
and detail keys they do not know. `id` is unique per event: Kafka delivery is at-least-once, so
consumers deduplicate on it. Human-readable reference: docs/events.md.
"""

from __future__ import annotations

import json
import math
import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from pyuniproc.events.kinds import COUNT, EVENT_KINDS, KINDS, TEXT, Scope

__all__ = [
    "EVENT_KINDS",
    "KINDS",
    "SCHEMA",
    "EventRecord",
    "EventSchemaError",
    "json_schema",
    "make_event",
    "validate",
]

SCHEMA = "pyuniproc.event/1"
SCHEMA_URI = "urn:pyuniproc:event:1"  # the JSON Schema's $id: a name, not a place to fetch
CAMERA_ID_PATTERN = r"^[A-Za-z0-9_-]+$"
TIME_PATTERN = r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?Z$"
UUID_PATTERN = r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"


class EventSchemaError(ValueError):
    """An event that does not fit `pyuniproc.event/1`; `field` is the dotted path of the culprit."""

    def __init__(self, field: str, message: str) -> None:
        self.field = field
        self.message = message
        super().__init__(f"event field '{field}': {message}")


@dataclass(frozen=True, slots=True)
class EventRecord:
    """One event in the `pyuniproc.event/1` envelope; checked when built, immutable after.

    Build with `make_event(...)` (fills id and time) or `EventRecord.from_json(mapping)` (a
    received event). `details` values must be JSON values (numpy scalars are converted by
    `make_event`); non-finite floats are refused because JSON has no NaN.
    """

    kind: str
    id: str
    time: str
    site: str
    camera_id: str | None
    pts_seconds: float | None
    frame: int | None
    details: Mapping[str, Any]
    track_id: int | None = None
    global_id: int | None = None
    schema: str = SCHEMA

    def __post_init__(self) -> None:
        validate(self.to_json())

    def to_json(self) -> dict[str, Any]:
        """The envelope as a plain dict, keys in schema order; absent optional ids are left out."""
        out: dict[str, Any] = {
            "schema": self.schema,
            "id": self.id,
            "kind": self.kind,
            "time": self.time,
            "site": self.site,
            "camera_id": self.camera_id,
            "pts_seconds": self.pts_seconds,
            "frame": self.frame,
        }
        if self.track_id is not None:
            out["track_id"] = self.track_id
        if self.global_id is not None:
            out["global_id"] = self.global_id
        out["details"] = dict(self.details)
        return out

    def to_bytes(self) -> bytes:
        """Compact UTF-8 JSON, what a sink writes or sends."""
        return json.dumps(self.to_json(), separators=(",", ":"), allow_nan=False).encode()

    @classmethod
    def from_json(cls, data: Mapping[str, Any] | str | bytes) -> EventRecord:
        """Read an envelope (a dict, or its JSON text) back, checking it like a new one."""
        if isinstance(data, (str, bytes)):
            data = json.loads(data)
        validate(data)
        return cls(
            kind=data["kind"],
            id=data["id"],
            time=data["time"],
            site=data["site"],
            camera_id=data["camera_id"],
            pts_seconds=data["pts_seconds"],
            frame=data["frame"],
            details=dict(data["details"]),
            track_id=data.get("track_id"),
            global_id=data.get("global_id"),
            schema=data["schema"],
        )


def make_event(
    kind: str,
    *,
    site: str = "",
    camera_id: str | None = None,
    pts_seconds: float | None = None,
    frame: int | None = None,
    track_id: int | None = None,
    global_id: int | None = None,
    details: Mapping[str, Any] | None = None,
    time: datetime | float | None = None,
    event_id: str | None = None,
) -> EventRecord:
    """A new, checked event. `frame` is 1-based (`Frame.index + 1`); `time` is the wall clock of
    the fact (a datetime or epoch seconds; default now); numpy numbers become Python numbers."""
    return EventRecord(
        kind=kind,
        id=event_id or str(uuid.uuid4()),
        time=format_time(time),
        site=site,
        camera_id=camera_id,
        pts_seconds=None if pts_seconds is None else _plain(pts_seconds),
        frame=None if frame is None else _plain(frame),
        details={} if details is None else {str(k): _plain(v) for k, v in details.items()},
        track_id=None if track_id is None else _plain(track_id),
        global_id=None if global_id is None else _plain(global_id),
    )


def format_time(when: datetime | float | None = None) -> str:
    """UTC ISO 8601 with milliseconds and a Z, e.g. "2024-05-01T12:00:00.123Z"."""
    if when is None:
        when = datetime.now(timezone.utc)
    elif not isinstance(when, datetime):
        when = datetime.fromtimestamp(float(when), timezone.utc)
    elif when.tzinfo is None:
        raise EventSchemaError("time", f"needs a timezone, got naive {when.isoformat()}")
    return when.astimezone(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def validate(event: Mapping[str, Any]) -> None:
    """Raise `EventSchemaError` unless `event` is a valid `pyuniproc.event/1` envelope."""
    if not isinstance(event, Mapping):
        raise EventSchemaError("", f"an event is a JSON object, got {type(event).__name__}")
    known = {
        "schema",
        "id",
        "kind",
        "time",
        "site",
        "camera_id",
        "pts_seconds",
        "frame",
        "track_id",
        "global_id",
        "details",
    }
    for key in event:
        if key not in known:
            raise EventSchemaError(str(key), f"unknown envelope field; known: {sorted(known)}")
    for key in ("schema", "id", "kind", "time", "site", "camera_id", "pts_seconds", "frame", "details"):
        if key not in event:
            raise EventSchemaError(key, "required envelope field is missing")
    if event["schema"] != SCHEMA:
        raise EventSchemaError("schema", f"expected {SCHEMA!r}, got {event['schema']!r}")
    kind = event["kind"]
    spec = KINDS.get(kind) if isinstance(kind, str) else None
    if spec is None:
        raise EventSchemaError("kind", f"{kind!r} is not one of {list(KINDS)}")
    for key, pattern in (("id", UUID_PATTERN), ("time", TIME_PATTERN)):
        if not isinstance(event[key], str) or not re.match(pattern, event[key]):
            raise EventSchemaError(key, f"{event[key]!r} does not match {pattern}")
    check_value("site", event["site"], TEXT)
    for key, fragment in _scope_fragments(spec.scope).items():
        check_value(key, event[key], fragment)
    if isinstance(event["camera_id"], str) and not re.match(CAMERA_ID_PATTERN, event["camera_id"]):
        raise EventSchemaError("camera_id", f"{event['camera_id']!r} is not letters, digits, '_' or '-'")
    for key, presence in (("track_id", spec.track_id), ("global_id", spec.global_id)):
        if presence == "required" and key not in event:
            raise EventSchemaError(key, f"required for kind {kind!r}")
        if presence == "absent" and key in event:
            raise EventSchemaError(key, f"not part of kind {kind!r}")
        if key in event:
            check_value(key, event[key], COUNT)
    details = event["details"]
    check_value("details", details, {"type": "object"})
    for name in spec.required:
        if name not in details:
            raise EventSchemaError(f"details.{name}", f"required for kind {kind!r}")
    for name, value in details.items():
        fragment = spec.required.get(name) or spec.optional.get(name)
        check_value(f"details.{name}", value, fragment or {})


def _scope_fragments(scope: Scope) -> dict[str, dict[str, Any]]:
    """camera_id / pts_seconds / frame as each scope allows them (see `KindSpec`)."""
    frame_types = {"frame": ["integer"], "site": ["null"]}.get(scope, ["integer", "null"])
    return {
        "camera_id": {"type": "null" if scope == "site" else "string"},
        "pts_seconds": {"type": "number" if scope in ("frame", "track") else ["number", "null"]},
        "frame": {"type": frame_types[0] if len(frame_types) == 1 else frame_types, "minimum": 1},
    }


_JSON_TYPES: dict[str, tuple[type, ...]] = {
    "string": (str,),
    "number": (int, float),
    "integer": (int,),
    "boolean": (bool,),
    "null": (type(None),),
    "array": (list, tuple),
    "object": (Mapping,),
}


def check_value(where: str, value: Any, fragment: Mapping[str, Any]) -> None:
    """Check one value against a fragment (type / enum / minimum / items), and that it is JSON."""
    if isinstance(value, float) and not math.isfinite(value):
        raise EventSchemaError(where, f"{value!r} is not a JSON number (NaN and infinities are not)")
    types = fragment.get("type")
    if types is not None:
        names = [types] if isinstance(types, str) else list(types)
        is_bool = isinstance(value, bool)
        if not any(isinstance(value, _JSON_TYPES[n]) and (n == "boolean" or not is_bool) for n in names):
            raise EventSchemaError(where, f"expected {' or '.join(names)}, got {value!r}")
    if "enum" in fragment and value not in fragment["enum"]:
        raise EventSchemaError(where, f"{value!r} is not one of {fragment['enum']}")
    if "minimum" in fragment and isinstance(value, (int, float)) and not isinstance(value, bool):
        if value < fragment["minimum"]:
            raise EventSchemaError(where, f"{value!r} is below the minimum {fragment['minimum']}")
    if isinstance(value, (list, tuple)):
        for i, item in enumerate(value):
            check_value(f"{where}[{i}]", item, fragment.get("items", {}))
    elif isinstance(value, Mapping):
        for key, item in value.items():
            if not isinstance(key, str):
                raise EventSchemaError(where, f"object keys must be strings, got {key!r}")
            check_value(f"{where}.{key}", item, {})
    elif not isinstance(value, (str, int, float, type(None))):
        raise EventSchemaError(where, f"{type(value).__name__} is not a JSON value")


def _plain(value: Any) -> Any:
    """numpy scalars/arrays and tuples as plain JSON values (checked later by `validate`)."""
    if hasattr(value, "tolist") and not isinstance(value, (str, bytes)):
        value = value.tolist()
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def json_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of `pyuniproc.event/1`, generated from `KINDS`.

    docs/event.schema.json is this, written by `python -m pyuniproc.events schema`.
    """
    branches = []
    for kind, spec in KINDS.items():
        props: dict[str, Any] = _scope_fragments(spec.scope)
        required = [key for key in ("track_id", "global_id") if getattr(spec, key) == "required"]
        for key in ("track_id", "global_id"):
            if getattr(spec, key) == "absent":
                props[key] = False
        props["details"] = {
            "type": "object",
            "required": list(spec.required),
            "properties": {
                **{k: dict(v) for k, v in spec.required.items()},
                **{k: dict(v) for k, v in spec.optional.items()},
            },
        }
        branches.append(
            {
                "if": {"properties": {"kind": {"const": kind}}},
                "then": {"$comment": spec.description, "properties": props, "required": required},
            }
        )
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": SCHEMA_URI,
        "title": SCHEMA,
        "description": "One pyuniproc event (docs/events.md). Generated from pyuniproc/events/schema.py.",
        "type": "object",
        "additionalProperties": False,
        "required": ["schema", "id", "kind", "time", "site", "camera_id", "pts_seconds", "frame", "details"],
        "properties": {
            "schema": {"const": SCHEMA},
            "id": {"type": "string", "pattern": UUID_PATTERN, "description": "uuid4, unique per event"},
            "kind": {"enum": list(KINDS)},
            "time": {"type": "string", "pattern": TIME_PATTERN, "description": "wall clock, UTC"},
            "site": {"type": "string"},
            "camera_id": {"type": ["string", "null"], "pattern": CAMERA_ID_PATTERN},
            "pts_seconds": {"type": ["number", "null"], "description": "stream time of the frame"},
            "frame": {"type": ["integer", "null"], "minimum": 1, "description": "1-based frame number"},
            "track_id": {**COUNT, "description": "camera-local tracker id"},
            "global_id": {**COUNT, "description": "cross-camera identity from fusion"},
            "details": {"type": "object"},
        },
        "allOf": branches,
    }
