"""Space-time constraints: a perfect appearance match is merged only where the site allows it."""

from __future__ import annotations

import numpy as np
import pytest
from fusionkit import BLUE, RED, Visit, config, final_id, first_id, make_site, play, with_similarities

from pyuniproc.fusion import Fusion, Gate

# People walk cam1 <-> cam2 in 4..10 s; cam3 is on its own; cam4 is 3..6 s from cam2.
SITE = make_site(links=[("cam1", "cam2", 4.0, 10.0), ("cam2", "cam4", 3.0, 6.0)])


@pytest.mark.parametrize(
    ("gap_seconds", "merged"),
    [
        (2.0, False),  # too early: nobody walks it that fast
        (3.6, False),
        (4.4, True),  # inside the window
        (7.0, True),
        (9.6, True),
        (10.6, False),  # too late: must be someone else
        (30.0, False),
    ],
)
def test_travel_time_window_is_respected(gap_seconds, merged):
    fusion = Fusion(SITE, config())
    left_cam1_at = 3.0
    visits = [
        Visit("cam1", 1, 0.0, left_cam1_at, RED),
        Visit("cam2", 1, left_cam1_at + gap_seconds, left_cam1_at + gap_seconds + 2.0, RED),
    ]
    out = play(fusion, visits)
    same = final_id(fusion, out, "cam1", 1) == final_id(fusion, out, "cam2", 1)
    assert same is merged


@pytest.mark.parametrize("gap_seconds", [1.0, 5.0, 8.0, 20.0])
def test_cameras_without_a_link_are_never_merged(gap_seconds):
    fusion = Fusion(SITE, config())
    out = play(
        fusion, [Visit("cam1", 1, 0.0, 3.0, RED), Visit("cam3", 1, 3.0 + gap_seconds, 6.0 + gap_seconds, RED)]
    )
    assert final_id(fusion, out, "cam1", 1) != final_id(fusion, out, "cam3", 1)


@pytest.mark.parametrize(("gap_seconds", "merged"), [(1.0, True), (4.0, True), (7.0, False)])
def test_same_camera_reentry_merges_within_its_window(gap_seconds, merged):
    fusion = Fusion(SITE, config(reentry_max_seconds=5.0))
    out = play(
        fusion, [Visit("cam3", 1, 0.0, 3.0, RED), Visit("cam3", 2, 3.0 + gap_seconds, 6.0 + gap_seconds, RED)]
    )
    assert (final_id(fusion, out, "cam3", 1) == final_id(fusion, out, "cam3", 2)) is merged


def test_lookalikes_are_told_apart_by_timing():
    # Ann and Bea look identical (both RED). Ann leaves cam1 at 3 s; Bea walks through cam1 later (12-15 s,
    # too late to be Ann coming back). At 20 s a RED person enters cam2: 17 s after Ann left cam1 (more than
    # the 10 s a walk takes), 5 s after Bea left: it can only be Bea. (Ann is still remembered then.)
    fusion = Fusion(SITE, config(reentry_max_seconds=5.0, retire_after_seconds=60.0))
    out = play(
        fusion,
        [
            Visit("cam1", 1, 0.0, 3.0, RED),
            Visit("cam1", 2, 12.0, 15.0, RED),
            Visit("cam2", 1, 20.0, 23.0, RED),
        ],
    )
    ann, bea, later = (final_id(fusion, out, c, t) for c, t in [("cam1", 1), ("cam1", 2), ("cam2", 1)])
    assert ann != bea
    assert later == bea


def test_lookalikes_seen_at_once_in_two_cameras_get_two_ids():
    fusion = Fusion(SITE, config())
    out = play(fusion, [Visit("cam1", 1, 0.0, 6.0, RED), Visit("cam2", 1, 1.0, 5.0, RED)])
    ids_cam1 = dict(out[("cam1", 1)])
    for pts, gid in out[("cam2", 1)]:
        assert gid != ids_cam1[pts] or gid == -1


def test_a_chain_of_cameras_keeps_one_id():
    fusion = Fusion(SITE, config())
    visits = [
        Visit("cam1", 5, 0.0, 3.0, BLUE),
        Visit("cam2", 8, 9.0, 12.0, BLUE),
        Visit("cam4", 2, 16.0, 19.0, BLUE),
    ]
    out = play(fusion, visits)
    assert len({final_id(fusion, out, v.camera, v.track) for v in visits}) == 1
    assert [(t.from_camera, t.to_camera, t.travel_seconds) for t in fusion.transitions] == [
        ("cam1", "cam2", 6.0),
        ("cam2", "cam4", 4.0),
    ]


@pytest.mark.parametrize(
    ("ablation", "merged_unlinked", "merged_too_late"),
    [
        ("appearance", True, True),  # appearance alone merges both
        ("topology", False, True),  # topology forbids the unlinked camera, not the slow walk
        ("travel_time", False, False),  # travel times forbid the slow walk too
    ],
)
def test_ablation_switches_change_decisions(ablation, merged_unlinked, merged_too_late):
    unlinked = Fusion(SITE, config().ablation(ablation))
    out = play(unlinked, [Visit("cam1", 1, 0.0, 3.0, RED), Visit("cam3", 1, 8.0, 10.0, RED)])
    assert (final_id(unlinked, out, "cam1", 1) == final_id(unlinked, out, "cam3", 1)) is merged_unlinked

    too_late = Fusion(SITE, config(retire_after_seconds=60.0).ablation(ablation))
    out = play(too_late, [Visit("cam1", 1, 0.0, 3.0, RED), Visit("cam2", 1, 25.0, 27.0, RED)])
    assert (final_id(too_late, out, "cam1", 1) == final_id(too_late, out, "cam2", 1)) is merged_too_late


@pytest.mark.parametrize("lagging", ["cam1", "cam2"])
def test_a_camera_whose_frames_arrive_late_changes_nothing(lagging):
    # One camera's frames reach fusion 0.8 s after the others' (network, decoder queue). The hand-over
    # is still found and the lookalike seen at the same time in the other camera still kept apart (and
    # too long gone from cam2 to be the one coming back).
    fusion = Fusion(SITE, config(reentry_max_seconds=3.0))
    visits = [
        Visit("cam1", 1, 0.0, 3.0, BLUE),
        Visit("cam2", 1, 7.0, 9.0, BLUE),
        Visit("cam2", 2, 1.0, 2.0, BLUE),
    ]
    out = play(fusion, visits, lag={lagging: 0.8})
    walker = {final_id(fusion, out, "cam1", 1), final_id(fusion, out, "cam2", 1)}
    assert len(walker) == 1
    assert final_id(fusion, out, "cam2", 2) not in walker


def test_covisibility_bonus_goes_to_whoever_both_views_picked_up_at_once():
    # cam1 and cam2 overlap. Ann has stood in cam1 since 0 s; Bea walks into cam1 at 5 s and, 0.2 s later,
    # someone walks into cam2 who looks a little more like Ann (cosine 0.82) than like Bea (0.80). Both
    # are co-visible; only Bea entered with the newcomer, so only she earns the bonus (in full at 0 s
    # apart, none at `overlap_handoff_seconds` = 1 s apart or more): 0.8 + 0.16 beats 0.82. Before, both
    # earned it and Ann's look won.
    ann, bea, newcomer = with_similarities([[1.0, 0.5, 0.82], [0.5, 1.0, 0.8], [0.82, 0.8, 1.0]])
    site = make_site(overlaps=[("cam1", "cam2")])
    fusion = Fusion(site, config(covisibility_bonus=0.2, overlap_handoff_seconds=1.0))
    out = play(
        fusion,
        [
            Visit("cam1", 1, 0.0, 12.0, ann),
            Visit("cam1", 2, 5.0, 12.0, bea),
            Visit("cam2", 1, 5.2, 12.0, newcomer),
        ],
    )
    assert first_id(out, "cam2", 1) == final_id(fusion, out, "cam2", 1) == final_id(fusion, out, "cam1", 2)


def gate(ablation: str, slack: float = 2.0) -> Gate:
    cfg = config(transition_bonus=0.1, covisibility_bonus=0.2, travel_time_slack_seconds=slack).ablation(
        ablation
    )
    return Gate.from_config(["cam1", "cam2", "cam3", "cam4"], SITE.topology, cfg)


@pytest.mark.parametrize(
    ("ablation", "gap_seconds", "feasible", "bonus"),
    [
        ("travel_time", 4.0, True, 0.1),  # cam1 -> cam2 is a 4..10 s walk: in full inside it
        ("travel_time", 7.0, True, 0.1),
        ("travel_time", 10.0, True, 0.1),
        ("travel_time", 3.0, True, 0.05),  # in the 2 s slack: fading
        ("travel_time", 11.5, True, 0.025),
        ("travel_time", 13.0, False, 0.0),  # past the slack
        ("topology", 30.0, True, 0.1),  # linked cameras, any time: the prior of the link alone
        ("appearance", 7.0, True, 0.0),  # no site knowledge, no bonus
    ],
)
def test_transition_bonus_is_paid_inside_the_window_and_fades_across_the_slack(
    ablation, gap_seconds, feasible, bonus
):
    # Someone left cam1 at 10 s; a track enters cam2 `gap_seconds` later.
    visit_first, visit_last = np.full((1, 4), np.nan), np.full((1, 4), np.nan)
    visit_first[0, 0], visit_last[0, 0] = 5.0, 10.0
    enter = 10.0 + gap_seconds
    result = gate(ablation).check(
        np.array([1]), np.array([enter]), np.array([enter + 1.0]), visit_first, visit_last
    )
    assert bool(result.feasible[0, 0]) is feasible
    assert result.bonus[0, 0] == pytest.approx(bonus, abs=1e-6)
