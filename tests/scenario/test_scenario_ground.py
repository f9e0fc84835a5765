"""The generator's true calibration: scenario truth -> cameras file -> plane positions, within a few cm."""

import numpy as np

from pyuniproc.config.cameras import load_cameras
from pyuniproc.scenario.generate import ScenarioSpec, write_cameras_yml
from pyuniproc.scenario.ground import PERSON_METRES
from pyuniproc.scenario.site import Camera, Link, Site
from pyuniproc.scenario.views import Look, Source, View

SOURCE = Source("vtest", np.zeros((576, 768, 3), np.uint8), 0.24, -70.0, (120.0, 570.0), 576.0, 1.0)
LOOK = Look(gain=1.0, cast=(1.0, 1.0, 1.0), gamma=1.0, blur_sigma=0.0, noise_std=0.0)
# An overlap pair (one place): two crops sharing a strip, one mirrored and zoomed; a third camera elsewhere.
VIEWS = [
    View("vtest", (0.0, 100.0, 480.0, 370.0), False, 640, 360),
    View("vtest", (250.0, 150.0, 700.0, 403.125), True, 640, 360),
    View("vtest", (50.0, 120.0, 690.0, 480.0), False, 640, 360),
]


def written_site(tmp_path):
    site = Site(
        cameras=tuple(Camera(f"cam{i + 1}", (0, 0, 1)[i], view, LOOK) for i, view in enumerate(VIEWS)),
        groups=((0, 1), (2,)),
        group_source=("vtest", "vtest"),
        links=(Link(0, 1, 2.0, 8.0),),
    )
    path = tmp_path / "cameras.yml"
    write_cameras_yml(path, site, ScenarioSpec(cameras=3, overlaps=1), {"vtest": SOURCE})
    return load_cameras(path)


def test_one_spot_seen_by_both_views_of_a_pair_is_one_plane_position(tmp_path):
    site = written_site(tmp_path)
    feet = np.array([[300.0, 300.0], [400.0, 330.0], [460.0, 250.0]])  # source pixels in the shared strip
    first = site.ground["cam1"].to_plane(VIEWS[0].to_image(feet))
    second = site.ground["cam2"].to_plane(VIEWS[1].to_image(feet))
    assert np.abs(first - second).max() < 0.01
    # ...and it is the pinhole truth: Z = H f / (k (y - y0)) ahead, X = H (x - cx) / (k (y - y0)) across.
    depth = PERSON_METRES * 768 / (0.24 * (feet[:, 1] + 70.0))
    across = PERSON_METRES * (feet[:, 0] - 384) / (0.24 * (feet[:, 1] + 70.0))
    assert np.allclose(first, np.column_stack([across, depth]), atol=0.01)


def test_the_written_check_points_reproduce_and_other_places_lie_far_away(tmp_path):
    site = written_site(tmp_path)
    assert set(site.ground) == {"cam1", "cam2", "cam3"}
    assert max(ground.errors().max() for ground in site.ground.values()) < 0.01
    same_pixel = np.array([[320.0, 300.0]])
    apart = site.ground["cam3"].to_plane(same_pixel) - site.ground["cam1"].to_plane(same_pixel)
    assert abs(apart[0, 0]) > 900  # another group: another stretch of the plane
