"""tracks.csv: every tracked box of every camera, one row per box, written as frames arrive.

Frame numbers are 1-based (`frame = Frame.index + 1`) in every run output, as in MOTChallenge,
so a row of tracks.csv and a row of mot/<camera>.txt for the same box carry the same frame.
Rows without a tracker id are not tracks and are left out. A frame's rows are formatted in one
go from the columns and buffered; they reach the file at least every `flush_seconds`, when the
run writes summary.json, and at close (`_files.py`), so an error or Ctrl-C loses nothing already
processed; a restarted run appends to the same file.
"""

from __future__ import annotations

import os
from types import TracebackType

import numpy as np

from pyuniproc.outputs._files import FLUSH_SECONDS, FlushTimer, open_for_append
from pyuniproc.outputs.box_text import BoxText
from pyuniproc.types import Detections

TRACKS_CSV_HEADER = "camera_id,frame,pts_seconds,track_id,global_id,x1,y1,x2,y2,confidence"
_BUFFER_BYTES = 1 << 16  # one file for every camera: ~2.5 MB/s at 150 cameras x 30 fps x 10 people


class TracksCsvWriter:
    """Appends tracked boxes to a CSV file with header `TRACKS_CSV_HEADER`.

    global_id comes from `tracks.data["global_id"]`; the cell is empty when that column is
    absent or the value is negative (no cross-camera identity yet). Boxes are written with 2
    decimals, confidence with 4, pts_seconds with 3. Camera ids never need CSV quoting (letters,
    digits, '_' and '-' only).
    flush_seconds: longest time rows wait in memory (0: every write goes to the OS at once).
    """

    def __init__(self, path: str | os.PathLike[str], *, flush_seconds: float = FLUSH_SECONDS) -> None:
        self.path = path
        self._timer = FlushTimer(flush_seconds)
        self._file = open_for_append(path, TRACKS_CSV_HEADER, buffering=_BUFFER_BYTES)

    def write(
        self,
        camera_id: str,
        frame_index: int,
        pts_seconds: float,
        tracks: Detections,
        text: BoxText | None = None,
    ) -> int:
        """Append one frame's tracked rows (`frame_index` is the 0-based `Frame.index`); returns rows.
        `text`: `BoxText(tracks)` when the caller already has it (shared with the MOT writers)."""
        keep = np.flatnonzero(tracks.tracker_id >= 0).tolist()
        if keep:
            text = text if text is not None else BoxText(tracks)
            ids = tracks.tracker_id.tolist()
            global_ids = tracks.data.get("global_id")
            if global_ids is None:
                cells = [""] * len(ids)
            else:
                cells = ["" if g < 0 else str(g) for g in np.asarray(global_ids).astype(np.int64).tolist()]
            prefix = f"{camera_id},{int(frame_index) + 1},{float(pts_seconds):.3f},"
            corner, far, score = text.corner, text.far, text.score
            self._file.write(
                "".join([f"{prefix}{ids[i]},{cells[i]},{corner[i]},{far[i]},{score[i]}\n" for i in keep])
            )
        if self._timer.due():
            self._file.flush()
        return len(keep)

    def flush(self) -> None:
        """Hand every row written so far to the OS."""
        self._file.flush()

    def close(self) -> None:
        self._file.close()

    def __enter__(self) -> TracksCsvWriter:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()
