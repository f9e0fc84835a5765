"""A static check of the module YAML against a mirror of Savant's config schema.

Savant validates module.yml at start by merging it into typed dataclasses (savant/config/schema.py,
savant/base/model.py, savant/deepstream/nvinfer/model.py, savant/parameter_storage): unknown keys,
wrong element kinds or missing required fields stop the module. DeepStream cannot run here, so this
module repeats those checks on the resolved YAML, plus what Savant would only find at run time: the
model files under MODEL_PATH/<element name>/, the nvtracker config file, and the converter and pyfunc
classes importing with the methods Savant calls. It says nothing about whether TensorRT builds the
engine or DeepStream runs the pipeline.

    problems = check_module_yaml(Path("module/module.yml"))   # [] when the file passes
"""

from __future__ import annotations

import importlib
import os
import re
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from omegaconf import OmegaConf

# --- the schema (field names as in Savant 0.5.0, images.SAVANT_VERSION) ------------------------------

TOP_LEVEL = {"name", "parameters", "pipeline"}
PIPELINE = {"source", "elements", "sink"}
ELEMENT_COMMON = {"element", "element_type", "version", "name", "properties"}
PYFUNC = ELEMENT_COMMON | {"module", "class_name", "kwargs", "dev_mode"}
MODEL_ELEMENT = ELEMENT_COMMON | {"model"}
NVINFER_TYPES = {"detector", "attribute_model", "complex_model", "instance_segmentation"}
PLUMBING = {"queue", "nvvideoconvert", "videoconvert", "capsfilter", "identity"}

MODEL = {"local_path", "remote", "model_file", "batch_size", "precision", "input", "output", "format",
         "config_file", "int8_calib_file", "engine_file", "proto_file", "custom_config_file", "mean_file",
         "label_file", "tlt_model_key", "gpu_id", "interval", "workspace_size", "custom_lib_path",
         "engine_create_func_name", "layer_device_precision", "enable_dla", "use_dla_core",
         "scaling_compute_hw", "scaling_filter", "parse_bbox_func_name", "parse_classifier_func_name",
         "parse_bbox_instance_mask_func_name"}
MODEL_INPUT = {"object", "layer_name", "shape", "maintain_aspect_ratio", "symmetric_padding", "scale_factor",
               "offsets", "color_format", "preprocess_object_meta", "preprocess_object_image",
               "object_min_width", "object_min_height", "object_max_width", "object_max_height"}
OBJECT_OUTPUT = {"layer_names", "converter", "objects", "num_detected_classes"}
ATTRIBUTE_OUTPUT = {"layer_names", "converter", "attributes"}
OUTPUT_OBJECT = {"class_id", "label", "selector"}
OUTPUT_ATTRIBUTE = {"name", "labels", "threshold", "multi_label", "internal"}
PYFUNC_SPEC = {"module", "class_name", "kwargs", "dev_mode"}
FORMATS = {"caffe", "uff", "onnx", "etlt", "custom"}
PRECISIONS = {"fp32", "fp16", "int8"}
COLOR_FORMATS = {"rgb", "bgr", "gray"}
CODECS = {"h264", "hevc", "vp8", "vp9", "jpeg", "png", "raw-rgba", "raw-rgb24", "copy"}

# Telemetry: savant/config/schema.py's TracingParameters and MetricsParameters; the providers and their
# params are what savant/deepstream/utils/pipeline.py (init_tracing, build_metrics_exporter) accepts.
# tests/deploy/test_savant_loader.py compares these names with a Savant source checkout when it has one.
TRACING = {"sampling_period", "append_frame_meta_to_span", "root_span_name", "provider", "provider_params"}
TRACING_PROVIDERS = {None, "jaeger"}
TRACING_PARAMS = {"service_name", "endpoint"}  # jaeger: the agent's host:port (compact Thrift over UDP)
METRICS = {"frame_period", "time_period", "history", "provider", "provider_params"}
METRICS_PROVIDERS = {None, "prometheus"}
METRICS_PARAMS = {"port", "labels"}  # prometheus: the port it serves /metrics on, labels added to all
ETCD = {"hosts", "credentials", "tls", "watch_path", "connect_timeout", "watch_path_wait_timeout"}
TRACKER_LIB = "/opt/nvidia/deepstream/deepstream/lib/libnvds_nvmultiobjecttracker.so"


def check_module_yaml(path: Path, *, project_root: Path | None = None, model_path: Path | None = None,
                      import_classes: bool = True) -> list[str]:
    """Problems of a module YAML as Savant would see them; [] when it passes.

    project_root: the folder Savant's PROJECT_PATH points at (the repository root), used for
        `${oc.env:PROJECT_PATH}` paths and for importing pyfunc and converter modules.
    model_path: Savant's MODEL_PATH; by default the repository's module/models.
    """
    path = Path(path)
    project_root = Path(project_root or path.resolve().parent.parent)
    model_path = Path(model_path or path.resolve().parent / "models")
    config = _resolve(path, project_root)
    problems = _unknown(config, TOP_LEVEL, "")
    if not isinstance(config.get("name"), str) or not config["name"]:
        problems.append("name: a non-empty module name is required")
    problems += _check_parameters(config.get("parameters") or {})
    pipeline = config.get("pipeline") or {}
    problems += _unknown(pipeline, PIPELINE, "pipeline")
    registered: set[str] = set()
    for i, element in enumerate(pipeline.get("elements") or []):
        problems += _check_element(f"pipeline.elements[{i}]", element, registered, project_root, model_path,
                                   import_classes)
    return problems


def _resolve(path: Path, project_root: Path) -> dict[str, Any]:
    """Resolve interpolations with PROJECT_PATH at the checkout (the image sets it to /opt/savant)."""
    previous = os.environ.get("PROJECT_PATH")
    os.environ["PROJECT_PATH"] = str(project_root)
    try:
        return OmegaConf.to_container(OmegaConf.load(path), resolve=True)  # type: ignore[return-value]
    finally:
        if previous is None:
            os.environ.pop("PROJECT_PATH", None)
        else:
            os.environ["PROJECT_PATH"] = previous


def _unknown(mapping: Any, allowed: set[str], where: str) -> list[str]:
    if not isinstance(mapping, Mapping):
        return [f"{where or 'top level'}: expected a mapping, got {type(mapping).__name__}"]
    return [f"{where + '.' if where else ''}{key}: not a Savant field (allowed: {', '.join(sorted(allowed))})"
            for key in mapping if key not in allowed]


def _check_parameters(parameters: Mapping[str, Any]) -> list[str]:
    problems = []
    batch = parameters.get("batch_size")
    if batch is not None and not (isinstance(batch, int) and 0 < batch <= 1024):
        problems.append(f"parameters.batch_size: {batch!r} is not an integer in 1..1024")
    frame = parameters.get("frame") or {}
    problems += _unknown(frame, {"width", "height", "padding", "geometry_base"}, "parameters.frame")
    base = frame.get("geometry_base", 8)
    for side in ("width", "height"):
        if frame.get(side) is not None and frame[side] % base:
            problems.append(f"parameters.frame.{side}: {frame[side]} is not a multiple of {base}")
    output_frame = parameters.get("output_frame")
    if output_frame and output_frame.get("codec") not in CODECS:
        problems.append(f"parameters.output_frame.codec: {output_frame.get('codec')!r} "
                        f"not in {sorted(CODECS)}")
    draw_func = parameters.get("draw_func")
    if draw_func is not None and not isinstance(draw_func, Mapping):
        problems.append("parameters.draw_func: must be a mapping ({} for Savant's default drawer) or null")
    telemetry = parameters.get("telemetry") or {}
    problems += _unknown(telemetry, {"tracing", "metrics"}, "parameters.telemetry")
    tracing = telemetry.get("tracing") or {}
    problems += _unknown(tracing, TRACING, "parameters.telemetry.tracing")
    if tracing.get("provider") not in TRACING_PROVIDERS:
        problems.append(f"parameters.telemetry.tracing.provider: {tracing.get('provider')!r} not in "
                        f"{sorted(p for p in TRACING_PROVIDERS if p)}")
    provider_params = tracing.get("provider_params") or {}
    problems += _unknown(provider_params, TRACING_PARAMS, "parameters.telemetry.tracing.provider_params")
    endpoint = provider_params.get("endpoint")
    if tracing.get("provider") and not endpoint:
        problems.append("parameters.telemetry.tracing: a provider needs provider_params.endpoint")
    elif endpoint and not re.fullmatch(r"[\w.-]+:\d+", str(endpoint)):
        problems.append(f"parameters.telemetry.tracing.provider_params.endpoint: {endpoint!r} is not the "
                        "Jaeger agent's host:port")
    metrics = telemetry.get("metrics") or {}
    problems += _unknown(metrics, METRICS, "parameters.telemetry.metrics")
    if isinstance(metrics, Mapping):
        if metrics.get("provider") not in METRICS_PROVIDERS:
            problems.append(f"parameters.telemetry.metrics.provider: {metrics.get('provider')!r} not in "
                            f"{sorted(p for p in METRICS_PROVIDERS if p)}")
        metrics_params = metrics.get("provider_params") or {}
        problems += _unknown(metrics_params, METRICS_PARAMS, "parameters.telemetry.metrics.provider_params")
        if metrics.get("provider") and not isinstance(metrics_params.get("port"), int):
            problems.append("parameters.telemetry.metrics: prometheus needs provider_params.port (an int)")
    if "etcd" in parameters:
        etcd = parameters["etcd"] or {}
        problems += _unknown(etcd, ETCD, "parameters.etcd")
        if not etcd.get("hosts"):
            problems.append("parameters.etcd.hosts: required when etcd is configured")
    return problems


def _check_element(where: str, element: Any, registered: set[str], project_root: Path, model_path: Path,
                   import_classes: bool) -> list[str]:
    if not isinstance(element, Mapping) or "element" not in element:
        return [f"{where}: an element needs 'element' (groups are not used by this project)"]
    kind, _, version = str(element["element"]).partition(":")
    base, _, element_type = kind.partition("@")
    if version not in ("", "v1"):
        return [f"{where}.element: only version v1 exists, got {version!r}"]
    if base == "nvinfer":
        return _check_nvinfer(where, element, element_type, registered, project_root, model_path,
                              import_classes)
    if base == "nvtracker":
        return _check_tracker(where, element)
    if base == "pyfunc":
        problems = _unknown(element, PYFUNC, where)
        problems += _check_class(f"{where}", element, project_root, "process_frame", import_classes)
        return problems
    if base in PLUMBING:
        return []
    return [f"{where}.element: {kind!r} is not an element this module uses (nvinfer@..., nvtracker, pyfunc)"]


def _check_nvinfer(where: str, element: Mapping[str, Any], element_type: str, registered: set[str],
                   project_root: Path, model_path: Path, import_classes: bool) -> list[str]:
    problems = _unknown(element, MODEL_ELEMENT, where)
    if element_type not in NVINFER_TYPES:
        return problems + [f"{where}.element: nvinfer needs a type, one of {sorted(NVINFER_TYPES)}"]
    name = element.get("name")
    if not name:
        return problems + [f"{where}.name: required for model elements (models live in MODEL_PATH/<name>/)"]
    model = element.get("model") or {}
    problems += _unknown(model, MODEL, f"{where}.model")
    problems += _unknown(model.get("input") or {}, MODEL_INPUT, f"{where}.model.input")
    if str(model.get("format", "")).lower() not in FORMATS:
        problems.append(f"{where}.model.format: {model.get('format')!r} not in {sorted(FORMATS)}")
    if str(model.get("precision", "fp16")).lower() not in PRECISIONS:
        problems.append(f"{where}.model.precision: {model.get('precision')!r} not in {sorted(PRECISIONS)}")
    model_input = model.get("input") or {}
    if str(model_input.get("color_format", "rgb")).lower() not in COLOR_FORMATS:
        problems.append(f"{where}.model.input.color_format: not in {sorted(COLOR_FORMATS)}")
    folder = Path(model.get("local_path") or model_path / name)
    if not model.get("model_file") and not model.get("engine_file"):
        problems.append(f"{where}.model: model_file or engine_file is required")
    elif model.get("model_file") and not (folder / model["model_file"]).is_file():
        problems.append(f"{where}.model.model_file: {folder / model['model_file']} does not exist")
    output = model.get("output") or {}
    converter = output.get("converter")
    if converter:
        problems += _unknown(converter, PYFUNC_SPEC, f"{where}.model.output.converter")
        shape = model_input.get("shape")
        if not (isinstance(shape, list) and len(shape) == 3 and all(isinstance(v, int) for v in shape)):
            problems.append(f"{where}.model.input.shape: [C, H, W] is required with a converter")
        if not output.get("layer_names"):
            problems.append(f"{where}.model.output.layer_names: required with a converter "
                            "(they order its inputs)")
        problems += _check_class(f"{where}.model.output.converter", converter, project_root, "__call__",
                                 import_classes)
    if element_type == "detector":
        problems += _unknown(output, OBJECT_OUTPUT, f"{where}.model.output")
        objects = output.get("objects") or []
        if not objects and not output.get("num_detected_classes"):
            problems.append(f"{where}.model.output.objects: required for a detector")
        for j, obj in enumerate(objects):
            problems += _unknown(obj, OUTPUT_OBJECT, f"{where}.model.output.objects[{j}]")
            if not isinstance(obj.get("class_id"), int) or not obj.get("label"):
                problems.append(f"{where}.model.output.objects[{j}]: class_id (int) and label are required")
            else:
                registered.add(f"{name}.{obj['label']}")
            selector = obj.get("selector") or {}
            problems += _unknown(selector, PYFUNC_SPEC, f"{where}.model.output.objects[{j}].selector")
    elif element_type == "attribute_model":
        problems += _unknown(output, ATTRIBUTE_OUTPUT, f"{where}.model.output")
        source = model_input.get("object", "frame")
        if source != "frame" and source not in registered:
            problems.append(f"{where}.model.input.object: {source!r} is not an object of an earlier detector "
                            f"(known: {sorted(registered)})")
        for j, attribute in enumerate(output.get("attributes") or []):
            problems += _unknown(attribute, OUTPUT_ATTRIBUTE, f"{where}.model.output.attributes[{j}]")
        if not output.get("attributes"):
            problems.append(f"{where}.model.output.attributes: required for an attribute model")
    return problems


def _check_tracker(where: str, element: Mapping[str, Any]) -> list[str]:
    problems = _unknown(element, ELEMENT_COMMON, where)
    properties = element.get("properties") or {}
    if properties.get("ll-lib-file") != TRACKER_LIB:
        problems.append(f"{where}.properties.ll-lib-file: expected {TRACKER_LIB}")
    config_file = properties.get("ll-config-file")
    if not config_file or not Path(config_file).is_file():
        problems.append(f"{where}.properties.ll-config-file: {config_file!r} does not exist")
    for side in ("tracker-width", "tracker-height"):
        value = properties.get(side)
        if value is not None and (not isinstance(value, int) or value % 32):
            problems.append(f"{where}.properties.{side}: {value!r} must be a multiple of 32")
    return problems


# Converters Savant ships (savant/converter/__init__.py), referenced by module path in module YAMLs.
SAVANT_BUILTIN_CLASSES = {
    "savant.converter": {"TensorToVectorConverter", "TensorToItemConverter"},
}


def _check_class(where: str, spec: Mapping[str, Any], project_root: Path, method: str,
                 import_classes: bool) -> list[str]:
    module_name, class_name = spec.get("module"), spec.get("class_name")
    if not module_name or not class_name:
        return [f"{where}: module and class_name are required"]
    if not import_classes:
        return []
    if str(module_name) in SAVANT_BUILTIN_CLASSES:
        # Savant's own classes ship in its image and cannot be imported here: check the name only.
        known = SAVANT_BUILTIN_CLASSES[str(module_name)]
        return [] if class_name in known else [f"{where}: {module_name} has no class {class_name} "
                                               f"(known: {sorted(known)})"]
    if str(project_root) not in sys.path:
        sys.path.insert(0, str(project_root))
    try:
        module = importlib.import_module(str(module_name))
    except ImportError as error:
        return [f"{where}: cannot import {module_name}: {error}"]
    cls = getattr(module, str(class_name), None)
    if cls is None:
        return [f"{where}: {module_name} has no class {class_name}"]
    if not callable(getattr(cls, method, None)):
        return [f"{where}: {module_name}.{class_name} has no {method}()"]
    try:
        cls(**(spec.get("kwargs") or {}))
    except Exception as error:  # noqa: BLE001 - any constructor failure is a problem to report
        return [f"{where}: {module_name}.{class_name}(**kwargs) fails: {error}"]
    return []


__all__ = ["check_module_yaml"]
