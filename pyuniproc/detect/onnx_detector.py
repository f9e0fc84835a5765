"""The two shipped person detectors on onnxruntime: preprocess -> one batched inference -> our decoder.

Each stage is its own method so the runtime can time them separately and a GPU backend can reuse the
preprocessing constants and the decoder while running the same ONNX file elsewhere.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from pyuniproc.detect.errors import ModelError
from pyuniproc.detect.models import load_array, model_entry, open_session, verified_path
from pyuniproc.detect.nanodet import decode_nanodet
from pyuniproc.detect.preprocess import to_nchw_batch
from pyuniproc.detect.ssd import decode_ssd
from pyuniproc.types import Detections

PRECISIONS = ("fp32", "int8")
"""CPU precisions a detector can run in (both files ship in module/models/person_detector)."""


class OnnxDetector:
    """Shared plumbing; subclasses set `name` and implement `postprocess`.

    confidence_threshold: minimum score of a box; lower finds more (partly hidden, small) people and
        more false boxes. nms_iou_threshold: boxes overlapping a better one by more than this are
        dropped; higher keeps people in tight groups apart, lower merges duplicates harder.
    min_width / min_height: smallest box kept, in original-frame pixels (0 keeps all).
    intra_op_threads: onnxruntime threads per inference (None: all cores).
    precision: "fp32" runs the converted float model; "int8" its statically quantised copy
        (scripts/quantize_models.py, MODELS.json `int8` entry): 1.5-1.7x faster on AVX2 and ~1.8x with
        VNNI, same preprocessing and decoder; SSDLite's scores differ from fp32 by 0.03 on average.
        Its matrix-product weights use 7 bits, so CPUs without VNNI compute the same exact integer
        sums as those with it (with 8 bits they saturated and moved scores by up to 0.4).
    model_file: the ONNX file name the module YAML names, if any; it must be the file MODELS.json
        records for this kind, so a YAML pairing one model's converter with another's file fails at start.
    """

    name: str = ""
    concurrent_calls = True
    """ONNX Runtime sessions may be run from several threads at once (the runtime's detector workers)."""

    def __init__(
        self,
        *,
        model_dir: Path,
        confidence_threshold: float = 0.5,
        nms_iou_threshold: float = 0.45,
        min_width: float = 0.0,
        min_height: float = 0.0,
        intra_op_threads: int | None = None,
        model_file: str | None = None,
        precision: str = "fp32",
    ) -> None:
        if not 0.0 < confidence_threshold <= 1.0:
            raise ValueError(f"confidence_threshold must be in (0, 1], got {confidence_threshold!r}")
        if not 0.0 < nms_iou_threshold <= 1.0:
            raise ValueError(f"nms_iou_threshold must be in (0, 1], got {nms_iou_threshold!r}")
        if min_width < 0 or min_height < 0:
            raise ValueError(f"min_width and min_height must be >= 0, got {min_width!r}, {min_height!r}")
        if intra_op_threads is not None and intra_op_threads < 1:
            raise ValueError(f"intra_op_threads must be >= 1 or None, got {intra_op_threads!r}")
        self.model_dir = Path(model_dir)
        self.entry = model_entry(self.model_dir, self.name)
        if model_file is not None and Path(model_file).name != self.entry["file"]:
            raise ValueError(
                f"model_file {model_file!r} is not the {self.name} model; its file is {self.entry['file']!r}"
            )
        if precision not in PRECISIONS:
            raise ValueError(f"precision must be one of {PRECISIONS}, got {precision!r}")
        weights = self.entry
        if precision == "int8":
            if "int8" not in self.entry:
                raise ModelError(
                    f"{self.model_dir / 'MODELS.json'} has no int8 copy of {self.name}; "
                    "make it with `python scripts/quantize_models.py` or use precision fp32"
                )
            weights = self.entry["int8"]
        self.precision = precision
        self.model_path = verified_path(self.model_dir, weights["file"], weights["sha256"])
        self.session = open_session(self.model_path, intra_op_threads)
        net_input = self.entry["input"]
        self.input_name: str = net_input["name"]
        self.input_size: int = int(net_input["shape"][-1])
        # nvinfer convention: y = scale_factor * (x - offsets); here as y = x * scale + bias per channel.
        self.scale = float(net_input["scale_factor"])
        self.bias = tuple(-self.scale * float(offset) for offset in net_input["offsets"])
        self.output_names = [output["name"] for output in self.entry["outputs"]]
        self.confidence_threshold = confidence_threshold
        self.nms_iou_threshold = nms_iou_threshold
        self.min_width = min_width
        self.min_height = min_height

    def preprocess(self, images: Sequence[np.ndarray]) -> np.ndarray:
        """(H, W, 3) uint8 RGB frames of any sizes -> (N, 3, S, S) float32 net input."""
        return to_nchw_batch(images, self.input_size, self.scale, self.bias)

    def infer(self, batch: np.ndarray) -> list[np.ndarray]:
        """One onnxruntime call for the whole batch; raw outputs in MODELS.json order."""
        return self.session.run(self.output_names, {self.input_name: batch})

    def postprocess(
        self, raw_outputs: Sequence[np.ndarray], original_sizes: Sequence[tuple[int, int]]
    ) -> list[Detections]:
        raise NotImplementedError

    def detect(self, images: Sequence[np.ndarray]) -> list[Detections]:
        """One `Detections` per frame, in that frame's pixels; all frames go through one inference."""
        if len(images) == 0:
            return []
        batch = self.preprocess(images)
        return self.postprocess(self.infer(batch), [image.shape[:2] for image in images])

    def _thresholds(self) -> dict[str, Any]:
        return {
            "confidence_threshold": self.confidence_threshold,
            "nms_iou_threshold": self.nms_iou_threshold,
            "min_width": self.min_width,
            "min_height": self.min_height,
        }

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.model_path.name}, {self.precision}, {self._thresholds()})"


class SsdlitePedestrianDetector(OnnxDetector):
    """SSDLite-MobileNetV2 trained on pedestrians (upright walkers); 300x300, ~12 MB."""

    name = "ssdlite_pedestrian"

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.anchors = load_array(self.model_dir, self.entry["anchors"])  # (A, 4) yc, xc, h, w
        self.scale_factors = tuple(self.entry["anchors"]["box_coder_scale_factors"])

    def postprocess(
        self, raw_outputs: Sequence[np.ndarray], original_sizes: Sequence[tuple[int, int]]
    ) -> list[Detections]:
        """raw_outputs: box_encodings (N, A, 4), class_logits (N, A, 2)."""
        box_encodings, class_logits = raw_outputs
        return decode_ssd(
            box_encodings,
            class_logits,
            self.anchors,
            original_sizes,
            scale_factors=self.scale_factors,
            **self._thresholds(),
        )


class NanodetCocoDetector(OnnxDetector):
    """NanoDet trained on COCO, persons only; 416x416, ~8 MB; finds people in more poses than SSD."""

    name = "nanodet_coco"

    def postprocess(
        self, raw_outputs: Sequence[np.ndarray], original_sizes: Sequence[tuple[int, int]]
    ) -> list[Detections]:
        """raw_outputs: scores (N, A, 80), box_distributions (N, A, 44)."""
        scores, box_distributions = raw_outputs
        return decode_nanodet(
            scores, box_distributions, original_sizes, input_size=self.input_size, **self._thresholds()
        )
