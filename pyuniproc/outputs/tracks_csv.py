"""tracks.csv: every tracked box of every camera, one row per box, written as frames arrive.

Frame numbers are 1-based (`frame = Frame.index + 1`) in every run output, as in MOTChallenge,
so a row of tracks.csv and a row of mot/<camera>.txt for the same box carry the same frame.
Rows without a tracker id are not tracks and are left out. Each `write` is flushed, so a crash
or Ctrl-C loses nothing already processed; a restarted run appends to the same file.
"""

from __future__ import annotations

import csv
import os
from types import TracebackType

import numpy as np

from pyuniproc.outputs._files import open_for_append
from pyuniproc.types import Detections

TRACKS_CSV_HEADER = "camera_id,frame,pts_seconds,track_id,global_id,x1,y1,x2,y2,confidence"


class TracksCsvWriter:
    """Appends tracked boxes to a CSV file with header `TRACKS_CSV_HEADER`.

    global_id comes from `tracks.data["global_id"]`; the cell is empty when that column is
    absent or the value is negative (no cross-camera identity yet). Boxes are written with 2
    decimals, confidence with 4, pts_seconds with 3.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = path
        self._file = open_for_append(path, TRACKS_CSV_HEADER)
        self._csv = csv.writer(self._file, lineterminator="\n")

    def write(self, camera_id: str, frame_index: int, pts_seconds: float, tracks: Detections) -> int:
        """Append one frame's tracked rows (`frame_index` is the 0-based `Frame.index`); returns rows."""
        tracked = np.flatnonzero(tracks.tracker_id >= 0)
        if len(tracked) == 0:
            return 0
        global_ids = tracks.data.get("global_id")
        frame, pts = str(int(frame_index) + 1), f"{float(pts_seconds):.3f}"
        rows = []
        for i in tracked.tolist():
            x1, y1, x2, y2 = tracks.xyxy[i].tolist()
            global_id = "" if global_ids is None or int(global_ids[i]) < 0 else str(int(global_ids[i]))
            rows.append(
                (
                    camera_id,
                    frame,
                    pts,
                    int(tracks.tracker_id[i]),
                    global_id,
                    f"{x1:.2f}",
                    f"{y1:.2f}",
                    f"{x2:.2f}",
                    f"{y2:.2f}",
                    f"{float(tracks.confidence[i]):.4f}",
                )
            )
        self._csv.writerows(rows)
        self._file.flush()
        return len(rows)

    def close(self) -> None:
        self._file.close()

    def __enter__(self) -> TracksCsvWriter:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()
