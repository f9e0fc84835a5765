"""The report's two drawings as inline SVG strings: the identity timeline (a Gantt chart) and the
camera topology graph with what was observed on each link."""

from __future__ import annotations

import math
from html import escape

import numpy as np

from pyuniproc.outputs.draw import color_for_id
from pyuniproc.report.data import RunData

# Camera colours (Tableau 10): distinct from each other; identities use the video palette instead.
CAMERA_COLORS = (
    "#4e79a7",
    "#f28e2b",
    "#59a14f",
    "#e15759",
    "#76b7b2",
    "#edc948",
    "#b07aa1",
    "#ff9da7",
    "#9c755f",
    "#bab0ac",
)


def camera_colors(camera_ids: list[str]) -> dict[str, str]:
    return {camera: CAMERA_COLORS[i % len(CAMERA_COLORS)] for i, camera in enumerate(camera_ids)}


def identity_color(global_id: int) -> str:
    """The colour of this id's boxes in the annotated and mosaic videos."""
    r, g, b = color_for_id(global_id)
    return f"#{r:02x}{g:02x}{b:02x}"


def _nice_step(span: float, target_ticks: int = 10) -> float:
    raw = max(span, 1e-6) / target_ticks
    magnitude = 10 ** math.floor(math.log10(raw))
    for step in (1, 2, 5, 10):
        if raw <= step * magnitude:
            return step * magnitude
    return 10 * magnitude


def gantt(data: RunData, *, width: int = 1200, row_height: int = 16) -> str:
    """One row per identity (first seen first), one bar per visit coloured by camera; thin lines join
    an identity's consecutive visits (the walk between cameras)."""
    colors = camera_colors(data.camera_ids)
    identities = data.identities
    left, right, top, bottom = 64, 16, 44, 24
    t0, t1 = data.time_range
    t1 = max(t1, t0 + 1.0)
    plot_w = width - left - right
    height = top + bottom + row_height * max(1, len(identities))

    def x(t: float) -> float:
        return left + (t - t0) / (t1 - t0) * plot_w

    out = [
        f'<svg class="gantt" viewBox="0 0 {width} {height}" width="100%" xmlns="http://www.w3.org/2000/svg" '
        f'role="img" aria-label="timeline of {len(identities)} identities across cameras">'
    ]
    legend_x = left
    for camera in data.camera_ids:
        out.append(
            f'<rect x="{legend_x}" y="8" width="14" height="10" rx="2" fill="{colors[camera]}"/>'
            f'<text x="{legend_x + 19}" y="17" class="legend">{escape(camera)}</text>'
        )
        legend_x += 28 + 8 * len(camera)
    step = _nice_step(t1 - t0)
    tick = math.ceil(t0 / step) * step
    while tick <= t1 + 1e-9:
        tx = x(tick)
        out.append(
            f'<line x1="{tx:.1f}" y1="{top - 4}" x2="{tx:.1f}" y2="{height - bottom}" class="grid"/>'
            f'<text x="{tx:.1f}" y="{top - 8}" class="tick" text-anchor="middle">{tick:g} s</text>'
        )
        tick += step
    for row, identity in enumerate(identities):
        y = top + row * row_height
        if row % 2:
            out.append(f'<rect x="0" y="{y}" width="{width}" height="{row_height}" class="stripe"/>')
        cy = y + row_height / 2
        out.append(
            f'<circle cx="10" cy="{cy:.1f}" r="4.5" fill="{identity_color(identity.global_id)}" '
            f'stroke="#333" stroke-width="0.5"/>'
            f'<text x="{left - 8}" y="{cy + 4:.1f}" class="rowlabel" text-anchor="end">'
            f'<a href="#id-{identity.global_id}">g{identity.global_id}</a></text>'
        )
        visits = sorted(identity.visits, key=lambda v: v.start)
        for before, after in zip(visits, visits[1:], strict=False):
            if after.start > before.end:
                out.append(
                    f'<line x1="{x(before.end):.1f}" y1="{cy:.1f}" x2="{x(after.start):.1f}" '
                    f'y2="{cy:.1f}" class="walk"/>'
                )
        order = {camera: i for i, camera in enumerate(data.camera_ids)}
        for visit in visits:
            x1 = x(visit.start)
            w = max(2.0, x(visit.end) - x1)
            # Seen in two overlapping views at once: the two bars share the row, one above the other.
            along = [
                v
                for v in visits
                if v is not visit
                and v.camera_id != visit.camera_id
                and v.start <= visit.end
                and visit.start <= v.end
            ]
            bar_h, bar_y = row_height - 6, y + 3
            if along:
                bar_h = (row_height - 4) / 2
                below = any(order.get(v.camera_id, 0) < order.get(visit.camera_id, 0) for v in along)
                bar_y = y + 2 + (bar_h if below else 0)
            tracks = ", ".join(str(t) for t in sorted(visit.track_ids))
            out.append(
                f'<rect x="{x1:.1f}" y="{bar_y:.1f}" width="{w:.1f}" height="{bar_h:.1f}" rx="2" '
                f'fill="{colors.get(visit.camera_id, "#888")}"><title>g{identity.global_id} in '
                f"{escape(visit.camera_id)}: {visit.start:.1f}-{visit.end:.1f} s "
                f"(frames {visit.first_frame}-{visit.last_frame}; local tracks {tracks})</title></rect>"
            )
    out.append("</svg>")
    return "".join(out)


def _layout(
    nodes: list[str], edges: list[tuple[str, str]], width: float, height: float
) -> dict[str, np.ndarray]:
    """Deterministic spring layout (Fruchterman-Reingold) started from a circle, fitted to the box."""
    n = len(nodes)
    if n == 1:
        return {nodes[0]: np.array([width / 2, height / 2])}
    angles = np.linspace(0, 2 * np.pi, n, endpoint=False) + np.pi
    pos = np.column_stack([np.cos(angles), np.sin(angles)])
    index = {node: i for i, node in enumerate(nodes)}
    pairs = [(index[a], index[b]) for a, b in edges if a in index and b in index and a != b]
    k = 1.6 / math.sqrt(n)
    temperature = 0.3
    for _ in range(300):
        delta = pos[:, None, :] - pos[None, :, :]
        dist = np.maximum(np.linalg.norm(delta, axis=2), 1e-3)
        force = (delta / dist[..., None] * (k * k / dist)[..., None]).sum(axis=1)
        for i, j in pairs:
            d = pos[i] - pos[j]
            length = max(np.linalg.norm(d), 1e-3)
            pull = d / length * (length * length / k)
            force[i] -= pull
            force[j] += pull
        length = np.maximum(np.linalg.norm(force, axis=1), 1e-9)
        pos += force / length[:, None] * np.minimum(length, temperature)[:, None]
        temperature *= 0.985
    pos -= pos.min(axis=0)
    span = pos.max(axis=0)
    margin = np.array([120.0, 60.0])
    room = np.array([width, height]) - 2 * margin
    flat = span < 1e-3  # e.g. two cameras: one row, centred
    pos = margin + np.where(flat, room / 2, pos / np.where(flat, 1.0, span) * room)
    return {node: pos[index[node]] for node in nodes}


def topology(data: RunData, *, width: int = 1180, height: int | None = None) -> str:
    """Cameras as nodes (colour as in the timeline), a line per camera pair the cameras file links (an
    arrowhead per linked direction) with a label: the travel-time window, then per direction the
    hand-overs observed and their median travel time. Overlapping views: dashed, with how often an
    identity was seen in both at once. Hand-overs between cameras that are neither linked nor
    overlapping (possible only without topology gating): red, dotted."""
    colors = camera_colors(data.camera_ids)
    height = height or (220 if len(data.camera_ids) <= 2 else 460)
    links: dict[tuple[str, str], tuple[float, float]] = {}
    overlaps: set[tuple[str, str]] = set()
    if data.site is not None:
        for link in data.site.topology.links:
            links[(link.source, link.target)] = (link.min_seconds, link.max_seconds)
        for group in data.site.topology.overlaps:
            members = sorted(group)
            overlaps |= {(a, b) for i, a in enumerate(members) for b in members[i + 1 :]}
    known = set(data.camera_ids)
    pairs = sorted({tuple(sorted(key)) for key in list(links) + list(data.edges)} | overlaps)
    pairs = [p for p in pairs if p[0] != p[1] and p[0] in known and p[1] in known]
    pos = _layout(data.camera_ids, pairs, width, height)
    visitors = {
        c: len({i.global_id for i in data.identities for v in i.visits if v.camera_id == c})
        for c in data.camera_ids
    }
    out = [
        f'<svg class="topology" viewBox="0 0 {width} {height}" width="100%" '
        f'xmlns="http://www.w3.org/2000/svg" '
        f'role="img" aria-label="camera topology with observed transitions">',
        '<defs><marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="6" markerHeight="6" '
        'orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="#555"/></marker></defs>',
    ]
    radius = 36
    labels = []
    for a, b in pairs:
        pa, pb = pos[a], pos[b]
        d = pb - pa
        unit = d / max(float(np.linalg.norm(d)), 1e-6)
        start, end = pa + unit * (radius + 2), pb - unit * (radius + 2)
        linked = [(x, y) for x, y in ((a, b), (b, a)) if (x, y) in links]
        overlap = (a, b) in overlaps
        seen = data.edge(a, b).count + data.edge(b, a).count
        if linked:
            cls = "link"
        elif overlap:
            cls = "overlap"
        else:
            cls = "unlinked"
        width_px = 1.5 + min(seen, 24) * 0.2
        markers = ""
        if (a, b) in links:
            markers += ' marker-end="url(#arrow)"'
        if (b, a) in links:
            markers += ' marker-start="url(#arrow)"'
        out.append(
            f'<line x1="{start[0]:.1f}" y1="{start[1]:.1f}" x2="{end[0]:.1f}" y2="{end[1]:.1f}" '
            f'class="{cls}" stroke-width="{width_px:.1f}"{markers}/>'
        )
        lines: list[tuple[str, str]] = []
        windows = {links[key] for key in linked}
        if overlap:
            lines.append(("head", "overlapping views"))
            lines.append(("", f"{data.covisible.get((a, b), 0)} seen in both at once"))
        if len(windows) == 1:
            lo, hi = next(iter(windows))
            lines.append(("head", f"window {lo:g}–{hi:g} s"))
        for x, y in ((a, b), (b, a)):
            stats = data.edge(x, y)
            window = links.get((x, y))
            if window is None and stats.count == 0:
                continue
            text = f"{x} → {y}  {stats.count}×"
            if stats.median is not None:
                text += f" · median {stats.median:.1f} s"
            if window is not None and len(windows) > 1:
                text += f" ({window[0]:g}–{window[1]:g})"
            lines.append(("bad" if window is None and not overlap else "", text))
        if not linked and not overlap:
            lines.insert(0, ("bad head", "not linked in the cameras file"))
        labels.append(((pa + pb) / 2, lines))
    for camera in data.camera_ids:
        p = pos[camera]
        out.append(
            f'<circle cx="{p[0]:.1f}" cy="{p[1]:.1f}" r="{radius}" fill="{colors[camera]}" class="node"/>'
            f'<text x="{p[0]:.1f}" y="{p[1] + 1:.1f}" class="nodelabel" text-anchor="middle">'
            f'{escape(camera)}</text><text x="{p[0]:.1f}" y="{p[1] + 16:.1f}" class="nodesub" '
            f'text-anchor="middle">{visitors[camera]} ids</text>'
        )
    for centre, lines in labels:  # last, so they sit on top of the lines
        line_h, char_w = 15, 6.6
        box_w = max(len(text) for _, text in lines) * char_w + 14
        box_h = len(lines) * line_h + 8
        x0, y0 = centre[0] - box_w / 2, centre[1] - box_h / 2
        out.append(
            f'<rect x="{x0:.1f}" y="{y0:.1f}" width="{box_w:.1f}" height="{box_h:.1f}" rx="5" '
            'class="edgebox"/>'
        )
        for i, (cls, text) in enumerate(lines):
            out.append(
                f'<text x="{centre[0]:.1f}" y="{y0 + 4 + line_h * (i + 0.75):.1f}" '
                f'class="edgelabel {cls}" text-anchor="middle">{escape(text)}</text>'
            )
    out.append("</svg>")
    return "".join(out)
