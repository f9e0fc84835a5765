"""A tiny scenario (2 cameras x 10 s) and its ablation, made once per test session."""

from __future__ import annotations

from pathlib import Path

import pytest

from pyuniproc.ablation.command import fusion_settings, run_ablation
from pyuniproc.config.module import load_module_config
from pyuniproc.scenario import ScenarioSpec, generate

MODULE = Path(__file__).resolve().parents[2] / "module" / "module.yml"
TINY = ScenarioSpec(seed=3, cameras=2, people=8, seconds=10, distractors=1)


@pytest.fixture(scope="session")
def tiny_scenario(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("tiny_scenario")
    generate(TINY, out, show_progress=False)
    return out


@pytest.fixture(scope="session")
def module():
    return load_module_config(MODULE)


@pytest.fixture(scope="session")
def ablation(tiny_scenario, module, tmp_path_factory):
    out = tmp_path_factory.mktemp("ablation_out")
    cache = tmp_path_factory.mktemp("ablation_cache")
    result = run_ablation(tiny_scenario, module, fusion_settings(module.fusion), out_dir=out, cache_dir=cache)
    return result, out, cache
