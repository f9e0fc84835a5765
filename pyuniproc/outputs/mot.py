"""MOTChallenge text files, one per camera: `frame,id,x,y,w,h,conf,-1,-1,-1`.

`frame` is 1-based (`Frame.index + 1`), x/y the top-left corner, w/h the size, in pixels; this
is what TrackEval and py-motmetrics read. The same writer makes per-camera tracking results
(`id_key="tracker_id"`, e.g. into out/mot/) and multi-camera results keyed by cross-camera
identity (`id_key="global_id"`, read from `tracks.data`, e.g. into out/mtmc/). Rows whose id is
negative or missing are skipped. Rows are buffered and reach the files at least every
`flush_seconds`, when the run writes summary.json, and at close (`_files.py`); a restarted run
appends.
"""

from __future__ import annotations

import os
from pathlib import Path
from types import TracebackType
from typing import TextIO

import numpy as np

from pyuniproc.outputs._files import FLUSH_SECONDS, FlushTimer, check_camera_id, open_for_append
from pyuniproc.outputs.box_text import BoxText
from pyuniproc.types import Detections


class MotWriter:
    """Writes `<directory>/<camera_id>.txt` for every camera it is given.

    id_key: "tracker_id" for the tracker's per-camera ids, or the name of an integer column of
        `Detections.data` (e.g. "global_id") to write that identity instead.
    flush_seconds: longest time rows wait in memory (0: every write goes to the OS at once).
    """

    def __init__(
        self,
        directory: str | os.PathLike[str],
        *,
        id_key: str = "tracker_id",
        flush_seconds: float = FLUSH_SECONDS,
    ) -> None:
        if not isinstance(id_key, str) or not id_key:
            raise ValueError(f"id_key must be 'tracker_id' or a Detections.data column name, got {id_key!r}")
        self.directory = Path(directory)
        self.id_key = id_key
        self._timer = FlushTimer(flush_seconds)
        self._files: dict[str, TextIO] = {}
        self._unflushed: set[str] = set()  # cameras with rows still in their file's buffer

    def path_for(self, camera_id: str) -> Path:
        return self.directory / f"{check_camera_id(camera_id)}.txt"

    def write(
        self, camera_id: str, frame_index: int, tracks: Detections, text: BoxText | None = None
    ) -> int:
        """Append one frame of one camera (`frame_index` is the 0-based `Frame.index`); returns rows.
        `text`: `BoxText(tracks)` when the caller already has it (shared between writers)."""
        file = self._files.get(camera_id)
        if file is None:
            file = self._files[camera_id] = open_for_append(self.path_for(camera_id))
        ids = self._ids(tracks)
        keep = [] if ids is None else np.flatnonzero(ids >= 0).tolist()
        if keep:
            text = text if text is not None else BoxText(tracks)
            values, corner, size, score = ids.tolist(), text.corner, text.size, text.score
            frame = int(frame_index) + 1
            file.write(
                "".join([f"{frame},{values[i]},{corner[i]},{size[i]},{score[i]},-1,-1,-1\n" for i in keep])
            )
            self._unflushed.add(camera_id)
        if self._timer.due():
            self.flush()
        return len(keep)

    def flush(self) -> None:
        """Hand every row written so far to the OS."""
        for camera_id in self._unflushed:
            file = self._files.get(camera_id)
            if file is not None:
                file.flush()
        self._unflushed.clear()

    def close_camera(self, camera_id: str) -> None:
        """Close one camera's file (its end of stream); a later write reopens it for appending."""
        file = self._files.pop(camera_id, None)
        self._unflushed.discard(camera_id)
        if file is not None:
            file.close()

    def close(self) -> None:
        for camera_id in list(self._files):
            self.close_camera(camera_id)

    def _ids(self, tracks: Detections) -> np.ndarray | None:
        if self.id_key == "tracker_id":
            return tracks.tracker_id
        values = tracks.data.get(self.id_key)
        if values is None:
            return None  # e.g. frames before fusion assigned identities, or empty Detections
        if values.ndim != 1:
            raise ValueError(f"Detections.data[{self.id_key!r}] must be (n,) ids, got shape {values.shape}")
        return values.astype(np.int64)

    def __enter__(self) -> MotWriter:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()
