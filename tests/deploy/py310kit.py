"""Finding a Python 3.10 and running code under it, for the tests of what Savant's image imports.

Savant 0.5's image (DeepStream 7.0) runs Python 3.10. This machine kind has pyenv's 3.10 without any
packages; PYUNIPROC_PYTHON310 may name another 3.10 (e.g. a venv with numpy, OpenCV and PyYAML, the
packages of Savant's image that the core uses), and then the tests also run the code for real.
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "scripts" / "savant_config_check.py"

MODULE_IMPORTS = ("module.converters.detector", "module.pyfuncs.analytics")
"""What Savant imports from this repository: the converter and pyfunc modules module.yml names."""

NOT_IN_SAVANT_IMAGE = ("av", "onnxruntime", "opentelemetry", "starlette", "uvicorn", "anyio", "rich",
                       "confluent_kafka", "torch", "triton", "trackeval", "jsonschema", "zmq", "pynvml")
"""Dependencies of pyuniproc's runtime that Savant 0.5's image lacks (its requirements/base.txt has numpy,
scipy, OpenCV, PyYAML via OmegaConf, OmegaConf, prometheus-client, requests, savant-rs; our
docker/Dockerfile.module installs nothing): importing one from module/ would fail in the image."""

RUNTIME = ("pyuniproc.runtime", "pyuniproc.view", "pyuniproc.telemetry", "pyuniproc.sources",
           "pyuniproc.outputs", "pyuniproc.events", "pyuniproc.transport", "pyuniproc.gpu", "pyuniproc.bench",
           "pyuniproc.cli", "pyuniproc.fusion_service", "pyuniproc.deploy", "pyuniproc.report",
           "pyuniproc.config.module", "pyuniproc.reid.onnx_embedder", "pyuniproc.scenario",
           "pyuniproc.evaluation", "pyuniproc.ablation")
"""The embedded runtime and tools: never imported by module/ (dependencies point down)."""


BLOCKED_IMPORTS = r"""
import importlib.abc, json, sys

blocked_packages = set(sys.argv[1].split(","))
blocked_modules = tuple(sys.argv[2].split(","))

class Blocked(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name.split(".")[0] in blocked_packages or any(
                name == m or name.startswith(m + ".") for m in blocked_modules):
            raise ImportError(f"{name} is blocked: not in Savant's image, or not pyuniproc's core")

sys.meta_path.insert(0, Blocked())
for name in sys.argv[3].split(","):
    __import__(name)
"""
"""Start of a probe script: run with `NOT_IN_SAVANT_IMAGE`, `RUNTIME`, `MODULE_IMPORTS` (comma-joined) as
its first three arguments, everything Savant's image lacks and the whole runtime raise ImportError."""


def python310() -> str | None:
    """A Python 3.10 interpreter: PYUNIPROC_PYTHON310, pyenv's 3.10.x, or python3.10 on PATH."""
    candidates = [os.environ.get("PYUNIPROC_PYTHON310", "")]
    for root in (os.environ.get("PYENV_ROOT", ""), str(Path.home() / ".pyenv"), "/root/.pyenv"):
        if root:
            candidates += sorted(glob.glob(f"{root}/versions/3.10*/bin/python3.10"), reverse=True)
    candidates.append(shutil.which("python3.10") or "")
    for candidate in candidates:
        if candidate and Path(candidate).is_file() and os.access(candidate, os.X_OK):
            return candidate
    return None


def has_modules(python: str, *names: str) -> bool:
    code = ("import importlib.util, sys\n"
            "sys.exit(any(importlib.util.find_spec(n) is None for n in sys.argv[1:]))")
    return subprocess.run([python, "-c", code, *names], capture_output=True).returncode == 0


def run_python(python: str, code: str, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    """`python -c code args` from the repository root, with the repository (not the venv) on sys.path."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
    env["PYTHONPATH"] = str(REPO)
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    return subprocess.run([python, "-c", code, *args], cwd=REPO, env=env, capture_output=True, text=True,
                          timeout=timeout)
