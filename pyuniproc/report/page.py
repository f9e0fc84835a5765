"""The report as one self-contained HTML file: inline CSS and SVG, thumbnails as data: URIs, no scripts,
nothing fetched. Sections: headline numbers, metrics (when scored), topology, timeline, identities."""

from __future__ import annotations

import datetime as _dt
from html import escape
from pathlib import Path
from typing import Any

from pyuniproc.report.data import RunData
from pyuniproc.report.floor import floor_section
from pyuniproc.report.people import Owners, identity_people, wrong_merges
from pyuniproc.report.svg import camera_colors, gantt, identity_color, topology
from pyuniproc.report.thumbs import Thumbnail

CSS = """
*{box-sizing:border-box}
body{margin:0;font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#1d2330;
  background:#f3f5f8}
header{background:#1d2330;color:#fff;padding:18px 28px}
header h1{margin:0;font-size:22px;font-weight:600}
header p{margin:4px 0 0;color:#aab3c5;font-size:13px}
main{max-width:1280px;margin:0 auto;padding:18px 28px 40px}
section{background:#fff;border-radius:8px;box-shadow:0 1px 3px rgba(0,0,0,.08);padding:16px 20px;
  margin:0 0 18px}
h2{font-size:16px;margin:0 0 10px;font-weight:600}
h2 small{font-weight:400;color:#6b7385;font-size:12px;margin-left:8px}
.tiles{display:flex;flex-wrap:wrap;gap:12px;margin:0 0 18px}
.tile{background:#fff;border-radius:8px;box-shadow:0 1px 3px rgba(0,0,0,.08);padding:10px 16px;
  min-width:130px}
.tile b{display:block;font-size:22px;font-weight:600}
.tile span{color:#6b7385;font-size:12px}
.tile.good b{color:#2e7d32}.tile.bad b{color:#c0392b}
table{border-collapse:collapse;font-size:13px;font-variant-numeric:tabular-nums}
th,td{padding:4px 10px;text-align:right;border-bottom:1px solid #e6e9ef;white-space:nowrap}
th:first-child,td:first-child{text-align:left}
th{color:#6b7385;font-weight:500}
tr.total td{font-weight:600;border-top:2px solid #c9cfdb}
.two{display:grid;grid-template-columns:minmax(0,1fr) minmax(0,1fr);gap:18px;align-items:start}
.note{color:#6b7385;font-size:12px;margin:8px 0 0}
svg text{font-family:system-ui,sans-serif}
.gantt .tick,.gantt .legend{font-size:11px;fill:#4a5263}
.gantt .rowlabel{font-size:11px;fill:#1d2330}
.gantt .rowlabel a{fill:#1d2330}
.gantt .grid{stroke:#e6e9ef;stroke-width:1}
.gantt .stripe{fill:#f6f7fa}
.gantt .walk{stroke:#8a93a6;stroke-width:1;stroke-dasharray:3 2}
.topology .link{stroke:#555}
.topology .unlinked{stroke:#c0392b;stroke-dasharray:2 3}
.topology .overlap{stroke:#8a93a6;stroke-width:2;stroke-dasharray:6 4}
.topology .node{stroke:#fff;stroke-width:3}
.topology .nodelabel{font-size:14px;font-weight:700;fill:#fff}
.topology .nodesub{font-size:10px;fill:#fff}
.topology .edgebox{fill:#fff;fill-opacity:.93;stroke:#c9cfdb}
.topology .edgelabel{font-size:12px;fill:#1d2330}
.topology .edgelabel.head{font-weight:600}
.topology .edgelabel.bad{fill:#c0392b}
.ids{display:grid;grid-template-columns:repeat(auto-fill,minmax(380px,1fr));gap:12px}
.card{border:1px solid #e6e9ef;border-radius:8px;padding:8px 10px;scroll-margin-top:10px}
.card h3{margin:0 0 4px;font-size:13px;font-weight:600;display:flex;align-items:center;gap:6px}
.card .path{display:flex;flex-wrap:wrap;gap:3px;align-items:center;margin:0 0 6px;font-size:11px;
  color:#6b7385}
.card h3 .sw{width:12px;height:12px;border-radius:50%;border:1px solid #333;display:inline-block}
.card h3 small{font-weight:400;color:#6b7385}
.thumbs{display:flex;flex-wrap:wrap;gap:6px}
figure{margin:0;text-align:center}
figure img{height:96px;border-radius:3px;display:block;border-bottom:4px solid #888}
figcaption{font-size:10px;color:#4a5263;white-space:nowrap}
.cam{display:inline-block;padding:0 6px;border-radius:3px;color:#fff;font-size:11px}
.card.merged{border:2px solid #c0392b;background:#fdf2f1}
.flags{display:flex;flex-wrap:wrap;gap:4px;margin:0 0 4px}
.flag{display:inline-block;padding:0 6px;border-radius:3px;font-size:11px;font-weight:600;white-space:nowrap}
.flag.multi{background:#e8eefc;color:#2c4a8a}
.flag.bad{background:#c0392b;color:#fff}
.flag.gt{background:#eef1f5;color:#4a5263;font-weight:400}
.flagged a{margin-right:6px}
svg.feet{margin:10px 0 0;display:block}
"""


def render_page(
    data: RunData,
    thumbnails: dict[int, list[Thumbnail]],
    metrics: dict[str, Any] | None,
    *,
    title: str | None = None,
    max_timeline: int = 300,
    owners: Owners | None = None,
) -> str:
    """The page. owners: (camera, local track) -> GT person when the run was scored against a scenario
    (marks wrong merges and labels thumbnails with their person)."""
    colors = camera_colors(data.camera_ids)
    site = data.site.name if data.site is not None else data.summary.get("site", "")
    title = title or f"Multi-camera identities — {site or data.run_dir.name}"
    made = _dt.datetime.now().strftime("%Y-%m-%d %H:%M")
    t0, t1 = data.time_range
    parts = [
        '<!doctype html><html lang="en"><head><meta charset="utf-8">',
        f'<meta name="viewport" content="width=device-width,initial-scale=1"><title>{escape(title)}</title>',
        f"<style>{CSS}</style></head><body>",
        f"<header><h1>{escape(title)}</h1><p>run {escape(str(data.run_dir))} · "
        f"{len(data.camera_ids)} cameras · "
        f"{t1 - t0:.0f} s of video · report made {made} by <code>pyuniproc report</code></p></header><main>",
        _tiles(data, metrics),
    ]
    parts.append('<div class="two">')
    parts.append(
        _metrics(metrics, colors)
        if metrics is not None
        else '<section><h2>Metrics</h2><p class="note">Not scored: pass <code>--gt SCENARIO</code> (or '
        "<code>--metrics EVAL.json</code>) to add per-camera HOTA/MOTA/IDF1 and multi-camera IDF1.</p>"
        "</section>"
    )
    parts.append(_handover_table(data, colors))
    parts.append("</div>")
    parts.append(floor_section(data, colors))
    parts.append(
        "<section><h2>Camera topology <small>links from the cameras file; hand-overs as observed in this "
        f'run</small></h2>{topology(data)}<p class="note">Arrowheads: the directions the cameras file '
        "links, with their travel-time window; per direction, how many identities were handed over and "
        "their median travel time (last box in one view to first box in the next). Dashed grey: "
        "overlapping views. Red dotted: hand-overs between cameras that are neither linked nor "
        "overlapping. Line width grows with the hand-overs seen.</p></section>"
    )
    shown = data.identities[:max_timeline]
    more = len(data.identities) - len(shown)
    view = RunData(
        data.run_dir,
        data.site,
        data.camera_ids,
        shown,
        data.handovers,
        data.edges,
        data.covisible,
        data.rows,
        data.unassigned_rows,
        data.summary,
        data.time_range,
    )
    parts.append(
        f"<section><h2>Timeline <small>{len(shown)} identities, first seen first; bars are visits, "
        f"coloured by camera; dotted: walking between cameras"
        f"{f'; {more} more not drawn' if more else ''}</small></h2>{gantt(view)}</section>"
    )
    parts.append(_cards(data, thumbnails, colors, owners))
    parts.append("</main></body></html>\n")
    return "".join(parts)


def _tiles(data: RunData, metrics: dict[str, Any] | None) -> str:
    multi = [i for i in data.identities if len(i.cameras) > 1]
    share = data.unassigned_rows / data.rows if data.rows else 0.0
    tiles = [
        (str(len(data.identities)), "global identities", ""),
        (str(len(multi)), "seen in 2+ cameras", ""),
        (str(len(data.handovers)), "hand-overs", ""),
        (f"{data.rows:,}", f"tracked boxes ({share:.0%} without id)", ""),
    ]
    if metrics is not None and metrics.get("multi_camera"):
        mc = metrics["multi_camera"]
        tiles.insert(0, (f"{mc['IDF1']:.3f}", "multi-camera IDF1", "good" if mc["IDF1"] >= 0.9 else "bad"))
        tiles.insert(
            1,
            (
                f"{mc.get('pred_identities', '?')}/{mc.get('gt_tracks', '?')}",
                "predicted / true identities",
                "",
            ),
        )
    cells = "".join(
        f'<div class="tile {cls}"><b>{escape(value)}</b><span>{escape(label)}</span></div>'
        for value, label, cls in tiles
    )
    return f'<div class="tiles">{cells}</div>'


def _metrics(result: dict[str, Any], colors: dict[str, str]) -> str:
    keys = (
        ("HOTA", "{:.3f}"),
        ("MOTA", "{:.3f}"),
        ("IDF1", "{:.3f}"),
        ("Recall", "{:.3f}"),
        ("Precision", "{:.3f}"),
        ("IDSW", "{:d}"),
        ("gt_tracks", "{:d}"),
    )
    head = "".join(f"<th>{k if k != 'gt_tracks' else 'GT tracks'}</th>" for k, _ in keys)
    rows = []
    for camera, scores in sorted(result.get("cameras", {}).items()):
        cells = "".join(f"<td>{fmt.format(scores[k])}</td>" for k, fmt in keys if k in scores)
        rows.append(
            f'<tr><td><span class="cam" style="background:{colors.get(camera, "#888")}">'
            f"{escape(camera)}</span></td>{cells}</tr>"
        )
    combined = result.get("combined") or {}
    if combined:
        cells = "".join(f"<td>{fmt.format(combined[k])}</td>" for k, fmt in keys if k in combined)
        rows.append(f'<tr class="total"><td>all cameras</td>{cells}</tr>')
    table = f"<table><tr><th>camera</th>{head}</tr>{''.join(rows)}</table>"
    multi = result.get("multi_camera")
    extra = ""
    if multi:
        mkeys = (
            ("IDF1", "{:.3f}"),
            ("IDP", "{:.3f}"),
            ("IDR", "{:.3f}"),
            ("IDTP", "{:d}"),
            ("IDFP", "{:d}"),
            ("IDFN", "{:d}"),
            ("pred_identities", "{:d}"),
            ("gt_tracks", "{:d}"),
        )
        names = {"pred_identities": "ids predicted", "gt_tracks": "ids true"}
        mhead = "".join(f"<th>{names.get(k, k)}</th>" for k, _ in mkeys)
        mcells = "".join(f"<td>{fmt.format(multi[k])}</td>" for k, fmt in mkeys if k in multi)
        extra = (
            f'<h2 style="margin-top:14px">Across cameras <small>one identity per person over every camera '
            f"(multi-camera IDF1)</small></h2><table><tr><th></th>{mhead}</tr><tr><td>global ids</td>"
            f"{mcells}</tr></table>"
        )
    source = escape(str(result.get("gt", "")))
    return (
        f"<section><h2>Metrics <small>scored against {source} with TrackEval "
        f"(IoU {result.get('iou_threshold', 0.5)})</small></h2>{table}{extra}</section>"
    )


def _handover_table(data: RunData, colors: dict[str, str]) -> str:
    links = {}
    if data.site is not None:
        links = {(link.source, link.target): link for link in data.site.topology.links}
    keys = sorted(set(links) | set(data.edges))
    rows = []
    for a, b in keys:
        stats = data.edge(a, b)
        link = links.get((a, b))
        overlap = data.site is not None and any({a, b} <= group for group in data.site.topology.overlaps)
        if link:
            window = f"{link.min_seconds:g}–{link.max_seconds:g}"
        else:
            window = "overlap" if overlap else '<b style="color:#c0392b">not linked</b>'
        values = sorted(stats.travel_seconds)
        spread = f"{values[0]:.1f}–{values[-1]:.1f}" if values else "–"
        median = f"{stats.median:.1f}" if stats.median is not None else "–"
        outside = sum(1 for v in values if link and not link.min_seconds <= v <= link.max_seconds)
        rows.append(
            f'<tr><td><span class="cam" style="background:{colors.get(a, "#888")}">{escape(a)}</span> → '
            f'<span class="cam" style="background:{colors.get(b, "#888")}">{escape(b)}</span></td>'
            f"<td>{window}</td><td>{stats.count}</td><td>{median}</td><td>{spread}</td>"
            f"<td>{outside if link else '–'}</td></tr>"
        )
    for (a, b), seen in sorted(data.covisible.items()):
        rows.append(
            f'<tr><td><span class="cam" style="background:{colors.get(a, "#888")}">{escape(a)}</span> ⇄ '
            f'<span class="cam" style="background:{colors.get(b, "#888")}">{escape(b)}</span></td>'
            f"<td>overlap</td><td>{seen}</td><td>–</td><td>–</td><td>–</td></tr>"
        )
    return (
        "<section><h2>Hand-overs <small>per direction</small></h2><table><tr><th>from → to</th>"
        "<th>window s</th><th>seen</th><th>median s</th><th>range s</th><th>outside window</th></tr>"
        f'{"".join(rows)}</table><p class="note">Travel time: from the last box in one camera to the first '
        'in the next. For overlapping views, "seen" counts identities entering one view while visible in '
        "the other.</p></section>"
    )


def _cards(
    data: RunData, thumbnails: dict[int, list[Thumbnail]], colors: dict[str, str], owners: Owners | None
) -> str:
    people = identity_people(data, owners) if owners is not None else {}
    merged = set(wrong_merges(people))
    cards = []
    for identity in data.identities:
        gid = identity.global_id
        path = "→".join(
            f'<span class="cam" style="background:{colors.get(visit.camera_id, "#888")}">'
            f"{escape(visit.camera_id)}</span>"
            for visit in identity.visits
        )
        figures = []
        for thumb in thumbnails.get(gid, []):
            person = (owners or {}).get((thumb.camera_id, thumb.track_id))
            who = "" if owners is None else f" · GT {person}" if person is not None else " · GT none"
            figures.append(
                f'<figure><img alt="g{gid} in {escape(thumb.camera_id)} frame '
                f'{thumb.frame}" style="border-color:{colors.get(thumb.camera_id, "#888")}" '
                f'src="data:image/jpeg;base64,{thumb.jpeg_base64}"><figcaption>{escape(thumb.camera_id)}'
                f" · {thumb.pts:.1f} s{who}</figcaption></figure>"
            )
        body = "".join(figures) or '<p class="note">no video found for thumbnails</p>'
        span = f"{identity.first_seen:.1f}–{identity.last_seen:.1f} s"
        visits = len(identity.visits)
        n_cameras = len(identity.cameras)
        flags = f'<span class="flag multi">{n_cameras} cameras</span>' if n_cameras > 1 else ""
        if gid in merged:
            names = " + ".join(f"GT {p}" for p, _ in people[gid].most_common())
            flags += f'<span class="flag bad">wrong merge: {names}</span>'
        elif people.get(gid):
            flags += f'<span class="flag gt">GT {people[gid].most_common(1)[0][0]}</span>'
        flags = f'<div class="flags">{flags}</div>' if flags else ""
        cards.append(
            f'<div class="card{" merged" if gid in merged else ""}" id="id-{gid}"><h3><span class="sw" '
            f'style="background:{identity_color(gid)}"></span>g{gid} <small>{span} · '
            f"{visits} visit{'s' if visits != 1 else ''} · {n_cameras} camera"
            f'{"s" if n_cameras != 1 else ""}</small></h3>{flags}'
            f'<div class="path">{path}</div>'
            f'<div class="thumbs">{body}</div></div>'
        )
    return (
        "<section><h2>Identities <small>one crop from every camera an id was seen in (largest box "
        "mid-visit), then other visits; the swatch is the id's box colour in the videos</small></h2>"
        f'{_flagged(data, people, merged)}<div class="ids">{"".join(cards)}</div></section>'
    )


def _flagged(data: RunData, people: dict, merged: set[int]) -> str:
    """Links to the ids worth a look: those on several cameras, and (scored runs) the wrong merges."""
    multi = [i.global_id for i in data.identities if len(i.cameras) > 1]
    links = "".join(f'<a href="#id-{g}">g{g}</a>' for g in multi) or "none"
    out = f'<p class="flagged">On 2+ cameras ({len(multi)}; check their crops show one person): {links}</p>'
    if people:
        bad = "".join(
            f'<a href="#id-{g}">g{g} ({", ".join(str(p) for p in sorted(people[g]))})</a>'
            for g in sorted(merged)
        ) or "none"
        out += (
            '<p class="flagged"><b style="color:#c0392b">Wrong merges</b> (tracks of more than one GT '
            f"person under one id; GT people in brackets): {len(merged)} of {len(people)} ids: {bad}</p>"
        )
    return out


def write(path: str | Path, html: str) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(html, encoding="utf-8")
    return path
