"""The lever table of `pyuniproc accuracy --ablation`: which settings each row replays, what each lever
added, and which other result files are listed beside it."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

from pyuniproc.accuracy.levers import (
    CUMULATIVE,
    SWITCHES,
    compare_files,
    compare_table,
    lever_configs,
    lever_table,
    summarise_levers,
)
from pyuniproc.fusion import FusionConfig


def test_each_cumulative_row_switches_on_one_more_constraint_and_keeps_every_other_value():
    base = FusionConfig(match_threshold=0.9, decision_seconds=1.5, max_pending_seconds=1.5)
    configs = lever_configs(base)
    switched_on = [sum(getattr(configs[key], name) for name in SWITCHES) for key, _, _ in CUMULATIVE]
    assert switched_on == [0, 1, 2, 3, 4]
    for key, config in configs.items():
        assert config.match_threshold == 0.9, key
    assert configs["zones"] == base  # every switch on: the module's own settings
    assert (configs["no_delay"].decision_seconds, configs["no_delay"].max_pending_seconds) == (0.0, 0.0)
    assert configs["no_corrections"].reevaluate_seconds == 0.0
    assert replace(configs["no_delay"], min_embeddings=base.min_embeddings, decision_seconds=1.5,
                   max_pending_seconds=1.5) == base


def scene(**idf1: float) -> dict[str, dict[str, float | int]]:
    keys = ("none", "appearance", "topology", "travel_time", "floor", "zones", "module", "no_delay",
            "no_corrections", "ideal")
    return {k: {"MC-IDF1": idf1.get(k, 0.5), "ids": 9, "people": 8, "wrong_merges": 1, "splits": 2}
            for k in keys}


def test_added_is_the_gain_over_the_row_above_or_what_the_module_loses_without_the_lever():
    per_seed = {
        "301": scene(appearance=0.40, topology=0.50, travel_time=0.55, floor=0.70, zones=0.70, module=0.70,
                     no_delay=0.66, no_corrections=0.72, ideal=0.90),
        "302": scene(appearance=0.60, topology=0.60, travel_time=0.65, floor=0.80, zones=0.82, module=0.82,
                     no_delay=0.80, no_corrections=0.82, ideal=0.95),
    }
    ablation = summarise_levers(per_seed, FusionConfig())
    by = {row["key"]: row for row in ablation["rows"]}
    assert [row["key"] for row in ablation["rows"]] == [
        "none", "appearance", "topology", "travel_time", "floor", "zones", "module", "no_delay",
        "no_corrections", "ideal"]
    assert by["appearance"]["added"] is None and by["module"]["added"] is None
    assert by["topology"]["added"] == pytest.approx(0.05)  # mean 0.55 over mean 0.50
    assert by["floor"]["added"] == pytest.approx(0.15)
    assert by["zones"]["added"] == pytest.approx(0.01)
    assert by["no_delay"]["added"] == pytest.approx(0.03)  # the delay gives the module 3 points
    assert by["no_corrections"]["added"] == pytest.approx(-0.01)  # corrections cost 1 point here
    assert (by["floor"]["mean"], by["floor"]["worst"]) == (pytest.approx(0.75), 0.70)
    assert by["ideal"]["per_seed"] == {"301": 0.9, "302": 0.95} and by["ideal"]["wrong_merges"] == 2
    table = lever_table(ablation, [301, 302])
    assert table[0][-2:] == ["seed 301", "seed 302"]
    assert table[3][:4] == ["+ topology (linked and overlapping cameras only)", "0.550", "0.500", "+5.0"]


def test_other_result_files_on_the_same_scenes_are_listed_with_what_differs(tmp_path):
    def doc(seeds, detector, mean, seconds=60.0, version=3):
        return {"split": "test", "seeds": seeds, "scene_arguments": {"seconds": seconds}, "rows": [],
                "generator_version": version,
                "settings": {"module": "m.yml", "detector": detector, "reid": "mobilenet.onnx"},
                "summary": {"MC-IDF1": {"mean": mean, "worst": mean - 0.1}, "cam IDF1": {"mean": 0.5}},
                "command": f"DETECTOR={detector} pyuniproc accuracy"}

    this = doc([301, 302], "nanodet.onnx", 0.60)
    (tmp_path / "ssdlite.json").write_text(json.dumps(doc([301, 302], "ssdlite.onnx", 0.40)))
    (tmp_path / "other-seeds.json").write_text(json.dumps(doc([301], "ssdlite.onnx", 0.40)))
    (tmp_path / "short.json").write_text(json.dumps(doc([301, 302], "ssdlite.onnx", 0.40, seconds=4.0)))
    (tmp_path / "not-results.json").write_text("[1, 2]")
    (tmp_path / "v2-scenes.json").write_text(json.dumps(doc([301, 302], "ssdlite.onnx", 0.40, version=2)))
    older = doc([301, 302], "nanodet.onnx", 0.55, version=None)
    del older["generator_version"]
    (tmp_path / "older.json").write_text(json.dumps(older))
    old, row = compare_files(sorted(tmp_path.glob("*.json")), this)
    assert row["file"] == "ssdlite.json" and row["differs"] == {"detector": "ssdlite.onnx"}
    assert row["vs this run"] == pytest.approx(-0.20) and row["scenes"] == "same"
    assert old["file"] == "older.json" and old["differs"] == {} and "not recorded" in old["scenes"]
    table = compare_table({"compare": [old, row]})
    assert table[2] == ["ssdlite.json", "detector: ssdlite.onnx", "0.500", "0.400", "0.300", "-20.0"]
    assert table[1][0] == "older.json (generator version not recorded (older file))" and table[1][1] == "none"
