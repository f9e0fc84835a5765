"""The committed model files: find them, check them against MODELS.json, open them with onnxruntime.

Why at load time: a model file that is missing, truncated by a bad checkout (e.g. a Git LFS pointer)
or silently replaced would otherwise surface as wrong boxes much later. Every check here raises
`ModelError` naming the file and how to regenerate it.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import numpy as np

from pyuniproc.detect.errors import ModelError
from pyuniproc.module_files import models_dir

DEFAULT_MODEL_DIR = models_dir() / "person_detector"
"""The default module's detector files (module/models/person_detector in a checkout, where
scripts/convert_models.py writes them; the installed package's copy otherwise)."""
PROVENANCE_FILE = "MODELS.json"
REGENERATE = "regenerate with `python scripts/convert_models.py` (tools: scripts/requirements-convert.txt)"


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def model_entry(model_dir: Path, kind: str) -> dict[str, Any]:
    """The MODELS.json entry of `kind` (source package, file names, sha256s, input and outputs)."""
    path = Path(model_dir) / PROVENANCE_FILE
    if not path.is_file():
        raise ModelError(f"model provenance file {path} is missing; {REGENERATE}")
    try:
        models = json.loads(path.read_text())["models"]
    except (ValueError, KeyError) as error:
        raise ModelError(f"model provenance file {path} is unreadable ({error}); {REGENERATE}") from error
    if kind not in models:
        raise ModelError(f"{path} has no entry for {kind!r} (has {sorted(models)}); {REGENERATE}")
    return models[kind]


def verified_path(model_dir: Path, file_name: str, expected_sha256: str) -> Path:
    """Path of a model file after checking that it exists and its sha256 matches MODELS.json."""
    path = Path(model_dir) / file_name
    if not path.is_file():
        raise ModelError(
            f"model file {path} is missing ({PROVENANCE_FILE} expects sha256 {expected_sha256}); {REGENERATE}"
        )
    actual = sha256_of(path)
    if actual != expected_sha256:
        raise ModelError(
            f"model file {path} has sha256 {actual}, but {PROVENANCE_FILE} records "
            f"{expected_sha256}: the file is altered or corrupt; {REGENERATE}"
        )
    return path


def load_array(model_dir: Path, spec: dict[str, Any]) -> np.ndarray:
    """A verified .npy side file (e.g. anchors) described by `spec` {"file", "sha256", "shape"}."""
    path = verified_path(model_dir, spec["file"], spec["sha256"])
    array = np.load(path, allow_pickle=False)
    if list(array.shape) != list(spec["shape"]):
        raise ModelError(f"{path} has shape {array.shape}, expected {spec['shape']}; {REGENERATE}")
    return array


def open_session(path: Path, intra_op_threads: int | None = None, *, memory_arena: bool = True) -> Any:
    """An onnxruntime session: CUDA when this onnxruntime build has it, else CPU.

    intra_op_threads: threads for one inference; None lets onnxruntime use every core. Lower it when
    several detectors or other stages share the machine. memory_arena: False for inputs whose batch
    size varies a lot (see below).
    """
    import onnxruntime as ort  # imported here so that the pure decoders never need it

    options = ort.SessionOptions()
    if intra_op_threads is not None:
        options.intra_op_num_threads = intra_op_threads
    # Idle inference threads sleep instead of spinning: the spinning threads otherwise take the cores
    # the camera decoders need between two batches (measured in one alternating run on 2 loaded
    # cores, 4 cameras: 55 fps spinning, 79-91 fps not spinning).
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    # The arena keeps the largest buffers it ever needed. Off for models fed batches of varying size
    # (ReID crops: 1-32 per call), where it grew 164 -> 537 MB in the soak and never shrank (66 MB off).
    options.enable_cpu_mem_arena = memory_arena
    # No memory pattern: ONNX Runtime plans and keeps one block layout per input shape it meets, so a
    # detector fed batches of 1..N frames (cameras joining and leaving) holds a plan per size; off, the
    # NanoDet int8 session held 180 MB instead of 294 MB over batches of 1-6, at the same CPU per frame
    # (32.2 vs 31.8 ms, within noise on the shared 2-core box).
    options.enable_mem_pattern = False
    providers = ["CPUExecutionProvider"]
    if "CUDAExecutionProvider" in ort.get_available_providers():
        providers.insert(0, "CUDAExecutionProvider")
    try:
        return ort.InferenceSession(str(path), sess_options=options, providers=providers)
    except Exception as error:  # onnxruntime raises its own exception types for bad files
        raise ModelError(f"onnxruntime cannot load model file {path} ({error}); {REGENERATE}") from error
