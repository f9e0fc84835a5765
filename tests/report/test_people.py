"""A scored report marks a global id whose tracks cover two GT people (a wrong merge) and shows a crop
from every camera the id was seen in, each labelled with the person its track covers."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import numpy as np

from pyuniproc.evaluation.mot_io import load_ground_truth
from pyuniproc.report import load_run, write_report
from pyuniproc.report.people import identity_people, track_people, wrong_merges


def person_rows(gt: np.ndarray, person: int, count: int = 12) -> np.ndarray:
    rows = gt[gt[:, 1] == person]
    return rows[np.argsort(rows[:, 0])][:count]


def busiest(gt: np.ndarray, but: set[int]) -> int:
    counts = Counter(int(i) for i in gt[:, 1] if int(i) not in but)
    return counts.most_common(1)[0][0]


def write_tracks(folder: Path, rows: list[tuple[str, int, int, np.ndarray]]) -> None:
    """rows: (camera, track id, global id, GT rows whose boxes the track reports)."""
    lines = ["camera_id,frame,pts_seconds,track_id,global_id,x1,y1,x2,y2,confidence"]
    for camera, track, gid, boxes in rows:
        for frame, _, x, y, w, h, *_ in boxes.tolist():
            lines.append(f"{camera},{int(frame)},{(frame - 1) / 10:.3f},{track},{gid},{x:.2f},{y:.2f},"
                         f"{x + w:.2f},{y + h:.2f},0.9")
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "tracks.csv").write_text("\n".join(lines) + "\n")


def test_a_merge_of_two_people_is_marked_and_every_camera_has_its_crop(small_scenario, tmp_path):
    truth, _ = load_ground_truth(small_scenario)
    first = busiest(truth["cam1"], set())
    second = busiest(truth["cam2"], {first})
    third = busiest(truth["cam1"], {first, second})
    run = tmp_path / "run"
    write_tracks(run, [
        ("cam1", 1, 7, person_rows(truth["cam1"], first)),  # g7 in cam1 is one person...
        ("cam2", 4, 7, person_rows(truth["cam2"], second)),  # ...and in cam2 another: a wrong merge
        ("cam1", 2, 9, person_rows(truth["cam1"], third)),
    ])
    owners = track_people(run, small_scenario)
    assert owners == {("cam1", 1): first, ("cam2", 4): second, ("cam1", 2): third}
    data = load_run(run, small_scenario / "cameras.yml")
    people = identity_people(data, owners)
    assert wrong_merges(people) == [7] and set(people[7]) == {first, second} and set(people[9]) == {third}

    html = write_report(run, gt=small_scenario).read_text()
    card7 = re.search(r'<div class="card merged" id="id-7">.*?</div></div>', html, flags=re.S).group(0)
    assert "wrong merge:" in card7 and f"GT {first}" in card7 and f"GT {second}" in card7
    assert '<span class="flag multi">2 cameras</span>' in card7
    crops = re.findall(r'alt="g7 in (cam\d) frame (\d+)".*?<figcaption>(cam\d) · ([\d.]+) s · GT (\d+)',
                       card7)
    assert sorted((c[0], int(c[4])) for c in crops) == [("cam1", first), ("cam2", second)]
    for camera, frame, caption, seconds, _ in crops:
        assert caption == camera and float(seconds) == round((int(frame) - 1) / 10, 1)
    card9 = re.search(r'<div class="card" id="id-9">.*?</div></div>', html, flags=re.S).group(0)
    assert "wrong merge" not in card9 and f'<span class="flag gt">GT {third}</span>' in card9
    assert "1 of 2 ids" in html  # the wrong-merge list at the top of the identities
