"""Labelled GT crops of a generated scenario, on the committed default scenario (one camera, few frames)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from pyuniproc.reid.scenario_crops import collect_scenario_crops, identity_key

SCENARIO = Path(__file__).resolve().parents[2] / "samples" / "scenario_default"


@pytest.fixture(scope="module")
def crops():
    return collect_scenario_crops(SCENARIO, frame_step=25, cameras=["cam2"])


def test_rows_are_labelled_quality_gated_gt_crops(crops):
    people = {p["id"]: p for p in json.loads((SCENARIO / "identities.json").read_text())["people"]}
    assert 20 <= len(crops) <= 200
    columns = ("person_ids", "cameras", "frames", "quality", "sprite", "split", "recoloured", "identity_key",
               "visibility", "boxes")
    assert all(len(getattr(crops, name)) == len(crops) for name in columns)
    assert set(crops.cameras) == {"cam2"} and np.all(crops.frames % 25 == 0)
    assert all(c.dtype == np.uint8 and c.ndim == 3 and c.shape[2] == 3 for c in crops.crops)
    heights = crops.boxes[:, 3] - crops.boxes[:, 1]
    assert heights.min() >= 48 and np.all(crops.quality > 0)  # QualityGate defaults
    for pid, sprite, split, key in zip(crops.person_ids, crops.sprite, crops.split, crops.identity_key,
                                       strict=True):
        person = people[int(pid)]
        assert (sprite, split) == (person["sprite_identity"], person["split"])
        assert key == identity_key(7, person)  # the default scenario's seed


def test_identity_key_is_the_sprite_unless_recoloured():
    assert identity_key(3, {"id": 5, "sprite_identity": 22, "recoloured": False}) == "sprite:22"
    assert identity_key(3, {"id": 5, "sprite_identity": 22, "recoloured": True}) == "seed3:person5"


def test_jitter_moves_the_same_rows_reproducibly(crops):
    jittered = collect_scenario_crops(SCENARIO, frame_step=25, cameras=["cam2"], jitter=0.1, seed=1)
    again = collect_scenario_crops(SCENARIO, frame_step=25, cameras=["cam2"], jitter=0.1, seed=1)
    np.testing.assert_array_equal(jittered.person_ids, crops.person_ids)
    np.testing.assert_array_equal(jittered.boxes, again.boxes)
    assert not np.allclose(jittered.boxes, crops.boxes)
    assert np.abs(jittered.boxes - crops.boxes).mean() < 0.2 * (crops.boxes[:, 3] - crops.boxes[:, 1]).mean()


def test_max_per_track_keeps_an_even_spread():
    few = collect_scenario_crops(SCENARIO, frame_step=25, cameras=["cam2"], max_per_track=2)
    _, counts = np.unique(few.person_ids, return_counts=True)
    assert counts.max() <= 2


@pytest.mark.parametrize("kwargs, message", [
    ({"frame_step": 0}, r"frame_step must be >= 1, got 0"),
    ({"boxes": "tracker"}, r"boxes must be one of \('gt', 'detector'\), got 'tracker'"),
    ({"boxes": "detector", "jitter": 0.1}, r"jitter must be >= 0 and applies to GT boxes only"),
    ({"jitter": -0.1}, r"jitter must be >= 0"),
])
def test_bad_arguments_are_refused(kwargs, message):
    with pytest.raises(ValueError, match=message):
        collect_scenario_crops(SCENARIO, **kwargs)


def test_detections_are_matched_to_gt_one_to_one_by_best_iou():
    from pyuniproc.reid.scenario_crops import _match

    gt = np.array([[0, 0, 10, 20], [100, 0, 110, 20], [200, 0, 210, 20]], np.float32)
    found = np.array([[101, 1, 111, 21], [0, 0, 10, 19], [1, 0, 11, 20], [300, 0, 310, 20]], np.float32)
    gt_rows, det_rows = _match(gt, found, 0.5)
    # gt 0 takes the tighter of its two candidates; gt 2 has none; detection 3 matches nothing.
    assert gt_rows.tolist() == [0, 1] and det_rows.tolist() == [1, 0]
    assert [len(a) for a in _match(gt, found[:0], 0.5)] == [0, 0]
