"""`ViewFeed`: what the page's side panels and tile headers show, as one JSON-ready dict.

Three inputs, all cheap for the pipeline:
  * camera health read when a viewer asks (`cameras`: the same per-camera snapshots /readyz and
    /metrics read, so the page, the probes and Prometheus never disagree), falling back to the
    cameras of the last run summary (aged by the time since it came) when there is no provider;
  * the run summary every `summary_period_seconds` (status, throughput, tracks seen);
  * the events of each frame: cross-camera transitions and analytics events (line crossings,
    zone entries), kept in two short bounded lists so a viewer who connects late still sees the
    recent ones. Frames without events cost one truthiness test.

Transitions are taken from fusion's events, whichever way the runtime forwards them, with the
hand-over fields at the top level or in `details` (the `pyuniproc.event/1` envelope):
    {"kind": "global_id_assigned", "camera_id", "track_id", "global_id",
     "details": {"from_camera", "travel_seconds", ...}}
    {"event": "assigned", "camera_id", "global_id", "from_camera", "travel_seconds", ...}
                                                              (as `Fusion.events()` drains them)
    {"kind": "transition", "from_camera", "to_camera", "global_id", "travel_seconds", ...}
An assignment without `from_camera` (a new person, or one seen at once in an overlapping view)
is not a transition and is not shown.
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import numpy as np

from pyuniproc.types import Detections
from pyuniproc.view.sentences import describe

CameraProvider = Callable[[], Mapping[str, Mapping[str, Any]]]

TRANSITION_KINDS = frozenset({"global_id_assigned", "assigned", "transition", "camera_transition"})
HIDDEN_KINDS = frozenset({"track_started", "track_ended", "retired"})
"""Event kinds left out of the events panel: one per track and person, they would drown the rest."""

CAMERA_FIELDS = ("state", "fps", "frames_received", "frames_processed", "dropped_total", "read_errors",
                 "reconnect_attempts", "seconds_since_last_frame", "last_error")
"""The camera snapshot fields the page shows (never the URI: even redacted it names hosts)."""


class ViewFeed:
    """Camera states, run status, recent transitions and events for the page.

    camera_ids: the site's cameras, in the order the page lays out its tiles.
    cameras: provider of live per-camera snapshots (`CameraStats.snapshot()` dicts); None uses
        the last summary's.
    max_transitions, max_events: how many recent items the panels keep. More scrolls further back
        and makes every state message bigger.
    clock: wall clock for the "when" of items (tests inject a fake one); `monotonic` ages the
        summary's seconds_since_last_frame.
    """

    def __init__(
        self,
        camera_ids: Iterable[str],
        *,
        cameras: CameraProvider | None = None,
        max_transitions: int = 20,
        max_events: int = 30,
        clock: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        for name, value in (("max_transitions", max_transitions), ("max_events", max_events)):
            if not (isinstance(value, int) and value >= 1):
                raise ValueError(f"{name} must be an int >= 1, got {value!r}")
        self.camera_ids = list(camera_ids)
        self._provider = cameras
        self._clock = clock
        self._monotonic = monotonic
        self._lock = threading.Lock()
        self._summary: Mapping[str, Any] = {}
        self._summary_at: float | None = None
        self._transitions: deque[dict[str, Any]] = deque(maxlen=max_transitions)
        self._events: deque[dict[str, Any]] = deque(maxlen=max_events)
        self._transitions_total = 0
        self._events_total = 0
        self._seq = 0

    # -- inputs (pipeline thread) ---------------------------------------------------------------

    def on_summary(self, summary: Mapping[str, Any]) -> None:
        with self._lock:
            self._summary = summary
            self._summary_at = self._monotonic()

    def add_events(self, events: Iterable[Mapping[str, Any]], tracks: Detections | None = None) -> None:
        """Sort the events of one frame into transitions and panel events. `tracks` (that frame's)
        lends the global id of an analytics event's track, when fusion set one."""
        now = self._clock()
        for event in events:
            kind = event.get("kind") or event.get("event")
            if kind in TRANSITION_KINDS:
                transition = transition_from_event(event, now)
                if transition is not None:
                    with self._lock:
                        self._transitions.appendleft(transition)
                        self._transitions_total += 1
            elif kind and kind not in HIDDEN_KINDS:
                item = panel_event(event, now, _global_id(tracks, event.get("track_id")))
                with self._lock:
                    self._events.appendleft(item)
                    self._events_total += 1

    # -- output (server threads) ----------------------------------------------------------------

    def snapshot(self) -> dict[str, Any]:
        """The page's whole state; JSON-ready."""
        live = None
        if self._provider is not None:
            try:
                live = {str(k): dict(v) for k, v in self._provider().items()}
            except Exception:  # a failing read must not take the page down: use the summary
                live = None
        with self._lock:
            self._seq += 1
            summary, summary_at = self._summary, self._summary_at
            transitions, events = list(self._transitions), list(self._events)
            seq, transitions_total, events_total = self._seq, self._transitions_total, self._events_total
        from_summary = summary.get("cameras") or {}
        age = 0.0 if summary_at is None else self._monotonic() - summary_at
        cameras = {}
        for camera_id in _ordered(self.camera_ids, live or {}, from_summary):
            summary_camera = from_summary.get(camera_id) or {}
            if live is not None and camera_id in live:
                source = live[camera_id]
            else:
                source = _aged(summary_camera, age)
            camera = {name: _plain(source.get(name)) for name in CAMERA_FIELDS}
            camera["state"] = camera["state"] or "connecting"
            camera["tracks_seen"] = summary_camera.get("tracks_seen")
            camera["people_max"] = summary_camera.get("people_max")
            cameras[camera_id] = camera
        return {
            "seq": seq,
            "at": self._clock(),
            "status": summary.get("status", "starting"),
            "site": summary.get("site"),
            "elapsed_seconds": summary.get("elapsed_seconds"),
            "frames_processed": summary.get("frames_processed"),
            "throughput_fps": summary.get("throughput_fps"),
            "cameras": cameras,
            "transitions": transitions,
            "transitions_total": transitions_total,
            "events": events,
            "events_total": events_total,
        }


def transition_from_event(event: Mapping[str, Any], at: float) -> dict[str, Any] | None:
    """A hand-over "person <global_id>: <from_camera> -> <to_camera> after <travel_seconds> s",
    or None when the event is no hand-over between two cameras."""
    details = event.get("details")
    if isinstance(details, Mapping):
        event = {**details, **event}
    from_camera = event.get("from_camera")
    to_camera = event.get("to_camera") or event.get("camera_id")
    global_id = _int(event.get("global_id"))
    if not from_camera or not to_camera or from_camera == to_camera or global_id is None:
        return None
    travel = _float(event.get("travel_seconds"))
    return {
        "global_id": global_id,
        "from_camera": str(from_camera),
        "to_camera": str(to_camera),
        "travel_seconds": None if travel is None else round(travel, 2),
        "track_id": _int(event.get("track_id")),
        "pts_seconds": _float(event.get("pts", event.get("pts_seconds"))),
        "at": at,
        "text": f"person {global_id}: {from_camera} \u2192 {to_camera}"
                + ("" if travel is None else f" after {travel:.1f} s"),
    }


def panel_event(event: Mapping[str, Any], at: float, global_id: int | None = None) -> dict[str, Any]:
    """A short sentence for the events panel, e.g. "track 12 (person 4) crossed 'door' (in)"
    (`pyuniproc.view.sentences`)."""
    kind = str(event.get("kind") or event.get("event"))
    track_id = _int(event.get("track_id"))
    global_id = _int(event.get("global_id")) if global_id is None else global_id
    return {
        "kind": kind,
        "camera_id": event.get("camera_id"),
        "track_id": track_id,
        "global_id": global_id,
        "pts_seconds": _float(event.get("pts_seconds", event.get("pts"))),
        "at": at,
        "text": describe(event, global_id=global_id),
    }


def _global_id(tracks: Detections | None, track_id: Any) -> int | None:
    if tracks is None or track_id is None or "global_id" not in tracks.data:
        return None
    rows = np.flatnonzero(tracks.tracker_id == int(track_id))
    if not len(rows):
        return None
    value = int(tracks.data["global_id"][rows[0]])
    return value if value >= 0 else None


def _ordered(first: list[str], *more: Mapping[str, Any]) -> list[str]:
    """`first`, then any camera only the provider or summary knows."""
    seen = dict.fromkeys(first)
    for mapping in more:
        seen.update(dict.fromkeys(mapping))
    return list(seen)


def _aged(camera: Mapping[str, Any], age: float) -> dict[str, Any]:
    camera = dict(camera)
    since = camera.get("seconds_since_last_frame")
    if since is not None:
        camera["seconds_since_last_frame"] = round(float(since) + age, 3)
    return camera


def _plain(value: Any) -> Any:
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _int(value: Any) -> int | None:
    try:
        return None if value is None else int(value)
    except (TypeError, ValueError):
        return None


def _float(value: Any) -> float | None:
    try:
        number = None if value is None else float(value)
    except (TypeError, ValueError):
        return None
    return number if number is not None and math.isfinite(number) else None
