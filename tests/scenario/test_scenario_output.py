"""What `pyuniproc scenario` writes, and that it is reproducible."""

from __future__ import annotations

import dataclasses
import hashlib
import json

import av
import numpy as np
import yaml

from pyuniproc.scenario import generate
from pyuniproc.scenario.render import DISTRACTOR_CLASS
from pyuniproc.scenario.site import MIN_VISIBLE


def _pixels_hash(path) -> str:
    digest = hashlib.sha256()
    with av.open(str(path)) as container:
        for frame in container.decode(video=0):
            digest.update(frame.to_ndarray(format="rgb24").tobytes())
    return digest.hexdigest()


def test_layout(short_scenario, short_spec):
    cameras = yaml.safe_load((short_scenario / "cameras.yml").read_text())
    ids = [c["id"] for c in cameras["cameras"]]
    assert ids == ["cam1", "cam2", "cam3"]
    for cam in cameras["cameras"]:
        assert (short_scenario / cam["uri"]).is_file()  # uris are relative to cameras.yml
        assert (short_scenario / "gt" / f"{cam['id']}.txt").is_file()
        with av.open(str(short_scenario / cam["uri"])) as container:
            stream = container.streams.video[0]
            assert stream.codec_context.name == "h264"
            assert (stream.width, stream.height) == (640, 360)
            assert sum(1 for _ in container.decode(video=0)) == short_spec.n_frames
    assert len(cameras["topology"]["overlaps"]) == 1
    for link in cameras["topology"]["links"]:
        assert 0 < link["min_seconds"] < link["max_seconds"]
    assert "pyuniproc scenario --seed 5" in (short_scenario / "README").read_text()
    identities = json.loads((short_scenario / "identities.json").read_text())
    assert len(identities["people"]) == short_spec.people
    assert sum(p["distractor_of"] is not None for p in identities["people"]) == 2


def test_gt_rows_are_motchallenge(short_scenario, short_spec):
    n_scored = n_rows = 0
    for path in (short_scenario / "gt").glob("*.txt"):
        rows = np.loadtxt(path, delimiter=",", ndmin=2)
        assert rows.shape[1] == 9
        assert rows[:, 0].min() >= 1 and rows[:, 0].max() <= short_spec.n_frames  # 1-based frames
        assert (rows[:, 4] > 0).all() and (rows[:, 5] > 0).all()
        assert (rows[:, 2] >= 0).all() and (rows[:, 2] + rows[:, 4] <= 640).all()
        assert (rows[:, 3] >= 0).all() and (rows[:, 3] + rows[:, 5] <= 360).all()
        scored = rows[:, 6] == 1
        assert set(np.unique(rows[:, 6])) <= {0, 1}
        assert (rows[scored, 7] == 1).all() and (rows[~scored, 7] == DISTRACTOR_CLASS).all()
        assert (rows[scored, 8] >= MIN_VISIBLE).all() and (rows[:, 8] <= 1).all()
        assert (rows[~scored, 8] <= MIN_VISIBLE).all() and (rows[~scored, 8] >= 0).all()  # 3 decimals
        frame_id = rows[:, 0] * 1000 + rows[:, 1]
        assert len(np.unique(frame_id)) == len(rows)  # one row per person per frame
        n_scored, n_rows = n_scored + scored.sum(), n_rows + len(rows)
    assert n_scored > 0.6 * n_rows  # most rows are scored; distractors are the mostly hidden


def test_same_seed_same_output_and_other_seed_differs(short_spec, tmp_path):
    spec = dataclasses.replace(short_spec, seconds=8)  # short: three renders of every camera
    for name, seed in (("a", spec.seed), ("b", spec.seed), ("other", spec.seed + 1)):
        generate(dataclasses.replace(spec, seed=seed), tmp_path / name, show_progress=False)
    a, b, other = tmp_path / "a", tmp_path / "b", tmp_path / "other"
    for cam in ("cam1", "cam2", "cam3"):
        assert (a / "gt" / f"{cam}.txt").read_bytes() == (b / "gt" / f"{cam}.txt").read_bytes()
        assert _pixels_hash(a / "video" / f"{cam}.mp4") == _pixels_hash(b / "video" / f"{cam}.mp4")
    assert (a / "identities.json").read_text() == (b / "identities.json").read_text()
    assert (a / "gt" / "cam1.txt").read_bytes() != (other / "gt" / "cam1.txt").read_bytes()
    assert _pixels_hash(a / "video" / "cam1.mp4") != _pixels_hash(other / "video" / "cam1.mp4")
