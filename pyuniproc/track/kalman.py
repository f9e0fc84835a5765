"""Constant-velocity Kalman filter in the xyah box space, as ByteTrack (and DeepSORT) use it.

State per track, (8,) float64: `x, y, a, h, vx, vy, va, vh` where (x, y) is the box centre,
a = width / height, h = height, and the last four are their per-frame velocities.
Measurement, (4,): `x, y, a, h`.

Every method works on a batch of k tracks at once: means (k, 8), covariances (k, 8, 8),
measurements (k, 4). Noise is scaled by the box height, so a large (near) person is allowed
to move more pixels per frame than a small (far) one; the aspect ratio gets a small fixed
noise because people keep their shape. The constants are ByteTrack's.

Speed: a tracker calls these once or twice per frame on a handful of tracks, so the cost is numpy's
per-call overhead, not arithmetic. The noise is added to the diagonal in place instead of as a full
diagonal matrix (adding the off-diagonal zeros changed nothing), and box conversions fill one
preallocated array instead of stacking columns; every value is computed by the same floating-point
operations as before, so results are bit-identical (tests/track/test_exactness.py).
"""

from __future__ import annotations

import numpy as np

STD_WEIGHT_POSITION = 1.0 / 20
"""Position noise as a fraction of box height (process and measurement)."""
STD_WEIGHT_VELOCITY = 1.0 / 160
"""Velocity noise as a fraction of box height (process)."""

_P, _V = STD_WEIGHT_POSITION, STD_WEIGHT_VELOCITY
_PROCESS_WEIGHTS = np.array([_P, _P, 0.0, _P, _V, _V, 0.0, _V])
"""Process noise std per state entry as a fraction of height; entries 2 and 6 (aspect) are fixed below."""
# as np.square(1e-2 * ones) computed them: x * x of the same double
_ASPECT_PROCESS_VARIANCE = (1e-2 * 1.0) * (1e-2 * 1.0), (1e-5 * 1.0) * (1e-5 * 1.0)
_MEASUREMENT_WEIGHTS = np.array([_P, _P, 0.0, _P])
_ASPECT_MEASUREMENT_VARIANCE = (1e-1 * 1.0) * (1e-1 * 1.0)
_D4, _D8 = np.arange(4), np.arange(8)


def xyxy_to_xyah(xyxy: np.ndarray) -> np.ndarray:
    """(n, 4) corners x1, y1, x2, y2 -> (n, 4) float64 centre x, centre y, width/height, height."""
    xyxy = np.asarray(xyxy, dtype=np.float64).reshape(-1, 4)
    size = xyxy[:, 2:] - xyxy[:, :2]  # width, height
    out = np.empty_like(xyxy)
    out[:, :2] = xyxy[:, :2] + size / 2
    out[:, 3] = size[:, 1]
    # A zero-height box has no aspect ratio; treat it as square rather than divide by zero.
    out[:, 2] = 1.0
    np.divide(size[:, 0], size[:, 1], out=out[:, 2], where=size[:, 1] > 0)
    return out


def xyah_to_xyxy(xyah: np.ndarray) -> np.ndarray:
    """(n, 4) centre x, centre y, width/height, height -> (n, 4) float64 corners x1, y1, x2, y2."""
    xyah = np.asarray(xyah, dtype=np.float64).reshape(-1, 4)
    half = np.empty((xyah.shape[0], 2))
    half[:, 0] = xyah[:, 2] * xyah[:, 3] / 2  # width / 2
    half[:, 1] = xyah[:, 3] / 2
    out = np.empty((xyah.shape[0], 4))
    np.subtract(xyah[:, :2], half, out=out[:, :2])
    np.add(xyah[:, :2], half, out=out[:, 2:])
    return out


class KalmanFilterXYAH:
    """Batched constant-velocity Kalman filter over xyah boxes (dt = one frame)."""

    def __init__(self) -> None:
        self._motion = np.eye(8)
        self._motion[:4, 4:] = np.eye(4)  # position += velocity each frame
        self._motion_t = np.ascontiguousarray(self._motion.T)

    def initiate(self, xyah: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Start k tracks from their first measurements, (k, 4) -> means (k, 8), covariances (k, 8, 8).

        Velocities start at zero with a wide spread, so the second detection sets them.
        """
        xyah = np.asarray(xyah, dtype=np.float64).reshape(-1, 4)
        h = xyah[:, 3]
        ones = np.ones_like(h)
        std = np.stack(
            [
                2 * STD_WEIGHT_POSITION * h,
                2 * STD_WEIGHT_POSITION * h,
                1e-2 * ones,
                2 * STD_WEIGHT_POSITION * h,
                10 * STD_WEIGHT_VELOCITY * h,
                10 * STD_WEIGHT_VELOCITY * h,
                1e-5 * ones,
                10 * STD_WEIGHT_VELOCITY * h,
            ],
            axis=1,
        )
        mean = np.concatenate([xyah, np.zeros_like(xyah)], axis=1)
        return mean, _diag(np.square(std))

    def predict(self, mean: np.ndarray, covariance: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Advance k tracks by one frame (ByteTrack's multi_predict): (k, 8), (k, 8, 8) -> same shapes."""
        variance = np.square(mean[:, 3:4] * _PROCESS_WEIGHTS)
        variance[:, 2], variance[:, 6] = _ASPECT_PROCESS_VARIANCE
        mean = mean @ self._motion_t
        covariance = self._motion @ covariance @ self._motion_t
        covariance[:, _D8, _D8] += variance
        return mean, covariance

    def project(self, mean: np.ndarray, covariance: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """State -> measurement space with measurement noise: (k, 8), (k, 8, 8) -> (k, 4), (k, 4, 4)."""
        variance = np.square(mean[:, 3:4] * _MEASUREMENT_WEIGHTS)
        variance[:, 2] = _ASPECT_MEASUREMENT_VARIANCE
        projected = covariance[:, :4, :4].copy()
        projected[:, _D4, _D4] += variance
        return mean[:, :4].copy(), projected

    def update(
        self, mean: np.ndarray, covariance: np.ndarray, xyah: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """Correct k tracks with their matched measurements (k, 4); returns the new (k, 8), (k, 8, 8)."""
        projected_mean, projected_cov = self.project(mean, covariance)
        # Kalman gain K = P H^T S^-1; with H = [I 0], H P = P[:, :4, :] and S symmetric,
        # so K^T = S^-1 (H P), solved for all tracks at once.
        gain = np.linalg.solve(projected_cov, covariance[:, :4, :]).transpose(0, 2, 1)  # (k, 8, 4)
        innovation = np.asarray(xyah, dtype=np.float64).reshape(-1, 4) - projected_mean
        new_mean = mean + np.einsum("kij,kj->ki", gain, innovation)
        new_covariance = covariance - gain @ projected_cov @ gain.transpose(0, 2, 1)
        return new_mean, new_covariance


def _diag(values: np.ndarray) -> np.ndarray:
    """(k, d) -> (k, d, d) diagonal matrices."""
    k, d = values.shape
    out = np.zeros((k, d, d), dtype=np.float64)
    out[:, np.arange(d), np.arange(d)] = values
    return out
