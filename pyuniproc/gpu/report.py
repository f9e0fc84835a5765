"""Write the GPU benchmark's truth table: results.json (everything), results.md (the table), a plot."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


def _fmt(value: Any, digits: int = 0) -> str:
    if value is None:
        return "-"
    return f"{value:,.{digits}f}"


def _lat(row: dict[str, Any], stage: str) -> str:
    values = (row.get("latency_ms") or {}).get(stage)
    if not values or values.get("p50") is None:
        return "-"
    return f"{values['p50']:.1f} / {values['p95']:.1f}"


def _ceiling_table(report: dict[str, Any]) -> list[str]:
    rows = report.get("decode_ceiling", [])
    layouts = list(dict.fromkeys(r.get("layout", "threads, 1 process") for r in rows))
    counts = sorted({r["streams"] for r in rows})
    lines = [
        "| streams | " + " | ".join(f"decode fps: {layout}" for layout in layouts) + " | ceiling (best) |",
        "|---:|" + "---:|" * (len(layouts) + 1),
    ]
    for count in counts:
        values = []
        for layout in layouts:
            match = [
                r for r in rows if r["streams"] == count and r.get("layout", "threads, 1 process") == layout
            ]
            values.append(
                _fmt(match[0]["decode_fps"])
                + (f" ({match[0]['processes']} proc.)" if "processes" in match[0] else "")
                if match
                else "-"
            )
        best = max(r["decode_fps"] for r in rows if r["streams"] == count)
        lines.append(f"| {count} | " + " | ".join(values) + f" | {_fmt(best)} |")
    return lines


def _run_row(row: dict[str, Any]) -> str:
    fraction = row.get("fraction_of_ceiling")
    name = row.get("variant") or (
        f"{row['mode']}, {row['decode_loop']}" if row.get("decode_loop") else row["mode"]
    )
    return (
        f"| {row['detector']} | {row['streams']} | {name} | {row.get('processes', 1)} | "
        f"{row.get('reid_mode', '-')} | {_fmt(row['fps_total'])} | "
        f"{_fmt(row['fps_per_stream_mean'], 1)} ({_fmt(row['fps_per_stream_min'], 1)}) | "
        f"{_fmt(None if fraction is None else 100 * fraction, 1)} | {_fmt(row['dropped_pct'], 1)} | "
        f"{_lat(row, 'decode')} | {_lat(row, 'inference')} | {_lat(row, 'tracking')} | "
        f"{_lat(row, 'end_to_end')} | {_lat(row, 'camera_to_track')} | "
        f"{_fmt(row.get('batch_size_mean'), 1)} | "
        f"{_fmt(row.get('detections_per_frame'), 1)} | {_fmt(row.get('crops_per_frame'), 2)} | "
        f"{_fmt(row.get('gpu_util_pct'))} | {_fmt(row.get('nvdec_util_pct'))} | "
        f"{_fmt(row.get('gpu_memory_mib'))} | {_fmt(row.get('cpu_cores_used'), 1)} | {_cpu(row)} |"
    )


def _cpu(row: dict[str, Any]) -> str:
    """Host CPU ms per frame done in the decoder threads / the inference threads."""
    cpu = row.get("cpu_ms_per_frame") or {}
    return f"{_fmt(cpu.get('decode'), 2)} / {_fmt(cpu.get('inference'), 2)}" if cpu else "-"


RUN_HEADER = [
    "| detector | streams | mode | processes | ReID | fps total | fps/stream (min) | % of decode ceiling | "
    "dropped % | decode | inference | track + ReID | end-to-end | camera | batch | det/frame | crops/frame | "
    "GPU % | NVDEC % | GPU MiB | CPU cores | CPU ms/frame decode / inference |",
    "|---|---:|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
]


def _module_line(settings: dict[str, Any] | None) -> list[str]:
    """The module settings the run measured (detector, threshold, tracker, ReID), as one paragraph."""
    if not settings:
        return []
    options = settings.get("detector_options", {})
    override = settings.get("threshold_override")
    threshold = f"{options.get('confidence_threshold')}" + (
        f" (override; the module says {settings.get('module_confidence_threshold')})" if override is not None
        else " (the module's)"
    )
    tracker = ", ".join(f"{k} {v}" for k, v in sorted(settings.get("tracker_options", {}).items()))
    reid = ", ".join(f"{k} {v}" for k, v in sorted(settings.get("reid_selection", {}).items())) or "defaults"
    return [
        f"Module settings (`{settings.get('module')}`): detector {settings.get('detector')}, confidence "
        f"threshold {threshold}, NMS IoU {options.get('nms_iou_threshold')}; tracker "
        f"{settings.get('tracker_kind')} ({tracker}); ReID {settings.get('reid_kind')} ({reid}).",
        "",
    ]


def markdown(report: dict[str, Any]) -> str:
    env = report["environment"]
    gpus = report.get("gpus") or [0]
    lines = [
        "# GPU truth table",
        "",
        f"Device: {len(gpus)} x {env.get('gpu', 'no GPU')} used (driver {env.get('nvml_driver', '?')}), "
        f"{env.get('cpu_count')} CPU cores; "
        f"torch {env.get('torch')} (CUDA {env.get('cuda')}), PyNvVideoCodec {env.get('pynvvideocodec')}, "
        f"torchvision {env.get('torchvision')}, Python {env.get('python')}. CUDA MPS daemon running: "
        f"{'yes' if env.get('mps') else 'no' if 'mps' in env else 'not recorded'}.",
        "",
        f"Command: `{report['command']}`",
        "",
        *_module_line(report.get("module_settings")),
        f"Streams: copies of `{Path(report['video']).name}` (1920x1080 H.264, from "
        "samples/vtest/vtest.avi upscaled), each its own NVDEC session, looping.",
        "",
        "## Decode-only ceiling (NVDEC, frames discarded)",
        "",
        *_ceiling_table(report),
        "",
        "## Pipeline: decode -> detect -> track -> ReID",
        "",
        "`max`: every stream decoded as fast as possible, back-pressure, nothing dropped. `paced`: every"
        " stream a live camera at the paced rate; a camera more than 250 ms behind skips ahead (skipped "
        "frames = dropped). processes: worker processes the cameras were spread over (each decodes, "
        "batches, tracks and embeds its own). ReID `scheduled`: the module's quality gate and embed "
        "schedule pick the tracks to embed (as the CPU runtime); `all`: every detection of every frame. "
        "Latencies p50 / p95 in ms: decode = one frame out of NVDEC and into the frame pool; inference ="
        " batch formed -> boxes on the host; track + ReID = boxes on the host -> tracks and their "
        "embeddings on the host; end-to-end = frame decoded -> tracked and embedded; camera = frame due "
        "(paced) -> done.",
        "",
        *RUN_HEADER,
    ]
    lines += [_run_row(r) for r in report.get("runs", []) if r["mode"] != "naive" and not r.get("variant")]
    variants = [r for r in report.get("runs", []) if r.get("variant")]
    if variants:
        lines += [
            "",
            "## What each lever is worth (same run, first detector, as fast as possible)",
            "",
            *RUN_HEADER,
        ]
        lines += [_run_row(r) for r in variants]
    lines += [
        "",
        "## Naive baseline (one stream, one frame per inference, every detection embedded, stages in "
        "sequence)",
        "",
        "| detector | fps | end-to-end p50 / p95 ms | best `max` fps | ratio |",
        "|---|---:|---:|---:|---:|",
    ]
    for row in report.get("runs", []):
        if row["mode"] != "naive":
            continue
        best = max(
            (
                r["fps_total"]
                for r in report["runs"]
                if r["mode"] == "max" and r["detector"] == row["detector"] and not r.get("variant")
            ),
            default=None,
        )
        ratio = best / row["fps_total"] if best and row["fps_total"] else None
        lines.append(
            f"| {row['detector']} | {_fmt(row['fps_total'], 1)} | {_lat(row, 'end_to_end')} | "
            f"{_fmt(best)} | {_fmt(ratio, 1)}x |"
        )
    if report.get("parity"):
        lines += [
            "",
            "## Parity with the ONNX Runtime CPU path (same decoded frames)",
            "",
            "| model | precision | raw rel. error | net-input max abs diff | boxes ref / gpu / "
            "matched | IoU mean (min) | "
            "score max diff | cosine mean (min) |",
            "|---|---|---:|---:|---:|---:|---:|---:|",
        ]
        for name, p in report["parity"].items():
            if name.startswith("embedder"):
                lines.append(
                    f"| embedder {p.get('kind', '')} | {p.get('precision')} | - | - | "
                    f"{p.get('crops')} crops | - | - | "
                    f"{_fmt(p.get('cosine_mean'), 5)} ({_fmt(p.get('cosine_min'), 5)}) |"
                )
            else:
                errors = ", ".join(f"{e:.1e}" for e in p["raw_relative_error"])
                lines.append(
                    f"| {p['detector']} | {p['precision']} | {errors} | "
                    f"{_fmt(p['preprocess_max_abs_diff'], 3)} | "
                    f"{p['boxes_reference']} / {p['boxes_gpu']} / {p['boxes_matched_iou50']} | "
                    f"{_fmt(p['matched_iou_mean'], 4)} ({_fmt(p['matched_iou_min'], 4)}) | "
                    f"{_fmt(p['matched_score_max_abs_diff'], 4)} | - |"
                )
    return "\n".join(lines) + "\n"


def plot(report: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(12, 4.5))
    ceiling = report.get("decode_ceiling", [])
    if ceiling:
        counts = sorted({r["streams"] for r in ceiling})
        best = [max(r["decode_fps"] for r in ceiling if r["streams"] == c) for c in counts]
        left.plot(counts, best, "k--o", label="decode-only ceiling")
        left.plot(counts, [0.85 * b for b in best], ":", color="grey", label="85 % of ceiling")
    for detector in sorted({r["detector"] for r in report.get("runs", []) if "detector" in r}):
        for mode, style in (("max", "-o"), ("paced", ":s")):
            rows = [
                r
                for r in report["runs"]
                if r.get("detector") == detector and r["mode"] == mode and not r.get("variant")
            ]
            if not rows:
                continue
            streams = [r["streams"] for r in rows]
            left.plot(streams, [r["fps_total"] for r in rows], style, label=f"{detector} {mode}")
            stage = "camera_to_track" if mode == "paced" else "end_to_end"
            right.plot(
                streams, [r["latency_ms"][stage]["p95"] for r in rows], style, label=f"{detector} {mode}"
            )
    left.axhline(2000, color="grey", lw=0.8)
    right.axhline(150, color="grey", lw=0.8)
    left.set(xlabel="1080p H.264 streams", ylabel="frames/s (total)", title="Throughput")
    right.set(
        xlabel="1080p H.264 streams",
        ylabel="p95 latency, ms",
        title="p95 latency (max: decoded->tracked; paced: camera->tracked)",
    )
    for axis in (left, right):
        axis.grid(alpha=0.3)
        axis.legend(fontsize=8)
    fig.suptitle(report["environment"].get("gpu", "CPU"), fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def write_report(report: dict[str, Any], out: Path) -> None:
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "results.json").write_text(json.dumps(report, indent=1, default=float) + "\n")
    (out / "results.md").write_text(markdown(report))
    try:
        plot(report, out / "fps_latency.png")
    except ImportError:
        pass
