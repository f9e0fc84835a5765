"""Whole-identity joins (`merge_margin`): a young identity made of one person's two overlapping views
joins the older identity it continues, all its tracks at once - and only across time."""

from __future__ import annotations

import pytest
from fusionkit import GREEN, RED, Visit, config, final_id, first_id, make_site, play

from pyuniproc.fusion import Fusion, FusionConfig

# cam1 leads to cam2 in 2-10 s; cam2 and cam3 look at one place.
SITE = make_site(links=[("cam1", "cam2", 2.0, 10.0)], overlaps=[("cam2", "cam3")])


def ann_walks_on(fusion: Fusion) -> dict:
    # Ann (RED) leaves cam1 at 3 s and enters the overlapping cam2 and cam3 at 6 s, backlit for 2 s
    # (GREEN), then RED. Both new tracks start one identity together (each the other's lookalike).
    return play(
        fusion,
        [
            Visit("cam1", 1, 0.0, 3.0, RED),
            Visit("cam2", 1, 6.0, 14.0, GREEN, RED, change_at=8.0),
            Visit("cam3", 1, 6.0, 14.0, GREEN, RED, change_at=8.0),
        ],
    )


def test_without_merges_the_two_views_hold_each_other_apart_from_the_earlier_identity():
    fusion = Fusion(SITE, config(use_floor=False))
    out = ann_walks_on(fusion)
    ann = final_id(fusion, out, "cam1", 1)
    both = final_id(fusion, out, "cam2", 1)
    assert both == final_id(fusion, out, "cam3", 1) != ann


def test_a_young_identity_joins_the_older_one_it_continues_with_all_its_tracks():
    fusion = Fusion(SITE, config(use_floor=False, merge_margin=0.1))
    out = ann_walks_on(fusion)
    ann = final_id(fusion, out, "cam1", 1)
    young = first_id(out, "cam2", 1)
    assert young != ann
    assert final_id(fusion, out, "cam2", 1) == final_id(fusion, out, "cam3", 1) == ann
    moved = sorted(
        (e["camera_id"], e["from_global_id"], e["to_global_id"], e["reason"])
        for e in fusion.events() if e["event"] == "corrected"
    )
    assert moved == [("cam2", young, ann, "identity_merge"), ("cam3", young, ann, "identity_merge")]
    assert fusion.stats()["identity_merges"] == 1
    assert young not in fusion._store  # emptied and given up


def test_no_merge_with_an_identity_seen_at_the_same_time():
    # Ann is still in cam1 (not linked to cam3, not overlapping it) while a RED lookalike walks in cam3:
    # one person cannot be in both, so however alike, the two identities stay apart.
    fusion = Fusion(SITE, config(use_floor=False, merge_margin=0.0))
    out = play(
        fusion, [Visit("cam1", 1, 0.0, 14.0, RED), Visit("cam3", 1, 6.0, 14.0, GREEN, RED, change_at=8.0)]
    )
    assert final_id(fusion, out, "cam1", 1) != final_id(fusion, out, "cam3", 1)


def test_no_merge_below_the_threshold_plus_margin():
    fusion = Fusion(SITE, config(use_floor=False, merge_margin=0.4))  # would need cosine >= 1.0
    out = ann_walks_on(fusion)
    assert final_id(fusion, out, "cam2", 1) != final_id(fusion, out, "cam1", 1)


@pytest.mark.parametrize("value", ["0.1", float("nan"), True])
def test_merge_margin_must_be_a_number_or_null(value):
    with pytest.raises(ValueError, match="merge_margin"):
        FusionConfig(merge_margin=value)
    assert FusionConfig().merge_margin is None
    assert FusionConfig(merge_margin=-0.05).merge_margin == -0.05
