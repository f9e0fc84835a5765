"""The kinds of `pyuniproc.event/1`: what each carries. The single source of truth for both the
Python check (`schema.validate`) and the published JSON Schema (`schema.json_schema`).

Detail fields are JSON Schema fragments; the Python check understands exactly these keywords:
type (one or a list), enum, minimum, items. Adding a kind or an optional detail field keeps the
schema at /1 (consumers ignore what they do not know); see docs/events.md before changing one.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

Scope = Literal["frame", "track", "camera", "site"]
Presence = Literal["required", "optional", "absent"]

NUMBER: dict[str, Any] = {"type": "number"}
SECONDS: dict[str, Any] = {"type": "number", "minimum": 0}
COUNT: dict[str, Any] = {"type": "integer", "minimum": 0}
FRAME: dict[str, Any] = {"type": "integer", "minimum": 1}
NULLABLE_NUMBER: dict[str, Any] = {"type": ["number", "null"]}
TEXT: dict[str, Any] = {"type": "string"}
CAMERA_STATES = ("connecting", "live", "stalled", "dead", "finished")


@dataclass(frozen=True)
class KindSpec:
    """What one kind of event carries.

    scope: "frame": decided on a frame, so camera_id, pts_seconds and frame are set;
        "track": about a camera's track at a stream time (pts_seconds set; frame when known);
        "camera": about a camera, not a frame (pts_seconds/frame: the last frame seen, or null);
        "site": about the whole site (camera_id and frame null; pts_seconds: site clock, or null).
    track_id / global_id: whether the key must be there, may be there, or must not be.
    required / optional: detail fields (name -> JSON Schema fragment); other keys are allowed.
    """

    description: str
    scope: Scope
    track_id: Presence = "absent"
    global_id: Presence = "absent"
    required: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    optional: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)


_CONFIG_PLACE: dict[str, Mapping[str, Any]] = {  # where in which file a config event points
    "file": TEXT,
    "line": {"type": ["integer", "null"], "minimum": 1},
    "field": {"type": ["string", "null"]},
}
_STATE_CHANGE = {"previous_state": {"type": ["string", "null"], "enum": [*CAMERA_STATES, None]}}

KINDS: dict[str, KindSpec] = {
    "track_started": KindSpec(
        "A camera-local track was seen for the first time (a new visit).",
        "frame",
        track_id="required",
        global_id="optional",
        optional={"x": NUMBER, "y": NUMBER},
    ),
    "track_ended": KindSpec(
        "A track was not seen for the analytics timeout, or its stream ended; carries the dwell.",
        "frame",
        track_id="required",
        global_id="optional",
        required={
            "dwell_seconds": SECONDS,
            "first_pts": NUMBER,
            "last_pts": NUMBER,
            "first_frame": FRAME,
            "last_frame": FRAME,
            "frames_seen": {"type": "integer", "minimum": 1},
        },
    ),
    "line_crossed": KindSpec(
        "A track's feet crossed a counting line.",
        "frame",
        track_id="required",
        global_id="optional",
        required={
            "line": TEXT,
            "direction": {"type": "string", "enum": ["in", "out"]},
            "count_in": COUNT,
            "count_out": COUNT,
        },
        optional={"x": NUMBER, "y": NUMBER},
    ),
    "zone_entered": KindSpec(
        "A track's feet entered a zone.",
        "frame",
        track_id="required",
        global_id="optional",
        required={"zone": TEXT, "occupancy": COUNT, "entered_pts": NUMBER},
    ),
    "zone_exited": KindSpec(
        "A track's feet left a zone, or the track ended inside it.",
        "frame",
        track_id="required",
        global_id="optional",
        required={
            "zone": TEXT,
            "occupancy": COUNT,
            "entered_pts": NUMBER,
            "exited_pts": NUMBER,
            "seconds_in_zone": SECONDS,
            # zone_changed: a live edit removed or redrew the zone the track was in
            "reason": {"type": "string", "enum": ["moved", "track_ended", "zone_changed"]},
        },
    ),
    "global_id_assigned": KindSpec(
        "Fusion gave a camera-local track its cross-camera identity.",
        "track",
        track_id="required",
        global_id="required",
        optional={
            "new": {"type": "boolean"},
            "first_seen": NUMBER,
            "similarity": NULLABLE_NUMBER,
            "confidence": NULLABLE_NUMBER,
            "from_camera": {"type": ["string", "null"]},
            "travel_seconds": NULLABLE_NUMBER,
        },
    ),
    "global_id_corrected": KindSpec(
        "Fusion moved a track to another cross-camera identity (global_id is the new one).",
        "track",
        track_id="required",
        global_id="required",
        required={"from_global_id": COUNT, "reason": TEXT},
        optional={"to_global_id": COUNT},
    ),
    "identity_retired": KindSpec(
        "Fusion forgot a cross-camera identity (unseen too long, capacity, or emptied).",
        "site",
        global_id="required",
        required={"reason": TEXT},
        optional={"last_seen": NULLABLE_NUMBER},
    ),
    "camera_up": KindSpec(
        "A camera delivers frames (first time, after a reconnect, or after a stall).",
        "camera",
        required={"state": {"type": "string", "enum": ["live"]}, **_STATE_CHANGE},
        optional={"fps": NUMBER, "reconnect_attempts": COUNT},
    ),
    "camera_down": KindSpec(
        "A camera stopped delivering: reconnecting, given up (dead) or its stream ended (finished).",
        "camera",
        required={"state": {"type": "string", "enum": ["connecting", "dead", "finished"]}, **_STATE_CHANGE},
        optional={"last_error": {"type": ["string", "null"]}},
    ),
    "camera_stalled": KindSpec(
        "A live camera sent no frame for its stall timeout.",
        "camera",
        required={"state": {"type": "string", "enum": ["stalled"]}, **_STATE_CHANGE},
        optional={"seconds_since_last_frame": {"type": ["number", "null"], "minimum": 0}},
    ),
    "config_reloaded": KindSpec(
        "An edit of the module YAML was applied while running.",
        "site",
        required={"sections": {"type": "array", "items": TEXT}, "version": COUNT},
        optional={"file": TEXT},
    ),
    "config_rejected": KindSpec(
        "An edit of the module YAML was refused; the running configuration stays.",
        "site",
        required={"error": TEXT},
        optional=_CONFIG_PLACE,
    ),
    "config_restart_needed": KindSpec(
        "An edit of the module YAML changed a value fixed at start (a model file, the element list); "
        "the module keeps running with the old value until it is restarted.",
        "site",
        required={"error": TEXT, "field": TEXT},
        optional={**_CONFIG_PLACE, "running": {}, "edited": {}},
    ),
}
EVENT_KINDS = tuple(KINDS)
