"""Person detection: ONNX models converted from published weights, decoded by our own numpy code.

Pick a detector by name and call it on frames from several cameras at once:

    from pyuniproc.detect import DEFAULT_MODEL_DIR, create_detector
    detector = create_detector("ssdlite_pedestrian", model_dir=DEFAULT_MODEL_DIR, confidence_threshold=0.5)
    per_frame = detector.detect([frame_a.image, frame_b.image])   # one onnxruntime call
    per_frame[0].xyxy  # (n, 4) float32 pixels of frame_a; class_id 0 = person

The stages are exposed too (`preprocess`, `infer`, `postprocess`) so a runtime can time them and a GPU
backend can run the same ONNX file and reuse `decode_ssd` / `decode_nanodet` on its outputs.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np

from pyuniproc.detect.errors import ModelError
from pyuniproc.detect.models import DEFAULT_MODEL_DIR
from pyuniproc.detect.nanodet import decode_nanodet
from pyuniproc.detect.nms import batched_nms, box_iou, nms
from pyuniproc.detect.onnx_detector import NanodetCocoDetector, OnnxDetector, SsdlitePedestrianDetector
from pyuniproc.detect.ssd import decode_ssd
from pyuniproc.types import Detections

__all__ = [
    "DEFAULT_MODEL_DIR", "DETECTORS", "KIND_BY_CONVERTER", "Detector", "ModelError", "NanodetCocoDetector",
    "OnnxDetector", "SsdlitePedestrianDetector", "batched_nms", "box_iou", "create_detector",
    "decode_nanodet", "decode_ssd", "nms",
]


@runtime_checkable
class Detector(Protocol):
    """What every detector offers. Frames are (H, W, 3) uint8 RGB of any sizes; results come back in
    the same order, each in its own frame's pixel coordinates, class_id 0 = person."""

    name: str

    def detect(self, images: Sequence[np.ndarray]) -> list[Detections]:
        """All frames through one batched inference."""
        ...

    def preprocess(self, images: Sequence[np.ndarray]) -> np.ndarray:
        """Frames -> (N, 3, h, w) float32 net input."""
        ...

    def infer(self, batch: np.ndarray) -> list[np.ndarray]:
        """Net input -> raw output arrays."""
        ...

    def postprocess(self, raw_outputs: Sequence[np.ndarray], original_sizes: Sequence[tuple[int, int]]
                    ) -> list[Detections]:
        """Raw outputs + (height, width) of each original frame -> one `Detections` per frame."""
        ...


DETECTORS: dict[str, type[OnnxDetector]] = {
    SsdlitePedestrianDetector.name: SsdlitePedestrianDetector,
    NanodetCocoDetector.name: NanodetCocoDetector,
}
"""Detector kinds by name, as the module YAML and the CLI name them."""

KIND_BY_CONVERTER: dict[str, str] = {
    "SsdliteConverter": SsdlitePedestrianDetector.name,
    "NanodetConverter": NanodetCocoDetector.name,
}
"""The Savant converter class named in the module YAML -> the detector kind that decodes the same way."""


def create_detector(
    kind: str,
    *,
    model_dir: Path,
    confidence_threshold: float = 0.5,
    nms_iou_threshold: float = 0.45,
    min_width: float = 0,
    min_height: float = 0,
    intra_op_threads: int | None = None,
    model_file: str | None = None,
    precision: str = "fp32",
) -> Detector:
    """Build the detector `kind` from the verified model files in `model_dir`.

    model_file: optional ONNX file name from the module YAML, checked against the kind's model.
    precision: "fp32" (the converted model) or "int8" (its quantised copy, faster on CPUs).
    Raises ValueError for an unknown kind, a bad threshold or a mismatched model_file; ModelError for a
    missing, altered or unreadable model file (saying how to regenerate it). See `OnnxDetector` for what
    each knob trades.
    """
    if kind not in DETECTORS:
        raise ValueError(f"unknown detector kind {kind!r}; known kinds: {', '.join(sorted(DETECTORS))}")
    return DETECTORS[kind](model_dir=Path(model_dir), confidence_threshold=confidence_threshold,
                           nms_iou_threshold=nms_iou_threshold, min_width=min_width, min_height=min_height,
                           intra_op_threads=intra_op_threads, model_file=model_file, precision=precision)
