"""Plane-to-plane homographies: fit one from point pairs, apply it, and say why a set of pairs cannot fix it.

A camera's image of flat ground is a projective map of the ground (a pinhole camera looking at a plane),
so four image points of known ground position, no three on one line, fix the map from any foot point
to its place on the site plane. Fitting uses the normalised direct linear transform (Hartley): both point
sets are moved to their centroid and scaled to a mean distance of sqrt(2) before the 2n x 9 system is
solved by SVD, which keeps pixel-sized and metre-sized coordinates equally weighted.

Errors are `DegenerateCalibration` (a `ValueError`) with a sentence a person can act on; callers that know
the camera and the field (the cameras file loader, `pyuniproc calibrate`) put those in front.
"""

from __future__ import annotations

import itertools

import numpy as np

MIN_POINTS = 4
"""A homography has 8 degrees of freedom; each point pair gives 2 equations."""
COLLINEAR_RATIO = 1e-3
"""Point sets whose thinner spread is under this share of the wider one are taken as lying on a line."""
RANK_RATIO = 1e-7
"""The DLT system's second-smallest singular value under this share of its largest: more than one map
fits the points (three of four on one line, or repeated points)."""


class DegenerateCalibration(ValueError):
    """Point pairs that do not fix one homography (too few, on a line, repeated) or a singular matrix."""


def as_points(points: np.ndarray | list, what: str = "points") -> np.ndarray:
    """(n, 2) float64 finite points, or a `DegenerateCalibration` saying what is wrong with them."""
    array = np.asarray(points, dtype=np.float64)
    if array.ndim != 2 or array.shape[1] != 2:
        raise DegenerateCalibration(f"{what} must be (n, 2) [x, y] pairs, got shape {array.shape}")
    if not np.isfinite(array).all():
        raise DegenerateCalibration(f"{what} hold NaN or infinite values")
    return array


def check_pairs(image: np.ndarray, plane: np.ndarray) -> None:
    """Raise `DegenerateCalibration` unless the pairs can fix one homography (before fitting, so the
    message names the cause rather than a numerical symptom)."""
    if len(image) != len(plane):
        raise DegenerateCalibration(f"{len(image)} image points but {len(plane)} plane points")
    if len(image) < MIN_POINTS:
        raise DegenerateCalibration(
            f"needs at least {MIN_POINTS} point pairs (no three on one line), got {len(image)}"
        )
    for what, points in (("image", image), ("plane", plane)):
        if spread_ratio(points) < COLLINEAR_RATIO:
            raise DegenerateCalibration(
                f"the {what} points all lie on one line; a ground calibration needs points spread over "
                f"an area (at least 4, no three on one line)"
            )
        rounded = {tuple(p) for p in np.round(points, 9).tolist()}
        if len(rounded) < len(points):
            raise DegenerateCalibration(
                f"the {what} points repeat a point; each pair must be a different spot"
            )
    if len(image) == MIN_POINTS:
        for trio in itertools.combinations(range(MIN_POINTS), 3):
            for what, points in (("image", image), ("plane", plane)):
                if spread_ratio(points[list(trio)]) < COLLINEAR_RATIO:
                    raise DegenerateCalibration(
                        f"{what} points {[i + 1 for i in trio]} lie on one line; with 4 pairs no three "
                        f"may (add pairs or move one)"
                    )


def fit_homography(image: np.ndarray | list, plane: np.ndarray | list) -> np.ndarray:
    """(3, 3) H with plane ~ H @ [x, y, 1], least squares over all pairs (normalised DLT), H[2, 2] = 1
    where possible. Raises `DegenerateCalibration` for pairs that do not fix one map."""
    src, dst = as_points(image, "image points"), as_points(plane, "plane points")
    check_pairs(src, dst)
    matrix, singular = _dlt(src, dst)
    if singular[-2] < RANK_RATIO * singular[0]:
        raise DegenerateCalibration(
            "the point pairs fit more than one map (too many of them on one line); "
            "spread them over the ground"
        )
    return matrix


def _dlt(src: np.ndarray, dst: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Normalised DLT without checks: (H, singular values of the normalised system)."""
    t_src, t_dst = normaliser(src), normaliser(dst)
    s = apply_affine(t_src, src)
    d = apply_affine(t_dst, dst)
    n = len(s)
    rows = np.zeros((2 * n, 9))
    x, y, u, v = s[:, 0], s[:, 1], d[:, 0], d[:, 1]
    rows[0::2, 0:3] = np.column_stack([x, y, np.ones(n)])
    rows[0::2, 6:9] = -u[:, None] * np.column_stack([x, y, np.ones(n)])
    rows[1::2, 3:6] = np.column_stack([x, y, np.ones(n)])
    rows[1::2, 6:9] = -v[:, None] * np.column_stack([x, y, np.ones(n)])
    _, singular, vt = np.linalg.svd(rows)
    h = vt[-1].reshape(3, 3)
    matrix = np.linalg.inv(t_dst) @ h @ t_src
    return normalised(matrix), singular


def fit_unchecked(src: np.ndarray, dst: np.ndarray) -> np.ndarray | None:
    """A homography from >= 4 pairs, or None when they do not fix one (for robust fitting's samples)."""
    if len(src) < MIN_POINTS or spread_ratio(src) < COLLINEAR_RATIO or spread_ratio(dst) < COLLINEAR_RATIO:
        return None
    matrix, singular = _dlt(src, dst)
    if singular[-2] < RANK_RATIO * singular[0] or not np.isfinite(matrix).all():
        return None
    return matrix


def normalised(matrix: np.ndarray) -> np.ndarray:
    """The same map scaled so that H[2, 2] = 1 (or the largest entry = 1 when H[2, 2] is ~0)."""
    matrix = np.asarray(matrix, dtype=np.float64)
    scale = matrix[2, 2] if abs(matrix[2, 2]) > 1e-12 * np.abs(matrix).max() else np.abs(matrix).max()
    return matrix / scale


def check_matrix(matrix: np.ndarray | list) -> np.ndarray:
    """A declared (3, 3) homography as float64, or `DegenerateCalibration` (wrong shape, not finite,
    singular: it would send a whole line of the image to one point)."""
    array = np.asarray(matrix, dtype=np.float64)
    if array.shape != (3, 3):
        raise DegenerateCalibration(
            f"a homography is a 3 x 3 matrix (3 rows of 3 numbers), got shape {array.shape}"
        )
    if not np.isfinite(array).all():
        raise DegenerateCalibration("the homography holds NaN or infinite values")
    singular = np.linalg.svd(array / np.abs(array).max(), compute_uv=False)
    if singular[-1] < 1e-9:
        raise DegenerateCalibration(
            "the homography is singular (it maps a whole line of the image to one point)"
        )
    return normalised(array)


def apply_homography(matrix: np.ndarray, points: np.ndarray, sign: float = 0.0) -> np.ndarray:
    """(n, 2) points mapped by H. NaN where the map sends a point to infinity, or - given `sign`, the
    sign of the homogeneous w over the calibrated ground - where w has the other sign: an image point
    above the horizon, which no spot of the ground can be seen at."""
    xy = np.asarray(points, dtype=np.float64).reshape(-1, 2)
    w = xy @ matrix[2, :2] + matrix[2, 2]
    mapped = (xy @ matrix[:2, :2].T + matrix[:2, 2]) / np.where(np.abs(w) > 1e-12, w, np.nan)[:, None]
    if sign:
        mapped[np.sign(w) != np.sign(sign)] = np.nan
    return mapped


def w_sign(matrix: np.ndarray, points: np.ndarray) -> float:
    """The sign of the homogeneous w at the centroid of `points` (points known to be on the ground)."""
    centre = np.asarray(points, dtype=np.float64).reshape(-1, 2).mean(axis=0)
    w = float(centre @ matrix[2, :2] + matrix[2, 2])
    return 1.0 if w >= 0 else -1.0


def transfer_errors(matrix: np.ndarray, src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """(n,) distance between H(src) and dst, in dst units (inf where H sends a point to infinity)."""
    mapped = apply_homography(matrix, src)
    errors = np.linalg.norm(mapped - np.asarray(dst, dtype=np.float64).reshape(-1, 2), axis=1)
    return np.where(np.isfinite(errors), errors, np.inf)


def apply_affine(matrix: np.ndarray, points: np.ndarray) -> np.ndarray:
    return points @ matrix[:2, :2].T + matrix[:2, 2]


def normaliser(points: np.ndarray) -> np.ndarray:
    """Hartley's similarity: centroid to 0, mean distance to sqrt(2)."""
    centre = points.mean(axis=0)
    spread = np.sqrt(((points - centre) ** 2).sum(axis=1)).mean()
    scale = np.sqrt(2) / spread if spread > 0 else 1.0
    return np.array([[scale, 0, -scale * centre[0]], [0, scale, -scale * centre[1]], [0, 0, 1]])


def spread_ratio(points: np.ndarray) -> float:
    """Thinner over wider spread of a point set (0: on one line or one point)."""
    if len(points) < 2:
        return 0.0
    singular = np.linalg.svd(points - points.mean(axis=0), compute_uv=False)
    return float(singular[-1] / singular[0]) if singular[0] > 0 else 0.0
