"""What a finished run prints: where the results are and how each camera did."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rich.console import Console

from pyuniproc.runtime.progress import render


def print_run_report(summary: dict[str, Any]) -> None:
    console = Console()
    if not console.is_terminal:
        console.width = 120
    console.print(render(summary))
    latency = summary["latency_ms"]
    stages = ", ".join(f"{stage} {values.get('p50', 0):.1f}/{values.get('p95', 0):.1f}"
                       for stage, values in latency.items() if values.get("count"))
    console.print(f"latency ms p50/p95: {stages}")
    fusion = summary.get("fusion") or {}
    if fusion.get("decision_delay_p95_seconds") is not None:
        console.print(f"global id decision delay s p50/p95/max: {fusion['decision_delay_p50_seconds']:.2f}/"
                      f"{fusion['decision_delay_p95_seconds']:.2f}/{fusion['decision_delay_max_seconds']:.2f}")
    for pair in (fusion.get("floor") or {}).get("overlaps", []):
        support = (f" from {pair['inliers']} matches of {pair['track_pairs']} track pairs"
                   if pair.get("inliers") else "")
        if pair.get("stable_since_seconds") is not None:
            model = pair.get("model") or "homography"
            support += (f", usable from {pair['stable_since_seconds']:.1f} s, {model} map, "
                        f"rms {pair.get('rms_heights')} person heights")
        console.print(f"floor {' / '.join(pair['cameras'])}: {pair['state']}{support}")
    for camera_id, camera in summary["cameras"].items():
        if camera.get("last_error"):
            console.print(f"[red]camera {camera_id}: {camera['state']}: {camera['last_error']}[/red]")
    for group in summary.get("workers") or ():
        if group["state"] == "died":
            console.print(f"[red]worker {group['group']} died: {group['error']}[/red]", highlight=False)
    console.print(f"status: {summary['status']}; {summary['frames_processed']} frames in "
                  f"{summary['elapsed_seconds']:.1f} s ({summary['throughput_fps']:.1f} frames/s"
                  f"{', backend ' + summary['backend'] if summary.get('backend') else ''})")
    for line in results_lines(summary["outputs"]):
        console.print(line, highlight=False, markup=False)


def results_lines(paths: Mapping[str, str]) -> list[str]:
    """The "results:" list printed at the end of a run, and again by `pyuniproc report` with the
    scores and the report added (`make demo` ends with it)."""
    return ["results:", *(f"  {name:<10} {path}" for name, path in paths.items())]
