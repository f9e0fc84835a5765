"""`pyuniproc accuracy` end to end on one short held-out scene (4 cameras x 4 s): what CI runs of the
protocol. The numbers of a 4 s scene mean little; the test checks the command runs the real
pipeline, scores every camera and the fusion, and writes its results with command and machine."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from pyuniproc.accuracy.command import ENVIRONMENT
from pyuniproc.cli import main

MODULE = Path(__file__).resolve().parents[2] / "module" / "module.yml"


def accuracy(work: Path, results: Path) -> int:
    """The command on seed 301 cut to 4 s, the module as committed (environment overrides cleared)."""
    with pytest.MonkeyPatch.context() as env:
        for name in ENVIRONMENT:
            env.delenv(name, raising=False)
        return main(["accuracy", "--seeds", "301", "--seconds", "4", "--module", str(MODULE),
                     "--work", str(work), "--results", str(results), "--workers", "1"])


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    work = tmp_path_factory.mktemp("accuracy")
    assert accuracy(work, work / "results") == 0
    return work


def test_writes_json_markdown_and_html(results):
    for suffix in ("json", "md", "html"):
        assert (results / "results" / f"test.{suffix}").stat().st_size > 0
    assert "<svg" in (results / "results" / "test.html").read_text()


def test_scores_every_camera_and_the_fusion(results):
    doc = json.loads((results / "results" / "test.json").read_text())
    assert doc["split"] == "test" and doc["seeds"] == [301]
    assert doc["scene_arguments"]["seconds"] == 4.0
    row = doc["rows"][0]
    assert sorted(row["cameras"]) == ["cam1", "cam2", "cam3", "cam4"]
    assert 0.0 < row["MC-IDF1"] <= row["ideal MC-IDF1"] + 0.05
    assert 0.0 < row["cam IDF1"] <= 1.0
    assert doc["summary"]["MC-IDF1"]["mean"] == pytest.approx(row["MC-IDF1"])
    assert {g["goal"] for g in doc["goals"]} >= {"mean multi-camera IDF1 >= 0.90"}
    assert doc["command"].startswith("pyuniproc accuracy --split test --seeds 301 --seconds 4")
    assert doc["machine"]["cores"] == os.cpu_count()
    assert sum(band["gt"] for band in doc["height_bands"].values()) > 0


def test_second_run_reuses_the_scene_and_the_recording(results):
    before = sorted(p.name for p in (results / "streams" / "test-s301-4s").glob("*.npz"))
    assert accuracy(results, results / "again") == 0
    assert sorted(p.name for p in (results / "streams" / "test-s301-4s").glob("*.npz")) == before
    first = json.loads((results / "results" / "test.json").read_text())["rows"][0]
    again = json.loads((results / "again" / "test.json").read_text())["rows"][0]
    assert again["MC-IDF1"] == first["MC-IDF1"] and again["cameras"] == first["cameras"]
