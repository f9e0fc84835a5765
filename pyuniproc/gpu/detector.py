"""`GpuDetector` and `GpuEmbedder`: the shipped ONNX models run by torch, same interfaces as the CPU ones.

`GpuDetector` offers `preprocess / infer / postprocess / detect` like `pyuniproc.detect.OnnxDetector`
(frames in, one `Detections` per frame out, same thresholds, same decoder semantics), plus the NV12 entry
points the NVDEC pipeline uses (`preprocess_nv12`, `decode`) that keep everything on the GPU until the
final copy. `GpuEmbedder` mirrors `pyuniproc.reid.OnnxEmbedder` and adds `embed_nv12` (crops cut on the
GPU from the decoded frames). On a machine without CUDA both run on torch's CPU backend in float32
(what the parity tests use); `create_detector_auto` picks the GPU only when CUDA is there.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from pyuniproc.detect.models import load_array, model_entry, verified_path
from pyuniproc.detect.preprocess import check_images
from pyuniproc.gpu import triton_image
from pyuniproc.gpu.image import nv12_crops, nv12_resize_legacy, rgb_resize_legacy
from pyuniproc.gpu.net import TorchNet
from pyuniproc.gpu.onnx_torch import from_onnx
from pyuniproc.gpu.postprocess import BatchDetections, decode_nanodet_torch, decode_ssd_torch
from pyuniproc.nv12 import nv12_pixels
from pyuniproc.reid import EMBEDDERS, l2_normalise
from pyuniproc.reid.crops import resize_crops
from pyuniproc.types import Detections, Frame

DETECTOR_BUCKETS = (1, 8, 16, 32, 64)
EMBEDDER_BUCKETS = (16, 32, 64, 128, 256)
"""Crop counts captured. The largest sizes the embedder's graph pool (on an H100, up to 512 crops held
4.6 GB per process); more crops than 256 in a batch run in chunks of 256."""


def default_device() -> torch.device:
    return torch.device("cuda") if torch.cuda.is_available() else torch.device("cpu")


class GpuDetector:
    """A shipped detector (`ssdlite_pedestrian` or `nanodet_coco`) on torch.

    Thresholds mean what they mean for `OnnxDetector` (see there). device: default CUDA when available.
    half / cuda_graphs: default on for CUDA (fp16 + channels_last, one captured graph per batch bucket).
    colour_matrix: YUV -> RGB of NV12 input ("bt601" matches PyAV's and OpenCV's conversion of untagged
    streams, so GPU and CPU paths see the same pixels; "bt709" for HD-tagged cameras).
    """

    concurrent_calls = False
    """One call at a time: the captured CUDA graphs share their input and output buffers."""

    def __init__(
        self,
        kind: str,
        *,
        model_dir: Path,
        confidence_threshold: float = 0.5,
        nms_iou_threshold: float = 0.45,
        min_width: float = 0.0,
        min_height: float = 0.0,
        model_file: str | None = None,
        device: torch.device | str | None = None,
        half: bool | None = None,
        cuda_graphs: bool | None = None,
        buckets: Sequence[int] = DETECTOR_BUCKETS,
        colour_matrix: str = "bt601",
    ) -> None:
        if kind not in ("ssdlite_pedestrian", "nanodet_coco"):
            raise ValueError(f"unknown detector kind {kind!r}; known kinds: nanodet_coco, ssdlite_pedestrian")
        if not 0.0 < confidence_threshold <= 1.0:
            raise ValueError(f"confidence_threshold must be in (0, 1], got {confidence_threshold!r}")
        if not 0.0 < nms_iou_threshold <= 1.0:
            raise ValueError(f"nms_iou_threshold must be in (0, 1], got {nms_iou_threshold!r}")
        if min_width < 0 or min_height < 0:
            raise ValueError(f"min_width and min_height must be >= 0, got {min_width!r}, {min_height!r}")
        self.name = kind
        self.model_dir = Path(model_dir)
        self.entry = model_entry(self.model_dir, kind)
        if model_file is not None and Path(model_file).name != self.entry["file"]:
            raise ValueError(
                f"model_file {model_file!r} is not the {kind} model; its file is {self.entry['file']!r}"
            )
        self.model_path = verified_path(self.model_dir, self.entry["file"], self.entry["sha256"])
        self.device = torch.device(device) if device is not None else default_device()
        net_input = self.entry["input"]
        self.input_size = int(net_input["shape"][-1])
        scale = float(net_input["scale_factor"])
        self.scale = scale
        self.bias_values = tuple(-scale * float(o) for o in net_input["offsets"])  # host copy: graph capture
        self.bias = torch.tensor(self.bias_values, device=self.device)[None, :, None, None]
        self.net = TorchNet(
            from_onnx(self.model_path),
            (3, self.input_size, self.input_size),
            device=self.device,
            half=half,
            cuda_graphs=cuda_graphs,
            buckets=buckets,
        )
        self.colour_matrix = colour_matrix
        self.confidence_threshold = confidence_threshold
        self.nms_iou_threshold = nms_iou_threshold
        self.min_width = min_width
        self.min_height = min_height
        if kind == "ssdlite_pedestrian":
            self.anchors = torch.from_numpy(load_array(self.model_dir, self.entry["anchors"])).to(self.device)
            self.scale_factors = tuple(self.entry["anchors"]["box_coder_scale_factors"])

    def clone(self) -> GpuDetector:
        """Same weights and settings, own CUDA graphs: one per worker thread."""
        twin = object.__new__(GpuDetector)
        twin.__dict__.update(self.__dict__)
        twin.net = self.net.clone()
        return twin

    def _normalise(self, rgb: torch.Tensor) -> torch.Tensor:
        batch = rgb * self.scale + self.bias
        return batch.to(self.net.dtype)

    def preprocess(self, images: Sequence[np.ndarray]) -> torch.Tensor:
        """(H, W, 3) uint8 RGB frames of any sizes -> (N, 3, S, S) net input on the device (TF legacy
        resize)."""
        check_images(images)
        out = torch.empty(
            (len(images), 3, self.input_size, self.input_size), device=self.device, dtype=self.net.dtype
        )
        by_shape: dict[tuple[int, ...], list[int]] = {}
        for index, image in enumerate(images):
            by_shape.setdefault(image.shape, []).append(index)
        for indices in by_shape.values():
            frames = torch.from_numpy(np.stack([images[i] for i in indices])).to(self.device)
            out[torch.tensor(indices, device=self.device)] = self._normalise(
                rgb_resize_legacy(frames, self.input_size)
            )
        return out

    def preprocess_nv12(self, frames: torch.Tensor) -> torch.Tensor:
        """(B, H*3/2, W) uint8 NV12 frames on the device -> (B, 3, S, S) net input (one fused kernel where
        Triton runs, `pyuniproc.gpu.triton_image`; the same values from torch ops elsewhere)."""
        if triton_image.usable(frames.device):
            return triton_image.nv12_resize_normalised(
                frames, self.input_size, self.scale, self.bias_values, self.net.dtype, self.colour_matrix
            )
        return self._normalise(nv12_resize_legacy(frames, self.input_size, self.colour_matrix))

    def preprocess_frames(self, frames: Sequence[Frame]) -> torch.Tensor:
        """`Frame`s -> (N, 3, S, S) net input: an `Nv12Frame` straight from its NV12 pixels (on the device,
        or uploaded: half the bytes of RGB), any other frame from its RGB image; frames of one size share
        one kernel. What `pyuniproc run` calls (`runtime.detect_stage.detect_batch`)."""
        out = torch.empty(
            (len(frames), 3, self.input_size, self.input_size), device=self.device, dtype=self.net.dtype
        )
        groups: dict[tuple[str, int, int], list[int]] = {}
        for index, frame in enumerate(frames):
            kind = "nv12" if nv12_pixels(frame) is not None else "rgb"
            groups.setdefault((kind, frame.height, frame.width), []).append(index)
        for (kind, _, _), indices in groups.items():
            if kind == "nv12":
                batch = torch.stack([torch.as_tensor(frames[i].nv12, device=self.device) for i in indices])
                values = self.preprocess_nv12(batch)
            else:
                values = self.preprocess([frames[i].image for i in indices])
            out[torch.tensor(indices, device=self.device)] = values
        return out

    def infer(self, batch: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """Net input -> raw outputs on the device, in MODELS.json order (asynchronous on CUDA)."""
        return self.net(batch)

    def decode(
        self, raw_outputs: Sequence[torch.Tensor], original_sizes: Sequence[tuple[int, int]] | torch.Tensor
    ) -> BatchDetections:
        """Raw outputs -> kept boxes of the batch, still on the device (for GPU crops)."""
        thresholds: dict[str, Any] = {
            "confidence_threshold": self.confidence_threshold,
            "nms_iou_threshold": self.nms_iou_threshold,
            "min_width": self.min_width,
            "min_height": self.min_height,
        }
        if self.name == "ssdlite_pedestrian":
            return decode_ssd_torch(
                raw_outputs[0],
                raw_outputs[1],
                self.anchors,
                original_sizes,
                scale_factors=self.scale_factors,
                **thresholds,
            )
        return decode_nanodet_torch(
            raw_outputs[0], raw_outputs[1], original_sizes, input_size=self.input_size, **thresholds
        )

    def postprocess(
        self, raw_outputs: Sequence[torch.Tensor], original_sizes: Sequence[tuple[int, int]]
    ) -> list[Detections]:
        """Raw outputs -> one `Detections` per frame (one device->host copy for the batch)."""
        return self.decode(raw_outputs, original_sizes).to_host(len(original_sizes))

    def detect(self, images: Sequence[np.ndarray]) -> list[Detections]:
        if len(images) == 0:
            return []
        return self.postprocess(self.infer(self.preprocess(images)), [image.shape[:2] for image in images])

    def __repr__(self) -> str:
        return (
            f"GpuDetector({self.name}, {self.device}, {'fp16' if self.net.half else 'fp32'}, "
            f"graphs={self.net.cuda_graphs}, threshold={self.confidence_threshold})"
        )


class GpuEmbedder:
    """The shipped appearance embedder on torch; `embed` mirrors `pyuniproc.reid.OnnxEmbedder.embed`."""

    def __init__(
        self,
        kind: str,
        *,
        model_dir: Path,
        model_file: str | None = None,
        device: torch.device | str | None = None,
        half: bool | None = None,
        cuda_graphs: bool | None = None,
        buckets: Sequence[int] = EMBEDDER_BUCKETS,
        colour_matrix: str = "bt601",
    ) -> None:
        if kind not in EMBEDDERS:
            raise ValueError(f"unknown embedder kind {kind!r}; known kinds: {', '.join(sorted(EMBEDDERS))}")
        self.name = kind
        self.model_dir = Path(model_dir)
        self.entry = model_entry(self.model_dir, kind)
        if model_file is not None and Path(model_file).name != self.entry["file"]:
            raise ValueError(
                f"model_file {model_file!r} is not the {kind} model; its file is {self.entry['file']!r}"
            )
        self.model_path = verified_path(self.model_dir, self.entry["file"], self.entry["sha256"])
        self.device = torch.device(device) if device is not None else default_device()
        net_input = self.entry["input"]
        self.input_height, self.input_width = (int(v) for v in net_input["shape"][2:])
        self.scale = float(net_input["scale_factor"])
        self.offset_values = tuple(float(o) for o in net_input["offsets"])  # host copy: graph capture
        self.offsets = torch.tensor(self.offset_values, device=self.device)[None, :, None, None]
        self.dimension = int(self.entry["output"]["shape"][1])
        self.net = TorchNet(
            from_onnx(self.model_path),
            (3, self.input_height, self.input_width),
            device=self.device,
            half=half,
            cuda_graphs=cuda_graphs,
            buckets=buckets,
        )
        self.colour_matrix = colour_matrix

    def clone(self) -> GpuEmbedder:
        twin = object.__new__(GpuEmbedder)
        twin.__dict__.update(self.__dict__)
        twin.net = self.net.clone()
        return twin

    def _normalise(self, rgb: torch.Tensor) -> torch.Tensor:
        """(n, 3, H, W) float RGB 0..255 -> net input: (rgb - offsets) * scale in the net's dtype."""
        return ((rgb - self.offsets) * self.scale).to(self.net.dtype)

    def _embed_input(self, batch: torch.Tensor) -> torch.Tensor:
        """Net input -> (n, D) float32 unit rows."""
        (raw,) = self.net(batch)
        raw = raw.float()
        return raw / raw.norm(dim=1, keepdim=True).clamp_min(1e-12)

    def _embed_rgb(self, rgb: torch.Tensor) -> torch.Tensor:
        return self._embed_input(self._normalise(rgb))

    def crops_nv12(self, frames: torch.Tensor, frame_index: torch.Tensor, xyxy: torch.Tensor) -> torch.Tensor:
        """Boxes (n, 4) of NV12 frames `frame_index` (n,) -> (n, 3, H, W) net input in the net's dtype
        (one fused kernel where Triton runs, `pyuniproc.gpu.triton_image`; the same values from torch ops
        elsewhere)."""
        if triton_image.usable(frames.device):
            return triton_image.nv12_crops_normalised(
                frames,
                frame_index,
                xyxy,
                self.input_height,
                self.input_width,
                self.offset_values,
                self.scale,
                self.net.dtype,
                self.colour_matrix,
            )
        crops = nv12_crops(frames, frame_index, xyxy, self.input_height, self.input_width, self.colour_matrix)
        return self._normalise(crops)

    def embed_nv12(self, frames: torch.Tensor, frame_index: torch.Tensor, xyxy: torch.Tensor) -> torch.Tensor:
        """Boxes of NV12 frames on the device -> (n, D) float32 unit rows on the device (crops cut there)."""
        if len(xyxy) == 0:
            return torch.zeros((0, self.dimension), device=self.device)
        return self._embed_input(self.crops_nv12(frames, frame_index, xyxy))

    def embed_frames(self, frames: Sequence[Frame], boxes: Sequence[np.ndarray]) -> np.ndarray:
        """(n, D) float32 unit rows on the host for boxes[i] ((k_i, 4) pixel corners) of frames[i], in order.
        The boxes of `Nv12Frame`s are cropped from their NV12 pixels (one crop kernel per frame size, frames
        on the device or uploaded), those of other frames from their RGB images on the host, as `embed`
        does. What `pyuniproc run` calls (`runtime.reid_stage.ReidStage`)."""
        from pyuniproc.reid import crop_boxes

        counts = [len(b) for b in boxes]
        if len(counts) != len(frames):
            raise ValueError(f"one box array per frame: {len(frames)} frames, {len(counts)} box arrays")
        starts = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
        out = np.empty((int(starts[-1]), self.dimension), dtype=np.float32)
        groups: dict[tuple[int, int], list[int]] = {}
        host: list[int] = []
        for i, frame in enumerate(frames):
            if counts[i] == 0:
                continue
            if nv12_pixels(frame) is None:
                host.append(i)
            else:
                groups.setdefault((frame.height, frame.width), []).append(i)
        for indices in groups.values():
            pictures = torch.stack([torch.as_tensor(frames[i].nv12, device=self.device) for i in indices])
            frame_index = torch.cat(
                [torch.full((counts[i],), row, dtype=torch.int64) for row, i in enumerate(indices)]
            ).to(self.device)
            xyxy = torch.from_numpy(
                np.concatenate([np.asarray(boxes[i], dtype=np.float32).reshape(-1, 4) for i in indices])
            ).to(self.device)
            with torch.no_grad():
                vectors = self.embed_nv12(pictures, frame_index, xyxy).cpu().numpy()
            rows = np.concatenate([np.arange(starts[i], starts[i + 1]) for i in indices])
            out[rows] = vectors
        if host:
            crops = [crop for i in host for crop in crop_boxes(frames[i].image, boxes[i])]
            rows = np.concatenate([np.arange(starts[i], starts[i + 1]) for i in host])
            out[rows] = self.embed(crops)
        return out

    def preprocess(self, crops: Sequence[np.ndarray]) -> np.ndarray:
        """Crops -> (N, 3, H, W) float32 resized RGB 0..255, by the CPU embedder's own resize
        (`pyuniproc.reid.crops.resize_crops`); the offsets are subtracted on the device, in `infer`."""
        return resize_crops(crops, self.input_height, self.input_width)

    def infer(self, batch: np.ndarray) -> np.ndarray:
        """(N, 3, H, W) float32 net input (as `preprocess` makes it) -> (N, D) float32 raw output."""
        rgb = torch.from_numpy(np.ascontiguousarray(batch)).to(self.device)
        with torch.no_grad():
            (raw,) = self.net(((rgb - self.offsets) * self.scale).to(self.net.dtype))
        return raw.float().cpu().numpy()

    def postprocess(self, raw: np.ndarray) -> np.ndarray:
        """(N, D) raw output -> (N, D) float32 unit rows (the CPU embedder's `l2_normalise`)."""
        return l2_normalise(raw)

    def embed(self, crops: Sequence[np.ndarray]) -> np.ndarray:
        """(n, D) float32 unit rows, row i for crops[i]; one inference for all crops."""
        if len(crops) == 0:
            return np.zeros((0, self.dimension), dtype=np.float32)
        rgb = torch.from_numpy(self.preprocess(crops)).to(self.device)
        return self._embed_rgb(rgb).cpu().numpy()


def cuda_usable() -> bool:
    """True when torch sees a CUDA device and the `onnx` package (needed to read the models) imports."""
    try:
        import onnx  # noqa: F401
    except ImportError:
        return False
    return torch.cuda.is_available()
