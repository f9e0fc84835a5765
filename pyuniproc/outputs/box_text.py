"""A frame's boxes and scores as text, formatted once and shared by tracks.csv, mot/ and mtmc/.

Formatting floats is what the text outputs spend their time on (a few hundred ns per value; a
frame of 10 people is 70 values), and the three files print the same numbers: x1,y1 and the
score in all three, w,h in both MOT files, x2,y2 in tracks.csv. `BoxText(tracks)` formats each
once; `RunOutputs` hands it to every writer, which only joins the pieces with its own columns.
A writer called without one formats its own.
"""

from __future__ import annotations

from functools import cached_property

from pyuniproc.types import Detections


class BoxText:
    """Per row of a `Detections` (all n rows, whatever their ids), 2 decimals for pixels, 4 for
    scores; each column formatted on first use, so a writer pays only for what it prints.

    corner: "x1,y1"; far: "x2,y2"; size: "w,h"; score: "confidence".
    """

    def __init__(self, tracks: Detections) -> None:
        self._boxes = tracks.xyxy.tolist()  # float32 values as Python floats: w = x2 - x1 in float64
        self._scores = tracks.confidence

    @cached_property
    def corner(self) -> list[str]:
        return [f"{x1:.2f},{y1:.2f}" for x1, y1, _, _ in self._boxes]

    @cached_property
    def far(self) -> list[str]:
        return [f"{x2:.2f},{y2:.2f}" for _, _, x2, y2 in self._boxes]

    @cached_property
    def size(self) -> list[str]:
        return [f"{x2 - x1:.2f},{y2 - y1:.2f}" for x1, y1, x2, y2 in self._boxes]

    @cached_property
    def score(self) -> list[str]:
        return [f"{score:.4f}" for score in self._scores.tolist()]

    def __len__(self) -> int:
        return len(self._boxes)
