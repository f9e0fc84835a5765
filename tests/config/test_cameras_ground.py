"""The cameras file's `ground:` calibrations and link zones: parsed, checked, and refused with the camera
and the field named."""

import re
from pathlib import Path

import numpy as np
import pytest
import yaml

from pyuniproc.config.cameras import load_cameras
from pyuniproc.config.yaml_source import ConfigError

REPO = Path(__file__).resolve().parents[2]
CAMERAS = "cameras:\n  - {id: cam1, uri: a.mp4}\n  - {id: cam2, uri: b.mp4}\n"
SQUARE = """      - {image: [100, 400], plane: [0, 0]}
      - {image: [500, 400], plane: [4, 0]}
      - {image: [420, 200], plane: [4, 8]}
      - {image: [180, 200], plane: [0, 8]}
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "cameras.yml"
    path.write_text(CAMERAS + text)
    return path


def test_points_are_fitted_and_map_image_feet_to_metres(tmp_path):
    site = load_cameras(write(tmp_path, "ground:\n  cam1:\n    points:\n" + SQUARE))
    ground = site.ground["cam1"]
    assert set(site.ground) == {"cam1"} and ground.fitted
    assert np.allclose(ground.to_plane(np.array([[100, 400], [420, 200]])), [[0, 0], [4, 8]], atol=1e-6)
    assert ground.errors().max() < 1e-6


def test_a_declared_homography_is_checked_against_its_points(tmp_path):
    text = "ground:\n  cam2:\n    homography: [[0.01, 0, -1], [0, 0.02, -2], [0, 0, 1]]\n    points:\n"
    text += "      - {image: [100, 100], plane: [0, 0]}\n      - {image: [300, 100], plane: [2.5, 0]}\n"
    ground = load_cameras(write(tmp_path, text)).ground["cam2"]
    assert not ground.fitted
    assert ground.errors().tolist() == pytest.approx([0.0, 0.5])  # the second point is half a metre off


@pytest.mark.parametrize(
    ("text", "field", "message"),
    [
        ("ground:\n  cam1:\n    points:\n" + "\n".join(SQUARE.splitlines()[:3]) + "\n",
         "ground.cam1.points", "camera cam1: needs at least 4 point pairs"),
        ("ground:\n  cam1:\n    points:\n" + "".join(
            f"      - {{image: [{x}, {2 * x}], plane: [{x}, {x + 1}]}}\n" for x in (1, 2, 3, 4)),
         "ground.cam1.points", "camera cam1: the image points all lie on one line"),
        ("ground:\n  cam9:\n    points:\n" + SQUARE,
         "ground.cam9", "camera 'cam9' is not in the site's cameras ['cam1', 'cam2']"),
        ("ground:\n  cam2:\n    points:\n      - {image: [1, 2]}\n",
         "ground.cam2.points[0]", "camera cam2: expected {image: [x, y], plane: [X, Y]}"),
        ("ground:\n  cam2:\n    homography: [[1, 0, 0], [2, 0, 0], [0, 0, 1]]\n",
         "ground.cam2.homography", "camera cam2: the homography is singular"),
        ("ground:\n  cam2: {}\n", "ground.cam2", "camera cam2: give 'points'"),
        ("ground:\n  cam2:\n    points: []\n    offset: 3\n", "ground.cam2.offset", "unknown ground field"),
    ],
)
def test_bad_calibrations_name_camera_and_field(tmp_path, text, field, message):
    with pytest.raises(ConfigError, match=re.escape(message)) as error:
        load_cameras(write(tmp_path, text))
    assert error.value.field == field and error.value.line is not None


def test_link_zones_turn_round_on_the_way_back(tmp_path):
    text = ("topology:\n  links:\n    - {from: cam1, to: cam2, min_seconds: 1, max_seconds: 5,\n"
            "       exit: [[0, 0], [10, 0], [10, 10]], entry: [[5, 5], [9, 5], [9, 9]]}\n")
    links = {(link.source, link.target): link for link in load_cameras(write(tmp_path, text)).topology.links}
    assert links[("cam1", "cam2")].exit_zone == ((0, 0), (10, 0), (10, 10))
    assert links[("cam2", "cam1")].exit_zone == links[("cam1", "cam2")].entry_zone
    assert links[("cam2", "cam1")].entry_zone == links[("cam1", "cam2")].exit_zone
    with pytest.raises(ConfigError, match="unknown link field") as error:
        text = "topology:\n  links:\n    - {from: cam1, to: cam2, max_seconds: 2, door: 1}\n"
        load_cameras(write(tmp_path, text))
    assert error.value.field == "topology.links[0].door"


def test_the_documented_example_loads(tmp_path):
    """docs/cameras-file.md's example is a working cameras file (with the cameras it only names)."""
    doc = (REPO / "docs" / "cameras-file.md").read_text()
    example = yaml.safe_load(re.search(r"```yaml\n(.*?)```", doc, re.S).group(1))
    example["cameras"] += [{"id": c, "uri": f"{c}.mp4"} for c in ("cam2", "cam3", "cam4")]
    path = tmp_path / "cameras.yml"
    path.write_text(yaml.safe_dump(example))
    site = load_cameras(path)
    assert set(site.ground) == {"cam2", "cam3"}
    assert site.ground["cam2"].errors().max() < 1e-6
    assert any(link.exit_zone for link in site.topology.links)
