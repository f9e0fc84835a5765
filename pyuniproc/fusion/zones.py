"""Exit and entry zones: where people leave one view for a linked camera, and where they appear in it.

A hand-over between two non-overlapping cameras goes through the site's doors and corridors: people
leaving cam1 for cam3 leave cam1 through its right edge, say, and appear in cam3 at its far end. A track
that begins in the middle of a view (found again after an occlusion) or an identity that left through
another door is not that hand-over, whatever it looks like. Per directed link c -> x a zone is

  - declared in the cameras file (`exit:` polygon in c's pixels, `entry:` polygon in x's pixels), or
  - learned from the hand-overs fusion committed on that link: the exit and entry feet seen so far; a
    point belongs to the zone when it lies within `radius` box heights of one of them. A learned zone
    gates only once it holds `min_handovers` hand-overs (before, anything goes).

Gating applies to hand-overs between different, non-overlapping cameras only (re-entries into one view
and overlapping views are judged by time and by the floor).
"""

from __future__ import annotations

import numpy as np

MAX_LEARNED = 200
"""Hand-overs kept per link (the latest): bounds memory and the cost of a check."""


class ZoneBook:
    """Exit/entry zones of a site's links, by camera id.

    Args:
        declared: (from, to) -> (exit polygon or None, entry polygon or None), pixels.
        learn: learn zones of links without a declared one. min_handovers, radius: see module docstring.
    """

    def __init__(
        self,
        declared: dict[tuple[str, str], tuple[np.ndarray | None, np.ndarray | None]],
        *,
        learn: bool,
        min_handovers: int,
        radius: float,
    ) -> None:
        self.declared = declared
        self.learn, self.min_handovers, self.radius = learn, min_handovers, radius
        self.learned: dict[tuple[str, str], list[tuple[float, float, float, float, float, float]]] = {}

    def record(
        self,
        link: tuple[str, str],
        exit_position: tuple[float, float],
        exit_height: float,
        entry_position: tuple[float, float],
        entry_height: float,
    ) -> None:
        """A committed hand-over on `link` (from, to): feet and box heights where it left and entered."""
        if not self.learn or link in self.declared or min(exit_height, entry_height) <= 0:
            return
        seen = self.learned.setdefault(link, [])
        seen.append((*exit_position, exit_height, *entry_position, entry_height))
        if len(seen) > MAX_LEARNED:
            del seen[0]

    def gates(self, link: tuple[str, str]) -> bool:
        """Whether `link` has a zone that can refuse a hand-over now."""
        if link in self.declared:
            return any(zone is not None for zone in self.declared[link])
        return len(self.learned.get(link, ())) >= self.min_handovers

    def allowed(
        self,
        link: tuple[str, str],
        exits: np.ndarray,
        exit_heights: np.ndarray,
        entry: tuple[float, float],
        entry_height: float,
    ) -> np.ndarray:
        """(K,) bool: hand-overs on `link` leaving at `exits` (K, 2) and entering at `entry` that its zones
        allow (all True when the link has none)."""
        exits = np.asarray(exits, dtype=np.float64).reshape(-1, 2)
        entry_point = np.asarray(entry, dtype=np.float64).reshape(1, 2)
        if link in self.declared:
            exit_zone, entry_zone = self.declared[link]
            ok = np.ones(len(exits), dtype=bool)
            if exit_zone is not None:
                ok &= inside_polygon(exits, exit_zone)
            if entry_zone is not None and not inside_polygon(entry_point, entry_zone)[0]:
                ok[:] = False
            return ok
        seen = self.learned.get(link, [])
        if len(seen) < self.min_handovers:
            return np.ones(len(exits), dtype=bool)
        table = np.array(seen)
        heights = np.asarray(exit_heights, dtype=np.float64)
        near_exit = _near(exits, heights, table[:, 0:2], table[:, 2], self.radius)
        near_entry = _near(entry_point, np.array([entry_height]), table[:, 3:5], table[:, 5], self.radius)
        return near_exit & near_entry[0]

    def describe(self) -> dict:
        """JSON-ready: per link, declared or how many hand-overs it learned from, and whether it gates."""
        links = sorted(set(self.declared) | set(self.learned))
        return {
            f"{a}->{b}": {
                "zones": "declared" if (a, b) in self.declared else "learned",
                "handovers": len(self.learned.get((a, b), ())),
                "gating": self.gates((a, b)),
            }
            for a, b in links
        }


def _near(points: np.ndarray, heights: np.ndarray, seen: np.ndarray, seen_heights: np.ndarray, radius: float):
    """(n,) bool: each point within `radius` heights (the larger of its own box's and the seen one's) of a
    seen point. A point of unknown height (0) is never refused."""
    gap = np.linalg.norm(points[:, None, :] - seen[None, :, :], axis=2)
    scale = np.maximum(heights[:, None], seen_heights[None, :])
    return ((gap <= radius * scale).any(axis=1)) | (heights <= 0)


def inside_polygon(points: np.ndarray, polygon: np.ndarray) -> np.ndarray:
    """(n,) bool: points (n, 2) inside (or on the edge of) a simple polygon (k, 2), by ray casting."""
    points = np.asarray(points, dtype=np.float64).reshape(-1, 2)
    poly = np.asarray(polygon, dtype=np.float64).reshape(-1, 2)
    x, y = points[:, 0:1], points[:, 1:2]
    x1, y1 = poly[:, 0][None], poly[:, 1][None]
    x2, y2 = np.roll(poly[:, 0], -1)[None], np.roll(poly[:, 1], -1)[None]
    crosses = (y1 > y) != (y2 > y)
    with np.errstate(divide="ignore", invalid="ignore"):
        x_at = x1 + (y - y1) * (x2 - x1) / (y2 - y1)
    inside = (crosses & (x < x_at)).sum(axis=1) % 2 == 1
    # On an edge counts as inside (a door drawn along the frame's border).
    cross = (x2 - x1) * (y - y1) - (y2 - y1) * (x - x1)
    within = (np.minimum(x1, x2) - 1e-9 <= x) & (x <= np.maximum(x1, x2) + 1e-9)
    within &= (np.minimum(y1, y2) - 1e-9 <= y) & (y <= np.maximum(y1, y2) + 1e-9)
    on_edge = (np.abs(cross) <= 1e-9 * np.maximum(1.0, np.hypot(x2 - x1, y2 - y1))) & within
    return inside | on_edge.any(axis=1)
