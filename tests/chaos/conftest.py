"""Fixtures of the chaos suite: H.264 clips, real RTSP servers, a running pipeline, a results table.

The clips run at a low frame rate (3 fps) so that two healthy cameras plus the one under attack
stay well inside what a shared 2-core CI machine detects per second: the suite measures what a
fault does to the *other* cameras, which is only visible while the pipeline has headroom.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from chaoskit import rtsp_server_available  # noqa: E402
from rtspclips import VTEST, make_ts  # noqa: E402

CHAOS_FPS = 3
SWITCH_AFTER_FRAMES = 12  # the "switch" camera changes resolution 4 s into each session


@pytest.fixture(scope="session")
def rtsp_ready() -> None:
    reason = rtsp_server_available()
    if reason:
        pytest.skip(reason)
    if not VTEST.exists():
        pytest.skip(f"sample footage missing: {VTEST}")


@pytest.fixture(scope="session")
def clips(rtsp_ready: None, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("chaos-media")
    return {
        "steady": make_ts(folder / "steady.ts", [(300, 384, 288)], fps=CHAOS_FPS),
        "switch": make_ts(
            folder / "switch.ts", [(SWITCH_AFTER_FRAMES, 384, 288), (288, 320, 240)], fps=CHAOS_FPS
        ),
    }


class ChaosReport:
    """Measured numbers of each fault, printed at the end (pytest -s) and written to $CHAOS_REPORT."""

    def __init__(self) -> None:
        self.rows: dict[str, dict] = {}

    def add(self, fault: str, **numbers: object) -> None:
        self.rows[fault] = numbers


@pytest.fixture(scope="session")
def chaos_report() -> Iterator[ChaosReport]:
    report = ChaosReport()
    yield report
    if report.rows:
        text = json.dumps(report.rows, indent=1, default=str)
        print("\nchaos report:\n" + text)
        target = os.environ.get("CHAOS_REPORT")
        if target:
            Path(target).write_text(text)
