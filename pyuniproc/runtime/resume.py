"""Where earlier runs into the same `--out` left each camera, so that a restart continues the numbering.

Outputs are appended to, never truncated (a restart keeps what the first run wrote). If a restart's
frame numbers and track ids began again at 1, `mot/<camera>.txt` would hold two runs' rows under the
same frame numbers and two different people under the same id: TrackEval rejects repeated
(frame, id) pairs, and anyone joining `tracks.csv` on (camera, frame) would mix runs. So a camera
continues after the largest frame number and the largest local track id already written for it, and
global ids continue after the largest in `mtmc/`. The same holds for a camera removed and added again
during one run (`Pipeline` keeps its `ResumePoint`).

Only the written outputs are read (the MOT files and `summary.json`), so nothing else needs to be
kept between runs. Frames after a camera's last row with a track are known only from
`summary.json`'s `last_frame`, which is written every `summary_period_seconds` and at the end: after
a SIGKILL, a few trailing frames without people may be numbered again, never a frame with rows.
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)

_CHUNK_BYTES = 1 << 22


@dataclass(frozen=True)
class ResumePoint:
    """first_frame_index: the 0-based `Frame.index` of the camera's next frame (its MOT frame number
        is one more).
    track_id_offset: added to every id its new tracker gives (trackers count from 1), so new ids
        follow the largest one written.
    """

    first_frame_index: int = 0
    track_id_offset: int = 0

    def after(self, last_frame: int, largest_track_id: int) -> ResumePoint:
        """This point moved past a camera run that ended at 1-based `last_frame` with ids up to
        `largest_track_id` (never backwards)."""
        return ResumePoint(
            max(self.first_frame_index, int(last_frame)),
            max(self.track_id_offset, int(largest_track_id)),
        )


@dataclass(frozen=True)
class RunResume:
    """What `read_resume` found: a point per camera with outputs, and the largest global id written."""

    cameras: dict[str, ResumePoint]
    largest_global_id: int = 0

    def point(self, camera_id: str) -> ResumePoint:
        return self.cameras.get(camera_id, ResumePoint())


def read_resume(out_dir: str | os.PathLike[str]) -> RunResume:
    """Scan `out_dir`'s MOT files and summary; an empty or new folder gives all zeros."""
    out_dir = Path(out_dir)
    cameras: dict[str, ResumePoint] = {}
    for path in sorted((out_dir / "mot").glob("*.txt")):
        last_frame, largest_id = largest_frame_and_id(path)
        cameras[path.stem] = ResumePoint().after(last_frame, largest_id)
    for camera_id, last_frame in _summary_last_frames(out_dir / "summary.json").items():
        cameras[camera_id] = cameras.get(camera_id, ResumePoint()).after(last_frame, 0)
    largest_global_id = max(
        (largest_frame_and_id(path)[1] for path in (out_dir / "mtmc").glob("*.txt")), default=0
    )
    if cameras:
        log.info(
            "continuing the outputs in %s: %s; global ids after %d",
            out_dir,
            ", ".join(f"{c} from frame {p.first_frame_index + 1}, ids after {p.track_id_offset}"
                      for c, p in sorted(cameras.items())),
            largest_global_id,
        )
    return RunResume(cameras, largest_global_id)


def largest_frame_and_id(path: Path) -> tuple[int, int]:
    """The largest frame number and id in a MOTChallenge file (`frame,id,...` lines); lines that do
    not parse are skipped, and so is a last line without its newline (cut by a killed run; the writers
    drop it on their next open). Read in chunks: a day of one busy camera is ~100 MB."""
    largest_frame = largest_id = 0
    rest = b""
    with path.open("rb") as file:
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


def _summary_last_frames(path: Path) -> dict[str, int]:
    """`cameras.<id>.last_frame` of an earlier run's summary.json ({} when absent or unreadable)."""
    try:
        cameras = json.loads(path.read_text(encoding="utf-8")).get("cameras") or {}
    except (OSError, ValueError, AttributeError):
        return {}
    found = {}
    for camera_id, snapshot in cameras.items():
        last = snapshot.get("last_frame") if isinstance(snapshot, dict) else None
        if isinstance(last, int) and last > 0:
            found[str(camera_id)] = last
    return found
