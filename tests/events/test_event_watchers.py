"""CameraStateWatcher and GlobalIdWatcher report changes, once each, in the envelope."""

from __future__ import annotations

import numpy as np
import pytest

from pyuniproc.events import CameraStateWatcher, GlobalIdWatcher
from pyuniproc.sources.stats import CameraStats
from pyuniproc.types import Detections


def states(*sequence: str) -> list[list[tuple[str, str | None]]]:
    """Feed one camera through `sequence`; per step, the (kind, details.state) reported."""
    watcher = CameraStateWatcher()
    return [[(e.kind, e.details["state"]) for e in watcher.update({"cam1": {"state": s}})] for s in sequence]


@pytest.mark.parametrize(
    ("sequence", "expected"),
    [
        # first connect: nothing until frames flow
        (["connecting", "connecting", "live", "live"], [[], [], [("camera_up", "live")], []]),
        # stall and recover
        (
            ["live", "stalled", "stalled", "live"],
            [[("camera_up", "live")], [("camera_stalled", "stalled")], [], [("camera_up", "live")]],
        ),
        # lost, reconnecting, back
        (
            ["live", "connecting", "live"],
            [[("camera_up", "live")], [("camera_down", "connecting")], [("camera_up", "live")]],
        ),
        # a file that ends
        (["live", "finished"], [[("camera_up", "live")], [("camera_down", "finished")]]),
        # never reached: given up
        (["connecting", "dead"], [[], [("camera_down", "dead")]]),
        # stalled, then the reader gives up on the connection
        (
            ["live", "stalled", "connecting"],
            [[("camera_up", "live")], [("camera_stalled", "stalled")], [("camera_down", "connecting")]],
        ),
    ],
)
def test_state_changes_become_events(sequence, expected):
    assert states(*sequence) == expected


def test_camera_events_carry_previous_state_the_last_frame_and_health():
    watcher = CameraStateWatcher(site="shop")
    watcher.update({"cam1": {"state": "live"}, "cam2": {"state": "connecting"}})
    events = watcher.update(
        {
            "cam1": {"state": "connecting", "last_error": "connection refused"},
            "cam2": {"state": "connecting"},
        },
        last_frames={"cam1": (120, 11.9)},
    )
    [down] = events
    assert (down.kind, down.camera_id, down.site, down.frame, down.pts_seconds) == (
        "camera_down",
        "cam1",
        "shop",
        120,
        11.9,
    )
    assert down.details == {
        "state": "connecting",
        "previous_state": "live",
        "last_error": "connection refused",
    }


def test_real_camera_stats_snapshots_drive_the_watcher():
    now = [100.0]
    stats = CameraStats("cam1", stall_timeout_seconds=5.0, clock=lambda: now[0])
    watcher = CameraStateWatcher()
    assert watcher.update({"cam1": stats.snapshot()}) == []
    stats.record_frame()
    [up] = watcher.update({"cam1": stats.snapshot()})
    now[0] += 6.0
    [stalled] = watcher.update({"cam1": stats.snapshot()})
    assert (up.kind, stalled.kind) == ("camera_up", "camera_stalled")
    assert stalled.details["seconds_since_last_frame"] == 6.0


def tracks(ids: list[int], global_ids: list[float] | None) -> Detections:
    n = len(ids)
    data = {} if global_ids is None else {"global_id": np.array(global_ids)}
    return Detections(
        xyxy=np.zeros((n, 4)), confidence=np.ones(n), class_id=np.zeros(n), tracker_id=ids, data=data
    )


def test_global_ids_assigned_once_then_corrected_on_change():
    watcher = GlobalIdWatcher(site="shop")
    assert watcher.update("cam1", 1, 0.0, tracks([1, 2], None)) == []  # no fusion column yet
    assert watcher.update("cam1", 2, 0.1, tracks([1, 2], [-1, -1])) == []  # undecided
    first = watcher.update("cam1", 3, 0.2, tracks([1, 2, -1], [5, -1, 9]))
    assert [(e.kind, e.track_id, e.global_id, e.frame) for e in first] == [("global_id_assigned", 1, 5, 3)]
    assert watcher.update("cam1", 4, 0.3, tracks([1, 2], [5, float("nan")])) == []  # unchanged
    [corrected] = watcher.update("cam1", 5, 0.4, tracks([1], [3]))
    assert (corrected.kind, corrected.global_id, corrected.details) == (
        "global_id_corrected",
        3,
        {"from_global_id": 5, "to_global_id": 3, "reason": "changed"},
    )
    assert watcher.global_id("cam1", 1) == 3 and watcher.global_id("cam2", 1) is None
    watcher.forget("cam1", 1)
    [again] = watcher.update("cam1", 6, 0.5, tracks([1], [3]))
    assert again.kind == "global_id_assigned"  # a forgotten (ended) track starts over
