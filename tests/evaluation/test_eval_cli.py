"""`pyuniproc eval` reads a run folder in each supported layout and writes its JSON."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import pytest

from pyuniproc.evaluation import cli
from pyuniproc.evaluation.mot_io import load_ground_truth, load_predictions

DEFAULT = Path(__file__).resolve().parents[2] / "samples" / "scenario_default"
HEADER = "camera_id,frame,pts_seconds,track_id,global_id,x1,y1,x2,y2,confidence"


def _write_run(out: Path, gt: dict[str, np.ndarray], *, global_id=lambda cam, gid: gid, with_mot=True):
    """A run folder that tracked the GT perfectly: local ids differ from global ones."""
    lines = [HEADER]
    if with_mot:
        (out / "mot").mkdir(parents=True)
    for cam, rows in gt.items():
        mot = []
        for f, gid, x, y, w, h in rows:
            local = int(gid) + 500
            mot.append(f"{int(f)},{local},{x:.2f},{y:.2f},{w:.2f},{h:.2f},0.9,-1,-1,-1")
            lines.append(
                f"{cam},{int(f)},{(f - 1) / 10:.3f},{local},{global_id(cam, int(gid))},"
                f"{x:.2f},{y:.2f},{x + w:.2f},{y + h:.2f},0.9"
            )
        if with_mot:
            (out / "mot" / f"{cam}.txt").write_text("\n".join(mot) + "\n")
    out.mkdir(parents=True, exist_ok=True)
    (out / "tracks.csv").write_text("\n".join(lines) + "\n")


def _main(*argv: str) -> int:
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers()
    cli.register(sub)
    args = parser.parse_args(["eval", *argv])
    return args.func(args)


def test_perfect_run_scores_one_everywhere(tmp_path, capsys):
    gt, _ = load_ground_truth(DEFAULT)
    _write_run(tmp_path / "run", gt)
    assert (
        _main("--gt", str(DEFAULT), "--pred", str(tmp_path / "run"), "--json", str(tmp_path / "s.json")) == 0
    )
    printed = capsys.readouterr().out
    assert "IDF1" in printed and "multi-camera" in printed
    result = json.loads((tmp_path / "s.json").read_text())
    assert set(result["cameras"]) == set(gt)
    assert all(s["IDF1"] == pytest.approx(1.0) for s in result["cameras"].values())
    assert result["combined"]["MOTA"] == pytest.approx(1.0)
    assert result["multi_camera"]["IDF1"] == pytest.approx(1.0)


def test_tracks_csv_alone_and_unassigned_global_ids(tmp_path):
    gt, _ = load_ground_truth(DEFAULT)
    cams = sorted(gt)
    _write_run(tmp_path, gt, global_id=lambda cam, gid: -1 if cam == cams[0] else gid, with_mot=False)
    local, global_rows, notes = load_predictions(tmp_path, cams)
    assert any("tracks.csv track_id" in n for n in notes)
    assert any("without one" in n for n in notes)
    assert len(local[cams[0]]) == len(gt[cams[0]])
    assert (global_rows[cams[0]][:, 1] >= 1_000_000_000).all()  # unassigned: ids of their own


def test_mtmc_folder_wins_over_tracks_csv(tmp_path):
    gt, _ = load_ground_truth(DEFAULT)
    _write_run(tmp_path, gt, global_id=lambda cam, gid: 7)  # tracks.csv: everyone is person 7
    (tmp_path / "mtmc").mkdir()  # mtmc/: the right global ids
    for cam, rows in gt.items():
        np.savetxt(tmp_path / "mtmc" / f"{cam}.txt", rows, fmt="%g", delimiter=",")
    _, global_rows, notes = load_predictions(tmp_path, sorted(gt))
    assert "global ids from mtmc/" in notes
    cam = sorted(gt)[0]
    np.testing.assert_array_equal(global_rows[cam][:, 1], gt[cam][:, 1])


def test_missing_run_folder_is_an_error(tmp_path, capsys):
    assert _main("--gt", str(DEFAULT), "--pred", str(tmp_path / "nothing")) == 2
    assert "neither mot" in capsys.readouterr().err


def test_baseline_gate_fails_only_on_a_real_drop(tmp_path, capsys):
    gt, _ = load_ground_truth(DEFAULT)
    _write_run(tmp_path / "good", gt)
    baseline = tmp_path / "baseline.json"
    assert _main("--gt", str(DEFAULT), "--pred", str(tmp_path / "good"), "--json", str(baseline)) == 0
    assert _main("--gt", str(DEFAULT), "--pred", str(tmp_path / "good"), "--baseline", str(baseline)) == 0

    cams = sorted(gt)
    _write_run(tmp_path / "bad", gt, global_id=lambda cam, gid: gid + 1000 if cam == cams[0] else gid)
    capsys.readouterr()
    assert _main("--gt", str(DEFAULT), "--pred", str(tmp_path / "bad"), "--baseline", str(baseline)) == 1
    out = capsys.readouterr().out
    assert "REGRESSION multi-camera IDF1" in out
    assert "REGRESSION cam" not in out  # per camera the tracks are still perfect
