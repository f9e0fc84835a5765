"""What Savant's image imports from this repository, and that it runs there.

Savant imports module/'s converters and pyfunc (named in module.yml) on the image's Python 3.10, with
the image's packages only. So module/ may import pyuniproc's core (value types, decoders, analytics,
the stand-ins of Savant's API) and nothing of the runtime, whose dependencies (PyAV, ONNX Runtime,
OpenTelemetry, Starlette, ...) the image lacks. Before this was checked, one import of the pyfunc
pulled 55 of our modules through the runtime; now 35 (26 before live edits of module.yml, 30 before the
module_files locator, 31 before the cameras file's ground-plane calibration), with numpy, OpenCV
and PyYAML as the only third-party packages at import.
Following a live edit adds OmegaConf, Savant's own YAML resolver (it is in the image), and no module
of ours.
"""

from __future__ import annotations

import json
import re
import sys

import pytest
from deploykit import resolved_module
from py310kit import (
    BLOCKED_IMPORTS,
    MODULE_IMPORTS,
    NOT_IN_SAVANT_IMAGE,
    REPO,
    RUNTIME,
    SCRIPT,
    has_modules,
    python310,
    run_python,
)

CORE_PACKAGES = {"savant_api", "types", "compat", "analytics", "config", "detect", "module_files",
                 "calibration"}
"""pyuniproc's packages module/ reaches (config: cameras, yaml_source, and for live edits module_spec,
live_module, live_rules, file_watch; never config.module, which needs the runtime's settings)."""
SAVANT_IMAGE_THIRD_PARTY = {"numpy", "cv2", "yaml", "omegaconf", "antlr4", "attr"}
"""What module/ may use of the image's packages once it follows live edits: OmegaConf resolves the edited
file (antlr4: its parser runtime; attr: imported by OmegaConf when installed, optional)."""

# Runs module/'s code the way Savant's image would: everything outside the image and the whole runtime
# raise ImportError. Drives the pyfunc over two frames and a converter over an empty network output.
BLOCKED_PROBE = BLOCKED_IMPORTS + r"""
import numpy as np
from module.converters.detector import SsdliteConverter
from module.pyfuncs.analytics import PeopleAnalytics
from pyuniproc.savant_api import FrameMetaView
from pyuniproc.types import Detections, Frame

plugin = PeopleAnalytics(cameras_file="samples/demo/cameras.yml")
plugin.on_start()
for index, top in ((10, 200), (11, 260)):  # track 7 walks down across cam1's line "crossing" (y = 330)
    frame = Frame(camera_id="cam1", index=index, pts_seconds=index / 10,
                  image=np.zeros((576, 768, 3), np.uint8))
    tracks = Detections(xyxy=np.array([[100, top, 140, top + 100]], np.float32), confidence=[0.9],
                        class_id=np.zeros(1, np.int32), tracker_id=[7])
    meta = FrameMetaView(frame, tracks, element_name="person_detector", label="person")
    plugin.process_frame(None, meta)
events = json.loads(meta.get_tag("analytics.events"))

anchors = np.load("module/models/person_detector/ssdlite_pedestrian_anchors.npy")
converter = SsdliteConverter(model_dir="module/models/person_detector")
rows = converter(np.zeros((len(anchors), 4), np.float32), np.full((len(anchors), 2), -20.0, np.float32),
                 model={"input": {"shape": [3, 300, 300]}}, roi=(0, 0, 768, 576))
print(json.dumps({
    "python": list(sys.version_info[:2]),
    "modules": sorted(m for m in sys.modules if m.split(".")[0] in ("pyuniproc", "module")),
    "third_party": sorted({m.split(".")[0] for m in sys.modules if not m.startswith("_")}
                          - set(sys.stdlib_module_names) - {"pyuniproc", "module", "cython_runtime"}),
    "people_count": meta.get_tag("people_count"),
    "events": [(e["kind"], e["track_id"]) for e in events],
    "rows_shape": list(rows.shape),
}))
"""

# Follows a live edit of module.yml with the runtime blocked: converter and pyfunc share the watcher, the
# threshold edit applies to the converter and the pyfunc tags the next frame with the notice.
LIVE_PROBE = BLOCKED_IMPORTS + r"""
import pathlib, tempfile
import numpy as np
from module.converters.detector import SsdliteConverter
from module.pyfuncs.analytics import PeopleAnalytics
from pyuniproc.savant_api import FrameMetaView
from pyuniproc.types import Detections, Frame

folder = pathlib.Path(tempfile.mkdtemp())
path = folder / "module.yml"
original = pathlib.Path("module/module.yml").read_text()
path.write_text(original)
converter = SsdliteConverter(model_dir="module/models/person_detector", watch_module=str(path),
                             watch_interval_seconds=0)
plugin = PeopleAnalytics(watch_module=str(path), watch_interval_seconds=0)
anchors = np.load("module/models/person_detector/ssdlite_pedestrian_anchors.npy")
logits = np.full((len(anchors), 2), -20.0, np.float32)
logits[100, 1] = 0.0  # one box of score 0.5 at anchor 100
call = lambda: converter(np.zeros((len(anchors), 4), np.float32), logits,
                         model={"input": {"shape": [3, 300, 300]}}, roi=(0, 0, 768, 576))
before = len(call())
path.write_text(original.replace("DETECTION_THRESHOLD, 0.15}", "DETECTION_THRESHOLD, 0.6}"))
after = len(call())
frame = Frame(camera_id="cam1", index=0, pts_seconds=0.0, image=np.zeros((576, 768, 3), np.uint8))
meta = FrameMetaView(frame, Detections.empty(), element_name="person_detector", label="person")
plugin.process_frame(None, meta)
print(json.dumps({
    "python": list(sys.version_info[:2]),
    "modules": sorted(m for m in sys.modules if m.split(".")[0] in ("pyuniproc", "module")),
    "third_party": sorted({m.split(".")[0] for m in sys.modules if not m.startswith("_")}
                          - set(sys.stdlib_module_names) - {"pyuniproc", "module", "cython_runtime"}),
    "rows": [before, after],
    "notices": [n["kind"] for n in json.loads(meta.get_tag("config.events"))],
}))
"""

# Imports module/ and every module of pyuniproc under a bare Python 3.10, every third-party package
# replaced by an inert stand-in (scripts/savant_config_check.py's InertModules): only the syntax and the
# standard library are real, which is where 3.11-only names (datetime.UTC, enum.StrEnum) fail.
STUBBED_PROBE = r"""
import importlib, importlib.util, json, pkgutil, sys

spec = importlib.util.spec_from_file_location("savant_config_check", sys.argv[1])
check = importlib.util.module_from_spec(spec)
spec.loader.exec_module(check)
ours = {"pyuniproc", "module"}
third_party = lambda top: top not in sys.stdlib_module_names and top not in ours
sys.meta_path.insert(0, check.InertModules(third_party))
import pyuniproc
names = sys.argv[2].split(",") + [m.name for m in pkgutil.walk_packages(pyuniproc.__path__, "pyuniproc.")
                                  if not m.name.endswith("__main__")]
failed = {}
for name in names:
    try:
        importlib.import_module(name)
    except Exception as error:
        failed[name] = f"{type(error).__name__}: {error}"
print(json.dumps({"python": list(sys.version_info[:2]), "imported": len(names) - len(failed),
                  "failed": failed}))
"""

PYTHON310 = python310()
NO_310 = "no Python 3.10 here (pyenv's 3.10.x, python3.10 on PATH or PYUNIPROC_PYTHON310)"


def _probe(python: str, code: str, *args: str) -> dict:
    result = run_python(python, code, *args)
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


def _blocked_probe(python: str) -> dict:
    return _probe(python, BLOCKED_PROBE, ",".join(NOT_IN_SAVANT_IMAGE), ",".join(RUNTIME),
                  ",".join(MODULE_IMPORTS))


def _check_blocked_run(report: dict) -> None:
    packages = {m.split(".")[1] for m in report["modules"] if m.startswith("pyuniproc.")}
    assert packages <= CORE_PACKAGES, packages - CORE_PACKAGES
    # the chain stays short (55 before; 35 = 30 + pyuniproc.module_files, a pathlib-only locator of the
    # default module that the detector's model lookup uses, + pyuniproc.calibration's four numpy-only
    # modules, which the cameras file needs to read a camera's ground-plane calibration)
    assert len(report["modules"]) <= 35, report["modules"]
    assert set(report["third_party"]) <= {"numpy", "cv2", "yaml"}, report["third_party"]
    assert report["people_count"] == 1 and report["events"] == [["line_crossed", 7]]
    assert report["rows_shape"] == [0, 6]


def test_module_yaml_names_exactly_the_modules_checked_here():
    names = set()
    for detector in ("ssdlite", "nanodet"):
        for element in resolved_module(detector)["pipeline"]["elements"]:
            converter = ((element.get("model") or {}).get("output") or {}).get("converter") or {}
            names |= {element.get("module"), converter.get("module")}
    assert {n for n in names if n and not n.startswith("savant.")} == set(MODULE_IMPORTS)


@pytest.mark.parametrize("dockerfile", ["Dockerfile.module", "Dockerfile.module-l4t"])
def test_module_images_import_check_is_what_savant_imports(dockerfile):
    """The image's build-time check imports exactly module/'s converter and pyfunc, and the Dockerfile
    installs nothing for them: Savant's image has numpy, OpenCV and PyYAML."""
    text = (REPO / "docker" / dockerfile).read_text()
    checks = re.findall(r'^RUN python -c "import ([\w., ]+)"$', text, re.M)
    assert len(checks) == 1 and {n.strip() for n in checks[0].split(",")} == set(MODULE_IMPORTS)
    assert "pip install" not in text


def test_module_imports_only_the_core_with_the_runtime_blocked():
    """On the dev Python: module/ runs with the runtime and the packages Savant's image lacks blocked."""
    _check_blocked_run(_blocked_probe(sys.executable))


@pytest.mark.skipif(PYTHON310 is None, reason=NO_310)
def test_package_and_module_source_compile_under_python310():
    files = [str(p) for folder in ("pyuniproc", "module") for p in sorted((REPO / folder).rglob("*.py"))]
    files.append(str(SCRIPT))
    code = ("import sys\nfor path in sys.argv[1:]:\n"
            "    compile(open(path, encoding='utf-8').read(), path, 'exec', dont_inherit=True)\n")
    result = run_python(PYTHON310, code, *files)
    assert result.returncode == 0, result.stderr[-3000:]


@pytest.mark.skipif(PYTHON310 is None, reason=NO_310)
def test_package_and_module_import_under_python310_standard_library():
    """Every module of pyuniproc (fusion's image runs the runtime on Savant's 3.10 too) and module/."""
    report = _probe(PYTHON310, STUBBED_PROBE, str(SCRIPT), ",".join(MODULE_IMPORTS))
    assert report["python"] == [3, 10]
    assert report["failed"] == {}
    assert report["imported"] > 100


@pytest.mark.skipif(PYTHON310 is None or not has_modules(PYTHON310, "numpy", "cv2", "yaml"),
                    reason="needs a Python 3.10 with numpy, OpenCV and PyYAML (Savant's image has them): "
                           "set PYUNIPROC_PYTHON310 to one, e.g. a venv with numpy<2 "
                           "opencv-python-headless pyyaml")
def test_module_runs_under_python310_with_the_runtime_blocked():
    report = _blocked_probe(PYTHON310)
    assert report["python"] == [3, 10]
    _check_blocked_run(report)


LIVE_PYTHONS = [sys.executable] + ([PYTHON310] if PYTHON310 and has_modules(
    PYTHON310, "numpy", "cv2", "yaml", "omegaconf") else [])


@pytest.mark.parametrize("python", LIVE_PYTHONS, ids=lambda p: "python" + p.rsplit("python", 1)[-1])
def test_live_edits_run_on_the_core_and_savants_omegaconf_only(python):
    """A live edit of module.yml, followed with the runtime blocked: nothing of ours beyond the core, and of
    the image's packages only numpy, OpenCV, PyYAML and OmegaConf."""
    report = _probe(python, LIVE_PROBE, ",".join(NOT_IN_SAVANT_IMAGE), ",".join(RUNTIME),
                    ",".join(MODULE_IMPORTS))
    packages = {m.split(".")[1] for m in report["modules"] if m.startswith("pyuniproc.")}
    assert packages <= CORE_PACKAGES, packages - CORE_PACKAGES
    assert set(report["third_party"]) <= SAVANT_IMAGE_THIRD_PARTY, report["third_party"]
    assert report["rows"] == [1, 0] and report["notices"] == ["config_reloaded"]
