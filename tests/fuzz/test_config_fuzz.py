"""Any config file either loads or fails with a `ConfigError` naming the file: never a crash.

The module YAML and the cameras file are edited by hand (and live, while a run goes on), so a
typo must end in a clear message. Three kinds of input: arbitrary text and bytes; valid YAML of
arbitrary shape; and the real files with one node replaced by a value of another type, or deleted,
which reaches the checks deep inside the loaders.
"""

from __future__ import annotations

import copy
import tempfile
import traceback
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import example, given, settings
from hypothesis import strategies as st

from pyuniproc.config.cameras import load_cameras
from pyuniproc.config.module import load_module_config
from pyuniproc.config.yaml_source import ConfigError

REPO = Path(__file__).resolve().parents[2]
MODULE_TEXT = (REPO / "module" / "module.yml").read_text()
CAMERAS_TEXT = (REPO / "samples" / "demo" / "cameras.yml").read_text()
WORK = Path(tempfile.mkdtemp(prefix="pyuniproc-fuzz-"))

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=12),
    st.sampled_from(
        [
            "${oc.env:NOPE}",
            "${parameters.nope}",
            "${oc.decode:'[1'}",
            "${",
            "rtsp://u:p@h/s",
            "-1",
            "1e999",
            "",
            "~",
            "cam1",
        ]
    ),
)
keys = st.one_of(st.text(max_size=8), st.integers())
values = st.recursive(
    scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(keys, inner, max_size=4)),
    max_leaves=12,
)


# Crashes the fuzzing found and `test_known_crashers` below pins (exception type, loader function
# where it is raised): tolerated in the fuzz tests so that they keep hunting for *new* ones. Empty
# this once the fixes in docs/robustness.md ("Config loaders") are in.
KNOWN_BUGS = {
    ("RecursionError", "_collect_lines"),
    ("AttributeError", "load_module_config"),
    ("AttributeError", "_detector_spec"),
    ("TypeError", "_camera"),
    ("KeyError", "_points"),
    ("TypeError", "_topology"),
}


def load(loader: Any, text: str | bytes, name: str, *, tolerate_known: bool = True) -> None:
    """`loader` on a file holding `text`: anything but a clean load or a ConfigError fails the test."""
    path = WORK / name
    path.write_bytes(text if isinstance(text, bytes) else text.encode("utf-8", "surrogatepass"))
    try:
        loader(path)
    except ConfigError as error:
        assert str(path) in str(error)
    except Exception as error:
        frames = [f for f in traceback.extract_tb(error.__traceback__) if "/pyuniproc/config/" in f.filename]
        known = any((type(error).__name__, frame.name) in KNOWN_BUGS for frame in frames)
        if not (tolerate_known and known):
            raise


def paths_of(node: Any, prefix: tuple = ()) -> list[tuple]:
    """Every key path of a parsed YAML document (dict keys and list indexes)."""
    found = [prefix] if prefix else []
    if isinstance(node, dict):
        for key, value in node.items():
            found += paths_of(value, (*prefix, key))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            found += paths_of(value, (*prefix, i))
    return found


def mutated(text: str, data: st.DataObject) -> str:
    """The document with one node replaced by an arbitrary value, or deleted."""
    doc = yaml.safe_load(text)
    path = data.draw(st.sampled_from(paths_of(doc)))
    doc = copy.deepcopy(doc)
    parent = doc
    for key in path[:-1]:
        parent = parent[key]
    if data.draw(st.booleans()):
        parent[path[-1]] = data.draw(values)
    else:
        del parent[path[-1]]
    return yaml.safe_dump(doc, sort_keys=False)


REAL = {"module": MODULE_TEXT, "cameras": CAMERAS_TEXT}
# Resolving a module YAML (OmegaConf) takes ~0.1 s, so the module loader gets fewer examples in CI.
FEWER = settings(settings.default, max_examples=max(20, settings.default.max_examples // 4))
LOADERS = pytest.mark.parametrize(
    ("loader", "real"), [(load_module_config, "module"), (load_cameras, "cameras")], ids=["module", "cameras"]
)


@LOADERS
@FEWER
@given(text=st.one_of(st.text(max_size=200), st.binary(max_size=200).map(bytes)))
@example(text=b"\xff\xfe not utf-8")
@example(text="!!python/object/apply:os.system ['echo pwned']")
def test_arbitrary_text(loader, real, text):
    load(loader, text, "text.yml")


@LOADERS
@FEWER
@given(doc=values)
def test_arbitrary_yaml(loader, real, doc):
    load(loader, yaml.safe_dump(doc), "any.yml")


@LOADERS
@FEWER
@given(data=st.data())
def test_real_file_with_one_node_changed(loader, real, data):
    load(loader, mutated(REAL[real], data), "mutated.yml")


@LOADERS
@FEWER
@given(data=st.data())
def test_real_file_with_a_line_cut_or_doubled(loader, real, data):
    lines = REAL[real].splitlines(keepends=True)
    i = data.draw(st.integers(0, len(lines) - 1))
    cut = data.draw(st.integers(0, len(lines[i])))
    edit = data.draw(st.sampled_from(["truncate", "drop", "double", "indent"]))
    if edit == "truncate":  # a file written half-way
        lines = lines[:i] + [lines[i][:cut]]
    elif edit == "drop":
        del lines[i]
    elif edit == "double":
        lines.insert(i, lines[i])
    else:
        lines[i] = "  " + lines[i]
    load(loader, "".join(lines), "edited.yml")


# -- inputs the fuzzing found that crash a loader with another exception than ConfigError ----------
# Fixes proposed in docs/robustness.md ("Config loaders"); strict=False: they turn XPASS once fixed.


def module_with(change: Any) -> str:
    doc = yaml.safe_load(MODULE_TEXT)
    change(doc)
    return yaml.safe_dump(doc, sort_keys=False)


def _set(path: tuple, value: Any) -> Any:
    def change(doc: Any) -> None:
        for key in path[:-1]:
            doc = doc[key]
        doc[path[-1]] = value

    return change


DETECTOR_OUTPUT = ("pipeline", "elements", 0, "model", "output")
KNOWN_CRASHERS = [
    ("module", "a: &x [*x]\n", "RecursionError in yaml_source._collect_lines (recursive alias)"),
    ("cameras", "cameras: &x [*x]\n", "RecursionError in yaml_source._collect_lines (recursive alias)"),
    ("module", module_with(_set(("pipeline",), "x")), "AttributeError: pipeline is not a mapping"),
    (
        "module",
        module_with(_set(("pipeline", "elements", 0, "model"), 5)),
        "AttributeError: model is not a mapping",
    ),
    ("module", module_with(_set((*DETECTOR_OUTPUT, "objects"), "x")), "AttributeError: objects is a string"),
    (
        "module",
        module_with(_set((*DETECTOR_OUTPUT, "objects", 0, "selector"), "x")),
        "AttributeError: selector is a string",
    ),
    ("cameras", "cameras:\n  - {id: a, uri: x.mp4, lines: 5}\n", "TypeError: lines is not a list"),
    (
        "cameras",
        "cameras:\n  - {id: a, uri: x.mp4, zones: [{name: z, polygon: [{}, {}, {}]}]}\n",
        "KeyError: a point is a mapping",
    ),
    (
        "cameras",
        "cameras:\n  - {id: a, uri: x.mp4}\ntopology:\n  links:\n    - {from: [a], to: a, max_seconds: 1}\n",
        "TypeError: unhashable camera id in a link",
    ),
]


@pytest.mark.xfail(strict=False, reason="config loader raises a non-ConfigError: see docs/robustness.md")
@pytest.mark.parametrize(("which", "text", "problem"), KNOWN_CRASHERS, ids=[c[2] for c in KNOWN_CRASHERS])
def test_known_crashers(which, text, problem):
    loader = {"module": load_module_config, "cameras": load_cameras}[which]
    load(loader, text, "crasher.yml", tolerate_known=False)
