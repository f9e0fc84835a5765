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
Feasible pairs earn bonuses on top of their similarity: `covisibility_bonus` when both overlapping views
picked the person up at about the same time (not merely for standing in the other view), and
`transition_bonus` for a hand-over the site explains (in full inside the link's own window, fading to 0
across the slack): the prior that the constraints add to appearance.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from pyuniproc.config.cameras import Topology

if TYPE_CHECKING:
    from pyuniproc.fusion.config import FusionConfig


@dataclass(frozen=True, slots=True)
class Gating:
    """Result of `Gate.check` for m tracks against K identities.

    feasible: (m, K) bool, the identity may take the track.
    bonus: (m, K) float32, co-visibility and transition bonus to add to the similarity.
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
        cooccurrence_tolerance_seconds, covisibility_bonus, transition_bonus: see `FusionConfig`.
    """

    @classmethod
    def from_config(cls, camera_ids: list[str], topology: Topology, config: FusionConfig) -> Gate:
        """The gate `config` (a FusionConfig, ablation switches applied) asks for."""
        return cls(
            camera_ids,
            topology,
            use_topology=config.use_topology,
            use_travel_time=config.use_travel_time,
            slack_seconds=config.travel_time_slack_seconds,
            reentry_min_seconds=config.reentry_min_seconds,
            reentry_max_seconds=config.reentry_max_seconds,
            overlap_handoff_seconds=config.overlap_handoff_seconds,
            cooccurrence_tolerance_seconds=config.cooccurrence_tolerance_seconds,
            covisibility_bonus=config.covisibility_bonus,
            transition_bonus=config.transition_bonus,
        )

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
        transition_bonus: float,
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
        self.handoff = max(float(overlap_handoff_seconds), 1e-6)
        self.transition_bonus = float(transition_bonus)
        # window_low/high[c, x]: allowed gap from leaving c to entering x; NaN = no such hand-over.
        # core_low/high: the same without the slack (where the transition bonus is paid in full).
        self.window_low = np.full((c, c), np.nan)
        self.window_high = np.full((c, c), np.nan)
        self.core_low = np.full((c, c), np.nan)
        self.core_high = np.full((c, c), np.nan)
        overlap = np.zeros((c, c), dtype=bool)
        if not use_topology:
            self.window_low[:] = self.core_low[:] = -self.tolerance
            self.window_high[:] = self.core_high[:] = np.inf
            self.exclusive = np.eye(c, dtype=bool)
            self.overlap = ~self.exclusive  # anything may be seen together, but earns no bonus
            self.covisibility_bonus = self.transition_bonus = 0.0
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
            self._allow(a, b, link.min_seconds, link.max_seconds, slack_seconds, use_travel_time)
        for a in range(c):
            self._allow(a, a, reentry_min_seconds, reentry_max_seconds, slack_seconds, use_travel_time)
            # Overlapping views are one place: seen in both at once, handed over within
            # `overlap_handoff_seconds`, or leaving the place and coming back within the re-entry window.
            for b in np.flatnonzero(overlap[a]):
                high = max(overlap_handoff_seconds, reentry_max_seconds) if use_travel_time else np.inf
                self._allow(a, int(b), -np.inf, high, slack_seconds, use_travel_time)

    def _allow(self, a: int, b: int, low: float, high: float, slack: float, timed: bool) -> None:
        """Allow hand-overs a -> b after low..high seconds (widened by `slack`; any gap when not `timed`),
        merged with what is already allowed."""
        if not timed:
            low, high, slack = -self.tolerance, np.inf, 0.0
        for table, value, pick in (
            (self.core_low, max(low, -self.tolerance), min),
            (self.core_high, high, max),
            (self.window_low, max(low - slack, -self.tolerance), min),
            (self.window_high, high + slack, max),
        ):
            table[a, b] = value if np.isnan(table[a, b]) else pick(value, table[a, b])

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
        zone_ok: np.ndarray | None = None,
    ) -> Gating:
        """Gate m tracks against K identities.

        camera, first, last: (m,) camera index and first/last seen (site seconds) of each track.
        visit_first, visit_last: (K, C) each identity's latest visit per camera, NaN where none. Callers
            re-evaluating a track already in an identity pass that identity's tables without the track.
        zone_ok: (m, K, C) bool, the hand-over from that visit into the track passes the link's exit and
            entry zones (`zones.ZoneBook`); None: no zones.
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
            if zone_ok is not None:
                in_window &= zone_ok
        transition = in_window.any(axis=2)
        feasible = ~conflict & (transition | covisible.any(axis=2))
        bonus = np.zeros((m, k), dtype=np.float32)
        if self.covisibility_bonus:
            # Only a person picked up by both views at about the same time earns it: anyone standing in the
            # other view is "co-visible", so co-visibility alone says nothing about who the newcomer is.
            with np.errstate(invalid="ignore"):
                synchrony = np.where(covisible, np.clip(1 - np.abs(f - vf) / self.handoff, 0, 1), 0.0)
            bonus += (self.covisibility_bonus * synchrony.max(axis=2)).astype(np.float32)
        if self.transition_bonus:
            # In full inside the link's own window, fading to 0 across the slack on either side.
            core_low = self.core_low[:, camera].T[:, None, :]
            core_high = self.core_high[:, camera].T[:, None, :]
            with np.errstate(invalid="ignore", divide="ignore"):
                early = np.where(gap < core_low, (gap - low) / np.maximum(core_low - low, 1e-6), 1.0)
                late = np.where(gap > core_high, (high - gap) / np.maximum(high - core_high, 1e-6), 1.0)
                plausible = np.where(in_window, np.clip(np.minimum(early, late), 0, 1), 0.0)
            bonus += (self.transition_bonus * plausible.max(axis=2)).astype(np.float32)
        # Predecessor: the latest exit leading here, else the camera where the identity is co-visible.
        rank = np.where(in_window, np.broadcast_to(vl, in_window.shape), -np.inf)
        predecessor = np.where(transition, rank.argmax(axis=2), covisible.argmax(axis=2)).astype(np.int32)
        predecessor[~feasible] = -1
        return Gating(feasible=feasible, bonus=bonus * feasible, predecessor=predecessor)
