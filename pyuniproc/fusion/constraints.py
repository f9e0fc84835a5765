"""Space-time gating: which identities a new track may belong to, given where and when each was seen.

Everything is precomputed once from the site's topology into (C, C) camera-pair tables, then applied to
whole identity tables at once: for m tracks, K identities and C cameras one call is a handful of numpy
operations on (m, K, C) arrays, no Python loop over identities.

An identity's whereabouts are its latest visit per camera: `first`, `last` (site seconds, NaN where it has
never been there) as (K, C) arrays. A track (camera x, seen from f to l) may join identity k when
  - no visit of k in a camera *exclusive* with x (x itself, or any camera whose view does not overlap x's)
    shares more than `cooccurrence_tolerance_seconds` with [f, l] - one person, one place at a time; and
  - either k is visible at the same time in a camera overlapping x (co-visibility), or one of k's *exits*
    leads to x: a visit that ended before f and was not followed by a visit elsewhere, whose camera c
    links to x (or is x: re-entry, or overlaps x: hand-over) with f - last within that pair's window.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from pyuniproc.config.cameras import Topology


@dataclass(frozen=True, slots=True)
class Gating:
    """Result of `Gate.check` for m tracks against K identities.

    feasible: (m, K) bool, the identity may take the track.
    bonus: (m, K) float32, co-visibility and travel-time plausibility bonus to add to the similarity.
    predecessor: (m, K) int32, camera index of the visit the track most plausibly continues
        (-1 where none: e.g. co-visibility only, or infeasible).
    """

    feasible: np.ndarray
    bonus: np.ndarray
    predecessor: np.ndarray


class Gate:
    """Topology and travel-time gating tables for one site.

    Args:
        camera_ids: the site's cameras; their order fixes the camera index used in every table.
        topology: links (directed, with min/max seconds) and overlapping view groups.
        use_topology: False = appearance only: any camera may follow any other at any time, and only
            one camera itself is exclusive with itself.
        use_travel_time: enforce each link's [min, max] seconds (widened by `slack_seconds`) and the
            re-entry window; False = any gap (identities still expire).
        slack_seconds, reentry_min_seconds, reentry_max_seconds, overlap_handoff_seconds,
        cooccurrence_tolerance_seconds, covisibility_bonus, travel_time_bonus: see `FusionConfig`.
    """

    def __init__(
        self,
        camera_ids: list[str],
        topology: Topology,
        *,
        use_topology: bool,
        use_travel_time: bool,
        slack_seconds: float,
        reentry_min_seconds: float,
        reentry_max_seconds: float,
        overlap_handoff_seconds: float,
        cooccurrence_tolerance_seconds: float,
        covisibility_bonus: float,
        travel_time_bonus: float,
    ) -> None:
        self.camera_ids = list(camera_ids)
        self.index = {camera: i for i, camera in enumerate(self.camera_ids)}
        c = len(self.camera_ids)
        self.tolerance = float(cooccurrence_tolerance_seconds)
        # How much two visits may share before they count as simultaneous: within one camera nothing (two
        # tracks on the same frame are two people), across cameras the configured tolerance.
        self.shared_allowed = np.full((c, c), self.tolerance)
        np.fill_diagonal(self.shared_allowed, -1e-9)
        self.covisibility_bonus = float(covisibility_bonus)
        self.travel_time_bonus = float(travel_time_bonus) if use_travel_time else 0.0
        # window_low/high[c, x]: allowed gap from leaving c to entering x; NaN = no such hand-over.
        self.window_low = np.full((c, c), np.nan)
        self.window_high = np.full((c, c), np.nan)
        self.timed = np.zeros((c, c), dtype=bool)  # a real travel window (earns the plausibility bonus)
        overlap = np.zeros((c, c), dtype=bool)
        if not use_topology:
            self.window_low[:] = -self.tolerance
            self.window_high[:] = np.inf
            self.exclusive = np.eye(c, dtype=bool)
            self.overlap = ~self.exclusive  # anything may be seen together, but earns no bonus
            self.covisibility_bonus = 0.0
            return
        for group in topology.overlaps:
            members = [self.index[camera] for camera in group if camera in self.index]
            for a in members:
                for b in members:
                    overlap[a, b] = a != b
        self.overlap = overlap
        self.exclusive = ~overlap
        for link in topology.links:
            if link.source not in self.index or link.target not in self.index:
                continue
            a, b = self.index[link.source], self.index[link.target]
            low, high = link.min_seconds, link.max_seconds
            if use_travel_time:
                low, high = max(low - slack_seconds, -self.tolerance), high + slack_seconds
            else:
                low, high = -self.tolerance, np.inf
            self._widen(a, b, low, high)
            self.timed[a, b] = use_travel_time
        reentry = (
            max(reentry_min_seconds - slack_seconds, -self.tolerance),
            reentry_max_seconds + slack_seconds,
        )
        for a in range(c):
            if use_travel_time:
                self._widen(a, a, *reentry)
                self.timed[a, a] = True
            else:
                self._widen(a, a, -self.tolerance, np.inf)
            # Overlapping views are one place: seen in both at once, handed over within
            # `overlap_handoff_seconds`, or leaving the place and coming back within the re-entry window.
            for b in np.flatnonzero(overlap[a]):
                high = max(overlap_handoff_seconds, reentry[1]) if use_travel_time else np.inf
                self._widen(a, int(b), -np.inf, high)

    def _widen(self, a: int, b: int, low: float, high: float) -> None:
        old_low, old_high = self.window_low[a, b], self.window_high[a, b]
        self.window_low[a, b] = low if np.isnan(old_low) else min(low, old_low)
        self.window_high[a, b] = high if np.isnan(old_high) else max(high, old_high)

    def linked(self, source: str, target: str) -> bool:
        """Whether a person leaving `source` may ever appear in `target` under these settings."""
        return not np.isnan(self.window_low[self.index[source], self.index[target]])

    def reachable(self, camera: int, visit_last: np.ndarray, since: float) -> np.ndarray:
        """(K,) bool: identities that could possibly take a track entering `camera` at or after `since` -
        a visit recent enough for some window into `camera` (a cheap, necessary condition for `check`)."""
        high = self.window_high[:, camera]  # (C,), NaN where no hand-over into `camera`
        with np.errstate(invalid="ignore"):
            return (visit_last >= since - high - self.tolerance).any(axis=1)

    def check(
        self,
        camera: np.ndarray,
        first: np.ndarray,
        last: np.ndarray,
        visit_first: np.ndarray,
        visit_last: np.ndarray,
    ) -> Gating:
        """Gate m tracks against K identities.

        camera, first, last: (m,) camera index and first/last seen (site seconds) of each track.
        visit_first, visit_last: (K, C) each identity's latest visit per camera, NaN where none. Callers
            re-evaluating a track already in an identity pass that identity's tables without the track.
        """
        m, k = len(camera), visit_first.shape[0]
        if m == 0 or k == 0:
            empty = np.zeros((m, k))
            return Gating(empty.astype(bool), empty.astype(np.float32), empty.astype(np.int32) - 1)
        tol = self.tolerance
        allowed = self.shared_allowed[camera][:, None, :]  # (m, 1, C)
        f = np.asarray(first, dtype=np.float64)[:, None, None]  # (m, 1, 1)
        l = np.asarray(last, dtype=np.float64)[:, None, None]  # noqa: E741
        vf, vl = visit_first[None], visit_last[None]  # (1, K, C)
        with np.errstate(invalid="ignore"):
            shared = np.minimum(vl, l) - np.maximum(vf, f)  # (m, K, C), NaN where never visited
            simultaneous = shared > allowed
            exclusive = self.exclusive[camera][:, None, :]  # (m, 1, C)
            conflict = (simultaneous & exclusive).any(axis=2)
            overlapping = self.overlap[camera][:, None, :]
            covisible = (shared >= 0) & overlapping
            # Exits: visits that ended by f and were not followed (before f) by a visit elsewhere.
            started = np.where(vf <= f + tol, vf, -np.inf)
            latest_start = started.max(axis=2, initial=-np.inf)[:, :, None]  # (m, K, 1)
            exit_ok = (vl <= f + allowed) & (vl >= latest_start - tol)
            gap = f - vl
            low = self.window_low[:, camera].T[:, None, :]  # (m, 1, C): from visit camera c to x
            high = self.window_high[:, camera].T[:, None, :]
            in_window = exit_ok & (gap >= low) & (gap <= high)
        transition = in_window.any(axis=2)
        feasible = ~conflict & (transition | covisible.any(axis=2))
        bonus = np.zeros((m, k), dtype=np.float32)
        if self.covisibility_bonus:
            bonus += self.covisibility_bonus * covisible.any(axis=2)
        if self.travel_time_bonus:
            timed = self.timed[:, camera].T[:, None, :] & in_window & np.isfinite(low) & np.isfinite(high)
            with np.errstate(invalid="ignore", divide="ignore"):
                middle, half = (low + high) / 2, np.maximum((high - low) / 2, 1e-6)
                plausible = np.where(timed, np.clip(1 - np.abs(gap - middle) / half, 0, 1), 0.0)
            bonus += (self.travel_time_bonus * plausible.max(axis=2)).astype(np.float32)
        # Predecessor: the latest exit leading here, else the camera where the identity is co-visible.
        rank = np.where(in_window, np.broadcast_to(vl, in_window.shape), -np.inf)
        predecessor = np.where(transition, rank.argmax(axis=2), covisible.argmax(axis=2)).astype(np.int32)
        predecessor[~feasible] = -1
        return Gating(feasible=feasible, bonus=bonus * feasible, predecessor=predecessor)
