"""`pyuniproc accuracy` end to end on one short held-out scene (4 cameras x 4 s): what CI runs of the
protocol. The numbers of a 4 s scene mean little; the test checks the command runs the real
pipeline, scores every camera and the fusion, and writes its results with command and machine."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest

from pyuniproc.accuracy.command import ENVIRONMENT
from pyuniproc.cli import main

MODULE = Path(__file__).resolve().parents[2] / "module" / "module.yml"


def accuracy(work: Path, results: Path, *more: str) -> int:
    """The command on seed 301 cut to 4 s, the module as committed (environment overrides cleared)."""
    with pytest.MonkeyPatch.context() as env:
        for name in ENVIRONMENT:
            env.delenv(name, raising=False)
        return main(["accuracy", "--seeds", "301", "--seconds", "4", "--module", str(MODULE),
                     "--work", str(work), "--results", str(results), "--workers", "1", *more])


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    work = tmp_path_factory.mktemp("accuracy")
    assert accuracy(work, work / "results") == 0
    return work


def test_writes_json_markdown_and_html(results):
    for suffix in ("json", "md", "html"):
        assert (results / "results" / f"test.{suffix}").stat().st_size > 0
    html = (results / "results" / "test.html").read_text()
    assert "<svg" in html and "<script" not in html
    assert "<h2>Per scene and camera</h2>" in html and html.count("<td class=label>all cameras</td>") == 1
    for camera in ("cam1", "cam2", "cam3", "cam4"):
        assert f"<td class=label>301</td><td class=label>{camera}</td>" in html


def test_the_html_shows_the_largest_ids_with_a_crop_from_each_of_their_cameras(results):
    doc = json.loads((results / "results" / "test.json").read_text())
    gallery = doc["scenes"]["301"]["gallery"]
    assert 0 < len(gallery["ids"]) <= 8 and gallery["identities"] >= len(gallery["ids"])
    html = (results / "results" / "test.html").read_text()
    for entry in gallery["ids"]:
        crops = re.findall(rf'<img alt="g{entry["global_id"]} (cam\d)" src="data:image/jpeg;base64,', html)
        assert sorted(crops) == sorted(shot["camera"] for shot in entry["cameras"])
    assert len(html) < 400_000  # small inline JPEGs: six full scenes stay far below 5 MB


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


def test_second_run_reuses_the_scene_and_the_recording_and_replays_the_fusion_levers(results):
    before = sorted(p.name for p in (results / "streams" / "test-s301-4s").glob("*.npz"))
    first_file = results / "results" / "test.json"
    assert accuracy(results, results / "again", "--ablation", "--compare", str(first_file)) == 0
    assert sorted(p.name for p in (results / "streams" / "test-s301-4s").glob("*.npz")) == before
    first = json.loads(first_file.read_text())["rows"][0]
    doc = json.loads((results / "again" / "test.json").read_text())
    again = doc["rows"][0]
    assert again["MC-IDF1"] == first["MC-IDF1"] and again["cameras"] == first["cameras"]
    # The lever rows: replays of the same recording; the module's row is the protocol's own figure.
    rows = {row["key"]: row for row in doc["ablation"]["rows"]}
    assert list(rows) == ["none", "appearance", "topology", "travel_time", "floor", "zones", "module",
                          "no_delay", "no_corrections", "ideal"]
    assert rows["module"]["per_seed"]["301"] == pytest.approx(first["MC-IDF1"], abs=1e-4)
    assert rows["ideal"]["per_seed"]["301"] == pytest.approx(first["ideal MC-IDF1"], abs=1e-4)
    assert rows["topology"]["added"] == pytest.approx(rows["topology"]["mean"] - rows["appearance"]["mean"])
    assert all(0.0 < row["mean"] <= 1.0 for row in rows.values())
    [listed] = doc["ablation"]["compare"]
    assert listed["file"] == "test.json" and listed["differs"] == {} and listed["vs this run"] == 0.0
    assert doc["command"].endswith(f"--ablation --compare {first_file}")
    for suffix in ("md", "html"):
        assert "What each lever added" in (results / "again" / f"test.{suffix}").read_text()
