"""`pyuniproc ablation` on a tiny generated scenario: one pipeline run, three fusion settings, scored."""

from __future__ import annotations

import argparse
import json
import os
from dataclasses import replace

import numpy as np
import pytest

from pyuniproc.ablation import StreamRecorder, TrackStream, command, replay
from pyuniproc.ablation.capture import cached, fingerprint, scenario_site, split_at_gaps
from pyuniproc.config.cameras import Link, Topology
from pyuniproc.fusion import FusionConfig
from pyuniproc.types import Detections, Frame


def rows_by(result, stream):
    return {r["ablation"]: r for r in result["rows"] if r["stream"] == stream}


def test_every_stream_gets_every_ablation_scored(ablation):
    result, _, _ = ablation
    assert set(result["streams"]) == {"pipeline", "oracle"}
    for stream in ("pipeline", "oracle"):
        rows = rows_by(result, stream)
        assert list(rows) == ["none", "appearance", "topology", "travel_time", "ideal"]
        for row in rows.values():
            mc = row["multi_camera"]
            assert 0.0 <= mc["IDF1"] <= 1.0
            assert mc["errors"] == mc["IDFP"] + mc["IDFN"]
    assert result["streams"]["pipeline"]["rows"] > 0
    assert result["streams"]["pipeline"]["embeddings"] > 0
    # Ground-truth boxes: every box found, so per-camera recall is perfect in the oracle stream.
    assert result["streams"]["oracle"]["per_camera"]["all"]["Recall"] == pytest.approx(1.0)


def test_constraints_do_not_make_identities_worse(ablation):
    result, _, _ = ablation
    for stream in ("pipeline", "oracle"):
        rows = rows_by(result, stream)
        appearance = rows["appearance"]["multi_camera"]["IDF1"]
        assert rows["topology"]["multi_camera"]["IDF1"] >= appearance - 1e-9, stream
        assert rows["travel_time"]["multi_camera"]["IDF1"] >= appearance - 1e-9, stream
    assert set(result["gains"]["oracle"]) == {"topology", "travel_time"}


def test_out_folders_are_scorable_run_outputs(ablation, tiny_scenario):
    from pyuniproc.evaluation.cli import main as evaluate

    result, out, _ = ablation
    folder = out / "pipeline-travel_time"
    for camera in ("cam1", "cam2"):
        assert (folder / "mot" / f"{camera}.txt").is_file() and (folder / "mtmc" / f"{camera}.txt").is_file()
    assert (folder / "tracks.csv").read_text().startswith("camera_id,frame,pts_seconds,track_id,global_id")
    assert (
        evaluate(["--gt", str(tiny_scenario), "--pred", str(folder), "--json", str(out / "eval.json")]) == 0
    )
    scored = json.loads((out / "eval.json").read_text())["multi_camera"]["IDF1"]
    assert scored == pytest.approx(rows_by(result, "pipeline")["travel_time"]["multi_camera"]["IDF1"])
    assert (out / "capture" / "tracks.csv").is_file()  # the one pipeline run's own outputs


def test_cached_streams_replay_to_the_same_table(ablation, tiny_scenario, module):
    result, _, cache = ablation
    again = command.run_ablation(
        tiny_scenario, module, command.fusion_settings(module.fusion), cache_dir=cache
    )
    assert all(s["meta"].get("cached") for s in again["streams"].values())
    assert [r["multi_camera"] for r in again["rows"]] == [r["multi_camera"] for r in result["rows"]]
    assert "pipeline" in command.render(again) and "+ topology + travel time" in command.render(again)


def test_cli_writes_json_and_rejects_unknown_settings(ablation, tiny_scenario, tmp_path, capsys):
    _, _, cache = ablation
    parser = argparse.ArgumentParser(prog="pyuniproc")
    command.register(parser.add_subparsers())
    args = parser.parse_args(
        [
            "ablation",
            "--scenario",
            str(tiny_scenario),
            "--cache",
            str(cache),
            "--no-oracle",
            "--json",
            str(tmp_path / "a.json"),
            "--set",
            "match_threshold=0.9",
        ]
    )
    assert args.func(args) == 0
    written = json.loads((tmp_path / "a.json").read_text())
    assert written["fusion"]["match_threshold"] == 0.9 and set(written["streams"]) == {"pipeline"}
    capsys.readouterr()
    bad = parser.parse_args(["ablation", "--scenario", str(tiny_scenario), "--set", "no_such=1"])
    assert bad.func(bad) == 2
    assert "no_such" in capsys.readouterr().err


def test_recorder_round_trip_keeps_rows_order_and_embeddings(tmp_path):
    recorder = StreamRecorder(["a", "b"], meta={"fingerprint": "x"})
    image = np.zeros((10, 10, 3), np.uint8)
    fresh = np.array([[1, 0, 0], [np.nan, np.nan, np.nan]], np.float32)
    two = Detections(
        [[0, 0, 5, 9], [1, 1, 4, 8]],
        [0.9, 0.8],
        [0, 0],
        [7, 8],
        data={"embedding": fresh, "embedding_quality": np.array([0.5, 0.0], np.float32)},
    )
    recorder.on_frame(Frame("b", 0, 0.0, image), two, [])
    recorder.on_frame(Frame("a", 0, 0.05, image), Detections(np.zeros((0, 4)), [], [], []), [])
    stream = recorder.stream()
    stream.save(tmp_path / "s.npz")
    loaded = TrackStream.load(tmp_path / "s.npz")
    frames = list(loaded.frames())
    assert [(f.camera_id, f.index) for f in frames] == [("b", 0), ("a", 0)]
    assert frames[0].tracks.tracker_id.tolist() == [7, 8]
    np.testing.assert_array_equal(frames[0].tracks.data["embedding"][0], [1, 0, 0])
    assert np.isnan(frames[0].tracks.data["embedding"][1]).all()
    assert loaded.camera_rows("b")[:, :2].tolist() == [[1, 7], [1, 8]]
    assert cached(tmp_path / "s.npz", "x", lambda: pytest.fail("should reuse")).rows == 2


def test_replay_makes_the_runtime_calls_and_relabels_offline():
    site = Topology(links=(Link("a", "b", 1.0, 5.0),))
    recorder = StreamRecorder(["a", "b"])
    image = np.zeros((100, 100, 3), np.uint8)

    def person(track_id: int) -> Detections:
        return Detections(
            [[10, 10, 30, 80]],
            [0.9],
            [0],
            [track_id],
            data={
                "embedding": np.array([[1.0, 0.0]], np.float32),
                "embedding_quality": np.ones(1, np.float32),
            },
        )

    nobody = Detections(np.zeros((0, 4)), [], [], [])
    for i in range(50):  # one person in a for 1 s, then in b 3 s later for 2 s
        t = i * 0.1
        recorder.on_frame(Frame("a", i, t, image), person(1) if t < 1 else nobody)
        recorder.on_frame(Frame("b", i, t, image), person(4) if 3 <= t < 5 else nobody)
    done = replay(recorder.stream(), site, FusionConfig(min_embeddings=1))
    assert set(done.online["a"][:, 1]) == {1}
    assert set(done.online["b"][:, 1]) == {1}  # the rows after its decision round
    assert len(done.final["b"]) == 20 and set(done.final["b"][:, 1]) == {1}  # offline: every row
    # As tracks.csv has them: every row, -1 where the id was not decided yet (b's first rows).
    assert len(done.every["b"]) == 20 and set(done.every["b"][:, 1]) == {-1, 1}
    assert len(done.online["b"]) == int((done.every["b"][:, 1] >= 0).sum())
    assert done.floor["overlaps"] == [] and done.floor["zones"]["a->b"]["handovers"] == 1  # the floor report
    assert len(done.transitions) == 1 and done.transitions[0].to_camera == "b"
    assert [(e["camera_id"], e["global_id"]) for e in done.events if e["event"] == "assigned"] == [
        ("a", 1),
        ("b", 1),
    ]


def test_oracle_tracks_split_where_a_person_is_gone_for_a_while():
    rows = np.array([[1, 5, 0, 0, 1, 1], [2, 5, 0, 0, 1, 1], [30, 5, 0, 0, 1, 1], [3, 7, 0, 0, 1, 1]], float)
    ids = {(int(f), int(i)) for f, i in split_at_gaps(rows, max_gap_frames=10)[:, :2]}
    assert ids == {(1, 5000), (2, 5000), (30, 5001), (3, 7000)}


def test_scenario_without_cameras_file_is_rejected(tmp_path):
    with pytest.raises(FileNotFoundError, match="cameras"):
        scenario_site(tmp_path)


def test_fingerprint_follows_the_weights_and_ignores_the_detector_for_the_oracle(tmp_path, module):
    # A scenario folder and copies of the model folders, so weights can be "retrained" in place.
    scenario = tmp_path / "scenario"
    (scenario / "video").mkdir(parents=True)
    (scenario / "gt").mkdir()
    (scenario / "cameras.yml").write_text("cameras: []\n")
    folders = {}
    for name, spec in (("detector", module.detector), ("reid", module.reid)):
        folder = tmp_path / name
        folder.mkdir()
        (folder / spec.model_file).write_bytes(b"weights")
        folders[name] = folder
    copy = replace(
        module,
        detector=replace(module.detector, model_dir=folders["detector"]),
        reid=replace(module.reid, model_dir=folders["reid"]),
    )
    before = {kind: fingerprint(scenario, copy, kind) for kind in ("pipeline", "oracle")}
    # Another detector threshold: the pipeline stream changes, the oracle stream (GT boxes) does not.
    looser = replace(copy, detector=replace(copy.detector, confidence_threshold=0.01))
    assert fingerprint(scenario, looser, "pipeline") != before["pipeline"]
    assert fingerprint(scenario, looser, "oracle") == before["oracle"]
    # A retrained embedder dropped in under the same file name: both streams record again.
    (folders["reid"] / module.reid.model_file).write_bytes(b"retrained weights")
    assert {kind: fingerprint(scenario, copy, kind) for kind in before}.items().isdisjoint(before.items())
    # Same contents, another mtime (a fresh checkout): the cached streams still count.
    now = fingerprint(scenario, copy, "pipeline")
    weights = folders["reid"] / module.reid.model_file
    os.utime(weights, (weights.stat().st_atime, weights.stat().st_mtime - 3600))
    assert fingerprint(scenario, copy, "pipeline") == now
    # The scenario folder's own name does not matter (a copy or a link records nothing new).
    (tmp_path / "elsewhere").symlink_to(scenario)
    assert fingerprint(tmp_path / "elsewhere", copy, "oracle") == fingerprint(scenario, copy, "oracle")


def test_tuned_rows_read_a_tuning_result_and_refuse_anything_else(tmp_path):
    good = tmp_path / "tuned.json"
    good.write_text(json.dumps({"ablations": {"appearance": {"tuned": {"match_threshold": 0.6}}}}))
    assert command.tuned_rows(good) == {"appearance": {"match_threshold": 0.6}}
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"tuned": {"match_threshold": 0.6}}))
    with pytest.raises(ValueError, match="not a tune.py result"):
        command.tuned_rows(bad)


def test_tuner_writes_only_the_fusion_block_of_a_module(tmp_path):
    import importlib.util
    from pathlib import Path

    from pyuniproc.config.module import load_module_config

    root = Path(__file__).resolve().parents[2]
    spec = importlib.util.spec_from_file_location("fusion_tune", root / "benchmarks" / "fusion" / "tune.py")
    tune = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tune)
    source = (root / "module" / "module.yml").read_text()
    target = tmp_path / "module" / "module.yml"
    target.parent.mkdir()
    target.write_text(source)
    (tmp_path / "module" / "models").symlink_to(root / "module" / "models")
    tune.apply_to_module(target, {"match_threshold": 0.875, "tentative_ids": False, "window_seconds": 0.75})
    written = target.read_text()
    changed = [(a, b) for a, b in zip(source.splitlines(), written.splitlines(), strict=False) if a != b]
    assert all(a.split(":")[0] == b.split(":")[0] for a, b in changed)  # same keys, new values
    fusion = load_module_config(target).fusion
    assert (fusion.match_threshold, fusion.tentative_ids, fusion.window_seconds) == (0.875, False, 0.75)
    assert len(written.splitlines()) - len(source.splitlines()) == int("window_seconds:" not in source)
