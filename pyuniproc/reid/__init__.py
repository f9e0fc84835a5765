"""Person appearance: crops -> embeddings -> per-track descriptors, for cross-camera identity.

The stages, each its own module:

- `crops.crop_boxes`: cut the tracked boxes out of a frame;
- `quality.QualityGate`: which crops are good enough to embed (size, confidence, occlusion, frame
  edge, shape) and a quality weight for each;
- `schedule.EmbedScheduler`: per camera, which tracks to embed this frame (good crop, not embedded
  for N frames, at most K per frame, most stale first), so the cost per frame is bounded;
- `Embedder.embed(crops) -> (n, D)`: one batched inference over the crops of all cameras;
  `mobilenetv2_imagenet` (1280-d, generic ImageNet features) or `mobilenetv2_person_adapted`
  (128-d, the same network adapted to people by scripts/adapt_reid.py);
- `gallery.GalleryBank`: per (camera, track) a small diverse gallery and its quality-weighted mean,
  the track's appearance descriptor that fusion compares across cameras.

    from pyuniproc.reid import DEFAULT_MODEL_DIR, create_embedder, crop_boxes
    embedder = create_embedder("mobilenetv2_imagenet", model_dir=DEFAULT_MODEL_DIR)
    vectors = embedder.embed(crop_boxes(frame.image, tracks.xyxy))   # (n, 1280) float32, unit rows

The embedder is named in the module YAML by its ONNX file (`nvinfer@attribute_model` element,
`model.model_file`); `KIND_BY_MODEL_FILE` maps that file to the kind `create_embedder` builds.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np

from pyuniproc.detect.errors import ModelError
from pyuniproc.reid.crops import crop_boxes
from pyuniproc.reid.gallery import GalleryBank, TrackGallery
from pyuniproc.reid.onnx_embedder import (
    DEFAULT_MODEL_DIR,
    MobileNetV2ImagenetEmbedder,
    MobileNetV2PersonAdaptedEmbedder,
    OnnxEmbedder,
    l2_normalise,
)
from pyuniproc.reid.quality import QualityGate, overlap_ratio
from pyuniproc.reid.schedule import EmbedScheduler

__all__ = [
    "DEFAULT_MODEL_DIR", "EMBEDDERS", "KIND_BY_MODEL_FILE", "EmbedScheduler", "Embedder", "GalleryBank",
    "MobileNetV2ImagenetEmbedder", "MobileNetV2PersonAdaptedEmbedder", "ModelError", "OnnxEmbedder",
    "QualityGate", "TrackGallery",
    "create_embedder", "crop_boxes", "kind_for_model_file", "l2_normalise", "overlap_ratio",
]


@runtime_checkable
class Embedder(Protocol):
    """What every appearance embedder offers. Crops are (h, w, 3) uint8 RGB of any sizes."""

    name: str
    dimension: int

    def embed(self, crops: Sequence[np.ndarray]) -> np.ndarray:
        """(n, dimension) float32, unit rows, row i for crops[i]; all crops through one inference.
        An empty list gives a (0, dimension) array."""
        ...

    def preprocess(self, crops: Sequence[np.ndarray]) -> np.ndarray:
        """Crops -> (N, 3, H, W) float32 net input."""
        ...

    def infer(self, batch: np.ndarray) -> np.ndarray:
        """Net input -> (N, D) raw output."""
        ...

    def postprocess(self, raw: np.ndarray) -> np.ndarray:
        """Raw output -> (N, D) float32 unit rows."""
        ...


EMBEDDERS: dict[str, type[OnnxEmbedder]] = {
    MobileNetV2ImagenetEmbedder.name: MobileNetV2ImagenetEmbedder,
    MobileNetV2PersonAdaptedEmbedder.name: MobileNetV2PersonAdaptedEmbedder,
}
"""Embedder kinds by name, as the module YAML and the CLI name them."""

KIND_BY_MODEL_FILE: dict[str, str] = {
    "mobilenetv2_imagenet.onnx": MobileNetV2ImagenetEmbedder.name,
    "mobilenetv2_person_adapted.onnx": MobileNetV2PersonAdaptedEmbedder.name,
}
"""ONNX file named by the module YAML's `nvinfer@attribute_model` element -> the embedder kind that
runs it the same way (same input size and normalisation) in the embedded runtime."""


def kind_for_model_file(model_file: str) -> str:
    """The embedder kind for the `model_file` of an `nvinfer@attribute_model` element (a bare name or a
    path); ValueError listing the known files otherwise."""
    name = Path(model_file).name
    if name not in KIND_BY_MODEL_FILE:
        raise ValueError(f"no embedder runs model file {model_file!r}; known files: "
                         f"{', '.join(sorted(KIND_BY_MODEL_FILE))}")
    return KIND_BY_MODEL_FILE[name]


def create_embedder(
    kind: str,
    *,
    model_dir: Path,
    intra_op_threads: int | None = None,
    model_file: str | None = None,
) -> Embedder:
    """Build the embedder `kind` from the verified model files in `model_dir`.

    Raises ValueError for an unknown kind, bad options or a model_file that is not this kind's;
    ModelError for a missing, altered or unreadable model file (naming it and how to regenerate it).
    """
    if kind not in EMBEDDERS:
        raise ValueError(f"unknown embedder kind {kind!r}; known kinds: {', '.join(sorted(EMBEDDERS))}")
    return EMBEDDERS[kind](model_dir=Path(model_dir), intra_op_threads=intra_op_threads,
                           model_file=model_file)
