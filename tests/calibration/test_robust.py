"""RANSAC: the map most correspondences agree with, despite wrong ones; the same input, the same map."""

import numpy as np

from pyuniproc.calibration import apply_homography, ransac_homography

# Two views of one floor: b = a shifted 288 px left, slightly zoomed and tilted (a projective map).
TRUE = np.array([[1.1, 0.02, -300.0], [0.01, 1.05, 4.0], [1e-5, 2e-5, 1.0]])


def correspondences(n_true: int, n_wrong: int, seed: int = 3) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    src = rng.uniform([300, 100], [480, 560], (n_true + n_wrong, 2))
    dst = apply_homography(TRUE, src) + rng.normal(0, 1.0, (len(src), 2))  # a pixel of detector noise
    dst[n_true:] = rng.uniform([0, 100], [200, 560], (n_wrong, 2))  # pairs of two different people
    truth = np.arange(len(src)) < n_true
    return src, dst, truth


def test_the_true_map_is_found_among_40_percent_wrong_pairs():
    src, dst, truth = correspondences(30, 20)
    fit = ransac_homography(src, dst, tolerance=6.0)
    assert fit is not None
    assert (fit.inliers == truth).mean() >= 0.95  # a wrong pair may land close by chance
    grid = np.array([[x, y] for x in (300, 390, 480) for y in (100, 330, 560)], float)
    assert np.abs(apply_homography(fit.matrix, grid) - apply_homography(TRUE, grid)).max() < 3.0


def test_same_input_same_map():
    src, dst, _ = correspondences(20, 10)
    first, second = ransac_homography(src, dst, 6.0, seed=1), ransac_homography(src, dst, 6.0, seed=1)
    assert np.array_equal(first.matrix, second.matrix)


def test_per_pair_tolerance_and_too_little_input():
    src, dst, _ = correspondences(12, 0)
    fit = ransac_homography(src, dst, tolerance=np.full(12, 6.0))
    assert fit.n_inliers == 12 and fit.rms < 0.5
    assert ransac_homography(src[:3], dst[:3], 6.0) is None
    line = np.column_stack([np.arange(10.0), np.zeros(10)])
    assert ransac_homography(line, line, 1.0) is None  # points on one line fix no map
