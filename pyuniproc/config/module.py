"""Read a Savant module YAML and map its elements onto the embedded runtime.

The file is the same one Savant runs (``module/module.yml``). Interpolations are resolved
with OmegaConf, as Savant does (``${oc.env:VAR, default}``, ``${oc.decode:...}``,
``${parameters.x}``). Elements pyuniproc knows are turned into typed specs; pure GStreamer
plumbing (queues, converters) is skipped; anything else is an error naming file, line, field.
"""

from __future__ import annotations

import logging
import math
import os
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from omegaconf import OmegaConf
from omegaconf.errors import OmegaConfBaseException

from pyuniproc.config.yaml_source import ConfigError, YamlDocument, load_yaml
from pyuniproc.events import EventsConfig, EventsConfigError
from pyuniproc.outputs import RecordingConfig, RecordingConfigError
from pyuniproc.runtime.overload import OverloadSettings
from pyuniproc.telemetry.config import TelemetryConfig, TelemetryConfigError

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
class RuntimeSettings:
    """`parameters.pyuniproc`: knobs of the embedded runtime only."""

    queue_size: int = 8
    annotated_video: bool = True
    summary_period_seconds: float = 2.0
    batch_wait_ms: float = 5.0  # how long to wait for more cameras' frames before running a partial batch
    # detector weights on the CPU: fp32 (the converted model) or int8 (its quantised copy, faster)
    cpu_precision: str = "fp32"
    detector_workers: int = 2  # batches detected at once on the CPU, each on its own thread (read at start)
    detector_threads: int = 0  # ONNX Runtime threads per detector worker; 0: the CPUs shared among workers
    telemetry: TelemetryConfig = field(default_factory=TelemetryConfig)  # traces, metrics, health
    events: EventsConfig = field(default_factory=EventsConfig)  # event sinks: jsonl, Kafka
    recording: RecordingConfig = field(default_factory=RecordingConfig)  # annotated video segments
    # detect / predict / drop when behind
    overload: OverloadSettings = field(default_factory=OverloadSettings)


@dataclass(frozen=True)
class ModuleConfig:
    path: Path
    name: str
    parameters: dict[str, Any]
    detector: DetectorSpec
    tracker: TrackerSpec
    pyfuncs: list[PyFuncSpec] = field(default_factory=list)
    runtime: RuntimeSettings = RuntimeSettings()
    reid: ReidSpec | None = None
    fusion: Any = None  # FusionConfig from `parameters.fusion`
    relink: dict[str, Any] | None = None  # `parameters.relink` options (TrackRelinker); None: off


def load_module_config(path: Path | str) -> ModuleConfig:
    """Parse, resolve and check a module YAML; raises `ConfigError` naming file, line and field."""
    doc = load_yaml(path)
    for key in doc.data:
        if key not in TOP_LEVEL_KEYS:
            raise doc.error(str(key), f"unknown top-level key; expected one of {sorted(TOP_LEVEL_KEYS)}")
    resolved = _resolve(doc)
    name = resolved.get("name")
    if not isinstance(name, str) or not name:
        raise doc.error("name", "the module needs a non-empty 'name'")
    parameters = resolved.get("parameters") or {}
    if not isinstance(parameters, dict):
        raise doc.error("parameters", "must be a mapping")
    pipeline = _mapping(doc, "pipeline", resolved.get("pipeline"))
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
    return ModuleConfig(
        path=doc.path, name=name, parameters=parameters, detector=detector,
        tracker=_tracker_spec(doc, parameters.get("tracker") or {}),
        pyfuncs=pyfuncs, runtime=_runtime_settings(doc, parameters.get("pyuniproc") or {}),
        reid=reid, fusion=_fusion_config(doc, parameters.get("fusion")),
        relink=_relink_options(doc, parameters.get("relink")),
    )


def _resolve(doc: YamlDocument) -> dict[str, Any]:
    """Resolve interpolations as Savant does; a failure names the field that could not be resolved."""
    try:
        return OmegaConf.to_container(OmegaConf.create(doc.data), resolve=True)  # type: ignore[return-value]
    except OmegaConfBaseException as exc:
        key = str(getattr(exc, "full_key", "") or "")
        message = str(exc).splitlines()[0]
        raise doc.error(key, f"cannot resolve: {message}") from None
    except RecursionError:  # an interpolation that refers to itself through a resolver
        raise doc.error("", "cannot resolve: interpolations nested too deeply") from None


def _mapping(doc: YamlDocument, where: str, value: Any) -> dict[str, Any]:
    """`value` if it is a mapping, {} if absent; anything else is an error at `where`."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise doc.error(where, f"must be a mapping, got {type(value).__name__}: {value!r:.60}")
    return value


def _require(doc: YamlDocument, where: str, mapping: Any, key: str) -> Any:
    mapping = _mapping(doc, where, mapping)
    if key not in mapping or mapping[key] is None:
        raise doc.error(f"{where}.{key}" if where else key, "required field is missing")
    return mapping[key]


def _number(doc: YamlDocument, where: str, value: Any, *, minimum: float = 0.0,
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
    name = str(_require(doc, where, element, "name"))
    model_where = f"{where}.model"
    model = _mapping(doc, model_where, _require(doc, where, element, "model"))
    if model.get("format", "onnx") != "onnx":
        raise doc.error(f"{model_where}.format", f"pyuniproc runs ONNX models, got {model.get('format')!r}")
    model_file = str(_require(doc, model_where, model, "model_file"))
    output = _mapping(doc, f"{model_where}.output", _require(doc, model_where, model, "output"))
    converter = _require(doc, f"{model_where}.output", output, "converter")
    converter_class = str(_require(doc, f"{model_where}.output.converter", converter, "class_name"))
    objects = output.get("objects") or [{}]
    if not isinstance(objects, list):
        raise doc.error(f"{model_where}.output.objects", f"must be a list of objects, got {objects!r:.60}")
    first = _mapping(doc, f"{model_where}.output.objects[0]", objects[0])
    selector = _mapping(doc, f"{model_where}.output.objects[0].selector", first.get("selector"))
    sel_where = f"{model_where}.output.objects[0].selector.kwargs"
    selector = _mapping(doc, sel_where, selector.get("kwargs"))
    # Savant looks for model files in MODEL_PATH/<element name>/; the repo keeps them in module/models/.
    model_root = Path(os.environ.get("MODEL_PATH") or doc.path.parent / "models")
    return DetectorSpec(
        name=name,
        converter=converter_class,
        model_dir=model_root / name,
        model_file=model_file,
        batch_size=int(_number(doc, f"{model_where}.batch_size", model.get("batch_size", 1), minimum=1)),
        confidence_threshold=_number(doc, f"{sel_where}.confidence_threshold",
                                     selector.get("confidence_threshold", 0.5), maximum=1.0),
        nms_iou_threshold=_number(doc, f"{sel_where}.nms_iou_threshold",
                                  selector.get("nms_iou_threshold", 0.45), maximum=1.0),
        min_width=_number(doc, f"{sel_where}.min_width", selector.get("min_width", 0)),
        min_height=_number(doc, f"{sel_where}.min_height", selector.get("min_height", 0)),
        label=str(first.get("label", "person")),
    )


def _reid_spec(doc: YamlDocument, where: str, element: dict[str, Any], selection: Any) -> ReidSpec:
    name = str(_require(doc, where, element, "name"))
    model = _mapping(doc, f"{where}.model", _require(doc, where, element, "model"))
    if not isinstance(selection, dict):
        raise doc.error("parameters.reid", "must be a mapping")
    model_root = Path(os.environ.get("MODEL_PATH") or doc.path.parent / "models")
    return ReidSpec(
        name=name, model_dir=model_root / name,
        model_file=str(_require(doc, f"{where}.model", model, "model_file")),
        batch_size=int(_number(doc, f"{where}.model.batch_size", model.get("batch_size", 16), minimum=1)),
        selection=dict(selection),
    )


def _fusion_config(doc: YamlDocument, raw: Any) -> Any:
    from pyuniproc.fusion import FusionConfig  # the fusion core has no I/O; imported only when configured

    try:
        return FusionConfig.from_mapping(raw)
    except (TypeError, ValueError, AttributeError, KeyError, IndexError) as exc:
        raise doc.error("parameters.fusion", str(exc)) from None


def _relink_options(doc: YamlDocument, raw: Any) -> dict[str, Any] | None:
    """`parameters.relink`: `enabled` plus `TrackRelinker` options, checked by building one."""
    if raw is None:
        return None
    if not isinstance(raw, dict):
        raise doc.error("parameters.relink", "must be a mapping")
    options = dict(raw)
    enabled = options.pop("enabled", True)
    if not isinstance(enabled, bool):
        raise doc.error("parameters.relink.enabled", f"must be true or false, got {enabled!r}")
    from pyuniproc.track.relink import TrackRelinker

    try:
        TrackRelinker(**options)
    except (TypeError, ValueError) as exc:
        raise doc.error("parameters.relink", str(exc)) from None
    return options if enabled else None


def _pyfunc_spec(doc: YamlDocument, where: str, element: dict[str, Any]) -> PyFuncSpec:
    kwargs = element.get("kwargs") or {}
    if not isinstance(kwargs, dict):
        raise doc.error(f"{where}.kwargs", "must be a mapping")
    return PyFuncSpec(
        module=str(_require(doc, where, element, "module")),
        class_name=str(_require(doc, where, element, "class_name")),
        kwargs=kwargs,
        line=doc.line_of(where),
    )


def _tracker_spec(doc: YamlDocument, params: dict[str, Any]) -> TrackerSpec:
    if not isinstance(params, dict):
        raise doc.error("parameters.tracker", "must be a mapping")
    params = dict(params)
    kind = str(params.pop("kind", "bytetrack"))
    return TrackerSpec(kind=kind, params=params)


def _section(doc: YamlDocument, where: str, parse: Any, raw: Any) -> Any:
    """A typed sub-section (telemetry, events, recording) parsed by its own package's `from_mapping`.

    Their errors name the field; anything else they raise on a value of an unexpected type (a list
    where a name belongs) still becomes a ConfigError at the section, so a live edit cannot crash the run.
    """
    try:
        return parse(raw, where=where)
    except (TelemetryConfigError, EventsConfigError, RecordingConfigError) as exc:
        raise doc.error(exc.field, exc.message) from None
    except (TypeError, ValueError, AttributeError, KeyError, IndexError) as exc:
        raise doc.error(where, f"malformed section ({type(exc).__name__}: {exc})") from None


def _runtime_settings(doc: YamlDocument, params: dict[str, Any]) -> RuntimeSettings:
    if not isinstance(params, dict):
        raise doc.error("parameters.pyuniproc", "must be a mapping")
    params = dict(params)
    sections = {name: params.pop(name, None) for name in ("telemetry", "events", "recording", "overload")}
    where = "parameters.pyuniproc"
    parsers = {"telemetry": TelemetryConfig.from_mapping, "events": EventsConfig.from_mapping,
               "recording": RecordingConfig.from_mapping}
    typed = {name: _section(doc, f"{where}.{name}", parse, sections[name]) for name, parse in parsers.items()}
    if sections["overload"] is not None and not isinstance(sections["overload"], dict):
        raise doc.error(f"{where}.overload", "must be a mapping")
    try:
        typed["overload"] = OverloadSettings.from_mapping(sections["overload"])
    except (TypeError, ValueError) as exc:
        raise doc.error(f"{where}.overload", str(exc)) from None
    known = {f.name: f for f in fields(RuntimeSettings) if f.name not in typed}
    for key in params:
        if key not in known:
            raise doc.error(f"parameters.pyuniproc.{key}", f"unknown setting; known: {sorted(known)}")
    defaults = RuntimeSettings()
    values: dict[str, Any] = {}
    for key, value in params.items():
        expected = type(getattr(defaults, key))
        if expected is bool and not isinstance(value, bool):
            raise doc.error(f"parameters.pyuniproc.{key}", f"expected true or false, got {value!r}")
        if expected in (int, float):
            value = _number(doc, f"parameters.pyuniproc.{key}", value)
            value = int(value) if expected is int else value
        values[key] = value
    for key, least in (("queue_size", 1), ("detector_workers", 1), ("detector_threads", 0)):
        if key in values and values[key] < least:
            raise doc.error(f"parameters.pyuniproc.{key}", f"must be >= {least}, got {values[key]!r}")
    return RuntimeSettings(**values, **typed)


__all__ = ["ConfigError", "DetectorSpec", "ModuleConfig", "PyFuncSpec", "ReidSpec", "RuntimeSettings",
           "TrackerSpec", "load_module_config"]
