"""Turn what the runtime hands around today into `pyuniproc.event/1` envelopes.

The analytics pyfunc ships its events through a Savant frame tag as JSON (the `Event.to_json_dict`
layout: 0-based `frame_index`, `track_ended` details with 0-based `first/last_frame_index`), and
the runtime writes config events as small dicts (`{"kind": "config_reloaded", "sections": [...],
"version": 3, "at": <epoch>}`). Keeping those producers as they are (they also run inside Savant,
where this package is not the sink) and converting at the one place events leave the process
means every output sees a single, checked format.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pyuniproc.events.schema import KINDS, SCHEMA, EventRecord, EventSchemaError, make_event

_FRAME_KEYS = ("first_frame_index", "last_frame_index")
_ENVELOPE_KEYS = {
    "kind",
    "camera_id",
    "pts_seconds",
    "frame",
    "frame_index",
    "track_id",
    "global_id",
    "details",
    "at",
    "time",
    "id",
    "site",
    "schema",
}


def to_event(
    raw: EventRecord | Mapping[str, Any] | Any,
    *,
    site: str = "",
    global_id: int | None = None,
) -> EventRecord:
    """One runtime event (an `EventRecord`, an analytics `Event`, or a dict as above) as an envelope.

    site: the site name, for events that do not carry one.
    global_id: the cross-camera identity of the event's track on its frame, when fusion has one
        (kinds that cannot carry a global id ignore it).
    Raises `EventSchemaError` (a ValueError naming the field) for events that cannot be converted,
    e.g. an unknown kind from a custom pyfunc.
    """
    if isinstance(raw, EventRecord):
        return raw
    if not isinstance(raw, Mapping):
        to_json_dict = getattr(raw, "to_json_dict", None)
        if to_json_dict is None:
            raise EventSchemaError("", f"cannot read an event from {type(raw).__name__}")
        raw = to_json_dict()
    if raw.get("schema") == SCHEMA:
        return EventRecord.from_json(raw)
    kind = raw.get("kind")
    spec = KINDS.get(kind) if isinstance(kind, str) else None
    if spec is None:
        raise EventSchemaError("kind", f"{kind!r} is not one of {list(KINDS)}")
    details = dict(raw.get("details") or {})
    # Flat extras (the config events' "sections", "version", "error") belong in details.
    details.update({k: v for k, v in raw.items() if k not in _ENVELOPE_KEYS})
    if kind == "track_ended":
        for key in _FRAME_KEYS:
            if key in details:
                details[key.replace("_index", "")] = int(details.pop(key)) + 1
    frame = raw.get("frame")
    if frame is None and raw.get("frame_index") is not None:
        frame = int(raw["frame_index"]) + 1
    if spec.global_id == "absent":
        global_id = None
    elif raw.get("global_id") is not None:
        global_id = raw["global_id"]
    elif global_id is not None and global_id < 0:
        global_id = None
    return make_event(
        kind,
        site=raw.get("site") or site,
        camera_id=raw.get("camera_id"),
        pts_seconds=raw.get("pts_seconds"),
        frame=frame,
        track_id=raw.get("track_id") if spec.track_id != "absent" else None,
        global_id=global_id,
        details=details,
        time=raw.get("at"),
        event_id=raw.get("id"),
    )
