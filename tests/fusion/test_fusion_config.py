"""FusionConfig: bad values are rejected up front, quoting the value; YAML mappings are checked by name."""

from __future__ import annotations

import pytest

from pyuniproc.fusion import ABLATIONS, FusionConfig


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"match_threshold": 1.5}, r"match_threshold must be in \[-1.0, 1.0\], got 1.5"),
        ({"split_threshold": 0.7}, r"split_threshold must be at most match_threshold, got 0.7"),
        ({"appearance_margin": -0.1}, r"appearance_margin must be >= 0, got -0.1"),
        ({"min_embeddings": 0}, r"min_embeddings must be an integer >= 1, got 0"),
        ({"min_embeddings": 2.5}, r"min_embeddings must be an integer >= 1, got 2.5"),
        ({"window_seconds": 0.0}, r"window_seconds must be > 0, got 0.0"),
        ({"decision_seconds": -1.0}, r"decision_seconds must be >= 0, got -1.0"),
        ({"decision_seconds": 5.0}, r"max_pending_seconds must be at least decision_seconds, got 2.0"),
        (
            {"reentry_min_seconds": 20.0},
            r"reentry_max_seconds must be at least reentry_min_seconds, got 12.0",
        ),
        ({"track_timeout_seconds": float("nan")}, r"track_timeout_seconds must be a finite number, got nan"),
        ({"retire_after_seconds": 0.0}, r"retire_after_seconds must be > 0 or null, got 0.0"),
        ({"use_topology": "yes"}, r"use_topology must be true or false, got 'yes'"),
        ({"use_topology": False}, r"use_travel_time=true needs use_topology=true"),
        ({"max_identities": 0}, r"max_identities must be an integer >= 1, got 0"),
        ({"covisibility_bonus": True}, r"covisibility_bonus must be a finite number, got True"),
    ],
)
def test_bad_values_are_rejected_with_the_value(overrides, message):
    with pytest.raises(ValueError, match=message):
        FusionConfig(**overrides)


def test_defaults_are_valid_and_ablations_flip_the_two_switches():
    config = FusionConfig()
    assert (config.use_topology, config.use_travel_time) == (True, True)
    assert set(ABLATIONS) == {"appearance", "topology", "travel_time"}
    assert (config.ablation("appearance").use_topology, config.ablation("appearance").use_travel_time) == (
        False,
        False,
    )
    assert (config.ablation("topology").use_topology, config.ablation("topology").use_travel_time) == (
        True,
        False,
    )
    with pytest.raises(ValueError, match="unknown fusion ablation 'colour'"):
        config.ablation("colour")


def test_from_mapping_reads_a_yaml_block_and_rejects_typos():
    config = FusionConfig.from_mapping({"match_threshold": 0.7, "ablation": "topology", "window_seconds": 1})
    assert (config.match_threshold, config.use_travel_time, config.window_seconds) == (0.7, False, 1)
    assert FusionConfig.from_mapping(None) == FusionConfig()
    with pytest.raises(ValueError, match=r"unknown fusion setting\(s\) \['match_treshold'\]"):
        FusionConfig.from_mapping({"match_treshold": 0.7})
    with pytest.raises(ValueError, match="must be a mapping, got list"):
        FusionConfig.from_mapping([0.7])


def test_reconfigure_applies_thresholds_to_the_running_fusion_and_refuses_floor_settings():
    from dataclasses import replace

    from pyuniproc.config.cameras import Topology
    from pyuniproc.fusion import Fusion

    fusion = Fusion(Topology(links=(), overlaps=(("cam1", "cam2"),)))
    retire_before = fusion.retire_after_seconds
    fusion.reconfigure(replace(fusion.config, match_threshold=0.9, reentry_max_seconds=60.0))
    assert fusion.config.match_threshold == 0.9
    assert fusion.retire_after_seconds > retire_before  # the longest window grew with re-entry
    with pytest.raises(ValueError, match="floor_bonus are fixed at start"):
        fusion.reconfigure(replace(fusion.config, floor_bonus=0.1))
    assert fusion.config.floor_bonus == FusionConfig().floor_bonus
