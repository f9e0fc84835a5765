"""`pyuniproc ablation`: what each fusion constraint is worth, measured on a scenario in one command.

    pyuniproc ablation --scenario samples/scenario_default --out out/ablation --json out/ablation.json

1. The pipeline runs once on the scenario with fusion off (detector, tracker, ReID); every frame's
   tracks and embeddings are recorded (`capture_pipeline`). With --cache the recording is kept and
   reused while the scenario and the detector/tracker/ReID settings are unchanged.
2. An oracle stream is recorded too: ground-truth boxes and ids, embedded from the same video.
3. Each stream is replayed through `Fusion` with the module's `parameters.fusion` under each
   ablation (appearance only, + topology, + topology and travel times) and scored with the
   benchmark's evaluation: multi-camera IDF1 (and per-camera IDF1, which fusion cannot change).
   Two reference rows: "none" gives every local track an id of its own (no fusion at all), "ideal"
   gives each the id of the GT person it covers most (perfect fusion of these tracks).
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from dataclasses import asdict, fields, replace
from pathlib import Path
from typing import Any

import yaml

from pyuniproc.ablation.capture import cached, capture_oracle, capture_pipeline, fingerprint, scenario_site
from pyuniproc.ablation.replay import Replay, ideal, replay, unlinked
from pyuniproc.ablation.score import Scorer
from pyuniproc.ablation.stream import TrackStream
from pyuniproc.fusion import ABLATIONS, FusionConfig
from pyuniproc.module_files import default_module_file

ORDER = ("appearance", "topology", "travel_time")
LABELS = {
    "none": "none (each track alone)",
    "appearance": "appearance only",
    "topology": "+ topology",
    "travel_time": "+ topology + travel time",
    "ideal": "ideal linking (GT)",
}
SWITCHES = ("use_topology", "use_travel_time")


def register(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "ablation",
        help="multi-camera IDF1 with appearance only, + topology, + travel times (one pipeline run)",
        description=__doc__.split("\n\n")[0],
    )
    add_arguments(parser)
    parser.set_defaults(func=run)
    return parser


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--scenario", type=Path, required=True, help="a `pyuniproc scenario` folder: cameras.yml, video/, gt/"
    )
    parser.add_argument(
        "--module",
        type=Path,
        default=default_module_file(),
        help="module YAML: detector, tracker, ReID and parameters.fusion (default %(default)s)",
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=None,
        help="folder for the pipeline run's outputs and, per stream and ablation, "
        "mot/, mtmc/, tracks.csv and fusion_events.jsonl (scorable with `pyuniproc eval`)",
    )
    parser.add_argument(
        "--json", type=Path, default=None, help="write the table and settings to this JSON file"
    )
    parser.add_argument(
        "--cache", type=Path, default=None, help="folder to keep the recorded streams in and reuse them from"
    )
    parser.add_argument(
        "--markdown", type=Path, default=None, help="write the table as Markdown to this file"
    )
    parser.add_argument("--no-oracle", action="store_true", help="skip the ground-truth-box stream")
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a parameters.fusion value (YAML syntax), e.g. --set match_threshold=0.85",
    )
    parser.add_argument(
        "--tuned",
        type=Path,
        default=None,
        help="a benchmarks/fusion/tune.py JSON: each ablation row replays with its own tuned values "
        "(appearance only tuned without constraints, and so on) instead of the module's",
    )
    parser.add_argument("--max-frames", type=int, default=None, help="per camera (quick looks)")


def run(args: argparse.Namespace) -> int:
    from pyuniproc.config.module import load_module_config

    try:
        module = load_module_config(args.module)
        base = fusion_settings(module.fusion, args.set)
        result = run_ablation(
            args.scenario,
            module,
            base,
            out_dir=args.out,
            cache_dir=args.cache,
            oracle=not args.no_oracle,
            max_frames=args.max_frames,
            per_row=tuned_rows(args.tuned) if args.tuned else None,
            log=_log,
        )
    except (FileNotFoundError, ValueError) as exc:
        print(f"pyuniproc ablation: {exc}", file=sys.stderr)
        return 2
    result["command"] = command_line(args)
    print(render(result), end="")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=1) + "\n")
    if args.markdown:
        args.markdown.parent.mkdir(parents=True, exist_ok=True)
        args.markdown.write_text(render_markdown(result))
    return 0


def command_line(args: argparse.Namespace) -> str:
    """The command that reproduces this result (what the JSON and Markdown record)."""
    parts = ["pyuniproc", "ablation", "--scenario", str(args.scenario), "--module", str(args.module)]
    for flag in ("out", "json", "markdown", "cache"):
        if getattr(args, flag) is not None:
            parts += [f"--{flag}", str(getattr(args, flag))]
    if args.no_oracle:
        parts.append("--no-oracle")
    for item in args.set:
        parts += ["--set", item]
    if args.tuned is not None:
        parts += ["--tuned", str(args.tuned)]
    if args.max_frames is not None:
        parts += ["--max-frames", str(args.max_frames)]
    return shlex.join(parts)


def _log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def fusion_settings(configured: FusionConfig | None, overrides: list[str] | None = None) -> FusionConfig:
    """The module's fusion settings with `KEY=VALUE` overrides applied (values parsed as YAML)."""
    config = configured or FusionConfig()
    known = {f.name for f in fields(FusionConfig)}
    changes: dict[str, Any] = {}
    for item in overrides or []:
        key, sep, value = item.partition("=")
        if not sep or key not in known:
            raise ValueError(f"--set {item!r}: expected KEY=VALUE with KEY one of {sorted(known)}")
        changes[key] = yaml.safe_load(value)
    return replace(config, **changes)


def tuned_rows(path: str | Path) -> dict[str, dict[str, Any]]:
    """{ablation: tuned values} from a benchmarks/fusion/tune.py JSON."""
    doc = json.loads(Path(path).read_text())
    try:
        return {name: dict(entry["tuned"]) for name, entry in doc["ablations"].items()}
    except (KeyError, TypeError, AttributeError) as exc:
        raise ValueError(f"{path}: not a tune.py result (no ablations.<name>.tuned)") from exc


def run_ablation(
    scenario: str | Path,
    module: Any,
    base: FusionConfig,
    *,
    out_dir: str | Path | None = None,
    cache_dir: str | Path | None = None,
    oracle: bool = True,
    max_frames: int | None = None,
    ablations: tuple[str, ...] = ORDER,
    per_row: dict[str, dict[str, Any]] | None = None,
    log: Any = None,
) -> dict[str, Any]:
    """Record the streams, replay each ablation, score; returns the JSON-ready result (see `render`).

    per_row: {ablation: settings} replacing `base`'s for that row (each row at its own tuned values)."""
    per_row = per_row or {}
    configs = {name: replace(base, **per_row.get(name, {})).ablation(name) for name in ablations}
    log = log or (lambda message: None)
    scenario = Path(scenario)
    site = scenario_site(scenario)
    scorer = Scorer(scenario)
    out = Path(out_dir) if out_dir is not None else None
    cache = Path(cache_dir) if cache_dir is not None else None
    streams: dict[str, TrackStream] = {}

    log(f"ablation: recording the pipeline stream on {scenario} (detector, tracker, ReID; fusion off)")
    capture_dir = out / "capture" if out is not None else _scratch()
    streams["pipeline"] = cached(
        cache / "pipeline.npz" if cache else None,
        fingerprint(scenario, module, "pipeline"),
        lambda: capture_pipeline(scenario, module, capture_dir, max_frames=max_frames),
    )
    if oracle:
        log("ablation: recording the oracle stream (ground-truth boxes and ids, same ReID)")
        streams["oracle"] = cached(
            cache / "oracle.npz" if cache else None,
            fingerprint(scenario, module, "oracle"),
            lambda: capture_oracle(scenario, module, max_frames=max_frames),
        )

    result: dict[str, Any] = {
        "scenario": str(scenario),
        "module": str(module.path),
        "fusion": {k: v for k, v in asdict(base).items() if k not in SWITCHES},
        "per_row": {name: per_row[name] for name in ablations if name in per_row},
        "ablations": {name: ABLATIONS[name] for name in ablations},
        "streams": {},
        "rows": [],
    }
    for name, stream in streams.items():
        owners = scorer.track_owners(stream)
        result["streams"][name] = {
            "meta": stream.meta,
            "frames": len(stream),
            "rows": stream.rows,
            "embeddings": int(len(stream.embeddings)),
            "per_camera": scorer.per_camera(stream),
        }
        for ablation in ("none", *ablations, "ideal"):
            if ablation == "none":
                done = unlinked(stream)
            elif ablation == "ideal":
                done = ideal(stream, owners)
            else:
                done = replay(stream, site, configs[ablation])
            row = score_replay(scorer, done, owners)
            row.update(stream=name, ablation=ablation)
            result["rows"].append(row)
            log(f"ablation: {name:8s} {ablation:12s} multi-camera IDF1 {row['multi_camera']['IDF1']:.3f}")
            if out is not None:
                write_replay(out / f"{name}-{ablation}", stream, done)
    result["gains"] = gains(result["rows"])
    return result


def score_replay(scorer: Scorer, done: Replay, owners: dict[tuple[str, int], int]) -> dict[str, Any]:
    return {
        "multi_camera": scorer.multi_camera(done.online),
        "final": scorer.multi_camera(done.final),
        "linking": scorer.linking(done, owners),
        "transitions": len(done.transitions),
        "corrections": sum(e["event"] == "corrected" for e in done.events),
        "fusion_seconds": round(done.seconds, 2),
    }


def gains(rows: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Per stream, what each constrained setting gains over appearance only: IDF1 points and the share
    of ID errors (IDFP + IDFN) removed."""
    out: dict[str, dict[str, Any]] = {}
    for stream in dict.fromkeys(r["stream"] for r in rows):
        by = {r["ablation"]: r for r in rows if r["stream"] == stream}
        if "appearance" not in by:
            continue
        ref = by["appearance"]["multi_camera"]
        out[stream] = {}
        for name, row in by.items():
            if name in ("appearance", "none", "ideal"):
                continue
            mc = row["multi_camera"]
            out[stream][name] = {
                "idf1_points": round(100 * (mc["IDF1"] - ref["IDF1"]), 1),
                "errors_removed": ref["errors"] - mc["errors"],
                "errors_removed_pct": round(100 * (ref["errors"] - mc["errors"]) / max(ref["errors"], 1), 1),
            }
    return out


LEGEND = (
    "none: no fusion, every local track its own id; ideal: every local track gets the id of the GT person "
    "it covers most (fusion's upper bound on these tracks). MC-IDF1: multi-camera IDF1 of the ids the run "
    "writes (mtmc/). ID errors: IDFP + IDFN boxes; vs app.: their change against appearance only. merges: "
    "local tracks put under another person's id; splits: extra ids a person was spread over. final: MC-IDF1 "
    "after relabelling every track to the id it ended with (corrections applied offline)."
)


def _cells(result: dict[str, Any], row: dict[str, Any]) -> list[str]:
    mc, link = row["multi_camera"], row["linking"]
    gain = result["gains"].get(row["stream"], {}).get(row["ablation"])
    return [
        row["stream"],
        LABELS.get(row["ablation"], row["ablation"]),
        f"{mc['IDF1']:.3f}",
        f"{mc['IDP']:.3f}",
        f"{mc['IDR']:.3f}",
        str(mc["errors"]),
        f"{-gain['errors_removed_pct']:+.0f}%" if gain else "",
        f"{mc['pred_identities']}/{mc['gt_identities']}",
        str(link["wrong_merges"]),
        str(link["splits"]),
        f"{row['final']['IDF1']:.3f}",
    ]


HEADER = [
    "stream",
    "fusion",
    "MC-IDF1",
    "IDP",
    "IDR",
    "ID errors",
    "vs app.",
    "ids/gt",
    "merges",
    "splits",
    "final",
]


def _stream_lines(result: dict[str, Any]) -> list[str]:
    lines = []
    for name, info in result["streams"].items():
        cams = info["per_camera"]
        per = ", ".join(f"{c} {v['IDF1']:.3f}" for c, v in cams.items() if c != "all")
        lines.append(
            f"{name} stream: {info['frames']} frames, {info['rows']} tracked rows, {info['embeddings']} "
            f"embeddings; per-camera IDF1 (the same in every row): {per}; all cameras "
            f"{cams['all']['IDF1']:.3f} (recall {cams['all']['Recall']:.3f})"
        )
    return lines


def render(result: dict[str, Any]) -> str:
    """The table printed by the command."""
    rows = [HEADER] + [_cells(result, row) for row in result["rows"]]
    widths = [max(len(r[i]) for r in rows) for i in range(len(HEADER))]
    lines = (
        [f"Fusion ablation on {result['scenario']}"] + [f"  {line}" for line in _stream_lines(result)] + [""]
    )
    for i, cells in enumerate(rows):
        lines.append(
            "  ".join(
                c.ljust(w) if j < 2 else c.rjust(w)
                for j, (c, w) in enumerate(zip(cells, widths, strict=True))
            )
        )
        if i == 0:
            lines.append("-" * len(lines[-1]))
    lines += ["", LEGEND, ""]
    return "\n".join(lines)


def render_markdown(result: dict[str, Any]) -> str:
    """The same table as Markdown, with the settings used."""
    lines = [f"# Fusion ablation on `{result['scenario']}`", ""]
    if result.get("command"):
        lines += ["```", result["command"], "```", ""]
    lines += [f"- {line}" for line in _stream_lines(result)] + [""]
    lines += [
        "| " + " | ".join(HEADER) + " |",
        "|" + "|".join(["---", "---"] + ["---:"] * (len(HEADER) - 2)) + "|",
    ]
    lines += ["| " + " | ".join(_cells(result, row)) + " |" for row in result["rows"]]
    lines += [
        "",
        LEGEND,
        "",
        "Fusion settings (`parameters.fusion`, switches set per row):",
        "",
        "```json",
        json.dumps(result["fusion"], indent=1),
        "```",
        "",
    ]
    if result.get("per_row"):
        lines += [
            "Each row's own tuned values (`--tuned`), replacing the settings above for that row:",
            "",
            "```json",
            json.dumps(result["per_row"], indent=1),
            "```",
            "",
        ]
    return "\n".join(lines)


def write_replay(folder: Path, stream: TrackStream, done: Replay) -> None:
    """mot/ (local ids), mtmc/ (global ids as written online), tracks.csv and fusion_events.jsonl."""
    for sub in ("mot", "mtmc"):
        (folder / sub).mkdir(parents=True, exist_ok=True)
    with open(folder / "tracks.csv", "w") as table:
        table.write("camera_id,frame,pts_seconds,track_id,global_id,x1,y1,x2,y2,confidence\n")
        pts = _frame_pts(stream)
        for camera in stream.camera_ids:
            local = stream.camera_rows(camera)
            _write_mot(folder / "mot" / f"{camera}.txt", local)
            rows = done.online[camera]
            _write_mot(folder / "mtmc" / f"{camera}.txt", rows)
            for (frame, gid, x, y, w, h), track in zip(
                rows.tolist(), done.row_track[camera].tolist(), strict=True
            ):
                at = pts.get((camera, int(frame)), 0.0)
                table.write(
                    f"{camera},{int(frame)},{at:.3f},{track},{int(gid)},{x:.2f},{y:.2f},{x + w:.2f},"
                    f"{y + h:.2f},1.0\n"
                )
    with open(folder / "fusion_events.jsonl", "w") as events:
        for event in done.events:
            events.write(json.dumps(event) + "\n")


def _frame_pts(stream: TrackStream) -> dict[tuple[str, int], float]:
    return {
        (stream.camera_ids[int(c)], int(i) + 1): float(p)
        for c, i, p in zip(stream.frame_camera, stream.frame_index, stream.frame_pts, strict=True)
    }


def _write_mot(path: Path, rows: Any) -> None:
    with open(path, "w") as f:
        for frame, identity, x, y, w, h in rows.tolist():
            f.write(f"{int(frame)},{int(identity)},{x:.2f},{y:.2f},{w:.2f},{h:.2f},1,-1,-1,-1\n")


def _scratch() -> Path:
    import tempfile

    return Path(tempfile.mkdtemp(prefix="pyuniproc-ablation-"))
