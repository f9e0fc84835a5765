"""The text outputs buffer up to `flush_seconds` but lose nothing the run already counted: a
SIGKILL leaves every row up to the last summary.json (and up to the last flush) on disk as whole
lines, and rows written more than `flush_seconds` ago are on disk without any summary."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

# A run's outputs in a process of their own: `summarised` frames, summary.json, `more` frames, then
# wait to be killed. `pause` seconds between the two parts (longer than flush_seconds: a timed flush).
CHILD = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    import numpy as np
    from pyuniproc.runtime.outputs import RunOutputs
    from pyuniproc.types import Detections, Frame

    out, summarised, more, flush_seconds, pause = Path(sys.argv[1]), *map(float, sys.argv[2:])
    outputs = RunOutputs(out, annotate=False, global_ids=True, flush_seconds=flush_seconds)
    image = np.zeros((8, 8, 3), np.uint8)
    def write(i):
        tracks = Detections(xyxy=[[1, 2, 30, 80], [40, 2, 70, 90]], confidence=[0.9, 0.8], class_id=[0, 0],
                            tracker_id=[1, 2], data={"global_id": np.array([7, -1])})
        event = {"kind": "track_started", "camera_id": "cam1", "pts_seconds": i / 10, "frame_index": i,
                 "track_id": 1, "details": {}}
        outputs.write_frame(Frame("cam1", i, i / 10, image), tracks, [event], fps=10.0)
    for i in range(int(summarised)):
        write(i)
    outputs.write_summary({"cameras": {}, "frames_written": int(summarised)})
    time.sleep(pause)
    for i in range(int(summarised), int(summarised + more)):
        write(i)
    print("ready", flush=True)
    time.sleep(120)
    """
)


def killed_run(out: Path, *, summarised: int, more: int, flush_seconds: float, pause: float) -> None:
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(out), str(summarised), str(more), str(flush_seconds), str(pause)],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        assert child.stdout is not None and child.stdout.readline().strip() == "ready"
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=30)


def frames_on_disk(path: Path, column: int) -> list[int]:
    data = path.read_bytes()
    assert data.endswith(b"\n"), f"{path} ends in a cut line"
    lines = data.decode().splitlines()
    lines = lines[1:] if lines and lines[0].startswith("camera_id,") else lines
    return sorted({int(line.split(",")[column]) for line in lines})


def test_sigkill_keeps_every_row_the_summary_counted(tmp_path):
    killed_run(tmp_path, summarised=50, more=5, flush_seconds=3600, pause=0)
    assert json.loads((tmp_path / "summary.json").read_text())["frames_written"] == 50
    expected = list(range(1, 51))  # the 5 frames after the summary were still in memory
    assert frames_on_disk(tmp_path / "tracks.csv", 1) == expected
    assert frames_on_disk(tmp_path / "mot" / "cam1.txt", 0) == expected
    assert frames_on_disk(tmp_path / "mtmc" / "cam1.txt", 0) == expected
    events = [json.loads(line) for line in (tmp_path / "events.jsonl").read_text().splitlines()]
    assert [event["frame"] for event in events][:50] == expected


@pytest.mark.parametrize("flush_seconds", [0, 0.2])
def test_sigkill_keeps_rows_older_than_flush_seconds(tmp_path, flush_seconds):
    killed_run(tmp_path, summarised=10, more=3, flush_seconds=flush_seconds, pause=0.5)
    # flush_seconds 0: every row; 0.2: the first write after the pause flushed the rows before it
    lost = 0 if flush_seconds == 0 else 2
    expected = list(range(1, 14 - lost))
    assert frames_on_disk(tmp_path / "tracks.csv", 1) == expected
    assert frames_on_disk(tmp_path / "mot" / "cam1.txt", 0) == expected
