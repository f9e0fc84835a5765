"""The protocol's fixed inputs: held-out scenes never overlap tuning scenes, and they use the
committed default scenario's generator arguments."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

import pytest

from pyuniproc.accuracy import protocol

REPO = Path(__file__).resolve().parents[2]


def test_test_and_tuning_seeds_are_disjoint_and_split():
    assert set(protocol.TEST_SEEDS).isdisjoint(protocol.TUNING_SEEDS)
    assert len(protocol.TEST_SEEDS) >= 6
    assert all(scene.spec.split == "test" for scene in protocol.scenes("test"))
    assert all(scene.spec.split == "train" for scene in protocol.scenes("train"))


def test_validation_seeds_are_tuning_split_scenes_apart_from_both_lists():
    assert set(protocol.VALIDATION_SEEDS).isdisjoint(protocol.TUNING_SEEDS)
    assert set(protocol.VALIDATION_SEEDS).isdisjoint(protocol.TEST_SEEDS)
    assert all(s.spec.split == "train" for s in protocol.scenes("train", list(protocol.VALIDATION_SEEDS)))


def test_a_tuning_seed_cannot_be_a_test_scene():
    with pytest.raises(ValueError, match="tuning seed"):
        protocol.SceneChoice(protocol.TUNING_SEEDS[0], "test")


def test_scenes_use_the_default_scenarios_arguments():
    default = json.loads((REPO / "samples" / "scenario_default" / "scenario.json").read_text())["spec"]
    spec = asdict(protocol.scenes("test")[0].spec)
    for key in ("cameras", "people", "seconds", "fps", "width", "height", "distractors", "overlaps", "crf"):
        assert spec[key] == default[key], key


def test_shortened_scenes_say_so_in_their_name():
    scene = protocol.scenes("test", [301], seconds=5)[0]
    assert scene.name == "test-s301-5s"
    assert scene.spec.seconds == 5.0
