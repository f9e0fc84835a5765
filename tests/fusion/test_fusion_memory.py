"""Bounded memory: identities expire after the longest travel window, so a long run stays flat."""

from __future__ import annotations

from fusionkit import BLUE, GREEN, GREY, RED, Visit, config, crowd, idle, make_site, play

from pyuniproc.fusion import Fusion, FusionConfig


def test_ten_thousand_people_pass_through_and_memory_stays_flat():
    # 10 arrivals per second for 1,000 s; each person spends 1-2 s in each of two of the four cameras
    # (travel 3..8 s), seen once a second.
    scene = crowd(10_000, cameras=4, arrivals_per_second=10.0, fps=1.0, dim=32, dwell=(1.0, 2.0))
    fusion = Fusion(scene.site, FusionConfig())
    samples = []
    for camera, pts, detections in scene.frames:
        fusion.update(camera, pts, detections)
        if camera == "cam4" and pts % 50 == 0 and pts >= 50:
            stats = fusion.stats()
            samples.append((stats["active_identities"], stats["tracks_in_memory"], stats["store_capacity"]))
    fusion.flush()
    stats = fusion.stats()
    identities, tracks, capacity = zip(*samples, strict=True)
    # People present + those who left less than `retire_after_seconds` ago (the longest window, re-entry's
    # 12 s + 1 s travel slack, plus 5 s expiry slack): about 10/s * 28 s.
    assert fusion.retire_after_seconds == 18.0
    assert max(identities) < 400
    assert max(identities[len(identities) // 2 :]) <= 1.2 * max(identities[: len(identities) // 2])
    assert max(tracks) < 400
    assert capacity[-1] == capacity[0]  # the tables stopped growing after the first minute
    assert stats["identities_created"] >= 9_000  # most people really got their own id...
    assert stats["identities_retired"] == stats["identities_created"] - stats["active_identities"]


def test_an_identity_is_retired_after_the_longest_window_and_not_before():
    site = make_site(links=[("cam1", "cam2", 4.0, 10.0)])
    fusion = Fusion(site, config(expiry_slack_seconds=2.0, reentry_max_seconds=8.0))  # 10 s + 0 slack + 2 s
    play(fusion, [Visit("cam1", 1, 0.0, 3.0, RED)], until=14.8)
    assert fusion.stats()["active_identities"] == 1  # last seen at 3 s: kept until 15 s
    idle(fusion, 15.0, 15.4)
    assert fusion.stats()["active_identities"] == 0
    (retired,) = [e for e in fusion.events() if e["event"] == "retired"]
    assert (retired["global_id"], retired["last_seen"], retired["reason"]) == (1, 3.0, "expired")


def test_max_identities_is_a_hard_cap():
    site = make_site(links=[("cam1", "cam2", 4.0, 10.0)])
    fusion = Fusion(site, config(max_identities=3, retire_after_seconds=1000.0))
    looks = [RED, GREEN, BLUE, GREY, -RED]  # five different people, one after the other
    play(fusion, [Visit("cam1", i + 1, 4.0 * i, 4.0 * i + 1, look) for i, look in enumerate(looks)])
    assert fusion.stats()["active_identities"] == 3
    assert [e["reason"] for e in fusion.events() if e["event"] == "retired"] == ["capacity", "capacity"]
