"""Learning where one overlapping view's floor lies in the other's, from the run itself.

Most sites are never calibrated. Two views of one floor are still related by one homography (feet are
on the ground), so fusion fits it from what it sees: every pair of tracks in view in both cameras at
the same instant is a candidate (their feet then, one correspondence per SAMPLE_SECONDS). Most
candidates pair two different people. The true pairs are the ones one map explains over time and
one-to-one: RANSAC draws maps from two pairs of tracks (two instants of each) or from four pairs, and
scores a map by the pairs of tracks whose samples mostly land where it says (GROUP_SHARE), each track
counted once (a person stands where at most one track of the other view stands). No appearance is
needed, so a second camera with another exposure, or a weak embedder, does not slow learning down:
the map is there as soon as a few people have walked through the shared area.

A map is used once it is *stable*: fitted from enough pairs of tracks spread over an area, folding
nothing over, and then confirmed by pairs of tracks that arrive after it (they land where it says:
prediction is what a wrong map fails) and by the next fit agreeing with it. A stable map is only
refined afterwards.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from pyuniproc.calibration.homography import apply_homography, fit_unchecked, spread_ratio, transfer_errors
from pyuniproc.calibration.robust import affine_maps, exact_maps, transfer_many

MAX_SAMPLES = 1500
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
MIN_PAIR_SAMPLES = 3
GROUP_SHARE = 0.6
"""A pair of tracks supports a map when at least GROUP_SHARE of its MIN_PAIR_SAMPLES or more
correspondences land within tolerance: one instant's coincidence is not a person walking where the map
says (a wrong pair crosses the right place once; the right pair stays there)."""
MIN_INLIERS = 10
MIN_TRACK_PAIRS = 3
"""A fit counts only with this many agreeing correspondences, from this many pairs of tracks counted
one-to-one (three walks along near-straight paths fit a wrong map as well as the right one)."""
MIN_SPREAD = 0.1
"""...spread over an area: the thinner extent of the agreeing feet at least this share of the wider one in
both views (feet along one path fit many maps)."""
REFIT_SECONDS = 1.0
STABLE_REFIT_SECONDS = 5.0
"""Site seconds between fits while learning, and once stable (refinement only)."""
STABLE_SHIFT_HEIGHTS = 0.1
"""Two fits agree when they place the inliers of both within this share of a height (90th percentile)."""
PREDICT_TRACK_PAIRS = 2
"""A fitted map is confirmed when this many pairs of tracks (counted one-to-one) support it with
correspondences that arrived after it: a wrong map explains few walks it was not fitted to."""
RANSAC_ITERATIONS = 600
SHORTLIST = 64
"""Maps judged on every correspondence per fit: the ones most confident correspondences agree with (the
cost of a fit grows with maps x correspondences; fusion runs it inside a decision round)."""
BOX_MARGIN = 0.5
"""A learned map is used within its inliers' bounding box widened by this share of its size on each side:
a homography fitted to one patch of floor extrapolates badly far from it."""


@dataclass(frozen=True)
class PairFit:
    """A map fitted to correspondences grouped by pair of tracks.

    matrix: (3, 3) src -> dst. inliers: (n,) correspondences of supporting pairs landing within tolerance.
    keys: (G, 2) the pair of tracks of each group; support: (G,) bool, the groups that support the map;
    n_pairs: supporting pairs counted one-to-one (distinct tracks on the side with fewer); rms: inliers'
    root mean square transfer error in units of their tolerance; model: "affine" or "homography"."""

    matrix: np.ndarray
    inliers: np.ndarray
    keys: np.ndarray
    support: np.ndarray
    n_pairs: int
    rms: float
    model: str = "homography"

    @property
    def n_inliers(self) -> int:
        return int(self.inliers.sum())


def fit_track_pairs(
    src: np.ndarray,
    dst: np.ndarray,
    tolerance: np.ndarray,
    pairs: np.ndarray,
    confident: np.ndarray | None = None,
    *,
    iterations: int = RANSAC_ITERATIONS,
    seed: int = 0,
) -> PairFit | None:
    """The homography src -> dst the most pairs of tracks agree with, one-to-one (see the module doc).

    src, dst: (n, 2) feet; tolerance: (n,) pixels in dst; pairs: (n, 2) int track ids (a, b) of each
    correspondence; confident: (n,) bool, the maps are drawn only from pairs of tracks with a confident
    correspondence (all when None). None when no sample fixes a map."""
    src, dst = np.asarray(src, np.float64).reshape(-1, 2), np.asarray(dst, np.float64).reshape(-1, 2)
    tolerance = np.asarray(tolerance, np.float64).reshape(-1)
    keys, groups = np.unique(np.asarray(pairs).reshape(-1, 2), axis=0, return_inverse=True)
    groups = groups.reshape(-1)
    sizes = np.bincount(groups, minlength=len(keys))
    order = np.argsort(groups, kind="stable")
    starts = np.r_[0, np.cumsum(sizes)[:-1]]
    rng = np.random.default_rng(seed)
    seeds = np.ones(len(keys), dtype=bool)
    if confident is not None:
        seeds = np.bincount(groups, weights=np.asarray(confident, bool), minlength=len(keys)) > 0
    samples = []
    twice = np.flatnonzero((sizes >= 2) & seeds)
    if len(twice) >= 2:  # two pairs of tracks, an early and a late instant of each
        g = twice[np.argsort(rng.random((iterations, len(twice))), axis=1)[:, :2]]
        half = sizes[g] // 2
        early = starts[g] + np.floor(rng.random(g.shape) * half).astype(np.int64)
        late = starts[g] + half + np.floor(rng.random(g.shape) * (sizes[g] - half)).astype(np.int64)
        samples.append(order[np.concatenate([early, late], axis=1)])
    drawn = np.flatnonzero(seeds)
    if len(drawn) >= 4:  # four pairs of tracks, one instant each
        g = drawn[np.argsort(rng.random((iterations, len(drawn))), axis=1)[:, :4]]
        samples.append(order[starts[g] + np.floor(rng.random(g.shape) * sizes[g]).astype(np.int64)])
    if not samples:
        return None
    drawn_samples = np.concatenate(samples)
    homographies, affines = exact_maps(src, dst, drawn_samples), affine_maps(src, dst, drawn_samples)
    matrices = np.concatenate([affines, homographies])
    if not len(matrices):
        return None
    general = np.r_[np.zeros(len(affines), bool), np.ones(len(homographies), bool)]
    if confident is not None and len(matrices) > SHORTLIST:
        # Preemptive: rank every map on the confident correspondences (few), judge the best on all.
        sure = np.flatnonzero(confident)
        agree = (transfer_many(matrices, src[sure], dst[sure]) <= tolerance[sure]).sum(axis=1)
        keep = np.sort(np.argsort(-agree, kind="stable")[:SHORTLIST])
        matrices, general = matrices[keep], general[keep]
    side_a = np.unique(keys[:, 0], return_inverse=True)[1].reshape(-1)
    side_b = np.unique(keys[:, 1], return_inverse=True)[1].reshape(-1)

    def judge(maps: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        within = transfer_many(maps, src, dst) <= tolerance  # (s, n)
        landed = np.add.reduceat(within[:, order].astype(np.int64), starts, axis=1)  # (s, G)
        support = (landed >= GROUP_SHARE * sizes) & (sizes >= MIN_PAIR_SAMPLES)
        distinct = np.minimum(
            _distinct(support, side_a), _distinct(support, side_b)
        )
        inliers = within & support[:, groups]
        return distinct, inliers.sum(axis=1), support, inliers

    counts, n_in, support, inliers = judge(matrices)
    # The most pairs of tracks; among as many, the affine map (fewer degrees of freedom: it stays sane
    # beyond a narrow patch of floor), then the most correspondences.
    best = int(np.lexsort((-n_in, general, -counts))[0])
    matrix, count, kept, chosen = matrices[best], counts[best], support[best], inliers[best]
    for _ in range(2):  # refit on the inliers while that keeps as many pairs and correspondences
        if chosen.sum() < 4:
            break
        if general[best]:
            refit = fit_unchecked(src[chosen], dst[chosen])
        else:
            refit = next(iter(affine_maps(src, dst, np.flatnonzero(chosen)[None])), None)
        if refit is None:
            break
        r_count, r_in, r_support, r_inliers = judge(refit[None])
        if r_count[0] < count or r_in[0] < chosen.sum():
            break
        matrix, count, kept, chosen = refit, r_count[0], r_support[0], r_inliers[0]
    errors = transfer_errors(matrix, src, dst)
    rms = float(np.sqrt(np.mean((errors[chosen] / tolerance[chosen]) ** 2))) if chosen.any() else float("nan")
    return PairFit(matrix, chosen, keys, kept, int(count), rms, "homography" if general[best] else "affine")


def _distinct(support: np.ndarray, side: np.ndarray) -> np.ndarray:
    """(s,) per row of `support` (s, G), how many distinct tracks of one side its supporting groups have."""
    onehot = np.zeros((len(side), int(side.max()) + 1 if len(side) else 0))
    onehot[np.arange(len(side)), side] = 1.0
    return ((support.astype(np.float64) @ onehot) > 0).sum(axis=1)


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
    first_fit: float | None = None
    model: str | None = None
    _support: np.ndarray = field(default_factory=lambda: np.zeros((0, 2)), repr=False)  # its inliers' a feet
    _support_pairs: set[tuple[int, int]] = field(default_factory=set, repr=False)
    box_a: tuple[float, float, float, float] | None = None
    box_b: tuple[float, float, float, float] | None = None
    """Where the map is known: the inliers' bounding boxes in a and in b, widened by BOX_MARGIN."""
    _src: list[tuple[float, float]] = field(default_factory=list, repr=False)
    _dst: list[tuple[float, float]] = field(default_factory=list, repr=False)
    _height: list[float] = field(default_factory=list, repr=False)
    _pair: list[tuple[int, int]] = field(default_factory=list, repr=False)
    _confident: list[bool] = field(default_factory=list, repr=False)
    _serial: list[int] = field(default_factory=list, repr=False)
    _added: int = 0
    _fitted_at: int = 0
    _last: dict[tuple[int, int], tuple[float, int]] = field(default_factory=dict, repr=False)
    _new: int = 0
    _last_fit: float = -np.inf

    @property
    def samples(self) -> int:
        return len(self._src)

    def due(self, pair: tuple[int, int], pts: float) -> bool:
        """Whether a correspondence of track pair `pair` at `pts` would be kept (cheap check before
        computing it)."""
        last, count = self._last.get(pair, (-np.inf, 0))
        return pts - last >= SAMPLE_SECONDS and count < MAX_PER_PAIR

    def add(
        self,
        pair: tuple[int, int],
        pts: float,
        foot_a: np.ndarray,
        foot_b: np.ndarray,
        height_b: float,
        confident: bool = True,
    ) -> None:
        """One correspondence: track pair `pair` (uids), feet in a and in b at site second `pts`;
        `confident`: the pair is believed to be one person (it may seed a map; any pair may support one)."""
        if not self.due(pair, pts) or height_b <= 0:
            return
        self._last[pair] = (pts, self._last.get(pair, (0.0, 0))[1] + 1)
        self._src.append((float(foot_a[0]), float(foot_a[1])))
        self._dst.append((float(foot_b[0]), float(foot_b[1])))
        self._height.append(float(height_b))
        self._pair.append(pair)
        self._confident.append(bool(confident))
        self._serial.append(self._added)
        self._added += 1
        self._new += 1
        if len(self._src) > MAX_SAMPLES:
            for kept in (self._src, self._dst, self._height, self._pair, self._serial, self._confident):
                del kept[0]

    def forget_pairs(self, alive: set[int]) -> None:
        """Drop the sampling bookkeeping of track pairs whose tracks are gone (bounded memory)."""
        self._last = {p: v for p, v in self._last.items() if p[0] in alive or p[1] in alive}

    def maybe_fit(self, now: float) -> bool:
        """Refit when due (REFIT_SECONDS apart, STABLE_REFIT_SECONDS once stable) and new
        correspondences arrived; True when the map changed."""
        wait = STABLE_REFIT_SECONDS if self.stable else REFIT_SECONDS
        if now - self._last_fit < wait or not self._new or len(self._src) < MIN_INLIERS:
            return False
        self._last_fit, self._new = now, 0
        src, dst, pairs = np.array(self._src), np.array(self._dst), np.array(self._pair)
        height = np.array(self._height)
        tolerance = TOLERANCE_HEIGHTS * height
        fit = fit_track_pairs(src, dst, tolerance, pairs, np.array(self._confident), seed=self.fits)
        self.fits += 1
        if fit is None:
            return False
        inl = fit.inliers
        if (
            fit.n_inliers < MIN_INLIERS
            or fit.n_pairs < MIN_TRACK_PAIRS
            or min(spread_ratio(src[inl]), spread_ratio(dst[inl])) < MIN_SPREAD
            or not _unfolded(fit.matrix, src[inl])
        ):
            return False
        previous = self.matrix
        # Judged where the previous map was fitted: beyond its support it only extrapolated.
        agrees = previous is not None and _shift(previous, fit.matrix, self._support) <= (
            STABLE_SHIFT_HEIGHTS * float(np.median(height[inl]))
        )
        if self.stable and not agrees:
            return False  # a stable map is only refined: a refit elsewhere is taken for wrong pairs
        if not self.stable and previous is not None and agrees:
            newer = np.array(self._serial) >= self._fitted_at
            landed = _support_count(previous, src[newer], dst[newer], tolerance[newer], pairs[newer])
            if landed < PREDICT_TRACK_PAIRS:
                return False  # not enough new walks to test the previous map yet: keep it
            self.stable, self.stable_since = True, now
        support_pairs = {tuple(int(v) for v in key) for key in fit.keys[fit.support]}
        box_a, box_b = _box(src[inl]), _box(dst[inl])
        if self.stable and previous is not None and agrees:  # refined: known where either was fitted
            box_a, box_b = _union(box_a, self.box_a), _union(box_b, self.box_b)
            support_pairs |= self._support_pairs
        self.first_fit = now if self.first_fit is None else self.first_fit
        self.matrix, self._support, self._fitted_at = fit.matrix, src[inl], self._added
        self._support_pairs, self.box_a, self.box_b = support_pairs, box_a, box_b
        self.inliers, self.track_pairs, self.model = fit.n_inliers, fit.n_pairs, fit.model
        self.rms_heights = fit.rms * TOLERANCE_HEIGHTS
        return True

    def describe(self) -> dict:
        return {
            "cameras": [self.a, self.b],
            "state": "learned" if self.stable else ("fitted" if self.matrix is not None else "learning"),
            "correspondences": self.samples,
            "candidate_track_pairs": len(set(self._pair)),
            "model": self.model,
            "fits": self.fits,
            "inliers": self.inliers,
            "track_pairs": self.track_pairs,
            "rms_heights": None if np.isnan(self.rms_heights) else round(self.rms_heights, 4),
            "first_fit_seconds": self.first_fit,
            "stable_since_seconds": self.stable_since,
            "homography": None if self.matrix is None else np.round(self.matrix, 9).tolist(),
        }


def _support_count(
    matrix: np.ndarray,
    src: np.ndarray,
    dst: np.ndarray,
    tolerance: np.ndarray,
    pairs: np.ndarray,
) -> int:
    """Pairs of tracks whose correspondences (these, newer than the map) support `matrix`, one-to-one."""
    if not len(src):
        return 0
    keys, groups = np.unique(pairs.reshape(-1, 2), axis=0, return_inverse=True)
    groups = groups.reshape(-1)
    sizes = np.bincount(groups, minlength=len(keys))
    landed = np.bincount(groups, weights=transfer_errors(matrix, src, dst) <= tolerance, minlength=len(keys))
    support = (landed >= GROUP_SHARE * sizes) & (sizes >= MIN_PAIR_SAMPLES)
    return min(len(set(keys[support, 0].tolist())), len(set(keys[support, 1].tolist())))


def _union(
    one: tuple[float, float, float, float], two: tuple[float, float, float, float] | None
) -> tuple[float, float, float, float]:
    if two is None:
        return one
    return (min(one[0], two[0]), min(one[1], two[1]), max(one[2], two[2]), max(one[3], two[3]))


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
