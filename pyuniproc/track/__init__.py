"""Per-camera multi-object trackers behind one verb: `Tracker.update(detections) -> detections`.

Trackers are picked by name (`create_tracker("bytetrack", lost_track_buffer=60)`) so the module
config can choose one; a new tracker registers a factory with `register_tracker`, and the contract
tests in tests/track run over every registered name.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Protocol, runtime_checkable

from pyuniproc.track.bytetrack import ByteTrack, TrackState
from pyuniproc.types import Detections

__all__ = [
    "ByteTrack",
    "TrackState",
    "Tracker",
    "available_trackers",
    "create_tracker",
    "register_tracker",
    "tracker_options",
]


@runtime_checkable
class Tracker(Protocol):
    """One camera's tracker. Instances share nothing, track ids included (they start at 1)."""

    def update(self, detections: Detections) -> Detections:
        """Consume one frame's detections; return the tracked rows with `tracker_id` set."""
        ...

    def predict_only(self) -> Detections:
        """Advance one frame with no detector run (overload); tracks coast on their motion model."""
        ...

    def reset(self) -> None:
        """Forget all tracks and restart ids."""
        ...

    def reconfigure(self, **options: object) -> None:
        """New settings for a running tracker (live module edits); tracks and ids are kept."""
        ...


_REGISTRY: dict[str, Callable[..., Tracker]] = {}


def register_tracker(name: str, factory: Callable[..., Tracker]) -> None:
    """Make `factory(**options)` available as `create_tracker(name, **options)`.

    The factory's keyword parameters are the options it accepts; others are rejected by name.
    """
    if name in _REGISTRY:
        raise ValueError(f"tracker {name!r} is already registered")
    _REGISTRY[name] = factory


def available_trackers() -> list[str]:
    """Registered tracker names, sorted."""
    return sorted(_REGISTRY)


def tracker_options(name: str) -> list[str]:
    """Keyword options the named tracker accepts, in declaration order."""
    return list(_options(_factory(name)))


def create_tracker(name: str, **options: object) -> Tracker:
    """A new tracker instance; unknown names or options raise ValueError listing the known ones."""
    factory = _factory(name)
    known = _options(factory)
    unknown = sorted(set(options) - set(known))
    if unknown:
        raise ValueError(f"unknown option(s) {unknown} for tracker {name!r}; known options: {list(known)}")
    return factory(**options)


def _factory(name: str) -> Callable[..., Tracker]:
    try:
        return _REGISTRY[name]
    except KeyError:
        raise ValueError(f"unknown tracker {name!r}; known trackers: {available_trackers()}") from None


def _options(factory: Callable[..., Tracker]) -> dict[str, inspect.Parameter]:
    kinds = (inspect.Parameter.KEYWORD_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    parameters = inspect.signature(factory).parameters
    return {name: p for name, p in parameters.items() if p.kind in kinds}


register_tracker("bytetrack", ByteTrack)
