"""Learning where one overlapping view's floor lies in the other's, from the run itself.

Most sites are never calibrated. Two views of one floor are still related by one homography (feet are
on the ground), so fusion fits it from its own evidence: the feet of two tracks seen at the same instant
by the two cameras when they are confidently one person (fusion gave them one global id, or each is
the other's clear best appearance match among the people in view at that instant). Some of those pairs
are wrong; RANSAC keeps the map most of them agree with. A map is used once it is *stable*: a fit from
enough pairs of several different people, spread over an area and folding nothing over, that then
predicts the correspondences that arrive after it (most of them land where it says) and is confirmed by
the next fit. Refitting on nearly the same data would agree with itself whatever the map; prediction of
new pairs is what a wrong map fails. A stable map is only refined afterwards.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from pyuniproc.calibration.homography import apply_homography, spread_ratio, transfer_errors
from pyuniproc.calibration.robust import ransac_homography

MAX_SAMPLES = 400
"""Correspondences kept per camera pair (the latest): bounds memory and the cost of a fit."""
SAMPLE_SECONDS = 0.2
"""One correspondence per pair of tracks per this many seconds: a long pair of tracks cannot outvote the
rest with near-identical samples."""
MAX_PER_PAIR = 25
"""Correspondences one pair of tracks contributes at most: a wrong pair that stays together a long time
(two people walking side by side) cannot make a consistent-looking map on its own."""
TOLERANCE_HEIGHTS = 0.15
"""A correspondence agrees with a map when its feet land within this share of the person's height: the
spread of a detector's box bottom, with room for two detectors."""
MIN_INLIERS = 10
MIN_TRACK_PAIRS = 4
MIN_INLIER_SHARE = 0.25
"""A fit counts only with this many agreeing correspondences, from this many different pairs of tracks
(three walks along near-straight paths fit a wrong map as well as the right one), making up at least this
share of all correspondences (a map a tenth agree with is the best of many wrong ones)."""
MIN_SPREAD = 0.1
"""...spread over an area: the thinner extent of the agreeing feet at least this share of the wider one in
both views (feet along one path fit many maps)."""
REFIT_EVERY = 5
"""New correspondences between fits while learning (REFIT_EVERY * 4 once stable: refinement only)."""
STABLE_SHIFT_HEIGHTS = 0.1
"""Two fits agree when they place the inliers of both within this share of a height (90th percentile)."""
PREDICT_SAMPLES = 5
PREDICT_SHARE = 0.5
"""A fitted map is confirmed when at least PREDICT_SHARE of the PREDICT_SAMPLES or more correspondences
that arrived after it land within tolerance (some correspondences are wrong: about a third, measured on
real footage; a wrong map predicts few)."""
RANSAC_ITERATIONS = 1000
BOX_MARGIN = 0.5
"""A learned map is used within its inliers' bounding box widened by this share of its size on each side:
a homography fitted to one patch of floor extrapolates badly far from it."""


@dataclass
class OverlapMap:
    """The learned foot map between cameras `a` and `b` (ids), a -> b, and how it was learned.

    matrix: (3, 3) a pixels -> b pixels once a fit was accepted, else None. stable: usable for decisions.
    """

    a: str
    b: str
    matrix: np.ndarray | None = None
    stable: bool = False
    fits: int = 0
    inliers: int = 0
    track_pairs: int = 0
    rms_heights: float = float("nan")
    stable_since: float | None = None
    _support: np.ndarray = field(default_factory=lambda: np.zeros((0, 2)), repr=False)  # its inliers' a feet
    box_a: tuple[float, float, float, float] | None = None
    box_b: tuple[float, float, float, float] | None = None
    """Where the map is known: the inliers' bounding boxes in a and in b, widened by BOX_MARGIN."""
    _src: list[tuple[float, float]] = field(default_factory=list, repr=False)
    _dst: list[tuple[float, float]] = field(default_factory=list, repr=False)
    _height: list[float] = field(default_factory=list, repr=False)
    _pair: list[tuple[int, int]] = field(default_factory=list, repr=False)
    _serial: list[int] = field(default_factory=list, repr=False)
    _added: int = 0
    _fitted_at: int = 0
    _last: dict[tuple[int, int], tuple[float, int]] = field(default_factory=dict, repr=False)
    _new: int = 0

    @property
    def samples(self) -> int:
        return len(self._src)

    def add(
        self,
        pair: tuple[int, int],
        pts: float,
        foot_a: np.ndarray,
        foot_b: np.ndarray,
        height_b: float,
    ) -> None:
        """One correspondence: track pair `pair` (uids), feet in a and in b at site second `pts`."""
        last, count = self._last.get(pair, (-np.inf, 0))
        if pts - last < SAMPLE_SECONDS or count >= MAX_PER_PAIR or height_b <= 0:
            return
        self._last[pair] = (pts, count + 1)
        self._src.append((float(foot_a[0]), float(foot_a[1])))
        self._dst.append((float(foot_b[0]), float(foot_b[1])))
        self._height.append(float(height_b))
        self._pair.append(pair)
        self._serial.append(self._added)
        self._added += 1
        self._new += 1
        if len(self._src) > MAX_SAMPLES:
            del self._src[0], self._dst[0], self._height[0], self._pair[0], self._serial[0]

    def forget_pairs(self, alive: set[int]) -> None:
        """Drop the sampling bookkeeping of track pairs whose tracks are gone (bounded memory)."""
        self._last = {p: v for p, v in self._last.items() if p[0] in alive or p[1] in alive}

    def maybe_fit(self, now: float) -> bool:
        """Refit once enough new correspondences arrived; True when the map changed."""
        if self._new < (REFIT_EVERY * 4 if self.stable else REFIT_EVERY) or len(self._src) < MIN_INLIERS:
            return False
        self._new = 0
        src, dst = np.array(self._src), np.array(self._dst)
        tolerance = TOLERANCE_HEIGHTS * np.array(self._height)
        fit = ransac_homography(src, dst, tolerance, iterations=RANSAC_ITERATIONS, seed=self.fits)
        self.fits += 1
        if fit is None:
            return False
        pairs = {self._pair[i] for i in np.flatnonzero(fit.inliers)}
        if (
            fit.n_inliers < MIN_INLIERS
            or fit.n_inliers < MIN_INLIER_SHARE * len(src)
            or len(pairs) < MIN_TRACK_PAIRS
            or min(spread_ratio(src[fit.inliers]), spread_ratio(dst[fit.inliers])) < MIN_SPREAD
            or not _unfolded(fit.matrix, src[fit.inliers])
        ):
            return False
        previous = self.matrix
        # Judged where the previous map was fitted: beyond its support it only extrapolated.
        agrees = previous is not None and _shift(previous, fit.matrix, self._support) <= (
            STABLE_SHIFT_HEIGHTS * float(np.median(np.array(self._height)[fit.inliers]))
        )
        if self.stable and not (agrees and fit.n_inliers >= self.inliers):
            return False  # a stable map is only refined: a refit elsewhere is taken for wrong pairs
        if not self.stable and previous is not None and agrees:
            newer = np.array(self._serial) >= self._fitted_at
            if newer.sum() < PREDICT_SAMPLES:
                return False  # not enough new evidence yet to test the previous map: keep it
            landed = transfer_errors(previous, src[newer], dst[newer]) <= tolerance[newer]
            if landed.mean() >= PREDICT_SHARE:
                self.stable, self.stable_since = True, now
        self.matrix, self._support, self._fitted_at = fit.matrix, src[fit.inliers], self._added
        self.box_a, self.box_b = _box(src[fit.inliers]), _box(dst[fit.inliers])
        self.inliers, self.track_pairs = fit.n_inliers, len(pairs)
        self.rms_heights = fit.rms * TOLERANCE_HEIGHTS
        return True

    def describe(self) -> dict:
        return {
            "cameras": [self.a, self.b],
            "state": "learned" if self.stable else ("fitted" if self.matrix is not None else "learning"),
            "correspondences": self.samples,
            "fits": self.fits,
            "inliers": self.inliers,
            "track_pairs": self.track_pairs,
            "rms_heights": None if np.isnan(self.rms_heights) else round(self.rms_heights, 4),
            "stable_since_seconds": self.stable_since,
            "homography": None if self.matrix is None else np.round(self.matrix, 9).tolist(),
        }


def _shift(old: np.ndarray, new: np.ndarray, points: np.ndarray) -> float:
    """90th percentile of the distance between where two maps put the same points."""
    moved = np.linalg.norm(apply_homography(old, points) - apply_homography(new, points), axis=1)
    moved = np.where(np.isfinite(moved), moved, np.inf)
    return float(np.percentile(moved, 90)) if len(moved) else float("inf")


def _unfolded(matrix: np.ndarray, points: np.ndarray) -> bool:
    """The map keeps its orientation over the points and stretches them evenly enough: no point lies
    beyond its horizon (w changes sign), the local area scale keeps its sign and varies less than 20x.
    Two views of one floor never fold it; a map fitted to wrong pairs often does."""
    xy = np.column_stack([points, np.ones(len(points))])
    w = xy @ matrix[2]
    if not (np.all(w > 0) or np.all(w < 0)):
        return False
    mapped = (xy @ matrix[:2].T) / w[:, None]
    # Jacobian of (x, y) -> mapped: (A - mapped * h3[:2]) / w, per point.
    jacobian = (matrix[None, :2, :2] - mapped[:, :, None] * matrix[None, 2:3, :2]) / w[:, None, None]
    det = np.linalg.det(jacobian)
    if not (np.all(det > 0) or np.all(det < 0)):
        return False
    size = np.abs(det)
    return bool(size.max() <= 20 * size.min())


def _box(points: np.ndarray) -> tuple[float, float, float, float]:
    low, high = points.min(axis=0), points.max(axis=0)
    margin = BOX_MARGIN * (high - low)
    return (float(low[0] - margin[0]), float(low[1] - margin[1]), float(high[0] + margin[0]),
            float(high[1] + margin[1]))


def inside(box: tuple[float, float, float, float] | None, points: np.ndarray) -> np.ndarray:
    """(n,) bool: points within `box` (x0, y0, x1, y1); all False without a box."""
    if box is None:
        return np.zeros(len(points), dtype=bool)
    x, y = points[:, 0], points[:, 1]
    return (x >= box[0]) & (x <= box[2]) & (y >= box[1]) & (y <= box[3])
