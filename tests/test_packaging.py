"""`pip install .` gives a `pyuniproc` that works from any folder, without the optional extras.

The commands run in a subprocess whose current folder is not the repository and which cannot import
what the extras bring (eval: trackeval, kafka: confluent_kafka, gpu: torch, onnx, triton, pynvml).
Building a real wheel is slow, so the installed layout is rebuilt by hand from what setup.py puts in
the wheel: the package, plus `module/` as `pyuniproc/_module/module` (a by-hand `pip install .` check
is in the README).
"""

from __future__ import annotations

import json
import os
import runpy
import shutil
import subprocess
import sys
from pathlib import Path

import yaml

import pyuniproc
from pyuniproc import module_files

REPO = Path(__file__).resolve().parents[1]
VTEST = REPO / "samples" / "vtest" / "vtest.avi"
BLOCKED = ("trackeval", "confluent_kafka", "torch", "onnx", "triton", "pynvml")
PRELUDE = f"""
import importlib.abc, sys

class Blocked(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] in {BLOCKED!r}:
            raise ModuleNotFoundError(f"No module named {{name!r}} (blocked by the test)", name=name)
        return None

sys.meta_path.insert(0, Blocked())
from pyuniproc.cli import main
"""


def pyuniproc_cli(script: str, cwd: Path, pythonpath: Path | None = None) -> subprocess.CompletedProcess:
    """Run `script` after PRELUDE (`main` imported, extras blocked) in a fresh interpreter in `cwd`."""
    env = {**os.environ, "METRICS": "false"}  # no telemetry port: tests run side by side
    env.pop("PYTHONPATH", None)
    if pythonpath is not None:
        env["PYTHONPATH"] = str(pythonpath)
    return subprocess.run([sys.executable, "-c", PRELUDE + script], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=300)


def wheel_files() -> list[str]:
    """What setup.py copies from module/ into the wheel."""
    return runpy.run_path(str(REPO / "setup.py"), run_name="not_main")["module_files"]()


def test_help_of_every_command_works_from_another_folder_without_the_extras(tmp_path):
    script = f"""
import argparse
names = []
for argv in (["--help"], ["--version"]):
    try:
        main(argv)
    except SystemExit as exit:
        assert exit.code == 0, argv
parser = argparse.ArgumentParser()
from pyuniproc.cli import _optional_commands, _register_run
commands = parser.add_subparsers()
_register_run(commands)
for register in _optional_commands():
    register(commands)
for name in commands.choices:
    try:
        main([name, "--help"])
    except SystemExit as exit:
        assert exit.code == 0, name
    names.append(name)
print("COMMANDS", " ".join(names))
print("LOADED", [m for m in sys.modules if m.partition(".")[0] in {BLOCKED!r}])
"""
    done = pyuniproc_cli(script, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    version = f"pyuniproc {pyuniproc.__version__} (default module: {module_files.default_module_file()})"
    assert version in done.stdout
    commands = done.stdout.split("COMMANDS ")[1].split()
    assert {"run", "eval", "report", "ablation", "scenario", "fusion", "compose", "bench"} <= set(commands)
    assert "LOADED []" in done.stdout


def test_a_command_whose_extra_is_missing_names_the_pip_command(tmp_path):
    done = pyuniproc_cli(
        f"sys.exit(main(['eval', '--gt', {str(REPO / 'samples' / 'scenario_default')!r}, '--pred', '.']))",
        cwd=tmp_path,
    )
    assert done.returncode == 2
    assert "needs trackeval, which is not installed: pip install 'pyuniproc[eval]'" in done.stderr
    assert "Traceback" not in done.stderr


def test_an_installed_pyuniproc_runs_its_own_module_from_any_folder(tmp_path):
    """The layout of `pip install .` (package + setup.py's copy of module/), no checkout on sys.path:
    the default module, its models and its pyfunc (`module.pyfuncs.analytics`) are found."""
    site = tmp_path / "site-packages"
    shutil.copytree(REPO / "pyuniproc", site / "pyuniproc", ignore=shutil.ignore_patterns("__pycache__"))
    bundled = site / "pyuniproc" / "_module" / "module"
    for relative in wheel_files():
        (bundled / relative).parent.mkdir(parents=True, exist_ok=True)
        os.symlink(REPO / "module" / relative, bundled / relative)  # the models are 35 MB: link, don't copy
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    done = pyuniproc_cli(
        "import pyuniproc; print('PACKAGE', pyuniproc.__file__)\n"
        f"sys.exit(main(['run', '--source', 'a={VTEST}', '--out', 'out', '--max-frames', '3', "
        "'--no-progress']))",
        cwd=elsewhere,
        pythonpath=site,
    )
    assert done.returncode == 0, done.stderr
    assert f"PACKAGE {site / 'pyuniproc' / '__init__.py'}" in done.stdout
    summary = json.loads((elsewhere / "out" / "summary.json").read_text())
    assert summary["module"] == str(bundled / "module.yml")
    assert summary["frames_processed"] == 3
    assert (elsewhere / "out" / "events.jsonl").is_file()


def test_the_wheel_carries_every_file_the_default_module_can_select():
    shipped = set(wheel_files())
    module = yaml.safe_load((REPO / "module" / "module.yml").read_text())
    needed = {"module.yml", "__init__.py", "pyfuncs/__init__.py", "pyfuncs/analytics.py",
              "converters/__init__.py", "converters/detector.py", "tracker/config_tracker_NvSORT.yml",
              "models/person_detector/MODELS.json", "models/person_reid/MODELS.json"}
    detectors = json.loads((REPO / "module/models/person_detector/MODELS.json").read_text())["models"]
    for profile in module["parameters"]["detectors"].values():  # DETECTOR=ssdlite|nanodet
        (entry,) = [e for e in detectors.values() if e["file"] == profile["model_file"]]
        for file in (entry["file"], entry["int8"]["file"], (entry.get("anchors") or {}).get("file")):
            if file:  # float (GPU, CPU_PRECISION=fp32), int8 (the CPU default), anchors
                needed.add(f"models/person_detector/{file}")
    (reid,) = [e for e in module["pipeline"]["elements"] if e["element"] == "nvinfer@attribute_model"]
    needed.add(f"models/{reid['name']}/{reid['model']['model_file']}")
    assert needed <= shipped, sorted(needed - shipped)
    assert not [f for f in shipped if "__pycache__" in f or f.endswith(".pyc")]


def test_the_default_module_is_the_installed_copy_when_there_is_one(tmp_path, monkeypatch):
    bundled, checkout = tmp_path / "site-packages" / "pyuniproc" / "_module", tmp_path / "checkout"
    monkeypatch.setattr(module_files, "BUNDLED_PROJECT", bundled)
    monkeypatch.setattr(module_files, "SOURCE_PROJECT", checkout)
    assert module_files.default_module_file() == checkout / "module" / "module.yml"  # neither: a clear path
    (checkout / "module").mkdir(parents=True)
    (checkout / "module" / "module.yml").write_text("name: x\n")
    assert module_files.module_dir() == checkout / "module"
    (bundled / "module").mkdir(parents=True)
    (bundled / "module" / "module.yml").write_text("name: x\n")
    assert module_files.default_module_file() == bundled / "module" / "module.yml"
    assert module_files.models_dir() == bundled / "module" / "models"

