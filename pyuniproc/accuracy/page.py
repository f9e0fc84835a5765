"""The protocol's results as one self-contained HTML page: settings, a bar chart per scene, the tables
(per scene with mean and worst, per scene and camera, height bands), the goals marked met or not, the
lever table (with --ablation) and, per scene, crops of the largest global ids from every camera they
were seen in. No scripts, nothing fetched: the crops are inline JPEG (~2-3 KB each)."""

from __future__ import annotations

import html
from typing import Any

from pyuniproc.accuracy import levers
from pyuniproc.accuracy.gallery import CSS as GALLERY_CSS
from pyuniproc.accuracy.gallery import Thumbs, render_gallery
from pyuniproc.accuracy.report import (
    LEGEND,
    bands_table,
    camera_table,
    fmt,
    scene_table,
    settings_lines,
    summary_table,
)

CSS = (
    "body{font-family:system-ui,sans-serif;margin:2em;color:#1d2330}"
    "table{border-collapse:collapse;margin:1em 0;"
    "font-variant-numeric:tabular-nums;font-size:13px}td,th{border:1px solid #ccc;padding:2px 8px;"
    "text-align:right}td:first-child,th:first-child{text-align:left}tr.stat td{font-weight:600;"
    "background:#f3f5f8}tr.pool td{border-bottom:2px solid #999}.met{color:#2e7d32;font-weight:600}"
    ".unmet{color:#c0392b;font-weight:600}.note{color:#555;font-size:12px;max-width:70em}"
    "td.label{text-align:left}pre{white-space:pre-wrap}"
    "h2 small{font-size:13px;font-weight:400;color:#555}" + GALLERY_CSS
)


def _table(rows: list[list[str]], *, stats: int = 0, label_columns: int = 1,
           pooled: str | None = None) -> str:
    """rows[0] is the header; the last `stats` rows are summary rows (bold); rows whose second cell is
    `pooled` close a group."""
    head = "".join(f"<th>{html.escape(c)}</th>" for c in rows[0])
    body = []
    for i, row in enumerate(rows[1:]):
        cls = "stat" if i >= len(rows) - 1 - stats else "pool" if pooled and row[1:2] == [pooled] else ""
        cells = "".join(
            f'<td{" class=label" if j < label_columns else ""}>{html.escape(c)}</td>'
            for j, c in enumerate(row)
        )
        body.append(f'<tr class="{cls}">{cells}</tr>' if cls else f"<tr>{cells}</tr>")
    return f"<table><tr>{head}</tr>{''.join(body)}</table>"


def _goals(doc: dict[str, Any]) -> str:
    items = "".join(
        f'<li><span class="{"met" if g["met"] else "unmet"}">{"met" if g["met"] else "not met"}</span>: '
        f"{html.escape(g['goal'])} ({fmt(g['value'])})</li>"
        for g in doc["goals"]
    )
    return f"<h2>Goals</h2><ul>{items}</ul>"


def _ablation(doc: dict[str, Any]) -> str:
    ablation = doc.get("ablation")
    if not ablation:
        return ""
    parts = ["<h2>What each lever added</h2>",
             _table(levers.lever_table(ablation, doc["seeds"])),
             ]
    if ablation.get("compare"):
        parts += ["<h3>Whole runs on the same scenes (detector, tracker, embedder)</h3>",
                  _table(levers.compare_table(ablation), label_columns=2)]
    else:
        parts.append('<p class="note">No other result files on these scenes to list (detector and embedder '
                     "rows are whole runs: <code>pyuniproc accuracy --name NAME</code> into the same results "
                     "folder, or <code>--compare FILE...</code>).</p>")
    parts.append(f'<p class="note">{html.escape(levers.LEGEND)}</p>')
    return "".join(parts)


def _galleries(doc: dict[str, Any], thumbnails: dict[str, Thumbs]) -> str:
    parts = [render_gallery(seed, scene.get("gallery"), thumbnails.get(str(seed), {}))
             for seed, scene in doc["scenes"].items()]
    if not any(parts):
        return ""
    return (
        "<h2>Largest global ids per scene <small>(one crop from every camera each was seen in; red: its "
        "rows belong to tracks of more than one GT person, a wrong merge)</small></h2>" + "".join(parts)
    )


def render_html(doc: dict[str, Any], thumbnails: dict[str, Thumbs] | None = None) -> str:
    """The page; thumbnails: per seed, (global id, camera) -> base64 JPEG (missing crops are left out)."""
    stats = 2 if len(doc["rows"]) > 1 else 0
    parts = [
        "<!doctype html><html lang='en'><head><meta charset='utf-8'><title>pyuniproc accuracy</title>",
        f"<style>{CSS}</style></head><body>",
        f"<h1>Accuracy protocol: {html.escape(str(doc['split']))} scenes</h1>",
        f"<pre>{html.escape(doc.get('command', ''))}</pre>",
        "<ul>" + "".join(f"<li>{html.escape(x)}</li>" for x in settings_lines(doc)) + "</ul>",
        bar_chart(doc["rows"]),
        _goals(doc),
        "<h2>Per scene</h2>", _table(scene_table(doc), stats=stats),
        "<h2>Per scene and camera</h2>", _table(camera_table(doc), label_columns=2, pooled="all cameras"),
        "<h2>Mean and worst over scenes</h2>", _table(summary_table(doc)),
        "<h2>Recall and precision by person height</h2>", _table(bands_table(doc)),
        f'<p class="note">{html.escape(LEGEND)}</p>',
        _ablation(doc),
        _galleries(doc, thumbnails or {}),
        "</body></html>",
    ]
    return "\n".join(p for p in parts if p) + "\n"


def bar_chart(rows: list[dict[str, Any]]) -> str:
    """Inline SVG: per scene, mean single-camera IDF1 and multi-camera IDF1, with the 0.90 goal line."""
    series = (("cam IDF1", "#4c78a8", "mean single-camera IDF1"), ("MC-IDF1", "#f58518", "multi-camera IDF1"),
              ("ideal MC-IDF1", "#bbbbbb", "ideal linking"))
    width, height, left, bottom = max(80 + 90 * len(rows), 560), 260, 40, 30
    plot_h = height - bottom - 20
    out = [f"<svg xmlns='http://www.w3.org/2000/svg' width='{width}' height='{height + 20}' font-size='11'>"]
    for tick in (0.0, 0.25, 0.5, 0.75, 0.9, 1.0):
        y = 20 + plot_h * (1 - tick)
        colour = "#d62728" if tick == 0.9 else "#eee"
        out.append(f"<line x1='{left}' x2='{width}' y1='{y:.1f}' y2='{y:.1f}' stroke='{colour}'/>")
        out.append(f"<text x='2' y='{y + 4:.1f}'>{tick:.2f}</text>")
    for i, row in enumerate(rows):
        x0 = left + 10 + 90 * i
        for j, (key, colour, _) in enumerate(series):
            value = row.get(key) or 0.0
            h = plot_h * value
            out.append(f"<rect x='{x0 + 24 * j}' y='{20 + plot_h - h:.1f}' width='22' height='{h:.1f}' "
                       f"fill='{colour}'><title>{key} {value:.3f}</title></rect>")
        out.append(f"<text x='{x0 + 10}' y='{height - 5}'>seed {row['seed']}</text>")
    for j, (_, colour, label) in enumerate(series):
        out.append(f"<rect x='{left + 180 * j}' y='{height + 5}' width='10' height='10' fill='{colour}'/>"
                   f"<text x='{left + 180 * j + 14}' y='{height + 14}'>{label}</text>")
    out.append("</svg>")
    return "".join(out)
