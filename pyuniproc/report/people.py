"""Who each global id really is, when the run is scored: the ground-truth people its tracks cover.

A local track is given the GT person it covers in most frames (`camera_track_owners`, the same rule
`pyuniproc ablation` and `pyuniproc accuracy` count wrong merges by). A global id whose tracks cover
more than one person is a wrong merge: the report marks it and labels each thumbnail with its person.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from pyuniproc.report.data import RunData

Owners = dict[tuple[str, int], int]
"""(camera, local track id) -> GT person id."""


def track_people(run_dir: str | Path, gt: str | Path) -> Owners:
    """The GT person of each local track of the run's tracks.csv, scored against the scenario's gt/."""
    from pyuniproc.ablation.score import camera_track_owners
    from pyuniproc.evaluation.mot_io import load_ground_truth, read_tracks_csv

    truth, _ = load_ground_truth(gt)
    table = read_tracks_csv(Path(run_dir) / "tracks.csv")
    owners: Owners = {}
    for camera, rows in table.items():
        if camera in truth:
            owners.update(camera_track_owners(camera, rows[:, :6], truth[camera]))
    return owners


def identity_people(data: RunData, owners: Owners) -> dict[int, Counter]:
    """global id -> Counter of GT person -> rows of its tracks that person owns (people of tracks that
    cover nobody are left out). More than one key: a wrong merge."""
    out: dict[int, Counter] = {}
    for identity in data.identities:
        people: Counter = Counter()
        for visit in identity.visits:
            for row in visit.rows:
                person = owners.get((visit.camera_id, row.track_id))
                if person is not None:
                    people[person] += 1
        out[identity.global_id] = people
    return out


def wrong_merges(people: dict[int, Counter]) -> list[int]:
    """Global ids whose tracks cover more than one GT person."""
    return sorted(gid for gid, counts in people.items() if len(counts) > 1)
