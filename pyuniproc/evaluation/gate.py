"""Quality gate: scores must not fall more than a tolerance below a committed baseline (a JSON
written by `pyuniproc eval --json`), as norfair guards MOTA in its CI.

Guarded: per-camera IDF1 and HOTA, all-cameras MOTA, and multi-camera IDF1. Scores that rise are
fine (refresh the baseline to lock the gain in).
"""

from __future__ import annotations

import json
from pathlib import Path

GUARDED_PER_CAMERA = ("IDF1", "HOTA")
GUARDED_COMBINED = ("MOTA", "IDF1", "HOTA")
GUARDED_MULTI_CAMERA = ("IDF1",)


def regressions(
    result: dict, baseline: dict, *, tolerance: float, multi_camera_tolerance: float | None = None
) -> list[str]:
    """One line per guarded score that fell by more than `tolerance` (absolute, scores in 0..1).

    multi_camera_tolerance: a separate allowance for the multi-camera scores (default `tolerance`):
    cross-camera fusion sees the cameras' frames in the order the runtime batches them, which
    depends on decoding speed, so its result varies a little from run to run even where every
    per-camera score is identical.
    """
    found = []
    multi_tolerance = tolerance if multi_camera_tolerance is None else multi_camera_tolerance

    def check(where: str, now: dict | None, before: dict | None, keys: tuple[str, ...],
              tolerance: float = tolerance) -> None:
        if not before:
            return
        if not now:
            found.append(f"{where}: missing from this run (baseline has it)")
            return
        for key in keys:
            if key in before and now.get(key, float("-inf")) < before[key] - tolerance:
                found.append(
                    f"{where} {key}: {now.get(key, float('nan')):.4f} < baseline {before[key]:.4f} "
                    f"- {tolerance}"
                )

    for cam, before in baseline.get("cameras", {}).items():
        check(cam, result.get("cameras", {}).get(cam), before, GUARDED_PER_CAMERA)
    check("all cameras", result.get("combined"), baseline.get("combined"), GUARDED_COMBINED)
    check("multi-camera", result.get("multi_camera"), baseline.get("multi_camera"), GUARDED_MULTI_CAMERA,
          multi_tolerance)
    return found


def load_baseline(path: Path | str) -> dict:
    return json.loads(Path(path).read_text())
