"""Corrections: a wrong merge is undone when later evidence is stronger, and the change is announced."""

from __future__ import annotations

from fusionkit import GREEN, RED, Visit, config, final_id, first_id, make_site, play

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
