"""What both runtimes read of a Savant module YAML, checked: elements, detector, ReID model, pyfuncs.

The checks live here, apart from `pyuniproc.config.module` (which adds the embedded runtime's own
settings: telemetry, events, recording, overload, fusion), so the Savant module's converter and pyfunc
can validate a live edit of the YAML with the very code pyuniproc uses (pyuniproc.config.live_module).
Savant's image imports this: PyYAML and the standard library at import, OmegaConf once a file is
resolved (tests/deploy/test_module_imports.py).
"""

from __future__ import annotations

import logging
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pyuniproc.config.yaml_source import ConfigError, YamlDocument

log = logging.getLogger(__name__)

# GStreamer elements that only move or convert buffers: nothing to do without DeepStream.
PLUMBING_ELEMENTS = {"queue", "nvvideoconvert", "videoconvert", "capsfilter", "identity", "nvstreammux"}
TOP_LEVEL_KEYS = {"name", "parameters", "pipeline"}


@dataclass(frozen=True)
class DetectorSpec:
    """The `nvinfer@detector` element, as the embedded runtime needs it."""

    name: str
    converter: str  # Savant converter class name; decides the decoder (see pyuniproc.detect)
    model_dir: Path
    model_file: str
    batch_size: int
    confidence_threshold: float
    nms_iou_threshold: float
    min_width: float
    min_height: float
    label: str = "person"


@dataclass(frozen=True)
class ReidSpec:
    """The `nvinfer@attribute_model` element that embeds person crops, plus `parameters.reid`."""

    name: str
    model_dir: Path
    model_file: str
    batch_size: int
    selection: dict[str, Any] = field(default_factory=dict)  # quality gate and schedule settings


@dataclass(frozen=True)
class TrackerSpec:
    kind: str
    params: dict[str, Any]


@dataclass(frozen=True)
class PyFuncSpec:
    module: str
    class_name: str
    kwargs: dict[str, Any]
    line: int | None = None


@dataclass(frozen=True)
class ModuleSpec:
    """A module YAML as both runtimes read it: the resolved tree plus its checked elements."""

    path: Path
    name: str
    parameters: dict[str, Any]
    resolved: dict[str, Any]  # the whole file, interpolations resolved
    detector: DetectorSpec
    tracker: TrackerSpec
    pyfuncs: list[PyFuncSpec] = field(default_factory=list)
    reid: ReidSpec | None = None


def parse_module(doc: YamlDocument) -> ModuleSpec:
    """Resolve and check what both runtimes read of a module YAML; raises `ConfigError` naming file,
    line and field. `parameters` is returned as resolved, unchecked beyond being a mapping."""
    for key in doc.data:
        if key not in TOP_LEVEL_KEYS:
            raise doc.error(str(key), f"unknown top-level key; expected one of {sorted(TOP_LEVEL_KEYS)}")
    resolved = resolve(doc)
    name = resolved.get("name")
    if not isinstance(name, str) or not name:
        raise doc.error("name", "the module needs a non-empty 'name'")
    parameters = resolved.get("parameters") or {}
    if not isinstance(parameters, dict):
        raise doc.error("parameters", "must be a mapping")
    pipeline = mapping_at(doc, "pipeline", resolved.get("pipeline"))
    elements = pipeline.get("elements")
    if not isinstance(elements, list) or not elements:
        raise doc.error("pipeline.elements", "the pipeline needs a non-empty list of elements")

    detector: DetectorSpec | None = None
    reid: ReidSpec | None = None
    has_tracker = False
    pyfuncs: list[PyFuncSpec] = []
    for i, element in enumerate(elements):
        where = f"pipeline.elements[{i}]"
        if not isinstance(element, dict) or "element" not in element:
            raise doc.error(where, "each element needs an 'element' key")
        kind = str(element["element"])
        if kind == "nvinfer@detector":
            if detector is not None:
                raise doc.error(f"{where}.element", "pyuniproc runs one primary detector; found a second")
            detector = _detector_spec(doc, where, element)
        elif kind == "nvtracker":
            has_tracker = True
        elif kind == "nvinfer@attribute_model":
            if reid is not None:
                raise doc.error(f"{where}.element",
                                "pyuniproc runs one attribute model (ReID); found a second")
            reid = _reid_spec(doc, where, element, parameters.get("reid") or {})
        elif kind == "pyfunc":
            pyfuncs.append(_pyfunc_spec(doc, where, element))
        elif kind in PLUMBING_ELEMENTS:
            log.debug("%s: element %s is GStreamer plumbing; nothing to run embedded", doc.path, kind)
        else:
            raise doc.error(f"{where}.element", f"unknown or unsupported element '{kind}'; pyuniproc runs "
                            "nvinfer@detector, nvinfer@attribute_model, nvtracker, pyfunc and skips "
                            + ", ".join(sorted(PLUMBING_ELEMENTS)))
    if detector is None:
        raise doc.error("pipeline.elements", "no nvinfer@detector element")
    if not has_tracker:
        raise doc.error("pipeline.elements", "no nvtracker element")
    return ModuleSpec(
        path=doc.path, name=name, parameters=parameters, resolved=resolved, detector=detector,
        tracker=_tracker_spec(doc, parameters.get("tracker") or {}), pyfuncs=pyfuncs, reid=reid,
    )


def resolve(doc: YamlDocument) -> dict[str, Any]:
    """Resolve interpolations as Savant does; a failure names the field that could not be resolved.

    OmegaConf is imported here, not at the top: Savant's image has it (Savant resolves its YAML with it),
    but the module's converter and pyfunc need it only once a live edit is read."""
    from omegaconf import OmegaConf
    from omegaconf.errors import OmegaConfBaseException

    try:
        return OmegaConf.to_container(OmegaConf.create(doc.data), resolve=True)  # type: ignore[return-value]
    except OmegaConfBaseException as exc:
        key = str(getattr(exc, "full_key", "") or "")
        message = str(exc).splitlines()[0]
        raise doc.error(key, f"cannot resolve: {message}") from None
    except RecursionError:  # an interpolation that refers to itself through a resolver
        raise doc.error("", "cannot resolve: interpolations nested too deeply") from None


def mapping_at(doc: YamlDocument, where: str, value: Any) -> dict[str, Any]:
    """`value` if it is a mapping, {} if absent; anything else is an error at `where`."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise doc.error(where, f"must be a mapping, got {type(value).__name__}: {value!r:.60}")
    return value


def require(doc: YamlDocument, where: str, mapping: Any, key: str) -> Any:
    mapping = mapping_at(doc, where, mapping)
    if key not in mapping or mapping[key] is None:
        raise doc.error(f"{where}.{key}" if where else key, "required field is missing")
    return mapping[key]


def number(doc: YamlDocument, where: str, value: Any, *, minimum: float = 0.0,
            maximum: float | None = None) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise doc.error(where, f"expected a number, got {value!r:.60}")
    try:
        finite = math.isfinite(float(value))
    except OverflowError:  # an integer too large for a float
        finite = False
    if not finite:
        raise doc.error(where, f"expected a finite number, got {value!r:.60}")
    if value < minimum or (maximum is not None and value > maximum):
        bounds = f"[{minimum}, {maximum}]" if maximum is not None else f">= {minimum}"
        raise doc.error(where, f"{value!r} is out of range {bounds}")
    return float(value)


def _detector_spec(doc: YamlDocument, where: str, element: dict[str, Any]) -> DetectorSpec:
    name = str(require(doc, where, element, "name"))
    model_where = f"{where}.model"
    model = mapping_at(doc, model_where, require(doc, where, element, "model"))
    if model.get("format", "onnx") != "onnx":
        raise doc.error(f"{model_where}.format", f"pyuniproc runs ONNX models, got {model.get('format')!r}")
    model_file = str(require(doc, model_where, model, "model_file"))
    output = mapping_at(doc, f"{model_where}.output", require(doc, model_where, model, "output"))
    converter = require(doc, f"{model_where}.output", output, "converter")
    converter_class = str(require(doc, f"{model_where}.output.converter", converter, "class_name"))
    objects = output.get("objects") or [{}]
    if not isinstance(objects, list):
        raise doc.error(f"{model_where}.output.objects", f"must be a list of objects, got {objects!r:.60}")
    first = mapping_at(doc, f"{model_where}.output.objects[0]", objects[0])
    selector = mapping_at(doc, f"{model_where}.output.objects[0].selector", first.get("selector"))
    sel_where = f"{model_where}.output.objects[0].selector.kwargs"
    selector = mapping_at(doc, sel_where, selector.get("kwargs"))
    # Savant looks for model files in MODEL_PATH/<element name>/; the repo keeps them in module/models/.
    model_root = Path(os.environ.get("MODEL_PATH") or doc.path.parent / "models")
    return DetectorSpec(
        name=name,
        converter=converter_class,
        model_dir=model_root / name,
        model_file=model_file,
        batch_size=int(number(doc, f"{model_where}.batch_size", model.get("batch_size", 1), minimum=1)),
        confidence_threshold=number(doc, f"{sel_where}.confidence_threshold",
                                     selector.get("confidence_threshold", 0.5), maximum=1.0),
        nms_iou_threshold=number(doc, f"{sel_where}.nms_iou_threshold",
                                  selector.get("nms_iou_threshold", 0.45), maximum=1.0),
        min_width=number(doc, f"{sel_where}.min_width", selector.get("min_width", 0)),
        min_height=number(doc, f"{sel_where}.min_height", selector.get("min_height", 0)),
        label=str(first.get("label", "person")),
    )


def _reid_spec(doc: YamlDocument, where: str, element: dict[str, Any], selection: Any) -> ReidSpec:
    name = str(require(doc, where, element, "name"))
    model = mapping_at(doc, f"{where}.model", require(doc, where, element, "model"))
    if not isinstance(selection, dict):
        raise doc.error("parameters.reid", "must be a mapping")
    model_root = Path(os.environ.get("MODEL_PATH") or doc.path.parent / "models")
    return ReidSpec(
        name=name, model_dir=model_root / name,
        model_file=str(require(doc, f"{where}.model", model, "model_file")),
        batch_size=int(number(doc, f"{where}.model.batch_size", model.get("batch_size", 16), minimum=1)),
        selection=dict(selection),
    )


def _pyfunc_spec(doc: YamlDocument, where: str, element: dict[str, Any]) -> PyFuncSpec:
    kwargs = element.get("kwargs") or {}
    if not isinstance(kwargs, dict):
        raise doc.error(f"{where}.kwargs", "must be a mapping")
    return PyFuncSpec(
        module=str(require(doc, where, element, "module")),
        class_name=str(require(doc, where, element, "class_name")),
        kwargs=kwargs,
        line=doc.line_of(where),
    )


def _tracker_spec(doc: YamlDocument, params: dict[str, Any]) -> TrackerSpec:
    if not isinstance(params, dict):
        raise doc.error("parameters.tracker", "must be a mapping")
    params = dict(params)
    kind = str(params.pop("kind", "bytetrack"))
    return TrackerSpec(kind=kind, params=params)


__all__ = ["PLUMBING_ELEMENTS", "TOP_LEVEL_KEYS", "ConfigError", "DetectorSpec", "ModuleSpec", "PyFuncSpec",
           "ReidSpec", "TrackerSpec", "mapping_at", "number", "parse_module", "require", "resolve"]
