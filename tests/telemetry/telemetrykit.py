"""Shared helpers of the telemetry tests (a module of its own: every test folder has a conftest)."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

REPO = Path(__file__).resolve().parents[2]
DEPLOY = REPO / "deploy"


class FakeNvml:
    """The few NVML calls GpuCollector makes, for one 16 GiB GPU at 40 % load."""

    def nvmlInit(self) -> None:  # noqa: N802 (NVML's naming)
        pass

    def nvmlDeviceGetCount(self) -> int:  # noqa: N802
        return 1

    def nvmlDeviceGetHandleByIndex(self, index: int) -> int:  # noqa: N802
        return index

    def nvmlDeviceGetUtilizationRates(self, handle: int) -> SimpleNamespace:  # noqa: N802
        return SimpleNamespace(gpu=40, memory=10)

    def nvmlDeviceGetMemoryInfo(self, handle: int) -> SimpleNamespace:  # noqa: N802
        return SimpleNamespace(used=4 << 30, total=16 << 30, free=12 << 30)

    def nvmlDeviceGetName(self, handle: int) -> bytes:  # noqa: N802
        return b"Fake GPU"


def camera_snapshot(**changes: object) -> dict[str, object]:
    """A `CameraStats.snapshot()`-shaped dict, live, with credentials in its URI."""
    snap: dict[str, object] = {
        "camera_id": "cam1",
        "uri": "rtsp://admin:hunter2@10.0.0.5/stream",
        "state": "live",
        "fps": 9.5,
        "frames_received": 120,
        "frames_processed": 118,
        "dropped": {"queue_full": 2},
        "dropped_total": 2,
        "read_errors": 1,
        "reconnect_attempts": 3,
        "consecutive_failures": 0,
        "last_error": "timeout",
        "seconds_since_last_frame": 0.1,
        "queue_depth": 2,
    }
    snap.update(changes)
    return snap
