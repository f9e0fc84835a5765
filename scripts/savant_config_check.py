#!/usr/bin/env python3
"""Load module/module.yml with Savant's own configuration loader, outside Savant's image.

Why: a mirror of Savant's schema (pyuniproc.deploy.savant_module) can drift from the real thing; this
runs the real `savant.config.ModuleConfig().load()` from a Savant source checkout, unchanged, the way
`python -m savant.entrypoint module/module.yml` starts: the user file merged over Savant's default.yml,
every parameter block and element merged into Savant's typed schema, each nvinfer element turned into
the nvinfer config file DeepStream would read, the nvtracker config file checked. Then it runs the
checks Savant makes when the pipeline starts on the telemetry block (tracing and metrics providers),
reading the provider names from the same Savant source.

What it cannot do: DeepStream, GStreamer and CUDA are absent, so the bindings Savant imports at module
level (pyds, gi, cupy, numba, ...) are replaced by inert stand-ins; nothing of them runs while loading
a config. savant-rs comes from the installed wheel when present, else it is stubbed too.

Usage (Savant 0.5 images run Python 3.10; OmegaConf, simpleeval and PyYAML must be installed):

    python3.10 scripts/savant_config_check.py --savant-source /tmp/savant-0.5.0 \
        --detector nanodet module/module.yml

Prints one JSON object (Savant's version, the resolved telemetry block, per element its kind, name
and, for nvinfer, the generated config's main keys) and exits 0, or prints the loader's error and
exits 1. Model files are linked into a temporary MODEL_PATH, so the generated nvinfer config files
land there, not in the repository.
"""

from __future__ import annotations

import argparse
import ast
import importlib.abc
import importlib.machinery
import json
import os
import sys
import tempfile
import traceback
import types
from collections.abc import Callable
from pathlib import Path
from typing import Any

# Bindings of the DeepStream image that Savant's config package imports at module level.
STUBBED = ("pyds", "gi", "cupy", "cupyx", "numba", "pygstsavantframemeta", "savant_boost", "savantboost",
           "nvbufsurfacegenerator", "pynvbufsurfacegenerator", "ffmpeg_input", "inotify_simple",
           "pretty_traceback", "magic", "boto3", "botocore", "splitstream")

ZMQ_ENDPOINTS = {"ZMQ_SRC_ENDPOINT": "router+bind:ipc:///tmp/zmq-sockets/input-video.ipc",
                 "ZMQ_SINK_ENDPOINT": "pub+bind:ipc:///tmp/zmq-sockets/output-video.ipc"}

DEEPSTREAM_LIBRARIES = {"/opt/nvidia/deepstream/deepstream/lib/libnvds_nvmultiobjecttracker.so"}


class _Inert(type):
    """A class standing in for anything taken from a stubbed module: attributes, calls, items and
    subclassing all give more stand-ins, so module-level code of Savant's sources runs through."""

    def __getattr__(cls, name: str) -> Any:
        if name.startswith("__") and name.endswith("__"):
            raise AttributeError(name)
        return _Inert(name, (_InertBase,), {})

    def __getitem__(cls, item: Any) -> Any:
        return _Inert("item", (_InertBase,), {})

    def __or__(cls, other: Any) -> Any:
        return cls

    __ror__ = __or__


class _InertBase(metaclass=_Inert):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        pass

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__") and name.endswith("__"):
            raise AttributeError(name)
        return _Inert(name, (_InertBase,), {})

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return _Inert("result", (_InertBase,), {})()

    def __iter__(self) -> Any:
        return iter(())

    def __bool__(self) -> bool:
        return False


class _InertModule(types.ModuleType):
    def __getattr__(self, name: str) -> Any:
        if name.startswith("__") and name.endswith("__"):
            raise AttributeError(name)
        return _Inert(name, (_InertBase,), {})


class InertModules(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Serves every module whose top-level name `stubbed(name)` accepts (and its submodules) as an inert
    module. Also used by tests/deploy/test_module_imports.py to import our code under a bare Python 3.10
    with every third-party package stubbed, so only the standard library and the syntax are real."""

    def __init__(self, stubbed: Callable[[str], bool]):
        self.stubbed = stubbed

    def find_spec(self, fullname: str, path: Any, target: Any = None) -> Any:
        if self.stubbed(fullname.split(".", 1)[0]):
            return importlib.machinery.ModuleSpec(fullname, self, is_package=True)
        return None

    def create_module(self, spec: Any) -> types.ModuleType:
        module = _InertModule(spec.name)
        module.__path__ = []  # a package: submodules resolve through this finder too
        return module

    def exec_module(self, module: types.ModuleType) -> None:
        pass


def _stub_bindings() -> list[str]:
    """Install the stand-ins; savant_rs is stubbed only when no wheel is installed."""
    prefixes = list(STUBBED)
    try:
        import savant_rs  # noqa: F401
    except ImportError:
        prefixes.append("savant_rs")
    sys.meta_path.insert(0, InertModules(prefixes.__contains__))
    return prefixes


def _deepstream_files_present() -> None:
    """Savant checks that nvtracker's low-level library exists; it ships with DeepStream, which is absent
    here. Only that check sees DEEPSTREAM_LIBRARIES as present; every other path is looked up as usual."""
    from savant.deepstream.nvinfer import element_config

    real = os.path

    class _Path(types.ModuleType):
        def __getattr__(self, name: str) -> Any:
            return getattr(real, name)

        @staticmethod
        def exists(path: Any) -> bool:
            return str(path) in DEEPSTREAM_LIBRARIES or real.exists(path)

    class _Os(types.ModuleType):
        path = _Path("os.path")

        def __getattr__(self, name: str) -> Any:
            return getattr(os, name)

    element_config.os = _Os("os")  # the name that module looks `os.path.exists` up through


def _link_models(models: Path, target: Path) -> None:
    """MODEL_PATH with links to the repository's model files (Savant writes its nvinfer configs there)."""
    for folder in sorted(p for p in models.iterdir() if p.is_dir()):
        (target / folder.name).mkdir(parents=True)
        for file in folder.iterdir():
            (target / folder.name / file.name).symlink_to(file.resolve())


def accepted_providers(savant_source: Path) -> dict[str, list[str]]:
    """Tracing and metrics provider names Savant's pipeline start accepts, read from its source: the
    string literals compared with `tracing.provider` / `params.provider` in its telemetry set-up."""
    found: dict[str, set[str]] = {"tracing": set(), "metrics": set()}
    for path in sorted((savant_source / "savant").rglob("*.py")):
        text = path.read_text(encoding="utf-8", errors="replace")
        if "provider" not in text:
            continue
        for node in ast.walk(ast.parse(text)):
            if not (isinstance(node, ast.Compare) and isinstance(node.left, ast.Attribute)
                    and node.left.attr == "provider" and isinstance(node.left.value, ast.Name)):
                continue
            kind = "tracing" if node.left.value.id == "tracing" else "metrics"
            for comparator in node.comparators:
                if isinstance(comparator, ast.Constant) and isinstance(comparator.value, str):
                    found[kind].add(comparator.value)
    return {kind: sorted(names) for kind, names in found.items()}


def _start_telemetry(module_name: str, telemetry: Any, problems: list[str]) -> dict[str, str]:
    """What NvDsPipeline does with the telemetry block when it starts: Savant's `init_tracing` and
    `build_metrics_exporter` (savant/deepstream/utils/pipeline.py), which raise on a provider they do not
    know. The tracer's endpoint host becomes 127.0.0.1 (the Jaeger agent exporter resolves it at once;
    `jaeger` exists only on the compose network); the metrics exporter is built, not started."""
    import dataclasses

    from savant.deepstream.utils.pipeline import build_metrics_exporter, init_tracing

    started = {}
    tracing = telemetry.tracing
    params = dict(tracing.provider_params or {})
    if params.get("endpoint"):
        host, sep, rest = str(params["endpoint"]).rpartition("//")[2].partition(":")
        params["endpoint"] = f"127.0.0.1{sep}{rest}" if sep else "127.0.0.1"
    try:
        init_tracing(module_name, dataclasses.replace(tracing, provider_params=params))
        started["tracing"] = f"{tracing.provider or 'noop'} tracer initialised"
    except Exception as error:  # noqa: BLE001 - Savant's refusal is the finding
        problems.append(f"tracing: {type(error).__name__}: {error}")
    try:
        exporter = build_metrics_exporter(None, telemetry.metrics)
        started["metrics"] = type(exporter).__name__ if exporter is not None else "none"
    except Exception as error:  # noqa: BLE001
        problems.append(f"metrics: {type(error).__name__}: {error}")
    return started


def _plain(node: Any) -> Any:
    """Savant's loaded config (dataclasses, OmegaConf nodes, dicts) as plain JSON-able values."""
    import dataclasses

    from omegaconf import DictConfig, ListConfig, OmegaConf

    if isinstance(node, (DictConfig, ListConfig)):
        return OmegaConf.to_container(node, resolve=True)
    if dataclasses.is_dataclass(node) and not isinstance(node, type):
        return {f.name: _plain(getattr(node, f.name)) for f in dataclasses.fields(node)}
    if isinstance(node, dict):
        return {str(k): _plain(v) for k, v in node.items()}
    if isinstance(node, (list, tuple)):
        return [_plain(v) for v in node]
    return node


def check(module_yaml: Path, savant_source: Path, detector: str | None) -> dict[str, Any]:
    """Load `module_yaml` with Savant's loader; the summary, or an exception from Savant."""
    repo = module_yaml.resolve().parent.parent
    sys.path[:0] = [str(savant_source), str(repo)]
    stubbed = _stub_bindings()
    with tempfile.TemporaryDirectory(prefix="savant-models-") as model_path:
        _link_models(module_yaml.resolve().parent / "models", Path(model_path))
        os.environ.update(MODEL_PATH=model_path, PROJECT_PATH=str(repo),
                          DOWNLOAD_PATH=str(Path(model_path) / "downloads"))
        for name, value in ZMQ_ENDPOINTS.items():  # as docker-compose.yml sets them for the module
            os.environ.setdefault(name, value)
        if detector:
            os.environ["DETECTOR"] = detector
        from savant.config import ModuleConfig
        from savant.utils.logging import init_logging
        from savant.utils.version import version as savant_version

        _deepstream_files_present()
        # As savant.entrypoint starts: Savant's defaults, its logging (adds the TRACE level), the module.
        init_logging(ModuleConfig().config.parameters["log_level"])
        config = ModuleConfig().load(str(module_yaml))
        telemetry = _plain(config.parameters["telemetry"])
        problems = []
        started = _start_telemetry(config.name, config.parameters["telemetry"], problems)
        elements = []
        for element in config.pipeline.elements:
            entry: dict[str, Any] = {"element": element.element, "name": element.name,
                                     "type": type(element).__name__}
            config_file = (getattr(element, "properties", None) or {}).get("config-file-path")
            if config_file:
                entry["nvinfer_config"] = _nvinfer_summary(Path(config_file))
            if getattr(element, "module", None) and getattr(element, "class_name", None):
                entry["pyfunc"] = f"{element.module}.{element.class_name}"
            elements.append(entry)
        return {
            "savant_version": savant_version.SAVANT,
            "deepstream_version": savant_version.DEEPSTREAM,
            "detector": os.environ.get("DETECTOR"),
            "stubbed": sorted(stubbed),
            "module": config.name,
            "batch_size": config.parameters["batch_size"],
            "telemetry": telemetry,
            "providers_savant_accepts": accepted_providers(savant_source),
            "telemetry_start": started,
            "elements": elements,
            "problems": problems,
        }


def _nvinfer_summary(path: Path) -> dict[str, str]:
    """Main keys of a generated nvinfer config ([property] section, `key=value` lines)."""
    keep = ("onnx-file", "model-engine-file", "batch-size", "network-mode", "network-type", "infer-dims",
            "net-scale-factor", "offsets", "model-color-format", "maintain-aspect-ratio", "output-blob-names",
            "output-tensor-meta", "process-mode", "operate-on-gie-id", "operate-on-class-ids")
    values = {}
    for line in path.read_text().splitlines():
        key, sep, value = line.partition("=")
        if sep and key.strip() in keep:
            values[key.strip()] = Path(value.strip()).name if key.strip().endswith("-file") else value.strip()
    return values


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("module_yaml", type=Path)
    parser.add_argument("--savant-source", type=Path, default=os.environ.get("SAVANT_SOURCE"),
                        help="a Savant source checkout (the folder holding savant/); env SAVANT_SOURCE")
    parser.add_argument("--detector", help="the DETECTOR profile to load (env DETECTOR otherwise)")
    args = parser.parse_args(argv)
    if not args.savant_source or not (args.savant_source / "savant" / "config").is_dir():
        parser.error("--savant-source must name a Savant source checkout (with savant/config/)")
    try:
        summary = check(args.module_yaml, args.savant_source, args.detector)
    except Exception:  # noqa: BLE001 - Savant's own error is the result
        print(traceback.format_exc(), file=sys.stderr)
        return 1
    print(json.dumps(summary, indent=2, default=str))
    return 1 if summary["problems"] else 0


if __name__ == "__main__":
    sys.exit(main())
