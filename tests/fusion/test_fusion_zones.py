"""Exit/entry zones, foot paths and cut boxes: the small rules behind where people are, on literal cases."""

import numpy as np

from pyuniproc.fusion.tracks import PATH_LENGTH, CameraState, TrackPath
from pyuniproc.fusion.zones import ZoneBook, inside_polygon

SQUARE = np.array([[0, 0], [10, 0], [10, 10], [0, 10]], float)


def test_inside_polygon_counts_edges_as_inside():
    points = np.array([[5, 5], [10, 5], [11, 5], [-1, -1], [0, 10]], float)
    assert inside_polygon(points, SQUARE).tolist() == [True, True, False, False, True]


def test_declared_zones_gate_both_ends():
    book = ZoneBook({("cam1", "cam2"): (SQUARE, SQUARE + 100)}, learn=True, min_handovers=10, radius=1.5)
    exits = np.array([[5, 5], [50, 50]], float)
    assert book.gates(("cam1", "cam2")) and not book.gates(("cam2", "cam1"))
    assert book.allowed(("cam1", "cam2"), exits, np.ones(2), (105, 105), 80).tolist() == [True, False]
    assert book.allowed(("cam1", "cam2"), exits, np.ones(2), (5, 5), 80).tolist() == [False, False]
    assert book.allowed(("cam2", "cam1"), exits, np.ones(2), (5, 5), 80).tolist() == [True, True]  # no zone


def test_learned_zones_gate_once_enough_handovers_were_seen():
    book = ZoneBook({}, learn=True, min_handovers=3, radius=1.5)
    link = ("cam1", "cam2")
    for y in (100.0, 120.0):  # people leave cam1 at its right edge and enter cam2 at its left edge
        book.record(link, (630.0, y), 80.0, (10.0, y + 20), 80.0)
    assert not book.gates(link)  # two hand-overs teach nothing yet
    book.record(link, (630.0, 140.0), 80.0, (10.0, 160.0), 80.0)
    exits = np.array([[625.0, 200.0], [300.0, 120.0]])  # near the seen exits (within 1.5 heights) / mid-frame
    assert book.allowed(link, exits, np.array([80.0, 80.0]), (15.0, 130.0), 80.0).tolist() == [True, False]
    assert not book.allowed(link, exits, np.array([80.0, 80.0]), (400.0, 130.0), 80.0).any()


def test_a_path_keeps_the_latest_positions_in_time_order_thinned():
    path = TrackPath()
    path.add(0.0, 1.0, 1.0, 50.0)
    path.add(0.05, 2.0, 2.0, 50.0)  # the same instant, nearly: replaces
    path.add(0.2, 3.0, 3.0, 50.0)
    path.add(0.1, 9.0, 9.0, 50.0)  # late: kept out
    seconds, feet, _ = path.arrays()
    assert seconds.tolist() == [0.05, 0.2] and feet[:, 0].tolist() == [2.0, 3.0]
    for i in range(PATH_LENGTH + 5):
        path.add(1.0 + i, float(i), 0.0, 50.0)
    seconds, feet, _ = path.arrays()
    assert len(path) == PATH_LENGTH and seconds[0] == 6.0 and np.all(np.diff(seconds) > 0)


def test_boxes_cut_by_the_bottom_edge_are_told_once_the_edge_is_known():
    camera = CameraState("cam1", 0)
    person_on_floor = [100, 100, 140, 200]
    for _ in range(4):  # boxes keep stopping at y = 360: the frame's bottom edge
        assert not camera.cut(np.array([[10, 250, 50, 360], person_on_floor], float)).any()
    assert camera.cut(np.array([[10, 250, 50, 360], person_on_floor], float)).tolist() == [True, False]


def test_fusion_refuses_a_handover_outside_the_declared_exit_zone():
    from fusionkit import RED, Visit, config, first_id, play

    from pyuniproc.config.cameras import CameraSpec, Link, Site, Topology
    from pyuniproc.fusion import Fusion

    def site(exit_zone):
        links = (
            Link("cam1", "cam2", 1.0, 10.0, exit_zone, None),
            Link("cam2", "cam1", 1.0, 10.0, None, exit_zone),
        )
        cameras = (CameraSpec("cam1", "a.mp4"), CameraSpec("cam2", "b.mp4"))
        return Site(name="zones", cameras=cameras, topology=Topology(links=links))

    scene = [Visit("cam1", 1, 0.0, 2.0, RED), Visit("cam2", 5, 5.0, 7.0, RED)]  # feet at (120, 150) in both
    door = ((100.0, 100.0), (200.0, 100.0), (200.0, 200.0), (100.0, 200.0))
    elsewhere = ((500.0, 100.0), (600.0, 100.0), (600.0, 200.0), (500.0, 200.0))
    through_door = play(Fusion(site(door), config()), scene)
    assert first_id(through_door, "cam2", 5) == first_id(through_door, "cam1", 1)
    elsewhere_out = play(Fusion(site(elsewhere), config()), scene)
    assert first_id(elsewhere_out, "cam2", 5) != first_id(elsewhere_out, "cam1", 1)
