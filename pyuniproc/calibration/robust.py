"""Robust homography fitting (RANSAC) for correspondences that are partly wrong.

Fusion learns the map between two overlapping views from its own guesses of who is who: pairs of feet
seen at the same instant by both cameras, some of which pair two different people. RANSAC fits exact
maps to random 4-pair samples, keeps the one most pairs agree with, and refits on those (normalised
DLT). Pure numpy with a seeded generator, so the same correspondences give the same map on any machine
(no third-party SIMD path decides a threshold). The samples are solved all at once - one batched 8 x 8
solve and one batched transfer error per fit, not a Python loop over iterations - because a fit runs
inside a fusion decision round.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from pyuniproc.calibration.homography import (
    MIN_POINTS,
    apply_affine,
    fit_unchecked,
    normaliser,
    transfer_errors,
)


@dataclass(frozen=True, slots=True)
class RobustFit:
    """matrix: (3, 3) src -> dst; inliers: (n,) bool; errors: (n,) transfer error of every pair (dst units);
    scale: (n,) the per-pair tolerance it was judged with."""

    matrix: np.ndarray
    inliers: np.ndarray
    errors: np.ndarray
    scale: np.ndarray

    @property
    def n_inliers(self) -> int:
        return int(self.inliers.sum())

    @property
    def rms(self) -> float:
        """Root mean square transfer error of the inliers, in units of their tolerance."""
        if not self.n_inliers:
            return float("nan")
        relative = self.errors[self.inliers] / self.scale[self.inliers]
        return float(np.sqrt(np.mean(relative**2)))


def ransac_homography(
    src: np.ndarray,
    dst: np.ndarray,
    tolerance: np.ndarray | float,
    *,
    iterations: int = 300,
    seed: int = 0,
    refine_rounds: int = 2,
) -> RobustFit | None:
    """The homography src -> dst most pairs agree with (transfer error <= `tolerance`, per pair or one
    value), refit on its inliers; None when no sample fixes a map or fewer than 4 pairs agree.

    tolerance: how far (dst units) a pair may land from its partner and still count, e.g. a share of
        the person's height in pixels: a looser one accepts more wrong pairs, a tighter one rejects
        true pairs whose feet the detector put a little off."""
    src = np.asarray(src, dtype=np.float64).reshape(-1, 2)
    dst = np.asarray(dst, dtype=np.float64).reshape(-1, 2)
    n = len(src)
    if n < MIN_POINTS:
        return None
    scale = np.broadcast_to(np.asarray(tolerance, dtype=np.float64), (n,)).copy()
    rng = np.random.default_rng(seed)
    samples = np.argsort(rng.random((iterations, n)), axis=1)[:, :MIN_POINTS]  # 4 distinct pairs each
    matrices = _sample_maps(src, dst, samples)
    if not len(matrices):
        return None
    relative = _transfer(matrices, src, dst) / scale  # (iterations', n)
    counts = (relative <= 1.0).sum(axis=1)
    cost = np.minimum(relative, 1.0).sum(axis=1)  # MSAC: among equal counts, the tighter fit
    best = int(np.lexsort((cost, -counts))[0])
    if counts[best] < MIN_POINTS:
        return None
    matrix = matrices[best]
    inliers = transfer_errors(matrix, src, dst) <= scale
    for _ in range(refine_rounds):
        refit = fit_unchecked(src[inliers], dst[inliers])
        if refit is None:
            break
        refit_inliers = transfer_errors(refit, src, dst) <= scale
        if refit_inliers.sum() < inliers.sum():
            break
        matrix, inliers = refit, refit_inliers
    errors = transfer_errors(matrix, src, dst)
    return RobustFit(matrix=matrix, inliers=errors <= scale, errors=errors, scale=scale)


def _sample_maps(src: np.ndarray, dst: np.ndarray, samples: np.ndarray) -> np.ndarray:
    """(s, 3, 3) exact maps through each 4-pair sample (rows of `samples`), solved together in
    normalised coordinates with H[2, 2] = 1; samples that fix no map (3 points on a line) are left out."""
    t_src, t_dst = normaliser(src), normaliser(dst)
    s, d = apply_affine(t_src, src)[samples], apply_affine(t_dst, dst)[samples]  # (k, 4, 2)
    x, y, u, v = s[..., 0], s[..., 1], d[..., 0], d[..., 1]
    zero, one = np.zeros_like(x), np.ones_like(x)
    rows_u = np.stack([x, y, one, zero, zero, zero, -u * x, -u * y], axis=-1)
    rows_v = np.stack([zero, zero, zero, x, y, one, -v * x, -v * y], axis=-1)
    system = np.concatenate([rows_u, rows_v], axis=1)  # (k, 8, 8)
    target = np.concatenate([u, v], axis=1)  # (k, 8)
    solvable = np.abs(np.linalg.det(system)) > 1e-9
    if not solvable.any():
        return np.zeros((0, 3, 3))
    h = np.linalg.solve(system[solvable], target[solvable][..., None])[..., 0]
    maps = np.concatenate([h, np.ones((len(h), 1))], axis=1).reshape(-1, 3, 3)
    maps = np.linalg.inv(t_dst) @ maps @ t_src
    return maps / maps[:, 2:3, 2:3]


def _transfer(matrices: np.ndarray, src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """(s, n) distance between each map's image of every src point and its dst (inf at infinity)."""
    homogeneous = np.column_stack([src, np.ones(len(src))])
    mapped = np.einsum("sij,nj->sni", matrices, homogeneous)
    w = mapped[..., 2]
    with np.errstate(divide="ignore", invalid="ignore"):
        errors = np.hypot(mapped[..., 0] / w - dst[:, 0], mapped[..., 1] / w - dst[:, 1])
    return np.where(np.isfinite(errors) & (np.abs(w) > 1e-12), errors, np.inf)
