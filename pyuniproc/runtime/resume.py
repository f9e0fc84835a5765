"""Where earlier runs into the same `--out` left each camera, so that a restart continues the numbering.

Outputs are appended to, never truncated (a restart keeps what the first run wrote). If a restart's
frame numbers and track ids began again at 1, `mot/<camera>.txt` would hold two runs' rows under the
same frame numbers and two different people under the same id: TrackEval rejects repeated
(frame, id) pairs, and anyone joining `tracks.csv` on (camera, frame) would mix runs. So a camera
continues after the largest frame number and the largest local track id already written for it, and
global ids continue after the largest written. The same holds for a camera removed and added again
during one run (`Pipeline` keeps its `ResumePoint`).

The run keeps this bookkeeping in `summary.json` under `numbering` (`numbering_summary`): per camera
ever run into the folder its last frame, its largest track id and `source_starts`, the frame numbers
at which its source began from the start (one per run or visit: what maps a frame number back to the
source file's own frame, `frame_in_source`); and the largest global id. It is carried from run to run,
so a camera that is not in the next run's cameras file keeps its place. As the summary is written every
`summary_period_seconds`, a restart also reads the tail of each MOT file (rows written after the last
summary, e.g. before a SIGKILL). A folder from before this bookkeeping is read whole once instead.
"""

from __future__ import annotations

import bisect
import json
import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

_CHUNK_BYTES = 1 << 22
TAIL_BYTES = 1 << 22
"""How much of each MOT file's end a restart reads beside summary.json (minutes of rows; the summary
is at most `summary_period_seconds` old)."""


@dataclass(frozen=True)
class ResumePoint:
    """first_frame_index: the 0-based `Frame.index` of the camera's next frame (its MOT frame number
        is one more).
    track_id_offset: added to every id its new tracker gives (trackers count from 1), so new ids
        follow the largest one written.
    source_starts: 1-based frame numbers at which the camera's source began from the start, oldest
        first (one per run or visit).
    """

    first_frame_index: int = 0
    track_id_offset: int = 0
    source_starts: tuple[int, ...] = ()

    def after(self, last_frame: int, largest_track_id: int) -> ResumePoint:
        """This point moved past a camera run that ended at 1-based `last_frame` with ids up to
        `largest_track_id` (never backwards)."""
        return ResumePoint(
            max(self.first_frame_index, int(last_frame)),
            max(self.track_id_offset, int(largest_track_id)),
            self.source_starts,
        )

    def started(self) -> ResumePoint:
        """The camera's source starts again at the next frame."""
        return ResumePoint(
            self.first_frame_index, self.track_id_offset, (*self.source_starts, self.first_frame_index + 1)
        )


@dataclass
class RunResume:
    """What `read_resume` found: a point per camera with outputs, and the largest global id written.
    The pipeline keeps it up to date for cameras that leave and come back."""

    cameras: dict[str, ResumePoint] = field(default_factory=dict)
    largest_global_id: int = 0

    def point(self, camera_id: str) -> ResumePoint:
        return self.cameras.get(camera_id, ResumePoint())


def read_resume(out_dir: str | os.PathLike[str]) -> RunResume:
    """Read `out_dir`'s summary.json and MOT files; an empty or new folder gives all zeros."""
    out_dir = Path(out_dir)
    summary = _read_summary(out_dir / "summary.json")
    numbering = summary.get("numbering") if isinstance(summary.get("numbering"), dict) else None
    cameras: dict[str, ResumePoint] = {}
    largest_global_id = 0
    if numbering is not None:
        largest_global_id = _int(numbering.get("largest_global_id"))
        for camera_id, entry in (numbering.get("cameras") or {}).items():
            if isinstance(entry, dict):
                starts = tuple(s for s in entry.get("source_starts") or () if isinstance(s, int) and s > 0)
                cameras[str(camera_id)] = ResumePoint(
                    _int(entry.get("last_frame")), _int(entry.get("largest_track_id")), starts
                )
    else:  # a folder from before `numbering`: its per-camera last frames
        for camera_id, snapshot in (summary.get("cameras") or {}).items():
            last = snapshot.get("last_frame") if isinstance(snapshot, dict) else None
            cameras[str(camera_id)] = ResumePoint(_int(last))
    tail = TAIL_BYTES if numbering is not None else None
    for path in sorted((out_dir / "mot").glob("*.txt")):
        last_frame, largest_id = largest_frame_and_id(path, tail_bytes=tail)
        cameras[path.stem] = cameras.get(path.stem, ResumePoint()).after(last_frame, largest_id)
    for path in (out_dir / "mtmc").glob("*.txt"):
        largest_global_id = max(largest_global_id, largest_frame_and_id(path, tail_bytes=tail)[1])
    cameras = {c: p for c, p in cameras.items() if p != ResumePoint()}
    if cameras:
        log.info(
            "continuing the outputs in %s: %s; global ids after %d",
            out_dir,
            ", ".join(
                f"{c} from frame {p.first_frame_index + 1}, ids after {p.track_id_offset}"
                for c, p in sorted(cameras.items())
            ),
            largest_global_id,
        )
    return RunResume(cameras, largest_global_id)


def numbering_summary(points: dict[str, ResumePoint], largest_global_id: int) -> dict[str, Any]:
    """summary.json's `numbering` (what the next `read_resume` reads back)."""
    return {
        "largest_global_id": int(largest_global_id),
        "cameras": {
            camera_id: {
                "last_frame": point.first_frame_index,
                "largest_track_id": point.track_id_offset,
                "source_starts": list(point.source_starts),
            }
            for camera_id, point in sorted(points.items())
        },
    }


def frame_in_source(frame: int, source_starts: Sequence[int]) -> tuple[int, int]:
    """A 1-based frame number of the outputs -> (which source start it follows, 0-based frame of the
    source since that start). Without starts (or before the first) the numbering began at 1."""
    run = bisect.bisect_right(source_starts, frame) - 1
    if run < 0:
        return 0, frame - 1
    return run, frame - source_starts[run]


def largest_frame_and_id(path: Path, *, tail_bytes: int | None = None) -> tuple[int, int]:
    """The largest frame number and id in a MOTChallenge file (`frame,id,...` lines), over the whole
    file or its last `tail_bytes`. Lines that do not parse are skipped, and so is a last line without its
    newline (cut by a killed run; the writers drop it on their next open)."""
    largest_frame = largest_id = 0
    rest = b""
    with path.open("rb") as file:
        if tail_bytes is not None:
            size = file.seek(0, os.SEEK_END)
            file.seek(max(0, size - tail_bytes))
            if size > tail_bytes:
                file.readline()  # the first line read may be cut by the seek
        while chunk := file.read(_CHUNK_BYTES):
            lines = (rest + chunk).split(b"\n")
            rest = lines.pop()
            largest_frame, largest_id = _scan(lines, largest_frame, largest_id)
    return largest_frame, largest_id


def _scan(lines: list[bytes], largest_frame: int, largest_id: int) -> tuple[int, int]:
    for line in lines:
        fields = line.split(b",", 2)
        if len(fields) < 3:
            continue
        try:
            frame, track_id = int(fields[0]), int(fields[1])
        except ValueError:
            continue
        if frame > largest_frame:
            largest_frame = frame
        if track_id > largest_id:
            largest_id = track_id
    return largest_frame, largest_id


def _read_summary(path: Path) -> dict[str, Any]:
    try:
        summary = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return summary if isinstance(summary, dict) else {}


def _int(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else 0
