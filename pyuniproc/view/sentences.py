"""Events as the short sentences the live view's events panel shows, e.g.
"track 32 is now person 28 (was person 17): it looks more like them".

Each kind of `pyuniproc.event/1` (docs/events.md) has its own wording; its fields may sit at the top
level or under `details` (both shapes reach the view). A kind without a wording here (a custom
pyfunc's) reads as its name and fields.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

CORRECTION_REASONS = {
    "appearance_relink": "it looks more like them",
    "appearance_split": "it did not look like the rest of that person",
    "conflict": "that person was seen elsewhere at the same time",
}
RETIREMENT_REASONS = {
    "expired": "not seen for too long",
    "capacity": "too many people to remember",
    "emptied": "all its tracks turned out to be other people",
}


def describe(event: Mapping[str, Any], *, global_id: int | None = None) -> str:
    """One sentence about `event` (no camera name: the panel shows it in its own column).

    global_id: the person of the event's track when the event does not say (fusion's column)."""
    details = event.get("details")
    fields = {**event, **(details if isinstance(details, Mapping) else {})}
    kind = str(fields.get("kind") or fields.get("event") or "event")
    track_id = _int(fields.get("track_id"))
    if global_id is None:
        global_id = _int(fields.get("global_id"))
    who = _who(track_id, global_id)
    if kind == "line_crossed":
        direction = fields.get("direction")
        return f"{who} crossed '{fields.get('line', '?')}'" + (f" ({direction})" if direction else "")
    if kind == "zone_entered":
        return f"{who} entered '{fields.get('zone', '?')}'"
    if kind == "zone_exited":
        return f"{who} left '{fields.get('zone', '?')}'"
    if kind == "global_id_corrected":
        before = _int(fields.get("from_global_id"))
        text = f"person {global_id}" if track_id is None else f"track {track_id} is now person {global_id}"
        if before is not None:
            text += f" (was person {before})"
        reason = fields.get("reason")
        return text + (f": {CORRECTION_REASONS.get(str(reason), str(reason))}" if reason else "")
    if kind == "identity_retired":
        reason = fields.get("reason")
        text = f"person {global_id} forgotten"
        return text + (f": {RETIREMENT_REASONS.get(str(reason), str(reason))}" if reason else "")
    if kind in ("camera_up", "camera_down", "camera_stalled"):
        return _camera(kind, fields)
    if kind == "config_reloaded":
        sections = fields.get("sections") or []
        return "module YAML edit applied" + (f" ({', '.join(map(str, sections))})" if sections else "")
    if kind == "config_rejected":
        return f"module YAML edit refused: {fields.get('error', '?')}"
    shown = details if isinstance(details, Mapping) else {}
    extras = ", ".join(f"{k}={_short(v)}" for k, v in shown.items())
    return f"{who} {kind.replace('_', ' ')}".strip() + (f" ({extras})" if extras else "")


def _camera(kind: str, fields: Mapping[str, Any]) -> str:
    state, error = fields.get("state"), fields.get("last_error")
    if kind == "camera_up":
        attempts = _int(fields.get("reconnect_attempts"))
        return "camera is live" + (f" after {attempts} reconnect attempts" if attempts else "")
    if kind == "camera_stalled":
        quiet = fields.get("seconds_since_last_frame")
        return "camera stalled" + (f": no frame for {quiet:.1f} s" if isinstance(quiet, (int, float)) else "")
    text = {"finished": "camera stream ended", "dead": "camera given up",
            "connecting": "camera lost, reconnecting"}.get(str(state), f"camera down ({state})")
    return text + (f": {error}" if error else "")


def _who(track_id: int | None, global_id: int | None) -> str:
    if track_id is None:
        return "" if global_id is None else f"person {global_id}"
    return f"track {track_id}" + ("" if global_id is None else f" (person {global_id})")


def _short(value: Any) -> Any:
    return round(value, 2) if isinstance(value, float) else value


def _int(value: Any) -> int | None:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    try:
        return None if value is None or isinstance(value, bool) else int(value)
    except (TypeError, ValueError):
        return None


__all__ = ["describe"]
