"""Savant output converters for the person detector: raw ONNX heads -> Savant's box rows.

`nvinfer@detector` in module/module.yml names one of these classes
(`parameters.detectors.<profile>.converter`).
DeepStream runs the ONNX file with TensorRT and hands the converter one frame's output layers, without the
batch axis, in the order of `model.output.layer_names`; the converter returns a float32 array of rows

    class_id, confidence, xc, yc, width, height        (n, 6), in frame pixels (ROI offset added)

which Savant then clips to the frame and passes through each object's selector (`BBoxSelector`: the same
confidence / NMS / min-size thresholds once more, which changes nothing on already-decoded boxes).

The decoding itself is `pyuniproc.detect.decode_ssd` / `decode_nanodet`, the code the embedded runtime runs,
so both runtimes turn the same tensors into the same boxes. Savant is present only inside its images; here
the classes subclass the stand-in `pyuniproc.savant_api.BaseObjectModelOutputConverter`. Savant's image
imports this file: only pyuniproc's core (numpy, Python 3.10), never the runtime.

Thresholds: by default the converter reads them from the selector kwargs of the YAML's `class_id: 0` object
(so one number in module.yml drives both runtimes); kwargs given to the converter itself take precedence.

Live edits (Savant deployment): Savant reads module.yml once, but the converter runs on every frame, so it
re-reads its thresholds from the mounted file between frames (`watch_module`, pyuniproc.config.live_module:
the file is checked with pyuniproc's validators; a bad edit is rejected and logged with file:line, a model
change is reported as needing a restart). Savant filters the converter's rows once more with the object's
selector, whose thresholds its default `BBoxSelector` fixes at start; module.yml therefore names
`LiveBBoxSelector` below, which reads the same live thresholds, so a lowered threshold takes effect too.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from pyuniproc.config.live_module import DEFAULT_INTERVAL_SECONDS, LiveModule, open_live
from pyuniproc.detect.models import DEFAULT_MODEL_DIR, PROVENANCE_FILE, load_array
from pyuniproc.detect.nanodet import decode_nanodet
from pyuniproc.detect.nms import nms
from pyuniproc.detect.ssd import decode_ssd
from pyuniproc.types import Detections

try:  # Savant / DeepStream image
    from savant.base.converter import BaseObjectModelOutputConverter
    from savant.base.selector import BaseSelector

    IN_SAVANT = True
except ImportError:  # tests and tools outside the Savant image
    from pyuniproc.savant_api import BaseObjectModelOutputConverter, BaseSelector  # type: ignore[assignment]

    IN_SAVANT = False


ROW_COLUMNS = ("class_id", "confidence", "xc", "yc", "width", "height")
"""Meaning of the converter's output columns, Savant's object-model convention."""

DEFAULT_THRESHOLDS = {
    "confidence_threshold": 0.5, "nms_iou_threshold": 0.45, "min_width": 0.0, "min_height": 0.0,
}
"""Used when neither the converter kwargs nor the YAML's class-0 selector name a threshold."""

DEFAULT_MAX_DETECTIONS = 100


class _PersonDetectorConverter(BaseObjectModelOutputConverter):
    """Shared plumbing; subclasses set `kind` (the MODELS.json entry) and implement `_decode`.

    kwargs (all optional, from `converter.kwargs` in the YAML):
        confidence_threshold, nms_iou_threshold, min_width, min_height: override the selector's values.
        max_detections: cap per frame, highest scores first (default 100).
        model_dir: folder holding MODELS.json and side files; default `model.local_path`
            (Savant sets it to MODEL_PATH/<element name>), else the repository's models folder.
        watch_module: module YAML whose thresholds (selector and converter kwargs) apply live: "auto" (the
            YAML Savant was started with, only inside Savant), "off", or a path.
        watch_interval_seconds: how often that file is looked at, at most.
    """

    kind: str = ""

    def __init__(
        self,
        confidence_threshold: float | None = None,
        nms_iou_threshold: float | None = None,
        min_width: float | None = None,
        min_height: float | None = None,
        max_detections: int = DEFAULT_MAX_DETECTIONS,
        model_dir: str | None = None,
        watch_module: str = "auto",
        watch_interval_seconds: float = DEFAULT_INTERVAL_SECONDS,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self._overrides = {
            name: float(value)
            for name, value in (("confidence_threshold", confidence_threshold),
                                ("nms_iou_threshold", nms_iou_threshold),
                                ("min_width", min_width), ("min_height", min_height))
            if value is not None
        }
        if int(max_detections) < 1:
            raise ValueError(f"max_detections must be >= 1, got {max_detections!r}")
        self.max_detections = int(max_detections)
        self._model_dir = Path(model_dir) if model_dir else None
        self._thresholds: dict[str, float] | None = None  # resolved on the first call, from the model
        self._live: LiveModule | None = open_live(watch_module, in_savant=IN_SAVANT,
                                                  interval_seconds=watch_interval_seconds)
        self._live_version = 0

    def __call__(self, *output_layers: np.ndarray, model: Any, roi: Sequence[float]) -> np.ndarray:
        """One frame's layers -> (n, 6) float32 rows `ROW_COLUMNS`.

        roi: (left, top, width, height) of the region the network saw, in frame pixels (the whole frame
            for a primary detector, minus Savant's padding if any). The network input was the ROI
            stretched to a square, so boxes scale back per axis and are shifted by the ROI's corner.
        """
        if _get(_get(model, "input"), "maintain_aspect_ratio", False):
            raise ValueError(f"{type(self).__name__} decodes a stretched input; "
                             "set model.input.maintain_aspect_ratio: false")
        if self._live is not None:
            self._apply_live()
        elif self._thresholds is None:
            self._thresholds = {**DEFAULT_THRESHOLDS, **selector_thresholds(model), **self._overrides}
        left, top, width, height = (float(v) for v in roi)
        layers = [_with_batch_axis(layer) for layer in output_layers]
        detections = self._decode(layers, (int(round(height)), int(round(width))), model)
        return detections_to_rows(detections, offset=(left, top))

    def _apply_live(self) -> None:
        """Thresholds of the file's latest accepted version (checked between frames, at most every
        `watch_interval_seconds`); the same numbers Savant loaded until the file is edited."""
        assert self._live is not None
        settings = self._live.poll()
        if settings.version != self._live_version:
            self._live_version = settings.version
            self._thresholds = dict(settings.thresholds)
            self.max_detections = settings.max_detections or DEFAULT_MAX_DETECTIONS

    def _decode(self, layers: list[np.ndarray], size: tuple[int, int], model: Any) -> Detections:
        raise NotImplementedError

    def _kwargs(self) -> dict[str, Any]:
        assert self._thresholds is not None
        return {**self._thresholds, "max_detections": self.max_detections}

    def _entry(self, model: Any) -> tuple[Path, dict[str, Any]]:
        """Model folder and this kind's MODELS.json entry."""
        model_dir = self._model_dir or _model_dir_of(model)
        path = model_dir / PROVENANCE_FILE
        entry = json.loads(path.read_text())["models"][self.kind]
        return model_dir, entry


class SsdliteConverter(_PersonDetectorConverter):
    """SSDLite-MobileNetV2 pedestrian detector: layers `box_encodings` (A, 4), `class_logits` (A, 2)."""

    kind = "ssdlite_pedestrian"

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._anchors: np.ndarray | None = None
        self._scale_factors: tuple[float, ...] = ()

    def _decode(self, layers: list[np.ndarray], size: tuple[int, int], model: Any) -> Detections:
        if len(layers) != 2:
            raise ValueError(f"SsdliteConverter expects 2 layers (box_encodings, class_logits), "
                             f"got {len(layers)}")
        if self._anchors is None:  # once: the anchors file is checked against its sha256
            model_dir, entry = self._entry(model)
            self._anchors = load_array(model_dir, entry["anchors"])
            self._scale_factors = tuple(entry["anchors"]["box_coder_scale_factors"])
        box_encodings, class_logits = layers
        return decode_ssd(box_encodings, class_logits, self._anchors, [size],
                          scale_factors=self._scale_factors, **self._kwargs())[0]


class NanodetConverter(_PersonDetectorConverter):
    """NanoDet COCO detector, persons only: layers `scores` (A, 80), `box_distributions` (A, 44)."""

    kind = "nanodet_coco"

    def _decode(self, layers: list[np.ndarray], size: tuple[int, int], model: Any) -> Detections:
        if len(layers) != 2:
            raise ValueError(f"NanodetConverter expects 2 layers (scores, box_distributions), "
                             f"got {len(layers)}")
        scores, box_distributions = layers
        input_size = _input_width(model) or 416
        return decode_nanodet(scores, box_distributions, [size], input_size=input_size, **self._kwargs())[0]


class LiveBBoxSelector(BaseSelector):
    """The detector object's selector (`selector.module/class_name` in module.yml): Savant's `BBoxSelector`
    rules (confidence, minimum size, NMS), with the thresholds the converter uses.

    Savant calls it with one class's rows after the converter, clipped to the frame: columns class_id,
    confidence, xc, yc, width, height, angle, row index; it returns the rows to keep. Savant's own
    selector keeps the thresholds it was built with at start, so it would undo a lowered threshold
    edited in while the module runs; this one follows the live file like the converter. Without live
    edits it applies its kwargs (the YAML's selector kwargs), as `BBoxSelector` does. Rows the converter
    kept pass unchanged unless clipping shrank them below the minimum size.
    """

    def __init__(
        self,
        confidence_threshold: float = 0.5,
        nms_iou_threshold: float = 0.5,
        min_width: float = 0.0,
        min_height: float = 0.0,
        max_width: float = 0.0,
        max_height: float = 0.0,
        top_k: int = 0,
        watch_module: str = "auto",
        watch_interval_seconds: float = DEFAULT_INTERVAL_SECONDS,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.thresholds = {"confidence_threshold": float(confidence_threshold),
                           "nms_iou_threshold": float(nms_iou_threshold),
                           "min_width": float(min_width), "min_height": float(min_height)}
        # As in BBoxSelector, 0 switches these off; fixed at start (an edit of them needs a restart).
        self.max_width, self.max_height, self.top_k = float(max_width), float(max_height), int(top_k)
        self._live = open_live(watch_module, in_savant=IN_SAVANT, interval_seconds=watch_interval_seconds)

    def __call__(self, bbox_tensor: np.ndarray) -> np.ndarray:
        t = self._live.poll().thresholds if self._live is not None else self.thresholds
        rows = np.asarray(bbox_tensor)
        width, height = rows[:, 4], rows[:, 5]
        keep = rows[:, 1] >= t["confidence_threshold"]
        keep &= (width >= t["min_width"]) & (height >= t["min_height"])
        if self.max_width:
            keep &= width < self.max_width
        if self.max_height:
            keep &= height < self.max_height
        rows = rows[keep]
        if len(rows) < 2:
            return rows
        half = rows[:, 4:6] / 2
        xyxy = np.concatenate([rows[:, 2:4] - half, rows[:, 2:4] + half], axis=1)
        kept = nms(xyxy, rows[:, 1], t["nms_iou_threshold"], self.top_k or None)  # by descending score
        return rows[np.sort(kept)]


def detections_to_rows(detections: Detections, offset: tuple[float, float] = (0.0, 0.0)) -> np.ndarray:
    """`Detections` -> (n, 6) float32 rows class_id, confidence, xc, yc, width, height, moved by `offset`."""
    xyxy = detections.xyxy.astype(np.float32)
    width = xyxy[:, 2] - xyxy[:, 0]
    height = xyxy[:, 3] - xyxy[:, 1]
    xc = xyxy[:, 0] + width / 2 + np.float32(offset[0])
    yc = xyxy[:, 1] + height / 2 + np.float32(offset[1])
    rows = np.stack([detections.class_id.astype(np.float32), detections.confidence.astype(np.float32),
                     xc, yc, width, height], axis=1)
    return np.ascontiguousarray(rows, dtype=np.float32).reshape(-1, 6)


def rows_to_detections(rows: np.ndarray) -> Detections:
    """Inverse of `detections_to_rows` (no offset): handy for checks and for pyuniproc-side tools."""
    rows = np.asarray(rows, dtype=np.float32).reshape(-1, 6)
    half_w, half_h = rows[:, 4] / 2, rows[:, 5] / 2
    xc, yc = rows[:, 2], rows[:, 3]
    xyxy = np.stack([xc - half_w, yc - half_h, xc + half_w, yc + half_h], axis=1)
    return Detections(xyxy=xyxy, confidence=rows[:, 1], class_id=rows[:, 0].astype(np.int32))


def selector_thresholds(model: Any, class_id: int = 0) -> dict[str, float]:
    """Threshold kwargs of the selector of output object `class_id` in the model config, if any.

    Works on Savant's config objects (attribute access, OmegaConf DictConfig) and on plain mappings.
    """
    objects = _get(_get(model, "output"), "objects") or []
    for obj in objects:
        if int(_get(obj, "class_id", -1)) != class_id:
            continue
        kwargs = _get(_get(obj, "selector"), "kwargs") or {}
        values = {name: _get(kwargs, name) for name in DEFAULT_THRESHOLDS}
        return {name: float(value) for name, value in values.items() if value is not None}
    return {}


def _get(node: Any, name: str, default: Any = None) -> Any:
    if node is None:
        return default
    if isinstance(node, Mapping):
        return node.get(name, default)
    return getattr(node, name, default)


def _with_batch_axis(layer: np.ndarray) -> np.ndarray:
    """DeepStream gives one frame's tensor without the batch axis; the decoders take a batch."""
    array = np.asarray(layer)
    return array[None] if array.ndim == 2 else array


def _model_dir_of(model: Any) -> Path:
    local_path = _get(model, "local_path")
    if local_path and (Path(local_path) / PROVENANCE_FILE).is_file():
        return Path(local_path)
    return DEFAULT_MODEL_DIR


def _input_width(model: Any) -> int | None:
    shape = _get(_get(model, "input"), "shape")
    return int(shape[2]) if shape is not None and len(shape) == 3 else None


__all__ = ["LiveBBoxSelector", "NanodetConverter", "ROW_COLUMNS", "SsdliteConverter", "detections_to_rows",
           "rows_to_detections", "selector_thresholds"]
