"""The protocol's results: per-scene rows, mean and worst over scenes, goals, as text, Markdown, HTML.

Why mean AND worst: a mean over six scenes can pass while one site (a fence camera, a crowd) fails
badly; the issue's goal names both (mean multi-camera IDF1 >= 0.90, worst >= 0.85).
"""

from __future__ import annotations

import json
import os
import platform
from pathlib import Path
from typing import Any

import numpy as np

from pyuniproc.accuracy import levers
from pyuniproc.accuracy.bands import add_counts, band_rates

CAMERA_KEYS = ("IDF1", "HOTA", "MOTA", "IDSW", "IDSW_pct_gt_tracks", "Frag", "Recall", "Precision")
GOALS = (
    # (label, summary key, statistic, comparison, bound)
    ("mean multi-camera IDF1 >= 0.90", "MC-IDF1", "mean", ">=", 0.90),
    ("worst multi-camera IDF1 >= 0.85", "MC-IDF1", "worst", ">=", 0.85),
    ("mean single-camera IDF1 >= 0.90", "cam IDF1", "mean", ">=", 0.90),
    ("ID switches < 1 % of GT tracks (mean)", "cam IDSW %", "mean", "<", 1.0),
)


def scene_row(seed: int, result: dict[str, Any]) -> dict[str, Any]:
    """One scene's line: per-camera IDF1, camera means of CAMERA_KEYS, multi-camera IDF1."""
    cams = result["per_camera"]
    row: dict[str, Any] = {"seed": seed, "cameras": {c: round(v["IDF1"], 4) for c, v in cams.items()}}
    for key in CAMERA_KEYS:
        row[f"cam {key}" if key != "IDSW_pct_gt_tracks" else "cam IDSW %"] = float(
            np.mean([v[key] for v in cams.values()])
        )
    row["IDSW total"] = int(sum(v["IDSW"] for v in cams.values()))
    row["Frag total"] = int(sum(v["Frag"] for v in cams.values()))
    row["GT tracks"] = int(sum(v["gt_tracks"] for v in cams.values()))
    row["all IDF1"] = result["all_cameras"]["IDF1"]
    mc = result.get("multi_camera")
    row["MC-IDF1"] = mc["IDF1"] if mc else None
    row["ideal MC-IDF1"] = result["ideal_multi_camera"]["IDF1"]
    row["fps"] = result["pipeline"]["frames_per_second"]
    return row


SUMMARY_KEYS = ("cam IDF1", "cam HOTA", "cam MOTA", "cam IDSW", "cam IDSW %", "cam Frag", "cam Recall",
                "cam Precision", "all IDF1", "MC-IDF1", "ideal MC-IDF1")


def summarise(rows: list[dict[str, Any]]) -> dict[str, dict[str, float]]:
    """Mean and worst over scenes of each SUMMARY_KEYS value (worst = max for counts of errors)."""
    out = {}
    for key in SUMMARY_KEYS:
        values = [r[key] for r in rows if r.get(key) is not None]
        if not values:
            continue
        errors = key in ("cam IDSW", "cam IDSW %", "cam Frag")
        worst = max(values) if errors else min(values)
        out[key] = {"mean": float(np.mean(values)), "worst": float(worst)}
    cams = [v for r in rows for v in r["cameras"].values()]
    if cams:
        out["single camera IDF1"] = {"mean": float(np.mean(cams)), "worst": float(min(cams))}
    return out


def goals(summary: dict[str, dict[str, float]]) -> list[dict[str, Any]]:
    out = []
    for label, key, stat, op, bound in GOALS:
        value = summary.get(key, {}).get(stat)
        met = value is not None and (value >= bound if op == ">=" else value < bound)
        out.append({"goal": label, "value": value, "met": bool(met)})
    return out


def pooled_bands(results: list[dict[str, Any]]) -> dict[str, Any]:
    """Recall and precision per height band over every scene and camera (counts summed first)."""
    counts: dict[str, dict[str, int]] = {}
    for result in results:
        add_counts(counts, result["height_band_counts"])
    return band_rates(counts)


def machine() -> dict[str, Any]:
    """What ran it: CPU model and flags that change ONNX Runtime's int8 kernels, cores, load."""
    model, flags = platform.processor() or "unknown", ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name") and model in ("unknown", "", platform.processor()):
                model = line.split(":", 1)[1].strip()
            if line.startswith("flags") and not flags:
                flags = line.split(":", 1)[1]
    except OSError:
        pass
    try:
        import onnxruntime

        ort = onnxruntime.__version__
    except ImportError:  # pragma: no cover - a runtime dependency
        ort = None
    return {
        "cpu": model,
        "cores": os.cpu_count(),
        "avx512_vnni": "avx512_vnni" in flags.split(),
        "load_average": [round(x, 2) for x in os.getloadavg()],
        "python": platform.python_version(),
        "onnxruntime": ort,
        "system": f"{platform.system()} {platform.release()}",
    }


# ---- text and Markdown -------------------------------------------------------------------------------


def fmt(value: Any, key: str = "") -> str:
    if value is None:
        return "-"
    if isinstance(value, int) or key in ("IDSW total", "Frag total", "GT tracks", "IDSW"):
        return str(int(value))
    if key in ("cam IDSW", "cam Frag", "cam IDSW %", "fps", "mean IDSW total", "mean Frag total",
               "mean cam IDSW %", "mean fps"):
        return f"{value:.1f}"
    return f"{value:.3f}"


def scene_table(doc: dict[str, Any]) -> list[list[str]]:
    rows = doc["rows"]
    cameras = sorted({c for r in rows for c in r["cameras"]})
    keys = ("cam IDF1", "cam HOTA", "cam MOTA", "cam Recall", "cam Precision", "IDSW total", "cam IDSW %",
            "Frag total", "MC-IDF1", "ideal MC-IDF1", "fps")
    header = ["seed", *[f"{c} IDF1" for c in cameras], *keys]
    body = [
        [str(r["seed"]), *[fmt(r["cameras"].get(c)) for c in cameras], *[fmt(r.get(k), k) for k in keys]]
        for r in rows
    ]
    if len(rows) > 1:  # mean and worst over scenes, column by column (worst = most for error counts)
        for stat in ("mean", "worst"):
            line = [stat]
            for c in cameras:
                values = [r["cameras"][c] for r in rows if r["cameras"].get(c) is not None]
                line.append(fmt(_stat(values, stat, errors=False)))
            for k in keys:
                values = [r[k] for r in rows if r.get(k) is not None]
                errors = k in ("IDSW total", "cam IDSW %", "Frag total")
                line.append(fmt(_stat(values, stat, errors), k if stat == "worst" else f"mean {k}"))
            body.append(line)
    return [header, *body]


def _stat(values: list[float], stat: str, errors: bool) -> float | None:
    if not values:
        return None
    if stat == "mean":
        return float(np.mean(values))
    return float(max(values) if errors else min(values))


CAMERA_COLUMNS = ("IDF1", "HOTA", "MOTA", "IDSW", "Recall", "Precision")


def camera_table(doc: dict[str, Any]) -> list[list[str]]:
    """Per scene, per camera: IDF1, HOTA, MOTA, ID switches, recall, precision; then the scene's cameras
    pooled, with its multi-camera IDF1."""
    header = ["seed", "camera", *CAMERA_COLUMNS, "MC-IDF1"]
    body = []
    for seed, scene in doc["scenes"].items():
        for camera, scores in sorted(scene["per_camera"].items()):
            body.append([str(seed), camera, *[fmt(scores.get(k), k) for k in CAMERA_COLUMNS], ""])
        pooled = scene["all_cameras"]
        mc = (scene.get("multi_camera") or {}).get("IDF1")
        body.append([str(seed), "all cameras", *[fmt(pooled.get(k), k) for k in CAMERA_COLUMNS], fmt(mc)])
    return [header, *body]


def summary_table(doc: dict[str, Any]) -> list[list[str]]:
    body = [[key, fmt(v["mean"], key), fmt(v["worst"], key)] for key, v in doc["summary"].items()]
    return [["score", "mean", "worst"], *body]


def bands_table(doc: dict[str, Any]) -> list[list[str]]:
    body = [[label, fmt(v["recall"]), fmt(v["precision"]), str(v["gt"]), str(v["pred"])]
            for label, v in doc["height_bands"].items()]
    return [["person height (px)", "recall", "precision", "GT boxes", "reported boxes"], *body]


def _text_table(rows: list[list[str]]) -> list[str]:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(c.rjust(w) for c, w in zip(r, widths, strict=True)) for r in rows]
    return [lines[0], "-" * len(lines[0]), *lines[1:]]


def _md_table(rows: list[list[str]]) -> list[str]:
    return ["| " + " | ".join(rows[0]) + " |", "|" + "|".join("---:" for _ in rows[0]) + "|",
            *["| " + " | ".join(r) + " |" for r in rows[1:]]]


def settings_lines(doc: dict[str, Any]) -> list[str]:
    s, m = doc["settings"], doc["machine"]
    return [
        f"scenes: split {doc['split']}, seeds {', '.join(str(r['seed']) for r in doc['rows'])}, "
        f"{doc['scene_arguments']}",
        f"detector {s['detector']} ({s['cpu_precision']} on the CPU), tracker {s['tracker']}, "
        f"ReID {s['reid']}, fusion {s['fusion']}",
        f"machine: {m['cpu']}, {m['cores']} cores, load average {m['load_average']} (at the end)",
    ]


def _met(goal: dict[str, Any], not_met: str) -> str:
    return "met" if goal["met"] else not_met


def render_text(doc: dict[str, Any]) -> str:
    lines = [f"Accuracy protocol ({doc['split']} scenes)", *[f"  {x}" for x in settings_lines(doc)], ""]
    lines += _text_table(scene_table(doc)) + [""] + _text_table(summary_table(doc)) + [""]
    lines += _text_table(bands_table(doc)) + [""]
    if doc.get("ablation"):
        lines += _text_table(levers.lever_table(doc["ablation"], doc["seeds"])) + [""]
        if doc["ablation"].get("compare"):
            lines += _text_table(levers.compare_table(doc["ablation"])) + [""]
    lines += [f"{_met(g, 'NOT met')}  {g['goal']}: {fmt(g['value'])}" for g in doc["goals"]]
    return "\n".join(lines) + "\n"


def render_markdown(doc: dict[str, Any]) -> str:
    lines = [f"# Accuracy protocol: {doc['split']} scenes", "", "```sh", doc["command"], "```", ""]
    lines += [f"- {x}" for x in settings_lines(doc)] + [""]
    lines += ["## Per scene", "", *_md_table(scene_table(doc)), ""]
    lines += ["## Per scene and camera", "", *_md_table(camera_table(doc)), ""]
    lines += ["## Mean and worst over scenes", "", *_md_table(summary_table(doc)), ""]
    lines += ["## Recall and precision by person height (all scenes and cameras pooled)", ""]
    lines += [*_md_table(bands_table(doc)), "", "## Goals", ""]
    lines += [f"- {_met(g, '**not met**')}: {g['goal']} ({fmt(g['value'])})" for g in doc["goals"]]
    lines += ["", LEGEND, ""]
    if doc.get("ablation"):
        lines += ["## What each lever added", ""]
        lines += _md_table(levers.lever_table(doc["ablation"], doc["seeds"]))
        if doc["ablation"].get("compare"):
            lines += ["", "Whole runs on the same scenes (detector, tracker, embedder):", ""]
            lines += _md_table(levers.compare_table(doc["ablation"]))
        lines += ["", levers.LEGEND, ""]
    return "\n".join(lines)


LEGEND = (
    "cam X: mean over the scene's cameras of the per-camera score (TrackEval; IoU 0.5 for MOTA/IDF1). "
    "IDSW total / Frag total: ID switches / track fragmentations summed over cameras; cam IDSW %: ID "
    "switches as a share of the camera's GT tracks. MC-IDF1: multi-camera IDF1 of the global ids the run "
    "writes (fusion replayed on the recorded tracks). ideal MC-IDF1: every local track given the GT person "
    "it covers most (what fusion could make of these tracks). fps: frames per second of the recording run "
    "on this shared machine (files read as fast as possible; not a real-time measurement)."
)


def _plain(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"not JSON serialisable: {type(value)}")


def write(doc: dict[str, Any], folder: Path, stem: str, *, thumbnails: dict | None = None) -> list[Path]:
    """folder/<stem>.json, .md and .html (the HTML with the galleries' crops, `thumbnails`: per seed
    (global id, camera) -> base64 JPEG; the JSON keeps where each crop was taken, not the images)."""
    from pyuniproc.accuracy.page import render_html  # the page lays out this module's tables

    folder.mkdir(parents=True, exist_ok=True)
    paths = [folder / f"{stem}.json", folder / f"{stem}.md", folder / f"{stem}.html"]
    paths[0].write_text(json.dumps(doc, indent=1, default=_plain) + "\n")
    paths[1].write_text(render_markdown(doc))
    paths[2].write_text(render_html(doc, thumbnails or {}))
    return paths
