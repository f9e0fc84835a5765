"""The runtime's stages on both backends: the same detect -> track -> select -> embed code, fed the same host
frames, with the networks on ONNX Runtime (cpu) or torch (gpu). `pyuniproc run` builds exactly these objects
in `pyuniproc.runtime.build` from the module YAML; here they are built with the module's settings written out
(below, checked against module/module.yml where the config reader imports), so the test also runs on the GPU
machine, which lacks PyAV and OmegaConf.

Contract (anywhere torch imports; on a machine without CUDA the GPU objects run on torch's CPU backend):
`detect_batch` and `Embedder.embed` give the CPU objects' types, shapes and dtypes. Parity (CUDA only, the
GPU machine): 40 frames of vtest.avi through both backends give the same tracks - per frame the same count
within 1, matched boxes IoU >= 0.95 on average - and the embeddings of the same tracks agree.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from pyuniproc.detect import DEFAULT_MODEL_DIR
from pyuniproc.gpu import backend as backends
from pyuniproc.reid import DEFAULT_MODEL_DIR as REID_DIR
from pyuniproc.reid.selection import EMBEDDING, EmbedSelection
from pyuniproc.runtime.detect_stage import detect_batch
from pyuniproc.runtime.reid_stage import ReidStage
from pyuniproc.track import create_tracker
from pyuniproc.types import Detections, Frame

REPO = Path(__file__).resolve().parents[2]
VTEST = REPO / "samples" / "vtest" / "vtest.avi"

DETECTOR_KIND = "ssdlite_pedestrian"
DETECTOR = {"confidence_threshold": 0.15, "nms_iou_threshold": 0.45, "min_width": 6, "min_height": 28}
EMBEDDER_KIND = "mobilenetv2_person_adapted"
TRACKER = {
    "track_high_threshold": 0.35, "track_low_threshold": 0.15, "new_track_threshold": 0.6,
    "match_iou_threshold": 0.9, "second_match_iou_threshold": 0.7, "fuse_score": False,
    "lost_track_buffer": 90, "frame_rate": 10, "minimum_consecutive_frames": 2,
    "squat_box_aspect": None, "momentum_weight": 0.0, "momentum_frames": 3,
}
SELECTION = {"min_height": 48, "min_confidence": 0.5, "max_overlap": 0.3, "refresh_frames": 5,
             "max_crops_per_frame": 8}
BATCH = 4


def test_the_settings_here_are_the_modules():
    pytest.importorskip("av")
    pytest.importorskip("omegaconf")
    from pyuniproc.config.module import load_module_config

    module = load_module_config(REPO / "module" / "module.yml")
    spec = module.detector
    assert (spec.confidence_threshold, spec.nms_iou_threshold, spec.min_width, spec.min_height) == tuple(
        DETECTOR.values()
    )
    assert module.tracker.kind == "bytetrack" and module.tracker.params == TRACKER
    assert module.reid.model_file == f"{EMBEDDER_KIND}.onnx" and dict(module.reid.selection) == SELECTION
    assert module.detector.batch_size == BATCH


def run_stages(backend: str, images: list[np.ndarray]) -> list[Detections]:
    """One camera through the runtime's stages on `backend`, in batches of BATCH frames."""
    detector = backends.create_detector(
        DETECTOR_KIND, backend=backend, model_dir=DEFAULT_MODEL_DIR, **DETECTOR
    )
    embedder = backends.create_embedder(EMBEDDER_KIND, backend=backend, model_dir=REID_DIR)
    reid = ReidStage(embedder, selection=EmbedSelection.from_settings(SELECTION))
    tracker = create_tracker("bytetrack", **TRACKER)
    out: list[Detections] = []
    for start in range(0, len(images), BATCH):
        frames = [Frame("cam", start + i, (start + i) / 10, image)
                  for i, image in enumerate(images[start:start + BATCH])]
        boxes = detect_batch(detector, [frame.image for frame in frames]).boxes
        out.extend(reid.process(frames, [tracker.update(dets) for dets in boxes]))
    return out


def test_the_gpu_objects_keep_the_cpu_contract(frames):
    pytest.importorskip("torch")
    pytest.importorskip("onnx")
    built = {
        backend: (
            backends.create_detector(DETECTOR_KIND, backend=backend, model_dir=DEFAULT_MODEL_DIR, **DETECTOR),
            backends.create_embedder(EMBEDDER_KIND, backend=backend, model_dir=REID_DIR),
        )
        for backend in ("cpu", "gpu")
    }
    (cpu_detector, cpu_embedder), (gpu_detector, gpu_embedder) = built["cpu"], built["gpu"]
    assert type(gpu_detector).__name__ == "GpuDetector" and type(gpu_embedder).__name__ == "GpuEmbedder"
    expected = detect_batch(cpu_detector, frames).boxes
    got = detect_batch(gpu_detector, frames).boxes
    assert len(got) == len(expected) == len(frames)
    for e, g in zip(expected, got, strict=True):
        assert isinstance(g, Detections) and abs(len(g) - len(e)) <= 1
    crops = [frames[1][100:250, 100:150], frames[1][200:300, 300:340], frames[0][5:20, 5:20]]
    want, have = cpu_embedder.embed(crops), gpu_embedder.embed(crops)
    assert gpu_embedder.dimension == cpu_embedder.dimension == want.shape[1]
    assert have.shape == want.shape and have.dtype == want.dtype == np.float32
    assert np.min(np.sum(want * have, axis=1)) > 0.99
    assert gpu_embedder.embed([]).shape == (0, gpu_embedder.dimension)


def iou_matrix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    lt = np.maximum(a[:, None, :2], b[None, :, :2])
    rb = np.minimum(a[:, None, 2:], b[None, :, 2:])
    inter = np.prod(np.clip(rb - lt, 0, None), axis=2)
    area = lambda x: np.prod(x[:, 2:] - x[:, :2], axis=1)  # noqa: E731
    return inter / (area(a)[:, None] + area(b)[None, :] - inter)


@pytest.mark.cuda
def test_gpu_and_cpu_runs_of_a_clip_give_the_same_tracks():
    import cv2
    from scipy.optimize import linear_sum_assignment

    capture = cv2.VideoCapture(str(VTEST))
    images = []
    while len(images) < 40:
        ok, bgr = capture.read()
        assert ok, "vtest.avi ended early"
        images.append(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))
    capture.release()
    cpu, gpu = run_stages("cpu", images), run_stages("gpu", images)
    ious, same_id, cosines, count_gaps = [], [], [], []
    for c, g in zip(cpu, gpu, strict=True):
        count_gaps.append(abs(len(c) - len(g)))
        if not len(c) or not len(g):
            continue
        overlap = iou_matrix(c.xyxy, g.xyxy)
        rows, cols = linear_sum_assignment(-overlap)
        ious.extend(overlap[rows, cols])
        same_id.extend(c.tracker_id[rows] == g.tracker_id[cols])
        ce, ge = c.data[EMBEDDING][rows], g.data[EMBEDDING][cols]
        assert ce.dtype == ge.dtype == np.float32
        both = ~np.isnan(ce[:, 0]) & ~np.isnan(ge[:, 0])
        cosines.extend(np.sum(ce[both] * ge[both], axis=1))
    print(f"\n40 frames: tracks cpu {sum(map(len, cpu))} gpu {sum(map(len, gpu))}, max count gap "
          f"{max(count_gaps)}, matched IoU mean {np.mean(ious):.4f} min {np.min(ious):.4f}, same track id "
          f"{np.mean(same_id):.3f}, embedded in both {len(cosines)} cosine mean {np.mean(cosines):.4f} "
          f"min {np.min(cosines):.4f}")
    assert max(count_gaps) <= 1
    assert np.mean(ious) >= 0.95
    assert len(cosines) > 0 and np.mean(cosines) >= 0.99


def test_a_process_that_never_used_cuda_reports_no_gpu_memory():
    # a CPU run's summary.json says null, and asking never initialises CUDA
    torch = pytest.importorskip("torch")

    if torch.cuda.is_initialized():
        pytest.skip("CUDA already initialised by an earlier test in this process")
    assert backends.process_gpu_memory() is None
    assert not torch.cuda.is_initialized()


@pytest.mark.cuda
def test_captured_nets_hold_a_bounded_pool():
    """The module's detector and embedder, captured: torch's figures are reported, and the graphs' pool
    plus weights stays well under what keeping every activation of every bucket would take (gigabytes:
    ~20 GB per process before intermediates were dropped after their last reader)."""
    detector = backends.create_detector("nanodet_coco", backend="gpu", model_dir=DEFAULT_MODEL_DIR)
    embedder = backends.create_embedder("mobilenetv2_imagenet", backend="gpu", model_dir=REID_DIR)
    memory = backends.process_gpu_memory()
    assert memory is not None and memory["reserved"] >= memory["allocated"] > 0
    assert memory["reserved"] < 8 * 1024, memory  # on an H100: 21.9 GB before, 5.8 GB after (probe)
    assert detector.net._graphs and embedder.net._graphs
