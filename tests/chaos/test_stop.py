"""Nothing is lost when a real `pyuniproc run` process is stopped: by SIGINT or SIGTERM (outputs
flushed, videos finalized, summary says interrupted), or killed with SIGKILL (every line-oriented
output well-formed up to the last processed frame, the fragmented MP4 playable), and a restart with
the same --out appends to the same files under their one header."""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import av
import pytest
from chaoskit import free_port

REPO = Path(__file__).resolve().parents[2]
MODULE = REPO / "module" / "module.yml"
VTEST = REPO / "samples" / "vtest" / "vtest.avi"
CSV_COLUMNS = 10
MOT_COLUMNS = 10


def start(out: Path, *extra: str) -> subprocess.Popen[str]:
    command = [
        sys.executable,
        "-m",
        "pyuniproc.cli",
        "run",
        "--module",
        str(MODULE),
        "--source",
        f"cam1={VTEST}",
        "--out",
        str(out),
        "--no-progress",
        *extra,
    ]
    env = dict(os.environ, TELEMETRY_PORT=str(free_port()), PYTHONUNBUFFERED="1")
    return subprocess.Popen(
        command, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )


def processed_rows(out: Path) -> int:
    path = out / "tracks.csv"
    return max(0, len(path.read_bytes().splitlines()) - 1) if path.exists() else 0


def wait_for_rows(process: subprocess.Popen[str], out: Path, rows: int, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while processed_rows(out) < rows:
        assert process.poll() is None, process.communicate()[0][-3000:]
        assert time.monotonic() < deadline, f"no {rows} rows in tracks.csv after {timeout} s"
        time.sleep(0.1)


def complete_lines(path: Path) -> tuple[list[str], bytes]:
    """The lines ending in a newline, and what follows the last newline (a line cut by a kill)."""
    data = path.read_bytes()
    cut = data.rfind(b"\n") + 1
    return data[:cut].decode().splitlines(), data[cut:]


def check_line_outputs(out: Path, *, allow_cut_line: bool) -> int:
    """Every complete line of tracks.csv, mot/*.txt and events.jsonl parses; returns the last CSV frame."""
    lines, rest = complete_lines(out / "tracks.csv")
    assert allow_cut_line or not rest
    assert lines[0].startswith("camera_id,frame,") and sum(1 for line in lines if line == lines[0]) == 1
    rows = list(csv.reader(lines[1:]))
    assert rows and all(len(row) == CSV_COLUMNS for row in rows)
    last_frame = max(int(row[1]) for row in rows)
    mot_lines, rest = complete_lines(out / "mot" / "cam1.txt")
    assert allow_cut_line or not rest
    assert all(len(line.split(",")) == MOT_COLUMNS for line in mot_lines)
    assert max(int(line.split(",")[0]) for line in mot_lines) == last_frame  # both flushed frame by frame
    events, rest = complete_lines(out / "events.jsonl")
    assert allow_cut_line or not rest
    for line in events:
        json.loads(line)
    return last_frame


def videos(out: Path) -> list[Path]:
    return sorted((out / "video").rglob("*.mp4"))


def decoded_frames(path: Path) -> int:
    with av.open(str(path)) as container:
        return sum(1 for _ in container.decode(video=0))


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_sigint_and_sigterm_flush_everything(tmp_path, signum):
    process = start(tmp_path, "--realtime")
    wait_for_rows(process, tmp_path, 20)
    process.send_signal(signum)
    output, _ = process.communicate(timeout=60)
    assert process.returncode == 0, output[-3000:]
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["status"] == "interrupted"
    camera = summary["cameras"]["cam1"]
    processed = camera["frames_processed"]
    assert 5 <= processed < 795
    # Paced reading drops frames when the box is too busy (counted): the last frame written is at most
    # the last frame received, and every received frame is accounted for.
    assert check_line_outputs(tmp_path, allow_cut_line=False) <= camera["frames_received"]
    assert camera["frames_received"] == processed + sum((camera.get("dropped") or {}).values())
    written = (summary.get("recording") or {}).get("cam1", {}).get("frames_written", processed)
    assert written >= 1
    assert sum(decoded_frames(path) for path in videos(tmp_path)) == written  # finalized: every frame


def test_sigkill_leaves_well_formed_outputs_and_a_restart_appends(tmp_path):
    process = start(tmp_path, "--realtime")
    wait_for_rows(process, tmp_path, 40)
    time.sleep(0.5)
    process.kill()
    process.communicate(timeout=30)
    last_frame = check_line_outputs(tmp_path, allow_cut_line=True)
    assert last_frame >= 5
    killed_videos = videos(tmp_path)
    assert killed_videos, "no video after the kill"
    # Fragmented MP4: playable without its end; at most the frames still in the encoder are missing.
    assert sum(decoded_frames(path) for path in killed_videos) >= 1
    rows_before = processed_rows(tmp_path)

    restart = start(tmp_path, "--max-frames", "15")
    output, _ = restart.communicate(timeout=120)
    assert restart.returncode == 0, output[-3000:]
    check_line_outputs(tmp_path, allow_cut_line=False)  # the cut line of the kill is gone
    assert processed_rows(tmp_path) > rows_before  # appended below the first run's rows
    assert json.loads((tmp_path / "summary.json").read_text())["status"] == "finished"
    assert all(decoded_frames(path) >= 1 for path in videos(tmp_path))


def test_restart_keeps_the_first_runs_video(tmp_path):
    first = start(tmp_path, "--max-frames", "12")
    assert first.wait(timeout=120) == 0
    assert {path.name: decoded_frames(path) for path in videos(tmp_path)} == {"cam1.mp4": 12}
    rows_first = processed_rows(tmp_path)
    for frames in (5, 3):
        restart = start(tmp_path, "--max-frames", str(frames))
        assert restart.wait(timeout=120) == 0
    # Each run records into a file of its own; the earlier ones stay as they were, playable.
    assert {path.name: decoded_frames(path) for path in videos(tmp_path)} == {
        "cam1.mp4": 12,
        "cam1.1.mp4": 5,
        "cam1.2.mp4": 3,
    }
    # The line outputs appended under their one header.
    assert check_line_outputs(tmp_path, allow_cut_line=False) >= 1
    assert processed_rows(tmp_path) > rows_first
    # Each restart continues the numbering: frames 1-12, 13-17, 18-20, ids never reused.
    summary = json.loads((tmp_path / "summary.json").read_text())
    camera = summary["cameras"]["cam1"]
    assert (camera["first_frame"], camera["last_frame"]) == (18, 20)
    assert summary["numbering"]["cameras"]["cam1"]["source_starts"] == [1, 13, 18]
    # the file written, not the one asked for
    assert Path(summary["recording"]["cam1"]["current"]).name == "cam1.2.mp4"
    lines = (tmp_path / "mot" / "cam1.txt").read_text().splitlines()
    mot = [[int(v) for v in line.split(",")[:2]] for line in lines]
    frames = [frame for frame, _ in mot]
    assert frames == sorted(frames) and max(frames) <= 20
    assert len({tuple(row) for row in mot}) == len(mot)  # no (frame, id) twice
    first_ids = {track for frame, track in mot if frame <= 12}
    later_ids = {track for frame, track in mot if frame > 12}
    assert later_ids and min(later_ids) > max(first_ids)
    events = (tmp_path / "events.jsonl").read_text().splitlines()
    assert all(json.loads(line) for line in events)
