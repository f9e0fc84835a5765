"""Any config file either loads or fails with a `ConfigError` naming the file: never a crash.

The module YAML and the cameras file are edited by hand (and live, while a run goes on), so a
typo must end in a clear message. Three kinds of input: arbitrary text and bytes; valid YAML of
arbitrary shape; and the real files with one node replaced by a value of another type, or deleted,
which reaches the checks deep inside the loaders.
"""

from __future__ import annotations

import copy
import re
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


# Crashes the fuzzing finds (exception type, loader function where it is raised) can be listed here while
# a fix is under way, so that the fuzz tests keep hunting for *new* ones. Empty: every input so far loads
# or raises ConfigError (the crashers found earlier are pinned in `test_former_crashers` below).
KNOWN_BUGS: set[tuple[str, str]] = set()


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


# -- inputs the fuzzing found that crashed a loader with another exception than ConfigError ---------
# Each is now a ConfigError naming the file, the line and the field at fault.


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


DETECTOR = ("pipeline", "elements", 0)
DETECTOR_OUTPUT = (*DETECTOR, "model", "output")
SELECTOR = "pipeline.elements[0].model.output.objects[0].selector"
BILLION_LAUGHS = "".join(f"l{i}: &l{i} [{', '.join([f'*l{i - 1}'] * 10)}]\n" for i in range(1, 9))
# (file, text, field named in the error (None: the file as a whole), what the error says, the former crash)
FORMER_CRASHERS = [
    ("module", "a: &x [*x]\n", None, "recursive YAML alias", "RecursionError in yaml_source._collect_lines"),
    ("cameras", "cameras: &x [*x]\n", None, "recursive YAML alias", "RecursionError in _collect_lines"),
    (
        "module",
        "l0: &l0 x\n" + BILLION_LAUGHS,
        None,
        "expand to more than",
        "minutes and GBs in _collect_lines",
    ),
    (
        "module",
        "name: x\nparameters: {a: " + "[" * 5000 + "]" * 5000 + "}\n",
        None,
        "nested too deeply",
        "RecursionError in yaml.compose",
    ),
    (
        "module",
        module_with(_set(("pipeline",), "x")),
        "pipeline",
        "must be a mapping",
        "AttributeError: pipeline is not a mapping",
    ),
    (
        "module",
        module_with(_set((*DETECTOR, "model"), 5)),
        "pipeline.elements[0].model",
        "must be a mapping",
        "AttributeError: model is not a mapping",
    ),
    (
        "module",
        module_with(_set((*DETECTOR_OUTPUT, "objects"), "x")),
        "pipeline.elements[0].model.output.objects",
        "must be a list",
        "AttributeError: objects is a string",
    ),
    (
        "module",
        module_with(_set((*DETECTOR_OUTPUT, "objects", 0, "selector"), "x")),
        SELECTOR,
        "must be a mapping",
        "AttributeError: selector is a string",
    ),
    (
        "module",
        module_with(_set((*DETECTOR_OUTPUT, "converter"), 5)),
        "pipeline.elements[0].model.output.converter",
        "must be a mapping",
        "TypeError: 'in' on an int",
    ),
    (
        "module",
        module_with(_set((*DETECTOR, "model", "batch_size"), float("inf"))),
        "pipeline.elements[0].model.batch_size",
        "finite number",
        "OverflowError: int(inf)",
    ),
    (
        "module",
        module_with(_set((*DETECTOR, "model", "batch_size"), 10**400)),
        "pipeline.elements[0].model.batch_size",
        "finite number",
        "OverflowError: float(10**400)",
    ),
    (
        "module",
        module_with(_set(("parameters", "pyuniproc", "events", "sinks", 0, "type"), [])),
        "parameters.pyuniproc.events.sinks[0].type",
        "expected one of",
        "TypeError in events.config._sink (unhashable type)",
    ),
    (
        "cameras",
        "cameras:\n  - {id: a, uri: x.mp4, lines: 5}\n",
        "cameras[0].lines",
        "must be a list",
        "TypeError: lines is not a list",
    ),
    (
        "cameras",
        "cameras:\n  - {id: a, uri: x.mp4, zones: [{name: z, polygon: [{}, {}, {}]}]}\n",
        "cameras[0].zones[0].polygon",
        "[x, y] points",
        "KeyError: a point is a mapping",
    ),
    (
        "cameras",
        "cameras:\n  - {id: a, uri: x.mp4}\ntopology:\n  links:\n    - {from: [a], to: a, max_seconds: 1}\n",
        "topology.links[0].from",
        "unknown camera",
        "TypeError: unhashable camera id in a link",
    ),
    (
        "cameras",
        "cameras:\n  - {id: a, uri: x.mp4}\n  - {id: b, uri: y.mp4}\ntopology:\n  overlaps: [[a, [b]]]\n",
        "topology.overlaps[0]",
        "known camera ids",
        "TypeError: unhashable camera id in an overlap",
    ),
]


@pytest.mark.parametrize(
    ("which", "text", "field", "words", "crash"), FORMER_CRASHERS, ids=[c[4] for c in FORMER_CRASHERS]
)
def test_former_crashers(which, text, field, words, crash):
    loader = {"module": load_module_config, "cameras": load_cameras}[which]
    path = WORK / "crasher.yml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=re.escape(words)) as error:
        loader(path)
    assert error.value.path == str(path) and str(error.value).startswith(f"{path}:")
    assert error.value.field == field
    if field is not None or "alias" in words:
        assert error.value.line is not None and str(error.value).startswith(f"{path}:{error.value.line}: ")
