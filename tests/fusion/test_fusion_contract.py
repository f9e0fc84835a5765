"""The data contract: the `Detections.data` keys fusion reads and writes, and its behaviour at the edges."""

from __future__ import annotations

import doctest
import json

import numpy as np
import pytest
from fusionkit import GREEN, RED, Visit, config, crowd, frame, make_site, play

import pyuniproc.fusion
from pyuniproc.config.cameras import Link, Topology
from pyuniproc.fusion import Fusion, FusionConfig
from pyuniproc.types import NO_TRACK, Detections

SITE = make_site(links=[("cam1", "cam2", 2.0, 10.0)])


def test_package_docstring_example_runs():
    assert doctest.testmod(pyuniproc.fusion, raise_on_error=False).failed == 0


def test_output_is_the_same_rows_with_two_global_id_columns():
    fusion = Fusion(SITE, config())
    rows = Detections(
        xyxy=[[0, 0, 10, 20], [5, 5, 15, 25]],
        confidence=[0.9, 0.4],
        class_id=[0, 0],
        tracker_id=[7, NO_TRACK],
        data={"embedding": np.stack([RED, GREEN]), "crop_id": [3, 4]},
    )
    out = fusion.update("cam1", 0.0, rows)
    assert np.shares_memory(out.xyxy, rows.xyxy) and out.tracker_id.tolist() == [7, -1]
    assert out.data["crop_id"].tolist() == [3, 4]  # other columns pass through
    assert out.data["global_id"].dtype == np.int64 and out.data["global_id"].tolist() == [1, -1]
    assert out.data["global_id_confidence"].dtype == np.float32
    assert "global_id" not in rows.data  # the input is not modified


def test_rows_without_a_fresh_embedding_wait_and_a_track_with_none_gets_its_own_id_after_the_delay():
    # The decision delay is bounded: a track that never shows an embedding waits max_pending_seconds, then
    # gets an identity of its own (its first embeddings would trigger a review that may move it).
    fusion = Fusion(SITE, config(min_embeddings=2, decision_seconds=1.0, max_pending_seconds=1.5))
    out = play(
        fusion, [Visit("cam1", 1, 0.0, 2.4, np.full(4, np.nan, np.float32)), Visit("cam1", 2, 0.0, 2.4, RED)]
    )
    assert {gid for t, gid in out[("cam1", 1)] if t < 1.5} == {-1}
    assert {gid for t, gid in out[("cam1", 1)] if t >= 1.8} == {2}
    assert fusion.stats()["decision_delay_max_seconds"] <= 1.5 + 0.2  # the delay plus one round
    # Nobody else has been seen, so nobody else could be track 2: it gets its id at its first embedding.
    assert [gid for _, gid in out[("cam1", 2)]][:3] == [1, 1, 1]


def test_a_pending_track_shows_a_tentative_id_and_keeps_it_if_it_turns_out_new():
    # Ann (RED) left cam1 at 3 s; two people enter cam2 at 6 s. The decision waits for 5 embeddings (1 s),
    # but their rows show the joint answer at once, flagged tentative: Ann's id for the RED one, a
    # reserved new id for the GREEN one - the id it keeps when the decision comes.
    fusion = Fusion(SITE, config(min_embeddings=5, decision_seconds=5.0, max_pending_seconds=5.0))
    play(fusion, [Visit("cam1", 1, 0.0, 3.0, RED)], until=5.8)
    rows = []
    for step in range(8):
        pts = round(6.0 + 0.2 * step, 6)
        out = fusion.update("cam2", pts, frame([(1, RED), (2, GREEN)]))
        rows.append((out.data["global_id"].tolist(), out.data["global_id_tentative"].tolist()))
    ann = fusion.assignment("cam1", 1)
    newcomer = fusion.assignment("cam2", 2)
    assert newcomer not in (ann, -1)
    assert rows[0] == ([ann, newcomer], [True, True])
    assert rows[-1] == ([ann, newcomer], [False, False])  # decided: same ids, no longer tentative


def test_embedding_quality_weights_the_track_mean():
    # Bea (GREEN) left cam1 at 3 s. A newcomer in cam2 sends one confident GREEN embedding and two RED ones
    # of quality 0.1 (blurred): its mean is GREEN-like, so it is Bea.
    fusion = Fusion(SITE, config(min_embeddings=3, decision_seconds=5.0, max_pending_seconds=5.0))
    play(fusion, [Visit("cam1", 1, 0.0, 3.0, GREEN)], until=5.0)
    embeddings = np.stack([GREEN, RED, RED])
    for i, (pts, quality) in enumerate([(5.2, 1.0), (5.4, 0.1), (5.6, 0.1)]):
        one = frame([(4, embeddings[i])])
        one.data["embedding_quality"] = np.array([quality], np.float32)
        fusion.update("cam2", pts, one)
    fusion.update("cam2", 6.0, frame([(4, None)]))
    assert fusion.assignment("cam2", 4) == fusion.assignment("cam1", 1) == 1


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"embedding": np.zeros(1, np.float32)}, r"data\['embedding'\] must be \(n, D\)"),
        (
            {"embedding": RED[None], "embedding_quality": np.ones((1, 2))},
            r"embedding_quality'\] must be \(1,\)",
        ),
    ],
)
def test_malformed_columns_are_rejected(data, message):
    rows = Detections(xyxy=[[0, 0, 10, 20]], confidence=[0.9], class_id=[0], tracker_id=[1], data=data)
    with pytest.raises(ValueError, match=message):
        Fusion(SITE, config()).update("cam1", 0.0, rows)


def test_unknown_camera_and_changing_embedding_width_are_errors():
    fusion = Fusion(SITE, config())
    with pytest.raises(
        ValueError, match=r"unknown camera 'cam9'; the site has \['cam1', 'cam2', 'cam3', 'cam4'\]"
    ):
        fusion.update("cam9", 0.0, frame([(1, RED)]))
    fusion.update("cam1", 0.0, frame([(1, RED)]))
    with pytest.raises(ValueError, match="embedding width changed from 4 to 3"):
        fusion.update("cam1", 0.2, frame([(1, RED[:3])]))


def test_a_bare_topology_is_enough_and_end_track_makes_the_exit_available_at_once():
    topology = Topology(links=(Link("a", "b", 0.5, 3.0),))
    fusion = Fusion(topology, config(track_timeout_seconds=30.0))
    fusion.update("a", 0.0, frame([(1, RED)]))
    fusion.update("a", 0.2, frame([(1, RED)]))
    fusion.end_track("a", 1, 0.2)  # without this, the 30 s timeout would keep it "still in view"
    for pts in (1.0, 1.2, 1.4):
        out = fusion.update("b", pts, frame([(9, RED)]))
    assert out.data["global_id"].tolist() == [1]
    assert [(t.from_camera, t.to_camera, t.travel_seconds) for t in fusion.transitions] == [("a", "b", 0.8)]


def test_flush_decides_what_is_pending_and_events_are_plain_json():
    fusion = Fusion(SITE, config(min_embeddings=10, decision_seconds=10.0, max_pending_seconds=10.0))
    play(fusion, [Visit("cam1", 1, 0.0, 1.0, RED), Visit("cam1", 2, 2.0, 3.0, RED)], until=3.0)
    assert fusion.assignment("cam1", 2) == -1  # could be track 1 coming back: waits for evidence
    fusion.flush()
    events = fusion.events()
    assert [(e["event"], e["track_id"], e["global_id"]) for e in events] == [
        ("assigned", 1, 1),
        ("assigned", 2, 1),
    ]
    json.dumps(events, allow_nan=False)
    assert fusion.events() == []  # drained
    stats = fusion.stats()
    assert (stats["identities_created"], stats["pending_tracks"], stats["active_tracks"]) == (1, 0, 0)


def test_the_same_input_gives_the_same_ids_and_events():
    def run() -> tuple[list, list, dict]:
        scene = crowd(400, cameras=4, arrivals_per_second=4.0, fps=2.0, dim=8, noise=0.2, seed=3)
        fusion = Fusion(scene.site, FusionConfig(min_embeddings=2))
        ids = [fusion.update(c, pts, d).data["global_id"].tolist() for c, pts, d in scene.frames]
        fusion.flush()
        return ids, fusion.events(), fusion.stats()

    first, second = run(), run()
    assert first[0] == second[0]
    assert json.dumps(first[1]) == json.dumps(second[1])
    assert first[2] == second[2]
    assert first[2]["corrections"] > 0 and first[2]["deferrals"] > 0  # the run exercises the hard paths


def test_a_bare_topology_takes_cameras_it_does_not_name_as_unlinked():
    fusion = Fusion(Topology(links=(Link("a", "b", 0.5, 3.0),)), config())
    out = play_cameras(fusion, [("a", 0.0, 1), ("a", 0.2, 1), ("lobby", 2.0, 5), ("lobby", 2.2, 5)])
    assert out == {("a", 1): [1, 1], ("lobby", 5): [2, 2]}  # no link from a to the lobby: not merged
    out = play_cameras(fusion, [("lobby", 4.0, 6)])
    assert out == {("lobby", 6): [2]}  # but coming back into the lobby is


def play_cameras(fusion: Fusion, rows: list[tuple[str, float, int]]) -> dict[tuple[str, int], list[int]]:
    out: dict[tuple[str, int], list[int]] = {}
    for camera, pts, track in rows:
        gid = fusion.update(camera, pts, frame([(track, RED)])).data["global_id"].tolist()[0]
        out.setdefault((camera, track), []).append(gid)
    return out


def test_one_identity_is_never_on_two_rows_of_one_frame():
    import numpy as np

    from pyuniproc.fusion.intake import _one_row_per_identity

    global_ids = np.array([4, 4, 7, 4, -1], np.int64)
    guessed = np.array([True, False, True, True, False])
    _one_row_per_identity(global_ids, guessed)
    # The decided row keeps id 4; the guesses beside it show -1.
    assert global_ids.tolist() == [-1, 4, 7, -1, -1]
    assert guessed.tolist() == [False, False, True, False, False]


def test_stats_are_json_before_the_first_frame():
    import json

    from pyuniproc.config.cameras import Topology
    from pyuniproc.fusion import Fusion

    json.dumps(Fusion(Topology()).stats(), allow_nan=False)
