"""Where people are: the state of the floor comparison between overlapping cameras, as the run left it.

summary.json `fusion.floor` (written by `Fusion.floor_report`) says, per overlapping camera pair,
whether positions are compared: "calibrated" (both cameras have a ground calibration), "learned" (the
foot map learned from the run is stable and used), "fitted" (a map, not yet confirmed, not used),
"learning" or "not compared". The report shows that as a table, and draws the feet the run itself put
under one global id in both views at the same instant: in the first view, and in the second together
with where the learned map sends the first view's foot (a short line is a foot the map and the ids
agree on; a long one is a wrong id or a wrong map).
"""

from __future__ import annotations

from dataclasses import dataclass
from html import escape
from typing import Any

import numpy as np

from pyuniproc.report.data import RunData, camera_sources
from pyuniproc.report.svg import identity_color

USABLE = ("learned", "calibrated")
"""States in which fusion compares positions (a "fitted" map is not used until it is confirmed)."""
SAME_INSTANT_SECONDS = 0.05
"""Two rows of the two views count as one instant when their times differ by at most this (half a frame
at 10 fps)."""
TOLERANCE_HEIGHTS = 0.15
"""A foot within this share of the person's height of where the map puts it agrees with the map (the
learner's own tolerance, `pyuniproc.fusion.overlap_map.TOLERANCE_HEIGHTS`)."""
MAX_POINTS = 300


@dataclass
class MatchedFeet:
    """Feet of one global id seen in views a and b at the same instant.

    gid: (n,) global ids; foot_a, foot_b: (n, 2) image pixels (box bottom centre); height_b: (n,) box
    height in b (pixels)."""

    a: str
    b: str
    gid: np.ndarray
    foot_a: np.ndarray
    foot_b: np.ndarray
    height_b: np.ndarray

    def __len__(self) -> int:
        return len(self.gid)


def matched_feet(data: RunData, a: str, b: str) -> MatchedFeet:
    """Every instant at which one global id has a box in both `a` and `b`."""
    gids, feet_a, feet_b, heights = [], [], [], []
    for identity in data.identities:
        rows_a = [r for v in identity.visits if v.camera_id == a for r in v.rows]
        rows_b = sorted((r for v in identity.visits if v.camera_id == b for r in v.rows), key=lambda r: r.pts)
        if not rows_a or not rows_b:
            continue
        times_a = np.array([r.pts for r in rows_a])
        times_b = np.array([r.pts for r in rows_b])
        after = np.searchsorted(times_b, times_a).clip(0, len(times_b) - 1)
        before = (after - 1).clip(0)
        closer = np.abs(times_b[before] - times_a) < np.abs(times_b[after] - times_a)
        nearest = np.where(closer, before, after)
        for i in np.flatnonzero(np.abs(times_b[nearest] - times_a) <= SAME_INSTANT_SECONDS).tolist():
            other = rows_b[int(nearest[i])]
            gids.append(identity.global_id)
            feet_a.append(rows_a[i].foot)
            feet_b.append(other.foot)
            heights.append(other.y2 - other.y1)
    return MatchedFeet(
        a, b, np.array(gids, np.int64), np.array(feet_a, np.float64).reshape(-1, 2),
        np.array(feet_b, np.float64).reshape(-1, 2), np.array(heights, np.float64),
    )


def map_errors(homography: Any, feet: MatchedFeet) -> np.ndarray | None:
    """(n,) distance between where the a -> b map puts each a foot and the b foot, in b box heights;
    None without a map."""
    if homography is None or not len(feet):
        return None
    from pyuniproc.calibration import apply_homography

    mapped = apply_homography(np.asarray(homography, np.float64), feet.foot_a)
    return np.linalg.norm(mapped - feet.foot_b, axis=1) / np.maximum(feet.height_b, 1.0)


def floor_section(data: RunData, colors: dict[str, str]) -> str:
    """The "Where people are" section: one row per overlapping pair, the zones of linked cameras, the
    verdict counts and, per pair, the plot of matched feet. Empty when the run compared no positions
    and the site declares no overlap."""
    floor = (data.summary.get("fusion") or {}).get("floor")
    overlaps = data.site is not None and bool(data.site.topology.overlaps)
    if not floor:
        if not overlaps:
            return ""
        return ('<section><h2>Where people are</h2><p class="note">summary.json has no '
                "<code>fusion.floor</code>: the run compared no positions (floor off, or a run from "
                "before position-based linking)."
                "</p></section>")
    rows, plots = [], []
    sizes = frame_sizes(data) if floor.get("overlaps") else {}
    for pair in floor.get("overlaps") or []:
        a, b = pair["cameras"]
        feet = matched_feet(data, a, b)
        errors = map_errors(pair.get("homography"), feet)
        rows.append(_pair_row(pair, feet, errors, colors))
        if len(feet):
            plots.append(feet_plot(feet, pair.get("homography"), sizes, colors))
    table = '<p class="note">No overlapping cameras: positions are not compared.</p>' if not rows else (
        "<table><tr><th>cameras</th><th>state</th><th>used</th><th>matches</th><th>inliers</th>"
        "<th>track pairs</th><th>fit error</th><th>used since</th><th>same id in both</th>"
        f"<th>within tolerance</th></tr>{''.join(rows)}</table>"
    )
    counts = ", ".join(
        f"{floor.get(key, 0)} {label}" for key, label in (
            ("floor_merges", "merges"), ("floor_conflicts", "conflicts undone"),
            ("floor_infeasible", "links refused"), ("floor_bonuses", "position bonuses"))
    )
    calibrated = ", ".join(floor.get("calibrated_cameras") or []) or "none"
    return (
        "<section><h2>Where people are <small>overlapping views compared by floor position "
        f"(summary.json fusion.floor)</small></h2>{table}{_zones(floor.get('zones') or {})}"
        f'<p class="note">Calibrated cameras: {escape(calibrated)}. Decisions by position: {counts}. '
        "state: calibrated (ground calibration of both), learned (the foot map learned from the run is "
        "stable and used), fitted (a map not yet confirmed by later matches: not used), learning. "
        "matches: the correspondences kept; inliers and track pairs: those the map agrees with and how "
        "many pairs of tracks they come from; fit error: RMS in box heights; used since: site second the "
        "map became usable. same id in both: instants at which the run put one global id in both views; "
        f"within tolerance: the share of those the map puts within {TOLERANCE_HEIGHTS:g} box heights of "
        f"the other view's foot.</p>{''.join(plots)}</section>"
    )


def _pair_row(pair: dict[str, Any], feet: MatchedFeet, errors: np.ndarray | None,
              colors: dict[str, str]) -> str:
    a, b = pair["cameras"]
    state = pair.get("state", "?")
    used = state in USABLE
    rms = pair.get("rms_heights")
    since = pair.get("stable_since_seconds")
    within = f"{np.mean(errors <= TOLERANCE_HEIGHTS):.0%}" if errors is not None and len(errors) else "–"
    cells = [
        f"{_chip(a, colors)} ⇄ {_chip(b, colors)}",
        escape(state),
        '<b style="color:#2e7d32">yes</b>' if used else '<b style="color:#c0392b">no</b>',
        str(pair.get("correspondences", "–")),
        str(pair.get("inliers", "–")),
        str(pair.get("track_pairs", "–")),
        "–" if rms is None else f"{rms:.3f} h",
        "–" if since is None else f"{since:.1f} s",
        str(len(feet)),
        within,
    ]
    return "<tr>" + "".join(f"<td>{c}</td>" for c in cells) + "</tr>"


def _zones(zones: dict[str, Any]) -> str:
    if not zones:
        return ""
    rows = "".join(
        f"<tr><td>{escape(link)}</td><td>{escape(str(z.get('zones', '–')))}</td><td>{z.get('handovers', '–')}"
        f"</td><td>{'yes' if z.get('gating') else 'no'}</td></tr>"
        for link, z in sorted(zones.items())
    )
    return (
        '<h2 style="margin-top:14px">Exit and entry zones <small>per link between non-overlapping '
        "cameras</small></h2><table><tr><th>link</th><th>zones</th><th>hand-overs learned from</th>"
        f"<th>gating</th></tr>{rows}</table>"
    )


def _chip(camera: str, colors: dict[str, str]) -> str:
    return f'<span class="cam" style="background:{colors.get(camera, "#888")}">{escape(camera)}</span>'


def frame_sizes(data: RunData) -> dict[str, tuple[int, int]]:
    """Per camera (width, height) of its video, where it can be opened."""
    import cv2

    out = {}
    for camera, (uri, _) in camera_sources(data).items():
        capture = cv2.VideoCapture(uri)
        try:
            width = int(capture.get(cv2.CAP_PROP_FRAME_WIDTH))
            height = int(capture.get(cv2.CAP_PROP_FRAME_HEIGHT))
        finally:
            capture.release()
        if width > 0 and height > 0:
            out[camera] = (width, height)
    return out


def feet_plot(feet: MatchedFeet, homography: Any, sizes: dict[str, tuple[int, int]],
              colors: dict[str, str], *, panel_width: int = 320) -> str:
    """Inline SVG: view a's feet (left), view b's feet and the map's prediction of them (right). Dots are
    coloured by global id; in b, a cross marks where the map puts the a foot, joined to the b foot."""
    step = max(1, len(feet) // MAX_POINTS)
    pick = np.arange(0, len(feet), step)
    mapped = None
    if homography is not None:
        from pyuniproc.calibration import apply_homography

        mapped = apply_homography(np.asarray(homography, np.float64), feet.foot_a[pick])
    panels, gap, top = [], 24, 22
    heights = []
    for camera, points in ((feet.a, feet.foot_a), (feet.b, feet.foot_b)):
        width, height = sizes.get(camera) or _extent(points)
        heights.append(panel_width * height / width)
    total_h = int(top + max(heights) + 8)
    for k, (camera, points) in enumerate(((feet.a, feet.foot_a), (feet.b, feet.foot_b))):
        width, height = sizes.get(camera) or _extent(points)
        scale = panel_width / width
        x0 = k * (panel_width + gap)
        note = " (×: the map's place for the other view's foot)" if k and mapped is not None else ""
        shapes = [
            f'<rect x="{x0}" y="{top}" width="{panel_width}" height="{height * scale:.1f}" fill="#f6f7fa" '
            f'stroke="{colors.get(camera, "#888")}" stroke-width="2"/>',
            f'<text x="{x0}" y="{top - 7}" font-size="12">{escape(camera)}{escape(note)}</text>',
        ]
        for n, i in enumerate(pick.tolist()):
            px, py = x0 + points[i, 0] * scale, top + points[i, 1] * scale
            colour = identity_color(int(feet.gid[i]))
            if k and mapped is not None and np.isfinite(mapped[n]).all():
                mx, my = x0 + mapped[n, 0] * scale, top + mapped[n, 1] * scale
                shapes.append(f'<line x1="{mx:.1f}" y1="{my:.1f}" x2="{px:.1f}" y2="{py:.1f}" '
                              'stroke="#8a93a6" stroke-width="0.7"/>'
                              f'<path d="M{mx - 2:.1f},{my - 2:.1f}l4,4m0,-4l-4,4" stroke="#1d2330" '
                              'stroke-width="0.8"/>')
            shapes.append(f'<circle cx="{px:.1f}" cy="{py:.1f}" r="2.2" fill="{colour}" stroke="#333" '
                          f'stroke-width="0.3"><title>g{int(feet.gid[i])}</title></circle>')
        panels.append("".join(shapes))
    width = 2 * panel_width + gap
    return (
        f'<svg class="feet" viewBox="0 0 {width} {total_h}" width="{width}" height="{total_h}" '
        f'xmlns="http://www.w3.org/2000/svg" role="img" aria-label="feet of one id in {escape(feet.a)} and '
        f'{escape(feet.b)} at the same instants">{"".join(panels)}</svg>'
    )


def _extent(points: np.ndarray) -> tuple[int, int]:
    """A frame size that holds the points, when the video is not at hand."""
    if not len(points):
        return (640, 360)
    return (max(1, int(np.ceil(points[:, 0].max()))), max(1, int(np.ceil(points[:, 1].max()))))
