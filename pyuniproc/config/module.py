"""Read a Savant module YAML and map its elements onto the embedded runtime.

The file is the same one Savant runs (``module/module.yml``). Interpolations are resolved
with OmegaConf, as Savant does (``${oc.env:VAR, default}``, ``${oc.decode:...}``,
``${parameters.x}``). Elements pyuniproc knows are turned into typed specs; pure GStreamer
plumbing (queues, converters) is skipped; anything else is an error naming file, line, field.
Those checks are `pyuniproc.config.module_spec` (shared with the Savant module's live edits); this
module adds the embedded runtime's own settings (`parameters.pyuniproc`) and fusion.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from pyuniproc.config.module_spec import (
    PLUMBING_ELEMENTS,
    TOP_LEVEL_KEYS,
    DetectorSpec,
    PyFuncSpec,
    ReidSpec,
    TrackerSpec,
    parse_module,
)
from pyuniproc.config.module_spec import number as _number
from pyuniproc.config.yaml_source import ConfigError, YamlDocument, load_yaml
from pyuniproc.events import EventsConfig, EventsConfigError
from pyuniproc.outputs import RecordingConfig, RecordingConfigError
from pyuniproc.outputs.record_choice import check_annotated_video
from pyuniproc.runtime.overload import OverloadSettings
from pyuniproc.telemetry.config import TelemetryConfig, TelemetryConfigError


@dataclass(frozen=True)
class RuntimeSettings:
    """`parameters.pyuniproc`: knobs of the embedded runtime only."""

    queue_size: int = 8
    # which device runs the detector and the ReID embedder (read at start): auto = an NVIDIA GPU when torch
    # with CUDA is installed and sees one, else ONNX Runtime on the CPU; cpu / gpu force one (gpu fails at
    # start, naming what is missing, where it cannot run). Same pipeline, tracker, fusion and outputs on both.
    backend: str = "auto"
    # how video files are decoded (read at start; `pyuniproc run --decoder` overrides it): auto = NVDEC with
    # the frames kept on the GPU when the backend is the GPU and NVDEC runs there, else PyAV on the CPU;
    # cpu / nvdec (fails at start where it cannot run) / nv12-cpu (the NVDEC path's frames made by PyAV).
    # Live cameras and image folders always decode on the CPU (pyuniproc/gpu/decoders.py)
    decoder: str = "auto"
    # video/<camera>.mp4 with boxes and ids for every camera (true), none (false) or auto: all on the CPU
    # backend, none on the GPU backend (no encoder on an H100); a camera's `record` in the cameras file
    # overrides it (pyuniproc/outputs/record_choice.py)
    annotated_video: bool | str = "auto"
    summary_period_seconds: float = 2.0
    batch_wait_ms: float = 5.0  # how long to wait for more cameras' frames before running a partial batch
    # the detector's batch limit on the GPU backend (read at start): one inference for up to this many
    # frames across the process's cameras. The module's `batch_size` (nvinfer's in Savant) stays the limit
    # on the CPU, where a batch costs per frame; on the GPU a batch costs per batch (H100, 16 cameras in
    # one process: batch 4 / 16 / 32 ran 202 / 363 / 423 frames/s, benchmarks/gpu/README.md)
    gpu_batch_size: int = 32
    # detector weights on the CPU: fp32 (the converted model) or int8 (its quantised copy, faster)
    cpu_precision: str = "fp32"
    detector_workers: int = 2  # batches detected at once on the CPU, each on its own thread (read at start)
    detector_threads: int = 0  # ONNX Runtime threads per detector worker; 0: the CPUs shared among workers
    # camera groups, each run by a worker process (decode, detector, trackers, ReID); fusion, pyfuncs and
    # outputs stay in the main process. A count or "auto" (one per GPU when there are several); read at start
    workers: int | str = 1
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
    spec = parse_module(doc)
    parameters = spec.parameters
    return ModuleConfig(
        path=doc.path, name=spec.name, parameters=parameters, detector=spec.detector, tracker=spec.tracker,
        pyfuncs=spec.pyfuncs, runtime=_runtime_settings(doc, parameters.get("pyuniproc") or {}),
        reid=spec.reid, fusion=_fusion_config(doc, parameters.get("fusion")),
        relink=_relink_options(doc, parameters.get("relink")),
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
    if "workers" in params:
        from pyuniproc.runtime.workers import check_workers

        try:
            values["workers"] = check_workers(params.pop("workers"))
        except ValueError as exc:
            raise doc.error(f"{where}.workers", str(exc)) from None
    for key, value in params.items():
        if key == "annotated_video":
            try:
                values[key] = check_annotated_video(value)
            except ValueError as exc:
                raise doc.error(f"{where}.{key}", str(exc)) from None
            continue
        expected = type(getattr(defaults, key))
        if expected is bool and not isinstance(value, bool):
            raise doc.error(f"parameters.pyuniproc.{key}", f"expected true or false, got {value!r}")
        if expected in (int, float):
            value = _number(doc, f"parameters.pyuniproc.{key}", value)
            value = int(value) if expected is int else value
        values[key] = value
    if "backend" in values:
        from pyuniproc.gpu.backend import check_backend_name  # no torch import: names only

        try:
            check_backend_name(values["backend"])
        except ValueError as exc:
            raise doc.error(f"{where}.backend", str(exc)) from None
    if "decoder" in values:
        from pyuniproc.gpu.decoders import check_decoder_name  # no torch import: names only

        try:
            check_decoder_name(values["decoder"])
        except ValueError as exc:
            raise doc.error(f"{where}.decoder", str(exc)) from None
    minimums = {"queue_size": 1, "detector_workers": 1, "detector_threads": 0, "gpu_batch_size": 1}
    for key, least in minimums.items():
        if key in values and values[key] < least:
            raise doc.error(f"parameters.pyuniproc.{key}", f"must be >= {least}, got {values[key]!r}")
    return RuntimeSettings(**values, **typed)


__all__ = ["PLUMBING_ELEMENTS", "TOP_LEVEL_KEYS", "ConfigError", "DetectorSpec", "ModuleConfig", "PyFuncSpec",
           "ReidSpec", "RuntimeSettings", "TrackerSpec", "YamlDocument", "load_module_config"]
