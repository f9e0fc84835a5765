"""Fitting a ground homography from point pairs, applying it, and refusing pairs that cannot fix one."""

import numpy as np
import pytest

from pyuniproc.calibration import DegenerateCalibration, apply_homography, fit_homography
from pyuniproc.calibration.homography import check_matrix, transfer_errors

# A camera 3 m up looking along Z: plane (X, Z) metres -> image: x = 320 + 500 X / Z, y = 100 + 1500 / Z.
TRUTH = np.array([[500.0, 320.0, 0.0], [0.0, 100.0, 1500.0], [0.0, 1.0, 0.0]])  # plane -> image
PLANE = np.array([[-2.0, 5.0], [2.0, 5.0], [2.0, 15.0], [-2.0, 15.0], [0.0, 8.0], [1.0, 11.0]])
IMAGE = apply_homography(TRUTH, PLANE)


def test_four_exact_pairs_give_the_map_back():
    matrix = fit_homography(IMAGE[:4], PLANE[:4])
    assert np.allclose(apply_homography(matrix, IMAGE), PLANE, atol=1e-9)  # also the two points not used


def test_more_pairs_are_fitted_by_least_squares():
    noisy = IMAGE + np.array([[0.5, -0.5], [-0.5, 0.5], [0.5, 0.5], [-0.5, -0.5], [0.3, 0.0], [0.0, -0.3]])
    matrix = fit_homography(noisy, PLANE)
    assert transfer_errors(matrix, noisy, PLANE).max() < 0.05  # half a pixel is a few cm out there


@pytest.mark.parametrize(
    ("image", "plane", "message"),
    [
        (IMAGE[:3], PLANE[:3], "needs at least 4 point pairs"),
        ([[0, 0], [1, 1], [2, 2], [3, 3]], PLANE[:4], "image points all lie on one line"),
        (IMAGE[:4], [[0, 0], [1, 0], [2, 0], [3, 0]], "plane points all lie on one line"),
        ([[0, 0], [10, 0], [20, 0], [5, 9]], PLANE[:4], r"image points \[1, 2, 3\] lie on one line"),
        ([[0, 0], [10, 0], [10, 10], [10, 10]], PLANE[:4], "repeat a point"),
        (IMAGE[:4], PLANE[:5], "4 image points but 5 plane points"),
        ([[0, 0], [1, np.nan], [2, 5], [7, 3]], PLANE[:4], "NaN or infinite"),
    ],
)
def test_degenerate_pairs_are_refused_saying_why(image, plane, message):
    with pytest.raises(DegenerateCalibration, match=message):
        fit_homography(image, plane)


def test_declared_matrix_must_be_a_regular_3x3():
    scaled = check_matrix(2 * TRUTH)  # H[2, 2] is 0 here: scaled by its largest entry instead
    assert np.abs(scaled).max() == 1.0 and np.allclose(apply_homography(scaled, PLANE), IMAGE)
    assert check_matrix(np.diag([2.0, 2.0, 2.0]))[2, 2] == 1.0
    with pytest.raises(DegenerateCalibration, match="3 x 3"):
        check_matrix([[1, 0], [0, 1]])
    with pytest.raises(DegenerateCalibration, match="singular"):
        check_matrix([[1, 0, 0], [2, 0, 0], [0, 0, 1]])


def test_points_above_the_horizon_map_to_nan():
    image_to_plane = fit_homography(IMAGE, PLANE)
    sign = float(np.sign(IMAGE[0] @ image_to_plane[2, :2] + image_to_plane[2, 2]))
    mapped = apply_homography(image_to_plane, [[320.0, 400.0], [320.0, 50.0]], sign)  # below / above y=100
    assert np.isfinite(mapped[0]).all() and np.isnan(mapped[1]).all()
