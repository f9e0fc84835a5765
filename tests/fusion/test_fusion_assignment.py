"""Joint assignment: Hungarian beats greedy on swaps; close calls wait; overlapping views share an id."""

from __future__ import annotations

import numpy as np
from fusionkit import BLUE, RED, Visit, config, final_id, make_site, play, unit, with_similarities

from pyuniproc.fusion import NEW_IDENTITY, Fusion, assign_jointly

# Similarities of Ann and Bea (seen first) with the two people who appear next: "t1" is really Bea but
# looks a bit more like Ann; "t2" is really Ann and does not look like Bea at all.
#          ann   bea   t1    t2
GRAM = [
    [1.00, 0.60, 0.90, 0.88],
    [0.60, 1.00, 0.85, 0.60],
    [0.90, 0.85, 1.00, 0.80],
    [0.88, 0.60, 0.80, 1.00],
]


def greedy(scores: np.ndarray, threshold: float) -> dict[int, int]:
    """Best pair first, the way a naive matcher does it (for comparison only)."""
    scores, chosen = scores.copy(), {}
    while (scores >= threshold).any():
        row, col = np.unravel_index(np.argmax(scores), scores.shape)
        chosen[int(row)] = int(col)
        scores[row, :] = scores[:, col] = -np.inf
    return chosen


def test_hungarian_solves_the_swap_that_greedy_gets_wrong():
    scores = np.array(
        [
            [0.90, 0.85],  # t1 vs ann, bea
            [0.88, 0.60],
        ]
    )  # t2 vs ann, bea
    assert greedy(scores, 0.7) == {0: 0}  # greedy: t1 -> ann, and t2 left over as a new person
    decisions = assign_jointly(scores, np.ones((2, 2), bool), new_score=0.7, margin=0.05)
    assert [(d.row, d.column) for d in decisions] == [(0, 1), (1, 0)]
    # Forbidding either decision costs the joint optimum 1.73 - 1.60 = 0.13.
    assert [round(d.margin, 6) for d in decisions] == [0.13, 0.13]


def test_a_match_barely_above_threshold_has_a_small_margin():
    (decision,) = assign_jointly(np.array([[0.72]]), np.array([[True]]), new_score=0.7, margin=0.05)
    assert decision.column == 0 and round(decision.margin, 6) == 0.02  # "new" would score 0.70
    (decision,) = assign_jointly(np.array([[0.68]]), np.array([[True]]), new_score=0.7, margin=0.05)
    assert decision.column == NEW_IDENTITY and round(decision.margin, 6) == 0.02


def test_gating_is_absolute_and_competition_is_joint():
    scores = np.array(
        [
            [0.72, 0.99],  # row 0 may not take column 1 whatever it scores
            [0.95, 0.30],
        ]
    )
    feasible = np.array([[True, False], [True, True]])
    decisions = assign_jointly(scores, feasible, new_score=0.7, margin=0.05)
    assert [(d.row, d.column) for d in decisions] == [(0, NEW_IDENTITY), (1, 0)]
    assert [round(d.margin, 6) for d in decisions] == [0.23, 0.23]  # 1.65 vs 0.72 + 0.70


def test_two_people_swapping_cameras_are_assigned_jointly():
    ann, bea, t1, t2 = with_similarities(GRAM)
    # Ann leaves cam1 and Bea leaves cam2 at 10 s; at 15 s one person enters cam3 and one enters cam4
    # (both doors are 3..8 s from both cameras). Only the joint answer gets both right.
    links = [(a, b, 3.0, 8.0) for a in ("cam1", "cam2") for b in ("cam3", "cam4")]
    fusion = Fusion(make_site(links=links), config(match_threshold=0.7))
    visits = [
        Visit("cam1", 1, 0.0, 10.0, ann),
        Visit("cam2", 1, 0.0, 10.0, bea),
        Visit("cam3", 1, 15.0, 18.0, t1),
        Visit("cam4", 1, 15.0, 18.0, t2),
    ]
    out = play(fusion, visits)
    ids = {v.camera: final_id(fusion, out, v.camera, v.track) for v in visits}
    assert ids["cam3"] == ids["cam2"]  # t1 is Bea
    assert ids["cam4"] == ids["cam1"]  # t2 is Ann
    assert not [e for e in fusion.events() if e["event"] == "corrected"]  # right the first time


def test_an_ambiguous_track_waits_for_more_evidence():
    # Two people who look alike (cosine 0.9) both left cam1 in time to be the newcomer in cam2; the newcomer
    # looks equally like both for its first second, then like the second. It stays pending (-1, with
    # tentative ids off) until the evidence separates them by the 0.05 margin (6 more embeddings), well
    # before the 4 s deadline.
    ann, bea = RED, unit(0.9, 0.19**0.5, 0, 0)
    site = make_site(links=[("cam1", "cam2", 2.0, 10.0)])
    fusion = Fusion(site, config(max_pending_seconds=4.0, tentative_ids=False))
    halfway = unit(*(ann + bea))
    out = play(
        fusion,
        [
            Visit("cam1", 1, 0.0, 3.0, ann),
            Visit("cam1", 2, 0.0, 3.0, bea),
            Visit("cam2", 1, 6.0, 10.0, halfway, looks_later=bea, change_at=7.0),
        ],
    )
    assert final_id(fusion, out, "cam1", 1) != final_id(fusion, out, "cam1", 2)
    decided_at = min(pts for pts, gid in out[("cam2", 1)] if gid != -1)
    assert 8.0 <= decided_at <= 8.6
    assert final_id(fusion, out, "cam2", 1) == final_id(fusion, out, "cam1", 2)
    assert fusion.stats()["deferrals"] > 0


def test_overlapping_views_share_one_id_at_the_same_time():
    site = make_site(links=[("cam2", "cam3", 3.0, 8.0)], overlaps=[("cam1", "cam2")])
    for cam2_start in (0.0, 0.2, 3.0):
        fusion = Fusion(site, config())
        out = play(
            fusion,
            [
                Visit("cam1", 1, 0.0, 8.0, RED),
                Visit("cam2", 4, cam2_start, 8.0, RED),
                Visit("cam2", 5, 0.0, 8.0, BLUE),
            ],
        )
        assert final_id(fusion, out, "cam1", 1) == final_id(fusion, out, "cam2", 4)
        assert final_id(fusion, out, "cam2", 5) != final_id(fusion, out, "cam1", 1)


def test_one_id_is_never_in_two_non_overlapping_cameras_at_once():
    # Six lookalikes (all RED) walk a ring of four cameras, 4..8 s apart; cam1 and cam2 overlap.
    site = make_site(
        links=[("cam1", "cam3", 4.0, 8.0), ("cam3", "cam4", 4.0, 8.0), ("cam4", "cam2", 4.0, 8.0)],
        overlaps=[("cam1", "cam2")],
    )
    fusion = Fusion(site, config())
    visits, track = [], 0
    for person in range(6):
        start = 2.0 * person
        for camera in ("cam1", "cam3", "cam4", "cam2"):
            track += 1
            visits.append(Visit(camera, track, start, start + 3.0, RED))
            start += 3.0 + 5.0
    out = play(fusion, visits)
    seen: dict[tuple[float, int], set[str]] = {}
    for (camera, _), rows in out.items():
        for pts, gid in rows:
            if gid != -1:
                seen.setdefault((pts, gid), set()).add(camera)
    for cameras in seen.values():
        assert len(cameras) == 1 or cameras == {"cam1", "cam2"}
