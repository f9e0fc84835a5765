"""module/module.yml through Savant's own configuration loader, when a Savant source checkout is at hand.

SAVANT_SOURCE names the checkout (the folder holding savant/, e.g. `git archive` of the pinned release,
pyuniproc.deploy.images.SAVANT_VERSION); without it these tests skip. The loader runs in a subprocess
(scripts/savant_config_check.py) on SAVANT_PYTHON, else the first Python 3.10 that has OmegaConf,
simpleeval, requests, tqdm, numpy and PyYAML (Savant's image's Python and packages), else this Python
if it has them. The schema-mirror test needs only the source.
"""

from __future__ import annotations

import ast
import importlib.util
import json
import os
import sys
from pathlib import Path

import pytest
from py310kit import REPO, SCRIPT, has_modules, python310, run_python

from pyuniproc.deploy import savant_module
from pyuniproc.deploy.images import DEEPSTREAM_VERSION, SAVANT_VERSION

SOURCE = Path(os.environ.get("SAVANT_SOURCE", "/nonexistent"))
HAS_SOURCE = (SOURCE / "savant" / "config" / "schema.py").is_file()
needs_source = pytest.mark.skipif(not HAS_SOURCE, reason="set SAVANT_SOURCE to a Savant source checkout")
LOADER_NEEDS = ("omegaconf", "simpleeval", "requests", "tqdm", "numpy", "yaml")


def _loader_python() -> str | None:
    for candidate in (os.environ.get("SAVANT_PYTHON"), python310(), sys.executable):
        if candidate and has_modules(candidate, *LOADER_NEEDS):
            return candidate
    return None


def _dataclass_fields(schema: Path, name: str) -> set[str]:
    for node in ast.parse(schema.read_text()).body:
        if isinstance(node, ast.ClassDef) and node.name == name:
            return {s.target.id for s in node.body
                    if isinstance(s, ast.AnnAssign) and isinstance(s.target, ast.Name)}
    raise AssertionError(f"{name} not in {schema}")


@needs_source
def test_the_source_is_the_pinned_release():
    versions = dict(line.split("=", 1) for line in (SOURCE / "savant" / "VERSION").read_text().split())
    assert (versions["SAVANT"], versions["DEEPSTREAM"]) == (SAVANT_VERSION, DEEPSTREAM_VERSION)


@needs_source
def test_schema_mirror_has_savants_telemetry_fields_and_providers():
    """pyuniproc.deploy.savant_module's telemetry names = Savant's dataclasses and provider checks."""
    schema = SOURCE / "savant" / "config" / "schema.py"
    assert _dataclass_fields(schema, "TracingParameters") == savant_module.TRACING
    assert _dataclass_fields(schema, "MetricsParameters") == savant_module.METRICS
    assert _dataclass_fields(schema, "TelemetryParameters") == {"tracing", "metrics"}
    spec = importlib.util.spec_from_file_location("savant_config_check", SCRIPT)
    check = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(check)
    providers = check.accepted_providers(SOURCE)
    assert set(providers["tracing"]) == savant_module.TRACING_PROVIDERS - {None}
    assert set(providers["metrics"]) == savant_module.METRICS_PROVIDERS - {None}


EXPECTED = {  # detector profile -> what the generated nvinfer config of the detector must say
    "ssdlite": {"onnx-file": "ssdlite_pedestrian.onnx", "infer-dims": "(3, 300, 300)",
                "output-blob-names": "box_encodings;class_logits"},
    "nanodet": {"onnx-file": "nanodet_coco.onnx", "infer-dims": "(3, 416, 416)",
                "output-blob-names": "scores;box_distributions"},
}


@needs_source
@pytest.mark.parametrize("detector", sorted(EXPECTED))
def test_savants_loader_accepts_the_module(detector):
    python = _loader_python()
    if python is None:
        pytest.skip(f"no Python with {', '.join(LOADER_NEEDS)} for Savant's loader (set SAVANT_PYTHON)")
    code = "import runpy, sys; sys.argv = sys.argv[1:]; runpy.run_path(sys.argv[0], run_name='__main__')"
    result = run_python(python, code, str(SCRIPT), "--savant-source", str(SOURCE), "--detector", detector,
                        str(REPO / "module" / "module.yml"), timeout=300)
    assert result.returncode == 0, result.stderr[-4000:] + result.stdout[-2000:]
    report = json.loads(result.stdout)
    assert report["problems"] == [] and report["detector"] == detector
    assert report["telemetry_start"] == {"tracing": "jaeger tracer initialised",
                                         "metrics": "PrometheusMetricsExporter"}
    nvinfer = {e["name"]: e.get("nvinfer_config") for e in report["elements"]}
    assert EXPECTED[detector].items() <= nvinfer["person_detector"].items()
    assert nvinfer["person_reid"]["infer-dims"] == "(3, 256, 128)"
    assert nvinfer["person_reid"]["operate-on-class-ids"] == "0"
    pyfuncs = [e["pyfunc"] for e in report["elements"] if "pyfunc" in e]
    assert pyfuncs == ["module.pyfuncs.analytics.PeopleAnalytics"]
