"""People only walk between linked cameras, and take a time inside the link's window.

Checked on the GT files alone (not the planner's notes): for every stretch of GT rows of a person in
one camera, the stretch that ended last before it started is where they came from. Times are
between the last GT row there and the first GT row here. The planner keeps walks 0.5 s inside
their window; rendering may move the first or last visible frame by a frame or two (occlusion at
the edge of view), so a tolerance of 0.5 s is allowed.
"""

from __future__ import annotations

import json

import numpy as np
import yaml

TOLERANCE_SECONDS = 0.5
SAME_STRETCH_GAP_FRAMES = 5  # shorter gaps in one camera are occlusions, not separate walks


def _stretches(gt_dir):
    out = []  # (person, camera, first frame, last frame)
    for path in sorted(gt_dir.glob("*.txt")):
        rows = np.loadtxt(path, delimiter=",", ndmin=2)
        rows = rows[rows[:, 6] == 1]  # scored rows; distractor rows (mostly hidden) do not count
        for pid in np.unique(rows[:, 1]):
            frames = np.sort(rows[rows[:, 1] == pid, 0].astype(int))
            breaks = np.nonzero(np.diff(frames) > SAME_STRETCH_GAP_FRAMES)[0]
            starts = np.concatenate([[0], breaks + 1])
            ends = np.concatenate([breaks, [len(frames) - 1]])
            out += [
                (int(pid), path.stem, int(frames[s]), int(frames[e]))
                for s, e in zip(starts, ends, strict=True)
            ]
    return out


def test_travel_between_cameras_respects_topology(short_scenario, short_spec):
    cameras = yaml.safe_load((short_scenario / "cameras.yml").read_text())
    windows = {}
    for link in cameras["topology"]["links"]:
        windows[(link["from"], link["to"])] = windows[(link["to"], link["from"])] = (
            link["min_seconds"],
            link["max_seconds"],
        )
    overlaps = {frozenset(pair) for pair in cameras["topology"]["overlaps"]}
    fps = short_spec.fps
    stretches = _stretches(short_scenario / "gt")
    checked = 0
    for pid in {s[0] for s in stretches}:
        mine = sorted((s for s in stretches if s[0] == pid), key=lambda s: s[2])
        for _, cam, first, _last in mine:
            if any(frozenset((cam, c)) in overlaps and f <= first <= e for _, c, f, e in mine):
                continue  # already in view of the overlapping camera: no walk between them
            before = [s for s in mine if s[3] < first]
            if not before:
                continue
            _, prev_cam, _, prev_last = max(before, key=lambda s: s[3])
            if prev_cam == cam or frozenset((cam, prev_cam)) in overlaps:
                continue  # came back into the same view
            assert (prev_cam, cam) in windows, (
                f"person {pid} walked {prev_cam} -> {cam}, which are not linked"
            )
            low, high = windows[(prev_cam, cam)]
            seconds = (first - prev_last) / fps
            assert low - TOLERANCE_SECONDS <= seconds <= high + TOLERANCE_SECONDS, (
                pid,
                prev_cam,
                cam,
                seconds,
            )
            checked += 1
    assert checked >= 3, checked


def test_identities_file_agrees_with_windows(short_scenario):
    people = json.loads((short_scenario / "identities.json").read_text())["people"]
    walks = [t for p in people for t in p["transitions"] if t["kind"] == "link"]
    assert walks
    for t in walks:
        low, high = t["window_seconds"]
        assert low <= t["planned_seconds"] <= high
        if t["gt_seconds"] is not None:
            assert low - TOLERANCE_SECONDS <= t["gt_seconds"] <= high + TOLERANCE_SECONDS
    splits = {p["split"] for p in people}
    assert splits <= {"train", "test"}
