"""A camera's ground-plane calibration: where on the site (metres) a foot seen at an image pixel stands.

The cameras file gives it per camera as >= 4 point pairs (image pixel -> plane metres) or as the 3 x 3
homography itself (docs/cameras-file.md). Every calibrated camera of a site maps onto one plane, so two
cameras that see the same floor put one person at one plane position: fusion compares those positions
instead of trusting appearance alone.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from pyuniproc.calibration.homography import (
    DegenerateCalibration,
    apply_homography,
    as_points,
    check_matrix,
    fit_homography,
    w_sign,
)


@dataclass(frozen=True, eq=False)
class GroundCalibration:
    """Image foot point -> site plane, for one camera.

    matrix: (3, 3) homography, image pixels -> plane metres (H[2, 2] = 1 where possible).
    sign: sign of the homogeneous w over the ground the points cover; image points with the other sign
        lie above the horizon and map to NaN.
    image_points, plane_points: (n, 2) the pairs it was fitted from or is checked against (n may be 0
        for a declared matrix without points).
    fitted: True when `matrix` was fitted from the points, False when it was declared.
    """

    camera_id: str
    matrix: np.ndarray
    sign: float
    image_points: np.ndarray = field(default_factory=lambda: np.zeros((0, 2)))
    plane_points: np.ndarray = field(default_factory=lambda: np.zeros((0, 2)))
    fitted: bool = True

    @classmethod
    def from_points(
        cls, camera_id: str, image: np.ndarray | list, plane: np.ndarray | list
    ) -> GroundCalibration:
        """Fit from point pairs; `DegenerateCalibration` for too few pairs or pairs on one line."""
        image_points, plane_points = as_points(image, "image points"), as_points(plane, "plane points")
        matrix = fit_homography(image_points, plane_points)
        return cls(camera_id, matrix, w_sign(matrix, image_points), image_points, plane_points, True)

    @classmethod
    def from_matrix(
        cls,
        camera_id: str,
        matrix: np.ndarray | list,
        image: np.ndarray | list | None = None,
        plane: np.ndarray | list | None = None,
    ) -> GroundCalibration:
        """A declared homography, optionally with pairs to check it against (and to know which side of
        the horizon the ground is: without pairs, the side where w > 0)."""
        checked = check_matrix(matrix)
        image_points = _optional_points(image, "image points")
        plane_points = _optional_points(plane, "plane points")
        if len(image_points) != len(plane_points):
            raise DegenerateCalibration(
                f"{len(image_points)} image points but {len(plane_points)} plane points"
            )
        sign = w_sign(checked, image_points) if len(image_points) else (1.0 if checked[2, 2] >= 0 else -1.0)
        return cls(camera_id, checked, sign, image_points, plane_points, False)

    def to_plane(self, feet: np.ndarray) -> np.ndarray:
        """(n, 2) plane metres of (n, 2) image foot points (NaN above the horizon)."""
        return apply_homography(self.matrix, feet, self.sign)

    def errors(self) -> np.ndarray:
        """(n,) metres between each pair's plane point and where the homography puts its image point."""
        if not len(self.image_points):
            return np.zeros(0)
        return np.linalg.norm(self.to_plane(self.image_points) - self.plane_points, axis=1)

    def describe(self) -> dict:
        """JSON-ready summary: the matrix, how it was made, and the per-point error in metres."""
        errors = self.errors()
        return {
            "camera_id": self.camera_id,
            "fitted_from_points": self.fitted,
            "homography": np.round(self.matrix, 9).tolist(),
            "points": len(self.image_points),
            "errors_metres": np.round(errors, 4).tolist(),
            "rms_metres": float(np.sqrt(np.mean(errors**2))) if len(errors) else None,
            "max_metres": float(errors.max()) if len(errors) else None,
        }


def _optional_points(points: np.ndarray | list | None, what: str) -> np.ndarray:
    return np.zeros((0, 2)) if points is None or not len(points) else as_points(points, what)
