"""A short scenario rendered once per test session (3 cameras x 30 s, one overlap pair)."""

from __future__ import annotations

import pytest

from pyuniproc.scenario import ScenarioSpec, generate

SHORT = ScenarioSpec(seed=5, cameras=3, people=14, seconds=30, overlaps=1, distractors=2)


@pytest.fixture(scope="session")
def short_spec() -> ScenarioSpec:
    return SHORT


@pytest.fixture(scope="session")
def short_scenario(tmp_path_factory):
    out = tmp_path_factory.mktemp("scenario_short")
    generate(SHORT, out, show_progress=False)
    return out
