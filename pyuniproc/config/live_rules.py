"""Which values of a module YAML the Savant deployment can change while it runs, and which need a restart.

Savant builds the GStreamer/DeepStream pipeline from the YAML once: nvinfer reads its model file, input
shape, layer names and batch size to build a TensorRT engine, nvtracker its low-level config file, the
stream muxer the batch size, Savant its element list and parameters. None of that can change without a
restart. What our own Python reads on every frame can: the detector thresholds our converter and
selector apply (module/converters/detector.py) and the kwargs our pyfuncs declare live (module/pyfuncs/).

An edit is compared value by value on the resolved tree (interpolations resolved, as Savant sees it), so
a change of `parameters.detector` shows up where it lands: the detector element's model file, shape and
layer names. Paths are the ones `YamlDocument.line_of` knows (`pipeline.elements[0].model.model_file`),
so every notice names the line.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Literal

from pyuniproc.config.module_spec import ModuleSpec

Kind = Literal["live", "restart", "elsewhere", "ignored"]

SELECTOR_THRESHOLDS = ("confidence_threshold", "nms_iou_threshold", "min_width", "min_height")
"""Selector kwargs of the detector's first object (class 0) that the converter and selector apply live."""

CONVERTER_LIVE_KWARGS = (*SELECTOR_THRESHOLDS, "max_detections")
"""Converter kwargs the converter re-reads live (they override the selector's thresholds)."""

ELSEWHERE = {
    "reid": "read by `pyuniproc fusion` (the crop-quality gate), not by the Savant module",
    "fusion": "read by `pyuniproc fusion`, not by the Savant module",
    "pyuniproc": "settings of the embedded runtime only; the Savant module ignores them",
    "tracker": "read by pyuniproc's ByteTrack only; DeepStream's nvtracker reads its ll-config-file "
               "(module/tracker/) once, at start",
}
"""Free-form parameters the Savant module itself never reads: an edit there is no concern of the module."""

THROUGH_INTERPOLATION = {"detector", "detectors"}
"""Parameters that act only where the pipeline interpolates them; those resolved values are compared."""

MISSING = object()
"""A value present on one side of a comparison only."""

_ELEMENT = re.compile(r"^pipeline\.elements\[(\d+)\]\.(.+)$")


def flatten(tree: Any, prefix: str = "") -> dict[str, Any]:
    """{path: value} of every leaf; a list of plain values (a shape, offsets) is one leaf, as a tuple."""
    if isinstance(tree, Mapping) and tree:
        leaves: dict[str, Any] = {}
        for key, value in tree.items():
            leaves.update(flatten(value, f"{prefix}.{key}" if prefix else str(key)))
        return leaves
    if isinstance(tree, list) and any(isinstance(item, (Mapping, list)) for item in tree):
        leaves = {}
        for i, value in enumerate(tree):
            leaves.update(flatten(value, f"{prefix}[{i}]"))
        return leaves
    return {prefix: tuple(tree) if isinstance(tree, list) else tree}


def changed_paths(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[str]:
    """Paths whose value differs, in file order of `new` then those `new` lost."""
    paths = [p for p in new if old.get(p, MISSING) != new[p]]
    return paths + [p for p in old if p not in new]


def classify(path: str, spec: ModuleSpec,
             live_pyfuncs: Mapping[tuple[str, str], tuple[str, frozenset[str]]]) -> tuple[Kind, str]:
    """(kind, section or reason) of one changed path, for the pipeline that `spec` describes.

    live_pyfuncs: (module, class_name) -> (section name, kwargs that pyfunc applies between frames).
    """
    if path.startswith("parameters."):
        name = path.split(".")[1].split("[")[0]
        if name in ELSEWHERE:
            return "elsewhere", ELSEWHERE[name]
        if name in THROUGH_INTERPOLATION:
            return "ignored", "acts through the pipeline values that interpolate it"
        return "restart", "Savant reads its parameters once, at start"
    match = _ELEMENT.match(path)
    if match is None:
        return "restart", "Savant builds the pipeline from it at start"
    index, rest = int(match.group(1)), match.group(2)
    elements = spec.resolved.get("pipeline", {}).get("elements", [])
    element = elements[index] if index < len(elements) else {}
    kind = str(element.get("element", ""))
    if kind == "nvinfer@detector":
        selector = re.fullmatch(r"model\.output\.objects\[0\]\.selector\.kwargs\.(\w+)", rest)
        converter = re.fullmatch(r"model\.output\.converter\.kwargs\.(\w+)", rest)
        if (selector and selector.group(1) in SELECTOR_THRESHOLDS) or (
                converter and converter.group(1) in CONVERTER_LIVE_KWARGS):
            return "live", "detector"
        return "restart", "nvinfer builds its engine and output parsing from it at start"
    if kind == "pyfunc":
        kwarg = re.fullmatch(r"kwargs\.(\w+)(?:[.\[].*)?", rest)
        section, live = live_pyfuncs.get((str(element.get("module")), str(element.get("class_name"))),
                                         ("", frozenset()))
        if kwarg and kwarg.group(1) in live:
            return "live", section
        return "restart", "Savant creates the pyfunc with these at start"
    return "restart", f"{kind or 'the element'} is configured once, at start"


def jsonable(value: Any) -> Any:
    """A leaf value for an event: tuples become lists, MISSING becomes None."""
    if value is MISSING:
        return None
    if isinstance(value, tuple):
        return [jsonable(v) for v in value]
    return value


__all__ = ["CONVERTER_LIVE_KWARGS", "ELSEWHERE", "MISSING", "SELECTOR_THRESHOLDS", "THROUGH_INTERPOLATION",
           "changed_paths", "classify", "flatten", "jsonable"]
