"""The `pyuniproc` command as a user meets it: clear errors, exit codes, results where it says."""

import json
import socket
from pathlib import Path

import pytest

from pyuniproc.cli import main

REPO = Path(__file__).resolve().parents[1]
VTEST = REPO / "samples" / "vtest" / "vtest.avi"
MODULE = REPO / "module" / "module.yml"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_run_prints_where_the_results_are(tmp_path, capsys):
    code = main(
        [
            "run",
            "--module",
            str(MODULE),
            "--source",
            f"cam1={VTEST}",
            "--out",
            str(tmp_path),
            "--max-frames",
            "20",
            "--no-progress",
        ]
    )
    assert code == 0
    printed = capsys.readouterr().out
    assert str(tmp_path / "tracks.csv") in printed
    assert json.loads((tmp_path / "summary.json").read_text())["frames_processed"] == 20


def test_missing_model_is_a_clear_error(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("MODEL_PATH", str(tmp_path / "no-models"))
    code = main(["run", "--module", str(MODULE), "--source", f"cam1={VTEST}", "--out", str(tmp_path / "o")])
    assert code == 2
    error = capsys.readouterr().err
    assert "no-models" in error and "is missing" in error and "convert_models.py" in error


@pytest.mark.parametrize(
    "precision, file_name", [("fp32", "ssdlite_pedestrian.onnx"), ("int8", "ssdlite_pedestrian_int8.onnx")]
)
def test_corrupt_model_is_a_clear_error(tmp_path, monkeypatch, capsys, precision, file_name):
    models = tmp_path / "models" / "person_detector"
    models.mkdir(parents=True)
    for item in (REPO / "module" / "models" / "person_detector").iterdir():
        (models / item.name).write_bytes(item.read_bytes())
    model = models / file_name  # the file this precision runs
    model.write_bytes(model.read_bytes()[:1000])
    monkeypatch.setenv("MODEL_PATH", str(tmp_path / "models"))
    monkeypatch.setenv("CPU_PRECISION", precision)
    monkeypatch.setenv("DETECTOR", "ssdlite")  # the profile whose file this test corrupts
    code = main(["run", "--module", str(MODULE), "--source", f"cam1={VTEST}", "--out", str(tmp_path / "o")])
    assert code == 2
    assert file_name in capsys.readouterr().err


def test_broken_module_yaml_names_file_and_line(tmp_path, capsys):
    broken = tmp_path / "module.yml"
    broken.write_text(
        MODULE.read_text().replace("    - element: nvtracker", "    - element: nvtracker\n  bad")
    )
    code = main(["run", "--module", str(broken), "--source", f"cam1={VTEST}", "--out", str(tmp_path / "o")])
    assert code == 2
    assert f"{broken}:" in capsys.readouterr().err


def test_unreachable_camera_with_credentials_never_leaks_them(tmp_path, capsys):
    uri = f"rtsp://admin:hunter2@127.0.0.1:{free_port()}/stream"
    code = main(
        [
            "run",
            "--module",
            str(MODULE),
            "--source",
            f"good={VTEST}",
            "--source",
            f"door={uri}",
            "--out",
            str(tmp_path),
            "--max-frames",
            "30",
            "--max-seconds",
            "6",
            "--no-progress",
        ]
    )
    assert code == 0
    captured = capsys.readouterr()
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["cameras"]["good"]["frames_processed"] == 30
    door = summary["cameras"]["door"]
    assert door["state"] in ("connecting", "dead") and door["reconnect_attempts"] >= 1
    everything = (
        captured.out
        + captured.err
        + "".join(
            p.read_text()
            for p in tmp_path.rglob("*")
            if p.is_file() and p.suffix in (".json", ".jsonl", ".csv", ".txt")
        )
    )
    assert "hunter2" not in everything
    assert "admin" not in everything
