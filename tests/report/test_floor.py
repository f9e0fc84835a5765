"""The report's "Where people are" section: the learned foot map's state from summary.json, and the feet
the run put under one global id in both overlapping views, checked against the map."""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET

import numpy as np
import pytest

from pyuniproc.report import load_run, write_report
from pyuniproc.report.floor import map_errors, matched_feet

SHIFT = np.array([[1.0, 0.0, 10.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]])  # b = a + 10 px to the right


def run_folder(tmp_path, floor: dict | None):
    tmp_path.mkdir(parents=True, exist_ok=True)
    (tmp_path / "cameras.yml").write_text(
        "cameras:\n  - {id: a, uri: a.mp4}\n  - {id: b, uri: b.mp4}\ntopology:\n  overlaps:\n    - [a, b]\n"
    )
    rows = ["camera_id,frame,pts_seconds,track_id,global_id,x1,y1,x2,y2,confidence"]
    for i in range(1, 11):
        t = (i - 1) / 10
        rows.append(f"a,{i},{t:.3f},1,5,{100 + i},100,{120 + i},150,0.9")  # foot (110 + i, 150)
        rows.append(f"b,{i},{t:.3f},2,5,{110 + i},100,{130 + i},150,0.9")  # foot (120 + i, 150): the map's
        rows.append(f"a,{i},{t:.3f},3,6,300,100,320,150,0.9")  # foot (310, 150)
        rows.append(f"b,{i},{t:.3f},4,6,400,100,420,150,0.9")  # foot (410, 150): 90 px off, a wrong id
    rows.append("b,20,1.900,4,6,400,100,420,150,0.9")  # g6 alone in b: no counterpart at that instant
    (tmp_path / "tracks.csv").write_text("\n".join(rows) + "\n")
    summary = {"fusion": {"floor": floor}} if floor is not None else {}
    (tmp_path / "summary.json").write_text(json.dumps(summary))
    return tmp_path


LEARNED = {
    "calibrated_cameras": [],
    "overlaps": [{"cameras": ["a", "b"], "state": "learned", "correspondences": 40, "fits": 3, "inliers": 36,
                  "track_pairs": 5, "rms_heights": 0.031, "stable_since_seconds": 12.5,
                  "homography": SHIFT.tolist()}],
    "zones": {"a->b": {"zones": "learned", "handovers": 2, "gating": False}},
    "floor_merges": 1, "floor_conflicts": 0, "floor_infeasible": 4, "floor_bonuses": 9,
}


def test_feet_of_one_id_at_one_instant_and_their_error_under_the_map(tmp_path):
    data = load_run(run_folder(tmp_path, LEARNED), tmp_path / "cameras.yml")
    feet = matched_feet(data, "a", "b")
    assert len(feet) == 20 and sorted(set(feet.gid.tolist())) == [5, 6]
    errors = map_errors(SHIFT, feet)
    assert errors[feet.gid == 5] == pytest.approx(np.zeros(10))  # the map puts g5's foot where b sees it
    assert errors[feet.gid == 6] == pytest.approx(np.full(10, 90 / 50))  # 90 px off, box 50 px tall
    assert map_errors(None, feet) is None


def test_the_section_shows_the_pair_state_and_a_plot_of_both_views(tmp_path):
    html = write_report(run_folder(tmp_path, LEARNED), cameras=tmp_path / "cameras.yml").read_text()
    section = re.search(r"<h2>Where people are.*?</section>", html, flags=re.S).group(0)
    cells = re.findall(r"<td>(.*?)</td>", re.search(r"<tr><td><span.*?</tr>", section).group(0))
    assert cells[1:] == ["learned", '<b style="color:#2e7d32">yes</b>', "40", "36", "5", "0.031 h", "12.5 s",
                         "20", "50%"]
    assert "a-&gt;b" in section and "1 merges" in section and "4 links refused" in section
    [svg] = re.findall(r'<svg class="feet".*?</svg>', section, flags=re.S)
    ET.fromstring(svg)
    assert svg.count("<circle") == 40 and svg.count("<path") == 20  # feet in both views, the map's crosses


def test_a_pair_still_learning_is_not_used_and_a_run_without_floor_says_so(tmp_path):
    learning = {**LEARNED, "overlaps": [{"cameras": ["a", "b"], "state": "learning", "correspondences": 3,
                                         "fits": 0, "inliers": 0, "track_pairs": 0, "rms_heights": None,
                                         "stable_since_seconds": None, "homography": None}]}
    folder = run_folder(tmp_path / "1", learning)
    html = write_report(folder, cameras=folder / "cameras.yml").read_text()
    section = re.search(r"<h2>Where people are.*?</section>", html, flags=re.S).group(0)
    row = re.search(r"<tr><td><span.*?</tr>", section).group(0)
    assert "learning" in row and '<b style="color:#c0392b">no</b>' in row and "<td>–</td><td>–</td>" in row
    folder = run_folder(tmp_path / "2", None)
    html = write_report(folder, cameras=folder / "cameras.yml").read_text()
    assert "has no <code>fusion.floor</code>" in html
