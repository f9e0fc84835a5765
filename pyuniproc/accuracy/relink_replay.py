"""Apply per-camera relinking to a recorded stream: what the runtime's relink step would have made.

The relink step runs after the tracker and the ReID stage and changes nothing upstream (detections,
tracker, which crops get embedded), so relinking a stream recorded without it gives exactly the
rows a run with it writes. That makes tuning cheap: one pipeline recording per tuning scene, then
each relink setting costs a replay and a scoring (seconds), not a pipeline run.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np

from pyuniproc.ablation.stream import TrackStream
from pyuniproc.track.relink import TrackRelinker


def relink_stream(
    stream: TrackStream, frame_sizes: dict[str, tuple[int, int]] | None = None, **options: Any
) -> tuple[TrackStream, int]:
    """The stream with each camera's tracker ids passed through a `TrackRelinker(**options)`;
    returns it and how many tracks were relinked. frame_sizes: camera -> (height, width)."""
    relinkers: dict[str, TrackRelinker] = {}
    ids = stream.tracker_id.copy()
    for f, item in enumerate(stream.frames()):
        relinker = relinkers.setdefault(item.camera_id, TrackRelinker(**options))
        a, b = int(stream.frame_start[f]), int(stream.frame_start[f + 1])
        size = (frame_sizes or {}).get(item.camera_id)
        ids[a:b] = relinker.update(item.index, item.tracks, size).tracker_id
    relinked = sum(r.relinked for r in relinkers.values())
    meta = {**stream.meta, "relink": options, "relinked": relinked}
    return replace(stream, tracker_id=ids.astype(np.int64), meta=meta), relinked
