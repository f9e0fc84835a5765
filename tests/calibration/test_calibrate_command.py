"""`pyuniproc calibrate`: per-point reprojection errors, a failing check, and clear config errors."""

import json

from pyuniproc.cli import main

CAMERAS = (
    "cameras:\n  - {id: cam1, uri: a.mp4}\n  - {id: cam2, uri: b.mp4}\n"
    "topology:\n  overlaps: [[cam1, cam2]]\n"
)
POINTS = [((100, 400), (0, 0)), ((500, 400), (4, 0)), ((420, 200), (4, 8)), ((180, 200), (0, 8))]


def cameras_file(tmp_path, extra_point=None):
    lines = ["ground:"]
    for camera in ("cam1", "cam2"):
        lines += [f"  {camera}:", "    points:"]
        points = POINTS + ([extra_point] if extra_point and camera == "cam2" else [])
        lines += [f"      - {{image: [{x}, {y}], plane: [{px}, {py}]}}" for (x, y), (px, py) in points]
    path = tmp_path / "cameras.yml"
    path.write_text(CAMERAS + "\n".join(lines) + "\n")
    return path


def test_prints_each_point_and_passes(tmp_path, capsys):
    out_json = tmp_path / "calibration.json"
    assert main(["calibrate", "--cameras", str(cameras_file(tmp_path)), "--json", str(out_json)]) == 0
    printed = capsys.readouterr().out
    assert "cam1: homography (fitted from points)" in printed and printed.count("error (m)") == 2
    assert "overlapping cameras compared on the plane: cam1 / cam2" in printed
    result = json.loads(out_json.read_text())
    assert [c["camera_id"] for c in result["cameras"]] == ["cam1", "cam2"]
    assert max(result["cameras"][0]["errors_metres"]) < 1e-3


def test_a_point_off_the_ground_fails_the_check(tmp_path, capsys):
    # A fifth pair whose plane coordinate was mistyped (3 m off): least squares cannot fit all five.
    path = cameras_file(tmp_path, extra_point=((300, 300), (5, 3)))
    assert main(["calibrate", "--cameras", str(path), "--camera", "cam2"]) == 1
    captured = capsys.readouterr()
    assert "<- off" in captured.out and "points off by more than 0.25 m in ['cam2']" in captured.err


def test_a_degenerate_calibration_is_a_config_error(tmp_path, capsys):
    path = tmp_path / "cameras.yml"
    path.write_text(CAMERAS + "ground:\n  cam1:\n    points:\n      - {image: [1, 1], plane: [0, 0]}\n")
    assert main(["calibrate", "--cameras", str(path)]) == 2
    assert "field 'ground.cam1.points': camera cam1: needs at least 4 point pairs" in capsys.readouterr().err
