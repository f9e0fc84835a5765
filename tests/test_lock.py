"""The lock file pins everything pyproject.toml asks for, and this venv was installed from it."""

from __future__ import annotations

import re
import tomllib
from importlib import metadata
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
LOCKED_EXTRAS = ("dev", "eval", "kafka")
PIN = re.compile(r"^([A-Za-z0-9_.\-]+)==([^\s;\\]+)(\s*;\s*([^\\]+?))?\s*\\?$")


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _requirement_name(requirement: str) -> str:
    return _canonical(re.split(r"[\s<>=!~;\[]", requirement, maxsplit=1)[0])


def _lock() -> dict[str, list[tuple[str, str, int]]]:
    """name -> [(version, marker, hash count)] for every pin in requirements.lock."""
    pins: dict[str, list[tuple[str, str, int]]] = {}
    current: list | None = None
    for line in (REPO / "requirements.lock").read_text().splitlines():
        match = PIN.match(line)
        if match:
            current = [match.group(2), (match.group(4) or "").strip(), 0]
            pins.setdefault(_canonical(match.group(1)), []).append(current)
        elif current is not None and line.strip().startswith("--hash=sha256:"):
            current[2] += 1
    return {name: [tuple(entry) for entry in entries] for name, entries in pins.items()}


def test_every_dependency_and_locked_extra_is_pinned_with_hashes() -> None:
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    wanted = list(project["dependencies"])
    for extra in LOCKED_EXTRAS:
        wanted += project["optional-dependencies"][extra]
    pins = _lock()
    missing = sorted({_requirement_name(r) for r in wanted} - set(pins))
    assert not missing, f"not in requirements.lock (run `make lock`): {missing}"
    unhashed = sorted(name for name, entries in pins.items() if any(count == 0 for *_, count in entries))
    assert not unhashed, f"pins without a hash: {unhashed}"


def test_the_installed_packages_are_the_locked_versions() -> None:
    pins = _lock()
    checked = 0
    for name in ("numpy", "onnxruntime", "opencv-python-headless", "scipy", "savant-rs", "trackeval"):
        try:
            installed = metadata.version(name)
        except metadata.PackageNotFoundError:
            pytest.fail(f"{name} is locked but not installed: install with `make` (requirements.lock)")
        versions = {version for version, marker, _ in pins[name]}
        assert installed in versions, f"{name} {installed} installed, the lock says {sorted(versions)}"
        checked += 1
    assert checked == 6
