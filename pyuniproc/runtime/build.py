"""Turn the module YAML's elements into the objects the runtime calls."""

from __future__ import annotations

import os
from typing import Any

from pyuniproc.config.cameras import Site
from pyuniproc.config.module import ModuleConfig, RuntimeSettings
from pyuniproc.config.yaml_source import ConfigError
from pyuniproc.detect import KIND_BY_CONVERTER
from pyuniproc.detect.onnx_detector import PRECISIONS
from pyuniproc.gpu import backend as backends
from pyuniproc.reid.selection import GATE_OPTIONS, SCHEDULE_OPTIONS, EmbedSelection
from pyuniproc.runtime.pyfunc_host import PyFuncStage, load_pyfunc
from pyuniproc.track import create_tracker

__all__ = [
    "GATE_OPTIONS", "SCHEDULE_OPTIONS", "build_detector", "build_pyfuncs", "build_reid", "build_tracker",
    "detector_threads", "resolve_backend",
]


def resolve_backend(module: ModuleConfig, requested: str | None = None) -> str:
    """"cpu" or "gpu": `requested` (the `--backend` flag) or `parameters.pyuniproc.backend`, resolved once at
    start; "gpu" where it cannot run is a ConfigError that says what is missing and how to install it."""
    try:
        return backends.resolve_backend(requested or module.runtime.backend)
    except (ValueError, backends.BackendUnavailable) as exc:
        raise ConfigError(module.path, str(exc), field="parameters.pyuniproc.backend") from None


def build_detector(module: ModuleConfig, backend: str | None = None) -> Any:
    """The detector named by the `nvinfer@detector` element's converter class, on `backend` ("cpu" or "gpu";
    None: resolved from the module)."""
    spec = module.detector
    kind = KIND_BY_CONVERTER.get(spec.converter)
    if kind is None:
        raise ConfigError(module.path, f"no embedded decoder for converter class '{spec.converter}'; "
                          f"known: {sorted(KIND_BY_CONVERTER)}", field="model.output.converter.class_name")
    precision = module.runtime.cpu_precision
    if precision not in PRECISIONS:
        raise ConfigError(module.path, f"unknown CPU precision {precision!r}; known: {list(PRECISIONS)}",
                          field="parameters.pyuniproc.cpu_precision")
    # Same ONNX weights and decoder on both: torch on the GPU, or ONNX Runtime on the CPU.
    return backends.create_detector(
        kind, backend=backend or resolve_backend(module), model_dir=spec.model_dir,
        model_file=spec.model_file,
        confidence_threshold=spec.confidence_threshold, nms_iou_threshold=spec.nms_iou_threshold,
        min_width=spec.min_width, min_height=spec.min_height, precision=precision,
        intra_op_threads=detector_threads(module.runtime),
    )


def detector_threads(settings: RuntimeSettings, cpus: int | None = None) -> int:
    """ONNX Runtime threads per detector worker: `detector_threads`, or (0) the CPUs shared among the
    workers. On 2 cores that is 1 each: two single-threaded inferences at once kept both cores busy
    (218 frames/s) where one inference on two threads waited at every op for the busier core (147)."""
    if settings.detector_threads:
        return settings.detector_threads
    return max(1, (cpus or os.cpu_count() or 1) // settings.detector_workers)


def build_reid(module: ModuleConfig, backend: str | None = None) -> Any:
    """The ReID step from the `nvinfer@attribute_model` element and `parameters.reid`, its embedder on
    `backend` ("cpu" or "gpu"; None: resolved from the module); None if the module has no ReID model."""
    from pyuniproc.reid import kind_for_model_file
    from pyuniproc.runtime.reid_stage import ReidStage

    spec = module.reid
    if spec is None:
        return None
    try:
        kind = kind_for_model_file(spec.model_file)
        selection = EmbedSelection.from_settings(spec.selection)
    except (TypeError, ValueError) as exc:
        raise ConfigError(module.path, str(exc), field="parameters.reid") from None
    embedder = backends.create_embedder(kind, backend=backend or resolve_backend(module),
                                        model_dir=spec.model_dir, model_file=spec.model_file)
    return ReidStage(embedder, selection=selection)


def build_tracker(module: ModuleConfig) -> Any:
    """A fresh tracker (one per camera) from `parameters.tracker`."""
    try:
        return create_tracker(module.tracker.kind, **module.tracker.params)
    except ValueError as exc:
        raise ConfigError(module.path, str(exc), field="parameters.tracker") from None


def build_relinker(module: ModuleConfig) -> Any:
    """A fresh per-camera relink step from `parameters.relink` (None when off)."""
    if module.relink is None:
        return None
    from pyuniproc.track.relink import TrackRelinker

    return TrackRelinker(**module.relink)


def build_pyfuncs(module: ModuleConfig, site: Site) -> list[PyFuncStage]:
    """Instantiate the module's pyfuncs; an empty `cameras_file` kwarg gets the run's cameras file."""
    stages = []
    for spec in module.pyfuncs:
        overrides = {}
        if "cameras_file" in spec.kwargs and not spec.kwargs["cameras_file"] and site.path is not None:
            overrides["cameras_file"] = str(site.path)
        plugin = load_pyfunc(spec, module.path, overrides)
        stages.append(PyFuncStage(plugin, element_name=module.detector.name, label=module.detector.label))
    return stages
