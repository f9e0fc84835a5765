"""Boxes of people whose lower body is hidden, extended to a whole person before tracking.

Behind a fence, a railing or a parked car the detector sees a person's head and shoulders and boxes
only those: a box far squatter than a standing person, its top on the person's head and its bottom on
the occluder. Scored against the whole person such a box is a false positive and a missed person at
once (IoU ~0.3), and its track moves and sizes with the occluder's edge, not the person. On the
accuracy protocol's tuning scenes these boxes were most of the false tracks of the street views
(benchmarks/accuracy/README.md). Extending the box downward to a standing person's shape, keeping its
top and width, lands it on the person.

A box whose top is on the frame's top edge is left alone: there the head is what is cut off, and the
feet the box ends on are real.
"""

from __future__ import annotations

from numbers import Real

import numpy as np

TOP_EDGE_PX = 1.0
"""A box whose top is within this many pixels of row 0 is cut by the frame, not by an occluder."""


def check_aspects(squat_box_aspect: float | None, completed_box_aspect: float) -> None:
    """ValueError naming the setting unless squat_box_aspect is None (off) or a number above 0, and
    completed_box_aspect a number above 0 and at least squat_box_aspect."""
    if squat_box_aspect is not None:
        _check_aspect("squat_box_aspect", squat_box_aspect, " (or null to switch the completion off)")
    _check_aspect("completed_box_aspect", completed_box_aspect)
    if squat_box_aspect is not None and completed_box_aspect < squat_box_aspect:
        raise ValueError(
            f"completed_box_aspect={completed_box_aspect!r} must be at least squat_box_aspect="
            f"{squat_box_aspect!r}: a completed box must not be squatter than the boxes it completes"
        )


def complete_squat_boxes(
    xyxy: np.ndarray, squat_box_aspect: float, completed_box_aspect: float
) -> np.ndarray:
    """Boxes with every squat one extended downward.

    xyxy: (n, 4) x1, y1, x2, y2 pixel corners. A box whose height is below squat_box_aspect times its
    width, and whose top is not on the frame's top edge, gets y2 = y1 + completed_box_aspect * width.
    Returns a new (n, 4) array of xyxy's dtype; the input is not changed.
    """
    boxes = np.array(xyxy, copy=True)
    width = boxes[:, 2] - boxes[:, 0]
    height = boxes[:, 3] - boxes[:, 1]
    squat = (height < squat_box_aspect * width) & (boxes[:, 1] >= TOP_EDGE_PX)
    boxes[squat, 3] = boxes[squat, 1] + completed_box_aspect * width[squat]
    return boxes


def _check_aspect(name: str, value: object, hint: str = "") -> None:
    if not isinstance(value, Real) or isinstance(value, bool) or not 0 < float(value) < np.inf:
        raise ValueError(f"{name}={value!r} must be a number above 0 (a box height in box widths){hint}")
