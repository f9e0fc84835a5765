"""Optional parts of pyuniproc and the pip extra that brings each (pyproject.toml's optional-dependencies).

`pip install pyuniproc` runs the pipeline on a CPU. Scoring (`eval`), Kafka (`kafka`) and the GPU path
(`gpu`) need more packages; they are imported only where used, and a missing one fails with the
command that installs it instead of a traceback:

    pyuniproc: scoring against ground truth needs trackeval, which is not installed:
    pip install 'pyuniproc[eval]'
"""

from __future__ import annotations

import importlib
from types import ModuleType
from typing import NamedTuple


class Extra(NamedTuple):
    extra: str  # the name in pyproject.toml's optional-dependencies
    package: str  # what pip installs
    feature: str  # what needs it, for the message


EXTRAS: dict[str, Extra] = {
    "trackeval": Extra("eval", "trackeval", "scoring against ground truth"),
    "confluent_kafka": Extra("kafka", "confluent-kafka", "Kafka (events to Kafka, the frame topic)"),
    "torch": Extra("gpu", "torch", "the GPU path"),
    "onnx": Extra("gpu", "onnx", "the GPU path"),
    "triton": Extra("gpu", "triton", "the GPU path"),
    "pynvml": Extra("gpu", "nvidia-ml-py", "GPU metrics"),
}
"""Top-level module -> the extra that installs it."""


class MissingExtraError(ModuleNotFoundError):
    """An optional package is not installed; the message names the extra that brings it."""


def install_command(extra: str) -> str:
    return f"pip install 'pyuniproc[{extra}]'"


def message_for(module: str, feature: str | None = None) -> str | None:
    """The user-facing line for a missing `module`, or None when no extra brings it."""
    known = EXTRAS.get(module.split(".", 1)[0])
    if known is None:
        return None
    return (f"{feature or known.feature} needs {known.package}, which is not installed: "
            f"{install_command(known.extra)}")


def require(module: str, *, feature: str | None = None) -> ModuleType:
    """Import `module` (one that an extra brings); raise `MissingExtraError` naming the extra if absent."""
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as exc:
        message = message_for(module, feature)
        if message is None or (exc.name or "").split(".", 1)[0] != module.split(".", 1)[0]:
            raise  # not the optional package itself, but something it imports: a broken install
        raise MissingExtraError(message, name=exc.name) from None


def explain(exc: ModuleNotFoundError) -> str | None:
    """What to tell the user about `exc`: the install command when an extra brings the missing module."""
    if isinstance(exc, MissingExtraError):
        return str(exc)
    return message_for(exc.name) if exc.name else None


__all__ = ["EXTRAS", "MissingExtraError", "explain", "install_command", "require"]
