"""Plane geometry on (n, 2) float arrays of pixel points, vectorised over points and edges.

Pure numpy so the same code runs in a Savant pyfunc and in tests; a camera has tens of tracks
and a handful of lines/zones, so broadcasting (n, m) is cheap.
"""

from __future__ import annotations

import numpy as np


def signed_distance_to_line(points: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(n,) distance of each point from the infinite line through A and B, signed by side.

    Positive where `cross(B - A, P - A) > 0`: with image coordinates (y down) that is the
    right-hand side of the arrow A -> B as seen on the picture.
    """
    ab = b - a
    ap = points - a
    cross = ab[0] * ap[:, 1] - ab[1] * ap[:, 0]
    return cross / np.hypot(ab[0], ab[1])


def position_along_segment(point: np.ndarray, a: np.ndarray, b: np.ndarray) -> float:
    """Where the projection of `point` falls on A -> B: 0 at A, 1 at B, outside [0, 1] beyond them."""
    ab = b - a
    return float(np.dot(point - a, ab) / np.dot(ab, ab))


def points_in_polygon(points: np.ndarray, polygon: np.ndarray) -> np.ndarray:
    """(n,) bool: even-odd rule (a ray to +x crosses the boundary an odd number of times)."""
    x = points[:, 0:1]
    y = points[:, 1:2]
    x0, y0 = polygon[:, 0], polygon[:, 1]
    x1, y1 = np.roll(x0, -1), np.roll(y0, -1)
    straddles = (y0 > y) != (y1 > y)  # (n, m); horizontal edges never straddle
    with np.errstate(divide="ignore", invalid="ignore"):
        x_cross = x0 + (y - y0) * (x1 - x0) / (y1 - y0)
    return np.count_nonzero(straddles & (x < x_cross), axis=1) % 2 == 1


def distance_to_polygon_edges(points: np.ndarray, polygon: np.ndarray) -> np.ndarray:
    """(n,) distance from each point to the nearest edge of the closed polygon."""
    a = polygon[None, :, :]  # (1, m, 2)
    ab = np.roll(polygon, -1, axis=0)[None, :, :] - a
    ap = points[:, None, :] - a  # (n, m, 2)
    t = np.clip((ap * ab).sum(-1) / np.maximum((ab * ab).sum(-1), 1e-12), 0.0, 1.0)
    nearest = a + t[..., None] * ab
    return np.sqrt(((points[:, None, :] - nearest) ** 2).sum(-1)).min(axis=1)
