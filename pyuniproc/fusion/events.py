"""The events fusion emits, as plain JSON-ready dicts (what `Fusion.events()` drains).

    {"event": "assigned", "pts", "camera_id", "track_id", "global_id", "new": bool, "first_seen",
     "similarity", "confidence", "from_camera", "travel_seconds"}
        A pending track got its identity. similarity: cosine with the identity (None when new);
        confidence: the decision's margin (None when there was no alternative at all); from_camera and
        travel_seconds: the hand-over it continues (None when new or seen at once in an overlapping view).
    {"event": "corrected", "pts", "camera_id", "track_id", "from_global_id", "to_global_id", "reason"}
        An assigned track moved. reason: "appearance_relink" (another identity fits much better),
        "appearance_split" (it no longer looks like its identity: new id) or "conflict" (its identity was
        seen somewhere else at the same time; the later of the two assignments is undone), "floor_conflict"
        (two overlapping views put its identity at two places at once: the later one is undone, or the
        track held the identity of the person who stands elsewhere) or "floor_merge" (it stands where
        another identity stands in an overlapping view: it joins that one).
    {"event": "retired", "pts", "global_id", "last_seen", "reason"}
        An identity is forgotten. reason: "expired" (unseen longer than the longest travel window),
        "capacity" (over `max_identities`) or "emptied" (its only track moved to another identity).
`pts` is the site clock when the event happened; rows already returned keep the id they were given, so
replay "corrected" events to relabel them offline.
"""

from __future__ import annotations

import math

from pyuniproc.fusion.tracks import LocalTrack, Transition


def assigned(
    pts: float,
    track: LocalTrack,
    new: bool,
    similarity: float,
    confidence: float,
    transition: Transition | None,
) -> dict:
    return {
        "event": "assigned",
        "pts": pts,
        "camera_id": track.camera_id,
        "track_id": track.track_id,
        "global_id": track.global_id,
        "new": new,
        "first_seen": track.first_seen,
        "similarity": _finite(similarity),
        "confidence": _finite(confidence),
        "from_camera": None if transition is None else transition.from_camera,
        "travel_seconds": None if transition is None else transition.travel_seconds,
    }


def corrected(pts: float, track: LocalTrack, from_global_id: int, reason: str) -> dict:
    return {
        "event": "corrected",
        "pts": pts,
        "camera_id": track.camera_id,
        "track_id": track.track_id,
        "from_global_id": from_global_id,
        "to_global_id": track.global_id,
        "reason": reason,
    }


def retired(pts: float, global_id: int, last_seen: float, reason: str) -> dict:
    return {
        "event": "retired",
        "pts": pts,
        "global_id": global_id,
        "last_seen": _finite(last_seen),
        "reason": reason,
    }


def _finite(value: float) -> float | None:
    """NaN (not applicable) and inf (no alternative at all) become None: events stay valid JSON."""
    return float(value) if math.isfinite(value) else None
