"""The eval table (rich when installed, else plain text) and its JSON."""

from __future__ import annotations

import io
import json
from pathlib import Path

COLUMNS = (
    ("HOTA", "HOTA", "{:.3f}"),
    ("DetA", "DetA", "{:.3f}"),
    ("AssA", "AssA", "{:.3f}"),
    ("MOTA", "MOTA", "{:.3f}"),
    ("IDF1", "IDF1", "{:.3f}"),
    ("IDSW", "IDSW", "{}"),
    ("IDSW_pct_gt_tracks", "IDSW %GT", "{:.1f}"),
    ("gt_tracks", "GT ids", "{}"),
    ("FP", "FP", "{}"),
    ("FN", "FN", "{}"),
)
MC_COLUMNS = (
    ("IDF1", "IDF1", "{:.3f}"),
    ("IDP", "IDP", "{:.3f}"),
    ("IDR", "IDR", "{:.3f}"),
    ("HOTA", "HOTA", "{:.3f}"),
    ("AssA", "AssA", "{:.3f}"),
    ("gt_tracks", "GT ids", "{}"),
    ("pred_identities", "pred ids", "{}"),
)


def rows_of(result: dict) -> tuple[list[str], list[list[str]], list[str], list[str]]:
    header = ["camera"] + [title for _, title, _ in COLUMNS]
    rows = [
        [cam] + [fmt.format(scores[key]) for key, _, fmt in COLUMNS]
        for cam, scores in result["cameras"].items()
    ]
    if len(result["cameras"]) > 1:
        rows.append(["all cameras"] + [fmt.format(result["combined"][key]) for key, _, fmt in COLUMNS])
    mc = result.get("multi_camera")
    mc_header = [title for _, title, _ in MC_COLUMNS] if mc else []
    mc_row = [fmt.format(mc[key]) for key, _, fmt in MC_COLUMNS] if mc else []
    return header, rows, mc_header, mc_row


def render(result: dict) -> str:
    header, rows, mc_header, mc_row = rows_of(result)
    try:
        from rich.console import Console
        from rich.table import Table
    except ImportError:
        return _plain(header, rows, mc_header, mc_row)
    console = Console(record=True, width=140, file=io.StringIO())
    table = Table(title="per camera (local track ids)")
    for i, h in enumerate(header):
        table.add_column(h, justify="left" if i == 0 else "right")
    for r in rows:
        table.add_row(*r)
    console.print(table)
    if mc_row:
        mc = Table(title="multi-camera (global ids, all cameras pooled)")
        for h in mc_header:
            mc.add_column(h, justify="right")
        mc.add_row(*mc_row)
        console.print(mc)
    return console.export_text()


def _plain(header, rows, mc_header, mc_row) -> str:
    def table(h, rs):
        widths = [max(len(str(x)) for x in col) for col in zip(h, *rs, strict=True)]
        lines = [
            "  ".join(
                str(x).rjust(w) if i else str(x).ljust(w)
                for i, (x, w) in enumerate(zip(r, widths, strict=True))
            )
            for r in [h, *rs]
        ]
        return "\n".join(lines)

    out = "per camera (local track ids)\n" + table(header, rows)
    if mc_row:
        out += "\n\nmulti-camera (global ids, all cameras pooled)\n" + table(mc_header, [mc_row])
    return out + "\n"


def write_json(result: dict, path: Path | str) -> None:
    Path(path).write_text(json.dumps(result, indent=1) + "\n")
