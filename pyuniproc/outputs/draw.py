"""Drawing tracks on a picture for the annotated video: boxes, ids, camera label, fps.

Kept apart from the encoder so the same drawing serves a preview window or a test. Draws on a
copy; the frame that flows through the pipeline is never modified. Colours come from a fixed
palette indexed by identity, keyed by the global (cross-camera) id when there is one, so one
person keeps one colour in every camera and across runs.
"""

from __future__ import annotations

import cv2
import numpy as np

from pyuniproc.types import Detections

# RGB (frames are RGB); well separated, readable with white or black text.
PALETTE: tuple[tuple[int, int, int], ...] = (
    (230, 25, 75),
    (60, 180, 75),
    (255, 225, 25),
    (0, 130, 200),
    (245, 130, 48),
    (145, 30, 180),
    (70, 240, 240),
    (240, 50, 230),
    (210, 245, 60),
    (250, 190, 212),
    (0, 128, 128),
    (220, 190, 255),
    (170, 110, 40),
    (255, 250, 200),
    (128, 0, 0),
    (170, 255, 195),
    (128, 128, 0),
    (255, 215, 180),
    (0, 0, 128),
    (128, 128, 128),
)
UNTRACKED_COLOR = (200, 200, 200)
_FONT = cv2.FONT_HERSHEY_SIMPLEX


def color_for_id(identity: int) -> tuple[int, int, int]:
    """The palette colour of an id; the same id always gets the same colour."""
    return UNTRACKED_COLOR if identity < 0 else PALETTE[identity % len(PALETTE)]


def draw_tracks(
    image: np.ndarray, tracks: Detections | None, *, label: str = "", fps: float | None = None
) -> np.ndarray:
    """A copy of the RGB `image` with every box, its "track_id" or "track_id g<global_id>"
    tag, and a top-left "<label>  <fps> fps" banner."""
    canvas = np.ascontiguousarray(image).copy()
    scale = max(1, round(min(canvas.shape[:2]) / 360))
    if tracks is not None and len(tracks):
        global_ids = tracks.data.get("global_id")
        for i in range(len(tracks)):
            track_id = int(tracks.tracker_id[i])
            global_id = int(global_ids[i]) if global_ids is not None else -1
            color = color_for_id(global_id if global_id >= 0 else track_id)
            x1, y1, x2, y2 = (int(round(v)) for v in tracks.xyxy[i].tolist())
            cv2.rectangle(canvas, (x1, y1), (x2, y2), color, thickness=scale)
            tag = "" if track_id < 0 else str(track_id)
            if global_id >= 0:
                tag += f" g{global_id}"
            if tag:
                _text_box(canvas, tag.strip(), (x1, y1), color, scale)
    banner = label if fps is None else f"{label}  {fps:.1f} fps".strip()
    if banner:
        _text_box(canvas, banner, (0, 0), (0, 0, 0), scale, below=True)
    return canvas


def _text_box(
    canvas: np.ndarray,
    text: str,
    corner: tuple[int, int],
    color: tuple[int, int, int],
    scale: int,
    *,
    below: bool = False,
) -> None:
    """Text on a filled box whose bottom-left (or top-left, `below`) is `corner`, kept on screen."""
    font_scale = 0.5 * scale
    (width, height), baseline = cv2.getTextSize(text, _FONT, font_scale, scale)
    box_h = height + baseline + 2 * scale
    x = min(max(corner[0], 0), max(canvas.shape[1] - width - 2 * scale, 0))
    top = corner[1] if below else corner[1] - box_h
    top = min(max(top, 0), max(canvas.shape[0] - box_h, 0))
    cv2.rectangle(canvas, (x, top), (x + width + 2 * scale, top + box_h), color, thickness=-1)
    text_color = (0, 0, 0) if sum(color) > 382 else (255, 255, 255)
    cv2.putText(
        canvas, text, (x + scale, top + height + scale), _FONT, font_scale, text_color, scale, cv2.LINE_AA
    )
