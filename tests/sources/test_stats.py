"""CameraStats: counters, derived state and fps, with a fake clock."""

from __future__ import annotations

import json
import threading

import pytest

from pyuniproc.sources.stats import CameraState, CameraStats


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_fresh_stats_snapshot_is_json_ready() -> None:
    stats = CameraStats("cam1", "rtsp://u:secret@h/x", clock=FakeClock())
    snap = stats.snapshot()
    assert json.loads(json.dumps(snap)) == snap
    assert snap["state"] == "connecting"
    assert snap["uri"] == "rtsp://***@h/x"
    assert snap["seconds_since_last_frame"] is None
    assert snap["fps"] == 0.0


def test_fps_over_sliding_window_and_stalled_state() -> None:
    clock = FakeClock()
    stats = CameraStats("cam1", stall_timeout_seconds=1.0, fps_window_seconds=2.0, clock=clock)
    for _ in range(21):  # 10 fps for 2 s
        stats.record_frame()
        clock.now += 0.1
    assert stats.state is CameraState.LIVE
    assert stats.fps == pytest.approx(10.0, rel=0.06)
    clock.now += 1.5
    assert stats.state is CameraState.STALLED
    assert stats.snapshot()["state"] == "stalled"
    clock.now += 2.0
    assert stats.fps == 0.0  # no frame in the window
    stats.record_frame()
    assert stats.state is CameraState.LIVE


def test_a_finished_camera_keeps_its_average_fps() -> None:
    clock = FakeClock()
    stats = CameraStats("cam1", fps_window_seconds=2.0, clock=clock)
    assert stats.snapshot()["average_fps"] == 0.0
    for _ in range(51):  # 10 fps for 5 s
        stats.record_frame()
        clock.now += 0.1
    stats.set_state(CameraState.FINISHED)
    clock.now += 30.0  # the run goes on with other cameras
    snap = stats.snapshot()
    assert snap["fps"] == 0.0  # the recent window: nothing comes any more
    assert snap["average_fps"] == pytest.approx(10.0) == stats.average_fps


def test_runtime_counters_and_drop_reasons() -> None:
    stats = CameraStats("cam1", clock=FakeClock())
    stats.mark_processed()
    stats.mark_processed(4)
    stats.mark_dropped("queue_full")
    stats.mark_dropped("overload", 3)
    stats.mark_dropped("queue_full", 2)
    snap = stats.snapshot()
    assert snap["frames_processed"] == 5
    assert snap["dropped"] == {"queue_full": 3, "overload": 3}
    assert snap["dropped_total"] == 6
    assert stats.dropped["queue_full"] == 3
    with pytest.raises(ValueError, match="n must be >= 0, got -1"):
        stats.mark_processed(-1)
    with pytest.raises(ValueError, match="reason"):
        stats.mark_dropped("")


def test_terminal_states_stick_and_errors_are_scrubbed() -> None:
    stats = CameraStats("cam1", "rtsp://u:secret@h/x", clock=FakeClock())
    stats.record_read_error("boom at rtsp://u:secret@h/x (secret)")
    stats.set_state(CameraState.DEAD)
    stats.set_state(CameraState.LIVE)
    stats.record_frame()
    assert stats.state is CameraState.DEAD
    assert stats.read_errors == 1
    assert "secret" not in (stats.last_error or "")
    assert "rtsp://***@h/x" in (stats.last_error or "")


def test_counters_are_exact_under_concurrent_writers() -> None:
    stats = CameraStats("cam1")

    def work() -> None:
        for _ in range(2000):
            stats.mark_processed()
            stats.mark_dropped("queue_full")
            stats.record_frame()

    threads = [threading.Thread(target=work) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    snap = stats.snapshot()
    assert (snap["frames_processed"], snap["dropped_total"], snap["frames_received"]) == (8000, 8000, 8000)


def test_bad_arguments_are_rejected() -> None:
    with pytest.raises(ValueError, match="stall_timeout_seconds must be > 0, got 0"):
        CameraStats("cam1", stall_timeout_seconds=0)
