"""A small real run (2 cameras x 10 s, fusion on, mosaic recorded), made once per test session."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from pyuniproc.config.cameras import load_cameras
from pyuniproc.config.module import load_module_config
from pyuniproc.runtime.pipeline import Pipeline, RunOptions
from pyuniproc.scenario import ScenarioSpec, generate

MODULE = Path(__file__).resolve().parents[2] / "module" / "module.yml"
SMALL = ScenarioSpec(seed=3, cameras=2, people=8, seconds=10, distractors=1)


@pytest.fixture(scope="session")
def small_scenario(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("report_scenario")
    generate(SMALL, out, show_progress=False)
    return out


@pytest.fixture(scope="session")
def small_run(small_scenario, tmp_path_factory) -> Path:
    module = load_module_config(MODULE)
    runtime = module.runtime
    telemetry = replace(runtime.telemetry, metrics=replace(runtime.telemetry.metrics, enabled=False))
    recording = replace(runtime.recording, mosaic=True, mosaic_width=640, mosaic_fps=10.0)
    module = replace(
        module,
        runtime=replace(runtime, telemetry=telemetry, recording=recording),
        fusion=replace(module.fusion, min_embeddings=1, decision_seconds=0.5),
    )
    out = tmp_path_factory.mktemp("report_run")
    site = load_cameras(small_scenario / "cameras.yml")
    summary = Pipeline(module, site, RunOptions(out_dir=out, progress=False, watch_module=False)).run()
    assert summary["frames_processed"] == 200
    return out
