"""Numerical parity of the torch path against the ONNX Runtime CPU path on the same decoded frames.

Run where the GPU path will run (it is part of `pyuniproc bench-gpu`): frames come from the benchmark's
own decoder as NV12; the CPU reference converts them to RGB with OpenCV (BT.601, as PyAV does) and runs
the shipped ONNX files through onnxruntime in float32; the torch path takes the NV12 frames straight
from the decoder (resize + colour conversion on the device, fp16 networks). Reported per detector: the
relative error of the raw head outputs on identical net inputs, and how the final boxes match (IoU);
for the embedder: cosine between the two embeddings of the same boxes.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch

from pyuniproc.detect.nms import box_iou


def _match(reference: np.ndarray, candidate: np.ndarray, threshold: float = 0.5) -> tuple[int, list[float]]:
    """Greedy one-to-one IoU matching; (matches, their IoUs)."""
    if len(reference) == 0 or len(candidate) == 0:
        return 0, []
    iou = box_iou(reference, candidate)
    used: set[int] = set()
    ious = []
    for row in np.argsort(-iou.max(axis=1)):
        order = np.argsort(-iou[row])
        for column in order:
            if column in used or iou[row, column] < threshold:
                continue
            used.add(int(column))
            ious.append(float(iou[row, column]))
            break
    return len(ious), ious


def _relative_error(reference: np.ndarray, candidate: np.ndarray) -> float:
    return float(
        np.linalg.norm(candidate.astype(np.float64) - reference) / max(np.linalg.norm(reference), 1e-12)
    )


def detector_parity(
    kind: str,
    nv12_frames: torch.Tensor,
    *,
    model_dir: Path,
    confidence_threshold: float,
    device: torch.device,
    half: bool = True,
) -> dict[str, Any]:
    """nv12_frames: (B, H*3/2, W) uint8 on `device`."""
    import cv2

    from pyuniproc.detect import create_detector
    from pyuniproc.gpu.detector import GpuDetector

    host = nv12_frames.cpu().numpy()
    rgb = [cv2.cvtColor(frame, cv2.COLOR_YUV2RGB_NV12) for frame in host]
    reference = create_detector(kind, model_dir=model_dir, confidence_threshold=confidence_threshold)
    ours = GpuDetector(
        kind,
        model_dir=model_dir,
        confidence_threshold=confidence_threshold,
        device=device,
        half=half,
        cuda_graphs=False,
    )
    net_input = reference.preprocess(rgb)
    raw_reference = reference.infer(net_input)
    with torch.no_grad():
        raw_ours = [o.float().cpu().numpy() for o in ours.infer(torch.from_numpy(net_input).to(device))]
        gpu_input = ours.preprocess_nv12(nv12_frames).float().cpu().numpy()
        expected_dets = reference.postprocess(raw_reference, [f.shape[:2] for f in rgb])
        height, width = rgb[0].shape[:2]
        got_dets = ours.decode(
            ours.infer(ours.preprocess_nv12(nv12_frames)), [(height, width)] * len(rgb)
        ).to_host(len(rgb))
    matched, ious, score_diffs = 0, [], []
    for expected, got in zip(expected_dets, got_dets, strict=True):
        count, frame_ious = _match(expected.xyxy, got.xyxy)
        matched += count
        ious += frame_ious
        if len(expected) and len(got):
            iou = box_iou(expected.xyxy, got.xyxy)
            best = iou.argmax(axis=1)
            score_diffs += list(np.abs(expected.confidence - got.confidence[best])[iou.max(axis=1) >= 0.5])
    n_expected = sum(len(d) for d in expected_dets)
    n_got = sum(len(d) for d in got_dets)
    return {
        "detector": kind,
        "frames": len(rgb),
        "precision": "fp16" if ours.net.half else "fp32",
        "raw_relative_error": [_relative_error(r, o) for r, o in zip(raw_reference, raw_ours, strict=True)],
        "preprocess_max_abs_diff": float(np.abs(gpu_input - net_input).max()),
        "preprocess_mean_abs_diff": float(np.abs(gpu_input - net_input).mean()),
        "boxes_reference": n_expected,
        "boxes_gpu": n_got,
        "boxes_matched_iou50": matched,
        "matched_iou_mean": float(np.mean(ious)) if ious else None,
        "matched_iou_min": float(np.min(ious)) if ious else None,
        "matched_score_max_abs_diff": float(np.max(score_diffs)) if score_diffs else None,
        "reference_detections": expected_dets,
    }


def embedder_parity(
    nv12_frames: torch.Tensor,
    detections_per_frame: list[Any],
    *,
    model_dir: Path,
    device: torch.device,
    half: bool = True,
    kind: str,
) -> dict[str, Any]:
    """Embeddings of the same boxes: ORT on OpenCV crops of the RGB frames vs torch on GPU crops of NV12.

    kind: the embedder kind (`pyuniproc.reid.EMBEDDERS`), the same model on both sides."""
    import cv2

    from pyuniproc.gpu.detector import GpuEmbedder
    from pyuniproc.reid import create_embedder, crop_boxes

    host = nv12_frames.cpu().numpy()
    reference = create_embedder(kind, model_dir=model_dir)
    ours = GpuEmbedder(kind, model_dir=model_dir, device=device, half=half, cuda_graphs=False)
    crops, frame_index, boxes = [], [], []
    for index, (frame, detections) in enumerate(zip(host, detections_per_frame, strict=True)):
        rgb = cv2.cvtColor(frame, cv2.COLOR_YUV2RGB_NV12)
        crops += crop_boxes(rgb, detections.xyxy)
        frame_index += [index] * len(detections)
        boxes.append(detections.xyxy)
    if not crops:
        return {"crops": 0}
    expected = reference.embed(crops)
    with torch.no_grad():
        got = (
            ours.embed_nv12(
                nv12_frames,
                torch.tensor(frame_index, device=device),
                torch.from_numpy(np.concatenate(boxes)).to(device),
            )
            .cpu()
            .numpy()
        )
    cosine = (expected * got).sum(axis=1)
    return {
        "kind": kind,
        "crops": len(crops),
        "precision": "fp16" if ours.net.half else "fp32",
        "cosine_min": float(cosine.min()),
        "cosine_mean": float(cosine.mean()),
        "max_abs_diff": float(np.abs(expected - got).max()),
    }
