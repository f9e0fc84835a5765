"""What each fusion lever added: the scenes' recordings replayed with the levers switched one by one.

Fusion runs after everything expensive (detector, tracker, embedder), so a lever of fusion is measured
by replaying the cached recording (`pyuniproc.ablation.replay`, seconds per scene) with the module's
`parameters.fusion` and only that lever changed; nothing is recorded again. Rows:

    cumulative   appearance only, + topology, + travel time, + floor positions, + exit/entry zones:
                 each adds one constraint to the row above; "added" is its gain over that row
    without      the module's settings without one lever (the decision delay; corrections): "added"
                 is what the lever gives the module (module minus this row)
    reference    no fusion (every local track its own id) and ideal linking (every track given the
                 GT person it covers most): the floor and ceiling of fusion on these tracks

Detector, tracker and embedder levers change the recording itself, so they are whole
`pyuniproc accuracy` runs; `compare_files` lists those result files beside this one.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from pyuniproc.ablation.capture import scenario_site
from pyuniproc.ablation.replay import ideal, replay, unlinked
from pyuniproc.ablation.score import Scorer
from pyuniproc.ablation.stream import TrackStream
from pyuniproc.fusion import FusionConfig

SWITCHES = ("use_topology", "use_travel_time", "use_floor", "learn_zones")
CUMULATIVE: tuple[tuple[str, str, dict[str, Any]], ...] = (
    ("appearance", "appearance only", dict.fromkeys(SWITCHES, False)),
    ("topology", "+ topology (linked and overlapping cameras only)",
     {"use_topology": True, "use_travel_time": False, "use_floor": False, "learn_zones": False}),
    ("travel_time", "+ travel time windows",
     {"use_topology": True, "use_travel_time": True, "use_floor": False, "learn_zones": False}),
    ("floor", "+ floor positions (calibration or learned foot maps)",
     {"use_topology": True, "use_travel_time": True, "use_floor": True, "learn_zones": False}),
    ("zones", "+ exit/entry zones", dict.fromkeys(SWITCHES, True)),
)
"""Each row adds one constraint to the one above (the switches only; every other value the module's)."""
WITHOUT: tuple[tuple[str, str, dict[str, Any]], ...] = (
    ("no_delay", "module without the decision delay (ids at the first embedding)",
     {"min_embeddings": 1, "decision_seconds": 0.0, "max_pending_seconds": 0.0}),
    ("no_corrections", "module without corrections (reevaluate_seconds 0)", {"reevaluate_seconds": 0.0}),
)
"""The module's settings with one lever taken away."""


def lever_configs(base: FusionConfig) -> dict[str, FusionConfig]:
    """Every replayed row's fusion settings, from the module's."""
    rows = {key: replace(base, **changes) for key, _, changes in CUMULATIVE}
    rows["module"] = base
    rows.update({key: replace(base, **changes) for key, _, changes in WITHOUT})
    return rows


def measure_levers(scenario: Path, stream: TrackStream, base: FusionConfig) -> dict[str, dict[str, Any]]:
    """One scene: per row key, multi-camera IDF1, wrong merges, splits and ids of the replay."""
    scorer = Scorer(scenario)
    site = scenario_site(scenario)
    owners = scorer.track_owners(stream)
    out = {}
    done_by = {"none": unlinked(stream), "ideal": ideal(stream, owners)}
    for key, config in lever_configs(base).items():
        done_by[key] = replay(stream, site, config)
    for key, done in done_by.items():
        mc = scorer.multi_camera(done.online)
        link = scorer.linking(done, owners)
        out[key] = {"MC-IDF1": mc["IDF1"], "ids": mc["pred_identities"], "people": mc["gt_identities"],
                    "wrong_merges": link["wrong_merges"], "splits": link["splits"]}
    return out


def summarise_levers(per_seed: dict[str, dict[str, dict[str, Any]]], base: FusionConfig) -> dict[str, Any]:
    """Rows over scenes: mean and worst MC-IDF1, summed merges and splits, and what each lever added."""
    def stats(key: str) -> dict[str, Any]:
        values = [scene[key]["MC-IDF1"] for scene in per_seed.values()]
        return {
            "mean": float(np.mean(values)), "worst": float(np.min(values)),
            "per_seed": {seed: round(scene[key]["MC-IDF1"], 4) for seed, scene in per_seed.items()},
            "wrong_merges": int(sum(scene[key]["wrong_merges"] for scene in per_seed.values())),
            "splits": int(sum(scene[key]["splits"] for scene in per_seed.values())),
        }

    rows: list[dict[str, Any]] = [
        {"key": "none", "kind": "reference", "label": "no fusion (each track alone)", "changes": {},
         **stats("none"), "added": None}
    ]
    previous = None
    for key, label, changes in CUMULATIVE:
        row = {"key": key, "kind": "cumulative", "label": label, "changes": changes, **stats(key)}
        row["added"] = None if previous is None else row["mean"] - previous["mean"]
        rows.append(row)
        previous = row
    module = {"key": "module", "kind": "module", "label": "the module's fusion settings", "changes": {},
              **stats("module"), "added": None}
    rows.append(module)
    for key, label, changes in WITHOUT:
        row = {"key": key, "kind": "without", "label": label, "changes": changes, **stats(key)}
        row["added"] = module["mean"] - row["mean"]
        rows.append(row)
    rows.append({"key": "ideal", "kind": "reference", "label": "ideal linking (GT owner of each track)",
                 "changes": {}, **stats("ideal"), "added": None})
    module_switches = {name: getattr(base, name) for name in SWITCHES}
    return {"rows": rows, "module_switches": module_switches}


def compare_files(paths: list[Path], doc: dict[str, Any]) -> list[dict[str, Any]]:
    """Other `pyuniproc accuracy` results on the same scenes (same split, seeds and length, rendered by
    the same scenario generator): per file, the settings that differ from this run's and their scores.
    Files on other scenes are left out; a file that does not record its generator version (written
    before it was recorded) is listed with "scenes" saying so."""
    out = []
    mine = doc.get("summary", {}).get("MC-IDF1", {}).get("mean")
    for path in sorted(paths):
        try:
            other = json.loads(Path(path).read_text())
        except (OSError, ValueError):
            continue
        if not isinstance(other, dict) or "rows" not in other or "settings" not in other:
            continue
        same_scenes = (other.get("split") == doc.get("split") and other.get("seeds") == doc.get("seeds")
                       and (other.get("scene_arguments") or {}).get("seconds")
                       == (doc.get("scene_arguments") or {}).get("seconds"))
        version, mine_version = other.get("generator_version"), doc.get("generator_version")
        if not same_scenes or (version is not None and version != mine_version):
            continue
        summary = other.get("summary") or {}
        mc = summary.get("MC-IDF1") or {}
        differs = {k: v for k, v in other["settings"].items()
                   if k != "module" and v != doc.get("settings", {}).get(k)}
        out.append({
            "file": Path(path).name,
            "scenes": "same" if version is not None else "generator version not recorded (older file)",
            "command": other.get("command"),
            "differs": differs,
            "cam IDF1": (summary.get("cam IDF1") or {}).get("mean"),
            "MC-IDF1 mean": mc.get("mean"),
            "MC-IDF1 worst": mc.get("worst"),
            "vs this run": None if mine is None or mc.get("mean") is None else mc["mean"] - mine,
        })
    return out


# ---- tables ------------------------------------------------------------------------------------------


def _f(value: float | None, sign: bool = False) -> str:
    if value is None:
        return "-"
    return f"{100 * value:+.1f}" if sign else f"{value:.3f}"


def lever_table(ablation: dict[str, Any], seeds: list[int]) -> list[list[str]]:
    header = ["fusion", "mean MC-IDF1", "worst", "added (points)", "wrong merges", "splits",
              *[f"seed {s}" for s in seeds]]
    body = [
        [row["label"], _f(row["mean"]), _f(row["worst"]), _f(row["added"], sign=True),
         str(row["wrong_merges"]), str(row["splits"]), *[_f(row["per_seed"].get(str(s))) for s in seeds]]
        for row in ablation["rows"]
    ]
    return [header, *body]


def compare_table(ablation: dict[str, Any]) -> list[list[str]]:
    header = ["results file", "settings that differ from this run", "mean per-camera IDF1", "mean MC-IDF1",
              "worst MC-IDF1", "vs this run (points)"]
    body = []
    for row in ablation.get("compare", []):
        name = row["file"] if row.get("scenes", "same") == "same" else f"{row['file']} ({row['scenes']})"
        differs = "; ".join(f"{k}: {_short(v)}" for k, v in row["differs"].items()) or "none"
        body.append([name, differs, _f(row["cam IDF1"]), _f(row["MC-IDF1 mean"]), _f(row["MC-IDF1 worst"]),
                     _f(row["vs this run"], True)])
    return [header, *body]


def _short(value: Any) -> str:
    if isinstance(value, dict):
        return ", ".join(f"{k}={v}" for k, v in value.items())
    return str(value)


LEGEND = (
    "Fusion levers: the scenes' recordings replayed through fusion with the module's parameters.fusion, "
    "only the named switches changed (cumulative rows: added = gain over the row above; 'without' rows: "
    "added = what the lever gives the module). MC-IDF1 per row is the mean over scenes; wrong merges: local "
    "tracks put under another person's id; splits: extra ids a person was spread over (sums over scenes). "
    "Detector, tracker and embedder change the recording, so they are whole runs: the second table lists "
    "such result files on the same scenes."
)
