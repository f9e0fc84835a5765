"""Where people are: overlapping cameras compared on the floor (calibrated or learned from the run)."""

import numpy as np
from fusionkit import BLUE, GREEN, RED, config

from pyuniproc.calibration import GroundCalibration, apply_homography
from pyuniproc.config.cameras import CameraSpec, Site, Topology
from pyuniproc.fusion import Fusion
from pyuniproc.fusion.overlap_map import OverlapMap
from pyuniproc.types import Detections

# cam1 sees plane metres (X, Z) at pixels (100 X, 100 Z); cam2 the floor 2 m on: (100 (X - 2), 100 Z).
TO_PLANE = {
    "cam1": np.diag([0.01, 0.01, 1.0]),
    "cam2": np.array([[0.01, 0.0, 2.0], [0.0, 0.01, 0.0], [0.0, 0.0, 1.0]]),
}


def site(calibrated: bool) -> Site:
    corners = np.array([[100.0, 300.0], [500.0, 300.0], [500.0, 100.0], [100.0, 100.0]])
    ground = {
        camera: GroundCalibration.from_points(camera, corners, apply_homography(matrix, corners))
        for camera, matrix in TO_PLANE.items()
    }
    return Site(
        name="floor",
        cameras=(CameraSpec("cam1", "a.mp4"), CameraSpec("cam2", "b.mp4")),
        topology=Topology(overlaps=(frozenset({"cam1", "cam2"}),)),
        ground=ground if calibrated else {},
    )


def walk(fusion: Fusion, people: dict[int, tuple], seconds: float, fps: float = 5.0, start: float = 0.0):
    """people: track id -> (look, path(t) -> plane (X, Z), cameras). Returns {(camera, track): [gid]}."""
    out: dict[tuple[str, int], list[int]] = {}
    for step in range(int(round(seconds * fps))):
        t = start + step / fps
        for camera in ("cam1", "cam2"):
            here = [(tid, look, path(t)) for tid, (look, path, cams) in people.items() if camera in cams]
            if not here:
                continue
            feet = np.array([apply_homography(np.linalg.inv(TO_PLANE[camera]), [p])[0] for _, _, p in here])
            feet = feet.reshape(-1, 2)
            xyxy = np.column_stack([feet[:, 0] - 15, feet[:, 1] - 80, feet[:, 0] + 15, feet[:, 1]])
            rows = Detections(
                xyxy=xyxy,
                confidence=np.full(len(here), 0.9),
                class_id=np.zeros(len(here)),
                tracker_id=[tid for tid, _, _ in here],
                data={"embedding": np.stack([look for _, look, _ in here])},
            )
            result = fusion.update(camera, t, rows)
            for (tid, _, _), gid in zip(here, result.data["global_id"].tolist(), strict=True):
                out.setdefault((camera, tid), []).append(gid)
    return out


def test_calibrated_views_link_lookalikes_by_where_they_stand():
    # Two people who look the same walk side by side, 2 m apart, through the shared floor. cam1 has seen
    # them for a second when cam2 picks them up: appearance cannot tell who is who, the floor can.
    fusion = Fusion(site(calibrated=True), config())
    left, right = (lambda t: (3.0, 1.5 + 0.3 * t)), (lambda t: (5.0, 1.5 + 0.3 * t))
    walk(fusion, {1: (RED, left, {"cam1"}), 2: (RED, right, {"cam1"})}, seconds=1.0)
    out = walk(
        fusion,
        {
            1: (RED, left, {"cam1"}),
            2: (RED, right, {"cam1"}),
            11: (RED, left, {"cam2"}),
            12: (RED, right, {"cam2"}),
        },
        seconds=3.0,
        start=1.0,
    )
    # cam2's tracks 11 and 12 stand where cam1's 1 and 2 stand: once a few instants agree, the same ids.
    assert out[("cam2", 11)][-5:] == out[("cam1", 1)][-5:] and out[("cam2", 12)][-5:] == out[("cam1", 2)][-5:]
    assert out[("cam1", 1)][-1] != out[("cam1", 2)][-1]
    assert fusion.floor_report()["overlaps"] == [{"cameras": ["cam1", "cam2"], "state": "calibrated"}]


def test_one_identity_at_two_places_at_once_is_undone():
    # Someone who looks like Ann enters cam2 far from where Ann stands in cam1 at that instant: the floor
    # refuses the link (appearance alone would have taken it).
    fusion = Fusion(site(calibrated=True), config())
    out = walk(
        fusion,
        {1: (GREEN, lambda t: (3.0, 2.0), {"cam1", "cam2"}), 2: (GREEN, lambda t: (6.0, 2.0), {"cam2"})},
        seconds=2.0,
    )
    ids_of_ann = set(out[("cam1", 1)]) - {-1}
    assert ids_of_ann and out[("cam2", 2)][-1] not in ids_of_ann
    without = Fusion(site(calibrated=True), config(use_floor=False))
    out = walk(
        without,
        {1: (GREEN, lambda t: (3.0, 2.0), {"cam1", "cam2"}), 2: (GREEN, lambda t: (6.0, 2.0), {"cam2"})},
        seconds=2.0,
    )
    assert out[("cam2", 2)][-1] in set(out[("cam1", 1)]) | set(out[("cam2", 1)])  # the mistake it prevents


def test_uncalibrated_overlap_learns_the_map_then_links_by_position():
    # Six people with distinct-enough looks cross the shared floor for 40 s; fusion learns where cam1's
    # feet land in cam2 from its own confident matches, and reports the map once it predicts new ones.
    rng = np.random.default_rng(5)
    people = {}
    for i in range(6):
        look = np.abs(rng.normal(size=16)).astype(np.float32) + 2.0 * np.eye(16, dtype=np.float32)[i]
        path = wandering(*rng.uniform([2.2, 1.2, -0.3, -0.3], [4.8, 2.8, 0.3, 0.3]))
        people[i + 1] = (look, path, {"cam1"})
        people[i + 101] = (look, path, {"cam2"})
    fusion = Fusion(site(calibrated=False), config(match_threshold=0.9))
    walk(fusion, people, seconds=40.0)
    report = fusion.floor_report()["overlaps"][0]
    assert report["state"] == "learned"
    learned = np.array(report["homography"])
    grid = np.array([[250.0, 150.0], [450.0, 250.0], [300.0, 270.0]])
    truth = apply_homography(np.linalg.inv(TO_PLANE["cam2"]) @ TO_PLANE["cam1"], grid)
    assert np.abs(apply_homography(learned, grid) - truth).max() < 8.0  # a tenth of a person's height


def wandering(x0: float, z0: float, vx: float, vz: float):
    """A walk across the shared floor (X 2.2-4.8 m, Z 1.2-2.8 m), wrapping round at its ends."""
    return lambda t: (2.2 + (x0 - 2.2 + vx * t) % 2.6, 1.2 + (z0 - 1.2 + vz * t) % 1.6)


def test_a_map_becomes_usable_only_once_it_predicts_new_matches():
    truth = np.array([[1.0, 0.0, -288.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]])
    learner = OverlapMap("left", "right")
    rng = np.random.default_rng(0)
    for step in range(60):
        pair = (step % 6, 100 + step % 6)
        foot = rng.uniform([300, 100], [480, 560])
        wrong = step % 3 == 0  # a third of the matches pair two different people
        seen = rng.uniform([0, 100], [190, 560]) if wrong else apply_homography(truth, [foot])[0]
        learner.add(pair, step * 0.5, foot, seen, 80.0)
        learner.maybe_fit(step * 0.5)
    assert learner.stable and learner.track_pairs >= 3
    assert np.abs(apply_homography(learner.matrix, [[400.0, 300.0]]) - [[112.0, 300.0]]).max() < 2.0
    lonely = OverlapMap("left", "right")
    for step in range(40):  # one pair of tracks only: feet along one path fit many maps
        foot = np.array([300.0 + 4 * step, 200.0 + 2 * step])
        lonely.add((1, 2), step * 0.5, foot, foot - [288, 0], 80.0)
        lonely.maybe_fit(step * 0.5)
    assert not lonely.stable


def test_a_track_with_no_embedding_yet_joins_whoever_stands_there():
    fusion = Fusion(site(calibrated=True), config())
    walk(fusion, {1: (BLUE, lambda t: (3.0, 2.0 + 0.2 * t), {"cam1"})}, seconds=1.0)
    out = {}
    for step in range(5):
        t = 1.0 + step / 5
        for camera, tid, look in (("cam1", 1, BLUE), ("cam2", 7, None)):
            foot = apply_homography(np.linalg.inv(TO_PLANE[camera]), [(3.0, 2.0 + 0.2 * t)])[0]
            embedding = np.full((1, 4), np.nan, np.float32) if look is None else look[None]
            rows = Detections(
                xyxy=[[foot[0] - 15, foot[1] - 80, foot[0] + 15, foot[1]]], confidence=[0.9], class_id=[0],
                tracker_id=[tid], data={"embedding": embedding},
            )
            out.setdefault(camera, []).append(int(fusion.update(camera, t, rows).data["global_id"][0]))
    assert out["cam2"][-1] == out["cam1"][-1] != -1


def test_people_walking_together_are_paired_one_to_one_by_distance():
    from pyuniproc.fusion.floor import _clearly_closest, _one_to_one

    # Two people 0.4 m apart seen by both views: each stands within `near` (0.5 m) of both tracks of the
    # other view, so "nobody else there" never holds; the one-to-one pairing with the least total
    # distance does, and each pair is clearly closer (0.1 m) than its rival (0.4 m).
    metres = np.array([[0.1, 0.4], [0.45, 0.05]])
    assert _one_to_one(metres) == [(0, 0), (1, 1)]
    assert _clearly_closest(metres, 0, 0, 0.25) and _clearly_closest(metres, 1, 1, 0.25)
    # A rival only 0.15 m further away is not clear: the floor's feet are not that precise.
    assert not _clearly_closest(np.array([[0.1, 0.25], [0.45, 0.05]]), 0, 0, 0.25)
    # Tracks never compared (nan) are never paired.
    assert _one_to_one(np.array([[np.nan, 0.2], [np.nan, np.nan]])) == [(0, 1)]
