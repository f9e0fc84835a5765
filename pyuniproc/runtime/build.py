"""Turn the module YAML's elements into the objects the runtime calls."""

from __future__ import annotations

import os
from typing import Any

from pyuniproc.config.cameras import Site
from pyuniproc.config.module import ModuleConfig, RuntimeSettings
from pyuniproc.config.yaml_source import ConfigError
from pyuniproc.detect import KIND_BY_CONVERTER
from pyuniproc.detect.onnx_detector import PRECISIONS
from pyuniproc.gpu import create_detector_auto
from pyuniproc.runtime.pyfunc_host import PyFuncStage, load_pyfunc
from pyuniproc.track import create_tracker


def build_detector(module: ModuleConfig) -> Any:
    """The detector named by the `nvinfer@detector` element's converter class."""
    spec = module.detector
    kind = KIND_BY_CONVERTER.get(spec.converter)
    if kind is None:
        raise ConfigError(module.path, f"no embedded decoder for converter class '{spec.converter}'; "
                          f"known: {sorted(KIND_BY_CONVERTER)}", field="model.output.converter.class_name")
    precision = module.runtime.cpu_precision
    if precision not in PRECISIONS:
        raise ConfigError(module.path, f"unknown CPU precision {precision!r}; known: {list(PRECISIONS)}",
                          field="parameters.pyuniproc.cpu_precision")
    # An NVIDIA GPU when torch sees one (same ONNX weights, same decoder), else ONNX Runtime on the CPU.
    return create_detector_auto(
        kind, model_dir=spec.model_dir, model_file=spec.model_file,
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


GATE_OPTIONS = ("min_height", "min_confidence", "max_overlap", "edge_margin", "min_aspect", "max_aspect")
SCHEDULE_OPTIONS = ("refresh_frames", "max_crops_per_frame", "forget_after_frames")


def build_reid(module: ModuleConfig) -> Any:
    """The ReID step from the `nvinfer@attribute_model` element and `parameters.reid`; None if absent."""
    from pyuniproc.reid import EmbedScheduler, QualityGate, create_embedder, kind_for_model_file
    from pyuniproc.runtime.reid_stage import ReidStage

    spec = module.reid
    if spec is None:
        return None
    unknown = sorted(set(spec.selection) - set(GATE_OPTIONS) - set(SCHEDULE_OPTIONS))
    if unknown:
        raise ConfigError(module.path, f"unknown ReID settings {unknown}; known: "
                          f"{sorted(GATE_OPTIONS + SCHEDULE_OPTIONS)}", field="parameters.reid")
    try:
        kind = kind_for_model_file(spec.model_file)
        gate = QualityGate(**{k: v for k, v in spec.selection.items() if k in GATE_OPTIONS})
        scheduler = EmbedScheduler(**{k: v for k, v in spec.selection.items() if k in SCHEDULE_OPTIONS})
    except (TypeError, ValueError) as exc:
        raise ConfigError(module.path, str(exc), field="parameters.reid") from None
    embedder = create_embedder(kind, model_dir=spec.model_dir, model_file=spec.model_file)
    return ReidStage(embedder, gate=gate, scheduler=scheduler)


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
