"""Corrections: a wrong merge is undone when later evidence is stronger, and the change is announced."""

from __future__ import annotations

from fusionkit import GREEN, RED, Visit, config, final_id, first_id, make_site, play, with_similarities

from pyuniproc.fusion import Fusion

SITE = make_site(links=[("cam1", "cam2", 2.0, 10.0), ("cam4", "cam2", 2.0, 10.0)])


def corrections(fusion: Fusion) -> list[tuple[str, int, int, int, str]]:
    return [
        (e["camera_id"], e["track_id"], e["from_global_id"], e["to_global_id"], e["reason"])
        for e in fusion.events()
        if e["event"] == "corrected"
    ]


def test_a_track_that_turns_out_to_look_different_is_split_off():
    # Ann (RED) leaves cam1 at 3 s. At 6 s someone enters cam2 who looks RED for 2 s (backlit), then GREEN.
    # They are linked to Ann at first; once their mean looks unlike Ann (cosine < split_threshold 0.4),
    # they get an identity of their own - and Ann's descriptor is Ann's alone again.
    fusion = Fusion(SITE, config(retire_after_seconds=60.0))
    out = play(
        fusion, [Visit("cam1", 1, 0.0, 3.0, RED), Visit("cam2", 1, 6.0, 14.0, RED, GREEN, change_at=8.0)]
    )
    ann = final_id(fusion, out, "cam1", 1)
    rows = dict(out[("cam2", 1)])
    assert first_id(out, "cam2", 1) == ann  # the first, wrong, decision
    stranger = final_id(fusion, out, "cam2", 1)
    assert stranger not in (ann, -1)
    assert corrections(fusion) == [("cam2", 1, ann, stranger, "appearance_split")]
    split_at = min(pts for pts, gid in rows.items() if gid == stranger)
    assert all(gid == stranger for pts, gid in rows.items() if pts >= split_at)
    store = fusion._store
    assert store.unit[store.row(ann)].tolist() == RED.tolist()


def test_a_track_is_relinked_when_another_identity_fits_much_better():
    # As above, but Bea (GREEN) also left cam4 in time to be the newcomer: the newcomer moves to Bea.
    fusion = Fusion(SITE, config())
    out = play(
        fusion,
        [
            Visit("cam1", 1, 0.0, 3.0, RED),
            Visit("cam4", 1, 0.0, 3.0, GREEN),
            Visit("cam2", 1, 6.0, 14.0, RED, GREEN, change_at=8.0),
        ],
    )
    ann, bea = final_id(fusion, out, "cam1", 1), final_id(fusion, out, "cam4", 1)
    assert first_id(out, "cam2", 1) == ann
    assert final_id(fusion, out, "cam2", 1) == bea
    assert corrections(fusion) == [("cam2", 1, ann, bea, "appearance_relink")]
    assert [(t.global_id, t.from_camera, t.to_camera) for t in fusion.transitions] == [(bea, "cam4", "cam2")]


def test_a_conflict_splits_off_the_later_assignment():
    # Ann leaves cam1's view at 3 s (occluded; fusion ends her track after 2 s) and a lookalike enters cam2 at
    # 6 s: linked to Ann. At 8 s cam1's tracker finds Ann again under the same track id - she never left.
    # One person cannot be in cam1 and cam2 at once: the later link (cam2) is undone.
    fusion = Fusion(SITE, config())
    out = play(
        fusion,
        [Visit("cam1", 1, 0.0, 3.0, RED), Visit("cam1", 1, 8.0, 12.0, RED), Visit("cam2", 1, 6.0, 12.0, RED)],
    )
    ann, other = final_id(fusion, out, "cam1", 1), final_id(fusion, out, "cam2", 1)
    assert ann != other
    assert first_id(out, "cam2", 1) == ann
    assert corrections(fusion) == [("cam2", 1, ann, other, "conflict")]
    cam1 = dict(out[("cam1", 1)])
    for pts, gid in out[("cam2", 1)]:
        if pts >= 8.0:
            assert gid != cam1[pts]


def test_two_halves_of_one_person_in_overlapping_views_are_merged():
    # Seen at once in two overlapping views but first decided apart (the second view's first embedding
    # was poor): re-evaluation merges them as soon as the appearance agrees.
    site = make_site(overlaps=[("cam1", "cam2")])
    fusion = Fusion(site, config())
    out = play(
        fusion, [Visit("cam1", 1, 0.0, 6.0, RED), Visit("cam2", 1, 0.0, 6.0, GREEN, RED, change_at=0.2)]
    )
    assert final_id(fusion, out, "cam1", 1) == final_id(fusion, out, "cam2", 1)
    events = fusion.events()
    retired = [e for e in events if e["event"] == "retired"]
    assert [e["reason"] for e in retired] == ["emptied"]  # the short-lived second id is given up


def test_a_bonus_the_own_identity_earns_too_does_not_pull_a_track_away():
    # Ann left cam1 and Bea left cam4 at 3 s; at 6 s someone enters cam2 who looks like Ann (cosine 0.9) a bit
    # more than like Bea (0.85). Both walks fit the 2..10 s links, so both identities earn the 0.1
    # transition bonus: Ann 1.0 against Bea 0.95. Re-evaluation must compare like with like: before the fix
    # it scored the own identity without its bonus (0.9) against Bea with hers (0.95 >= 0.9 + the 0.05
    # correction margin) and moved the newcomer to Bea on the next embedding.
    ann, bea, newcomer = with_similarities([[1.0, 0.8, 0.9], [0.8, 1.0, 0.85], [0.9, 0.85, 1.0]])
    fusion = Fusion(SITE, config(transition_bonus=0.1, correction_margin=0.05))
    out = play(
        fusion,
        [
            Visit("cam1", 1, 0.0, 3.0, ann),
            Visit("cam4", 1, 0.0, 3.0, bea),
            Visit("cam2", 1, 6.0, 14.0, newcomer),
        ],
    )
    assert first_id(out, "cam2", 1) == final_id(fusion, out, "cam2", 1) == final_id(fusion, out, "cam1", 1)
    assert corrections(fusion) == []
