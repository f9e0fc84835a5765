"""The scenario's true ground-plane calibration: each camera's image foot point -> site plane, in metres.

A source still comes with a pinhole person-height model (views.py `Source`): a standing person whose feet
are at source row y is `k * (y - y0)` pixels tall, i.e. the horizon is at row y0 and the camera stands
`PERSON_METRES / k` above flat ground. With a focal length f (pixels) and the principal point at the
middle column cx, a foot at source pixel (x, y) stands at

    X = H * (x - cx) / (k * (y - y0)),   Z = H * f / (k * (y - y0))      (H = PERSON_METRES)

metres across and ahead of the camera: in homogeneous coordinates [X, Z, 1] ~ M @ [x, y, 1], a
homography. f is not known from a still; any value gives a consistent plane (it scales depth), so the
source width is used (a 53-degree field of view). A view is a crop (optionally mirrored) scaled to the
output frame, an affine map of the source; its calibration is M composed with that map's inverse. Each
group (one camera or one overlap pair: one place) gets its own stretch of the plane, `GROUP_SPACING_METRES`
apart, so cameras of different places never share plane positions even when cut from the same still.
"""

from __future__ import annotations

import numpy as np

from .views import Source, View

PERSON_METRES = 1.7
GROUP_SPACING_METRES = 1000.0
CHECK_POINTS = 6
"""Point pairs written beside each homography, so `pyuniproc calibrate` can show it reproduces them."""


def source_to_plane(source: Source) -> np.ndarray:
    """(3, 3) source pixels -> plane metres (X across, Z ahead) for the source's height model."""
    h, k, y0 = PERSON_METRES, source.height_k, source.height_y0
    cx, f = source.image.shape[1] / 2.0, float(source.image.shape[1])
    return np.array([[h, 0.0, -h * cx], [0.0, 0.0, h * f], [0.0, k, -k * y0]])


def image_to_source(view: View) -> np.ndarray:
    """(3, 3) output pixels -> source pixels: the inverse of the view's crop, scale and mirror."""
    s = view.scale
    x0, y0 = view.crop[0], view.crop[1]
    if view.mirror:
        return np.array([[-1.0 / s, 0.0, x0 + view.width / s], [0.0, 1.0 / s, y0], [0.0, 0.0, 1.0]])
    return np.array([[1.0 / s, 0.0, x0], [0.0, 1.0 / s, y0], [0.0, 0.0, 1.0]])


def camera_ground(view: View, source: Source, group: int) -> np.ndarray:
    """(3, 3) output pixels -> site plane metres for a camera of `group` showing `view` of `source`."""
    offset = np.array([[1.0, 0.0, GROUP_SPACING_METRES * group], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]])
    matrix = offset @ source_to_plane(source) @ image_to_source(view)
    return matrix / matrix[2, 2]


def check_points(view: View, source: Source, matrix: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(CHECK_POINTS, 2) image points on the view's walkable ground and their plane positions."""
    low, high = view.walk_band(source)
    rows = view.to_image(np.array([[view.crop[0], low], [view.crop[0], high]]))[:, 1]
    top, bottom = float(np.clip(rows.min(), 0, view.height)), float(np.clip(rows.max(), 0, view.height))
    xs = np.array([0.15, 0.5, 0.85]) * view.width
    ys = (top + 0.1 * (bottom - top), bottom - 0.1 * (bottom - top))
    image = np.array([[x, y] for y in ys for x in xs])
    w = image @ matrix[2, :2] + matrix[2, 2]
    plane = (image @ matrix[:2, :2].T + matrix[:2, 2]) / w[:, None]
    return image, plane


def ground_yaml(camera_id: str, view: View, source: Source, group: int) -> list[str]:
    """The camera's `ground:` entry of the cameras file: its homography and check points."""
    matrix = camera_ground(view, source, group)
    image, plane = check_points(view, source, matrix)
    rows = ", ".join("[" + ", ".join(f"{v + 0.0:.12g}" for v in row) + "]" for row in matrix)  # no -0
    lines = [f"  {camera_id}:", f"    homography: [{rows}]", "    points:"]
    lines += [
        f"      - {{image: [{x:.2f}, {y:.2f}], plane: [{px:.4f}, {pz:.4f}]}}"
        for (x, y), (px, pz) in zip(image, plane, strict=True)
    ]
    return lines
