"""GpuDetector / GpuEmbedder: the CPU detector's and embedder's contract, on torch (CPU here, CUDA there)."""

from __future__ import annotations

import pytest

pytest.importorskip("torch")
pytest.importorskip("onnx")

import numpy as np
import torch

from pyuniproc.detect import DEFAULT_MODEL_DIR, Detector, create_detector
from pyuniproc.gpu import create_detector_auto, gpu_available
from pyuniproc.gpu.detector import GpuDetector, GpuEmbedder
from pyuniproc.reid import DEFAULT_MODEL_DIR as REID_DIR
from pyuniproc.reid import EMBEDDERS, Embedder, create_embedder, crop_boxes

KINDS = ["ssdlite_pedestrian", "nanodet_coco"]


@pytest.mark.parametrize("kind", KINDS)
def test_same_boxes_as_the_onnxruntime_detector(frames, kind):
    expected = create_detector(kind, model_dir=DEFAULT_MODEL_DIR, confidence_threshold=0.4).detect(frames)
    ours = GpuDetector(kind, model_dir=DEFAULT_MODEL_DIR, confidence_threshold=0.4, device="cpu")
    assert isinstance(ours, Detector)
    got = ours.detect(frames)
    for e, g in zip(expected, got, strict=True):
        assert len(g) == len(e) > 0
        np.testing.assert_allclose(g.xyxy, e.xyxy, atol=0.05)
        np.testing.assert_allclose(g.confidence, e.confidence, atol=1e-4)


@pytest.mark.parametrize("kind", sorted(EMBEDDERS))
def test_embedder_matches_the_onnxruntime_embedder(frames, kind):
    """Same crops, same resize (one function), same net in float32: only the conv kernels differ."""
    boxes = np.array([[100, 100, 150, 250], [300, 200, 340, 300], [5, 5, 20, 20]], np.float32)
    crops = crop_boxes(frames[1], boxes)
    reference = create_embedder(kind, model_dir=REID_DIR)
    ours = GpuEmbedder(kind, model_dir=REID_DIR, device="cpu")
    assert isinstance(ours, Embedder) and ours.dimension == reference.dimension
    np.testing.assert_array_equal(ours.preprocess(crops) - reference.offsets[:, None, None],
                                  reference.preprocess(crops))
    expected = reference.embed(crops)
    got = ours.embed(crops)
    assert got.shape == expected.shape == (3, reference.dimension)
    np.testing.assert_allclose(got, expected, atol=1e-4)
    assert ours.embed([]).shape == (0, reference.dimension)
    staged = ours.postprocess(ours.infer(ours.preprocess(crops)))  # the Embedder protocol's three stages
    np.testing.assert_allclose(staged, expected, atol=1e-4)


def test_the_module_default_embedder_is_among_those_compared(reid_kind):
    assert reid_kind in EMBEDDERS


def test_embedder_kind_is_checked():
    with pytest.raises(ValueError, match="unknown embedder kind 'osnet'"):
        GpuEmbedder("osnet", model_dir=REID_DIR, device="cpu")
    with pytest.raises(ValueError, match="not the mobilenetv2_imagenet model"):
        GpuEmbedder("mobilenetv2_imagenet", model_dir=REID_DIR, model_file="mobilenetv2_person_adapted.onnx",
                    device="cpu")


def test_auto_falls_back_to_the_cpu_detector_without_cuda():
    detector = create_detector_auto("ssdlite_pedestrian", model_dir=DEFAULT_MODEL_DIR, intra_op_threads=1)
    if gpu_available():
        assert isinstance(detector, GpuDetector)
    else:
        assert type(detector).__name__ == "SsdlitePedestrianDetector"
        assert (
            create_detector_auto("nanodet_coco", model_dir=DEFAULT_MODEL_DIR, backend="cpu").name
            == "nanodet_coco"
        )


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the refusal without CUDA")
def test_asking_for_the_gpu_without_cuda_fails_clearly():
    with pytest.raises(RuntimeError, match="CUDA"):
        create_detector_auto("ssdlite_pedestrian", model_dir=DEFAULT_MODEL_DIR, backend="gpu")


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"kind": "yolo"}, "unknown detector kind"),
        ({"kind": "nanodet_coco", "confidence_threshold": 0.0}, "confidence_threshold"),
        ({"kind": "nanodet_coco", "model_file": "ssdlite_pedestrian.onnx"}, "not the nanodet_coco model"),
    ],
)
def test_bad_arguments_are_rejected(kwargs, message):
    kind = kwargs.pop("kind")
    with pytest.raises(ValueError, match=message):
        GpuDetector(kind, model_dir=DEFAULT_MODEL_DIR, device="cpu", **kwargs)
    with pytest.raises(ValueError, match="backend"):
        create_detector_auto("nanodet_coco", model_dir=DEFAULT_MODEL_DIR, backend="tpu")


@pytest.mark.cuda
@pytest.mark.parametrize("kind", KINDS)
def test_cuda_fp16_finds_the_same_people(frames, kind):
    """On the GPU machine: fp16 + channels_last + CUDA graphs vs onnxruntime float32 on the CPU."""
    from pyuniproc.detect.nms import box_iou

    expected = create_detector(kind, model_dir=DEFAULT_MODEL_DIR, confidence_threshold=0.4).detect(frames)
    got = GpuDetector(kind, model_dir=DEFAULT_MODEL_DIR, confidence_threshold=0.4).detect(frames)
    for e, g in zip(expected, got, strict=True):
        assert abs(len(e) - len(g)) <= 1
        iou = box_iou(e.xyxy, g.xyxy)
        assert (iou.max(axis=1) > 0.9).mean() >= 0.9


@pytest.mark.cuda
def test_cuda_graph_replay_equals_eager():
    detector = GpuDetector("ssdlite_pedestrian", model_dir=DEFAULT_MODEL_DIR, cuda_graphs=True)
    eager = GpuDetector("ssdlite_pedestrian", model_dir=DEFAULT_MODEL_DIR, cuda_graphs=False)
    batch = torch.randn(5, 3, 300, 300, device="cuda", dtype=torch.float16)
    for a, b in zip(detector.infer(batch), eager.infer(batch), strict=True):
        torch.testing.assert_close(a, b, atol=2e-2, rtol=2e-2)


def nv12_frames(images: list[np.ndarray], device: torch.device) -> list:
    """The images as NVDEC would hand them to `pyuniproc run`: NV12 frames on `device`."""
    from pyuniproc.gpu.image import rgb_to_nv12
    from pyuniproc.nv12 import Nv12Frame

    return [Nv12Frame("cam", i, i / 10, torch.from_numpy(rgb_to_nv12(image)).to(device))
            for i, image in enumerate(images)]


def test_an_nv12_frames_rgb_is_made_where_its_pixels_are(frames):
    from pyuniproc.gpu.detector import default_device
    from pyuniproc.nv12 import nv12_to_rgb

    (frame,) = nv12_frames(frames[:1], default_device())
    host = nv12_to_rgb(frame.nv12.cpu().numpy())
    difference = np.abs(frame.image.astype(int) - host)
    assert frame.image.shape == frames[0].shape and difference.max() <= 1 and difference.mean() < 0.01


def test_detector_reads_nv12_frames_without_making_their_rgb(frames):
    from pyuniproc.nv12 import nv12_to_rgb
    from pyuniproc.types import Frame

    detector = GpuDetector("ssdlite_pedestrian", model_dir=DEFAULT_MODEL_DIR, cuda_graphs=False)
    nv12 = nv12_frames(frames, detector.device)
    got = detector.preprocess_frames(nv12)
    assert got.shape == (3, 3, detector.input_size, detector.input_size)
    assert not any(frame.has_image for frame in nv12)  # the hot path never copies a frame to the host
    expected = detector.preprocess([nv12_to_rgb(frame.nv12.cpu().numpy()) for frame in nv12])
    torch.testing.assert_close(got.float(), expected.float(), atol=1e-2, rtol=0)
    mixed = detector.preprocess_frames([nv12[0], Frame("cam", 1, 0.1, frames[1])])  # NVDEC and host cameras
    torch.testing.assert_close(mixed[0], got[0])
    torch.testing.assert_close(mixed[1], detector.preprocess([frames[1]])[0])


def test_embedder_crops_nv12_frames_on_their_device_in_order(frames, reid_kind):
    from pyuniproc.nv12 import nv12_to_rgb
    from pyuniproc.types import Frame

    embedder = GpuEmbedder(reid_kind, model_dir=REID_DIR, cuda_graphs=False)
    nv12 = nv12_frames(frames[:2], embedder.device)
    boxes = [np.array([[100, 100, 150, 250], [300, 200, 340, 300]], np.float32), np.zeros((0, 4), np.float32),
             np.array([[5, 5, 20, 20]], np.float32)]
    got = embedder.embed_frames([*nv12, Frame("cam", 2, 0.2, frames[2])], boxes)
    assert got.shape == (3, embedder.dimension) and got.dtype == np.float32
    assert not any(frame.has_image for frame in nv12)
    crops = crop_boxes(nv12_to_rgb(nv12[0].nv12.cpu().numpy()), boxes[0]) + crop_boxes(frames[2], boxes[2])
    expected = embedder.embed(crops)
    if embedder.net.half:  # CUDA: fp16 net
        assert np.min(np.sum(got * expected, axis=1)) > 0.99
    else:  # the same crop pixels either way (INTER_LINEAR_EXACT), so the same vectors to float rounding
        np.testing.assert_allclose(got, expected, atol=1e-4)
    assert embedder.embed_frames(nv12, [np.zeros((0, 4)), np.zeros((0, 4))]).shape == (0, embedder.dimension)
