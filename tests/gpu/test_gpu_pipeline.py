"""The GPU pipeline's plumbing, run on the CPU with PyAV standing in for NVDEC."""

from __future__ import annotations

import pytest

pytest.importorskip("torch")
pytest.importorskip("onnx")

import time

import numpy as np
import torch

from pyuniproc.detect import DEFAULT_MODEL_DIR
from pyuniproc.gpu.detector import GpuDetector, GpuEmbedder
from pyuniproc.gpu.nvdec import open_stream
from pyuniproc.gpu.pipeline import GpuPipeline, PipelineOptions, prepare_engines
from pyuniproc.gpu.tracking import RECORD_FIELDS, TrackerPool
from pyuniproc.reid import DEFAULT_MODEL_DIR as REID_DIR


@pytest.fixture(scope="module")
def small_video(tmp_path_factory):
    pytest.importorskip("av")
    from pyuniproc.bench.gpu import make_synthetic_video

    return make_synthetic_video(
        tmp_path_factory.mktemp("gpu") / "small.mp4", frames=12, width=384, height=288
    )


@pytest.fixture(scope="module")
def trackers():
    pool = TrackerPool(2)
    yield pool
    pool.close()


def _run(video, trackers, options, seconds):
    detector = GpuDetector(
        "ssdlite_pedestrian", model_dir=DEFAULT_MODEL_DIR, confidence_threshold=0.3, device="cpu"
    )
    embedder = GpuEmbedder(model_dir=REID_DIR, device="cpu")
    trackers.reset()
    engines = prepare_engines(detector, embedder, (288 * 3 // 2, 384), options.inference_workers)
    pipeline = GpuPipeline([lambda: open_stream(video, backend="pyav")] * 2, engines, trackers, options)
    pipeline.start()
    time.sleep(seconds)
    pipeline.stop()
    return pipeline, trackers.collect()


def test_frames_flow_from_decoders_to_trackers(small_video, trackers):
    pipeline, records = _run(small_video, trackers, PipelineOptions(batch_size=4, inference_workers=2), 4.0)
    assert records.shape[1] == len(RECORD_FIELDS) and len(records) >= 4
    field = {name: i for i, name in enumerate(RECORD_FIELDS)}
    assert set(records[:, field["stream"]].astype(int)) == {0, 1}
    for stream in (0, 1):  # each camera's frames reach its tracker in order
        indices = records[records[:, field["stream"]] == stream, field["index"]]
        assert np.all(np.diff(indices) > 0)
    assert np.all(records[:, field["tracked"]] >= records[:, field["inferred"]])
    assert np.all(records[:, field["inferred"]] >= records[:, field["decoded"]])
    assert records[:, field["detections"]].sum() > 0 and records[:, field["tracks"]].sum() > 0
    assert pipeline.counters.snapshot()[1] == 0  # unpaced: back-pressure, nothing dropped
    assert pipeline.pool._free.qsize() == pipeline.pool.slots  # every slot came back


def test_paced_cameras_drop_what_the_pipeline_cannot_take(small_video, trackers):
    options = PipelineOptions(batch_size=2, inference_workers=1, pace_fps=60.0, pool_frames=2, max_lag_ms=50)
    pipeline, records = _run(small_video, trackers, options, 3.0)
    decoded, dropped = pipeline.counters.snapshot()
    assert dropped > 0  # a CPU cannot detect 2 x 60 fps: live cameras lose frames instead of lagging
    assert len(records) > 0


def test_options_are_checked():
    with pytest.raises(ValueError):
        PipelineOptions(batch_size=0)
    with pytest.raises(ValueError):
        PipelineOptions(pace_fps=-1)


def test_report_files(tmp_path):
    from pyuniproc.gpu.report import markdown, write_report

    latency = {"p50": 1.0, "p95": 2.0, "mean": 1.2}
    run = {
        "detector": "ssdlite_pedestrian",
        "streams": 8,
        "mode": "max",
        "fps_total": 1000.0,
        "fps_per_stream_mean": 125.0,
        "fps_per_stream_min": 120.0,
        "dropped_pct": 0.0,
        "fraction_of_ceiling": 0.9,
        "latency_ms": {k: latency for k in ("decode", "inference", "end_to_end")} | {"camera_to_track": None},
    }
    report = {
        "command": "pyuniproc bench-gpu",
        "environment": {"gpu": "test"},
        "video": "v.mp4",
        "decode_ceiling": [{"streams": 8, "decode_fps": 1111.0}],
        "runs": [
            run,
            {
                "detector": "ssdlite_pedestrian",
                "streams": 1,
                "mode": "naive",
                "fps_total": 100.0,
                "latency_ms": {"end_to_end": latency},
            },
        ],
    }
    text = markdown(report)
    assert "| ssdlite_pedestrian | 8 | max | 1,000 |" in text and "10.0x" in text
    write_report(report, tmp_path)
    assert (tmp_path / "results.json").exists() and (tmp_path / "results.md").exists()
    pytest.importorskip("matplotlib")
    assert (tmp_path / "fps_latency.png").stat().st_size > 1000


@pytest.mark.cuda
def test_nvdec_gives_nv12_frames_on_the_gpu():
    """On the GPU machine, with PYUNIPROC_GPU_VIDEO naming a 1080p H.264 clip (the benchmark's)."""
    import os

    pytest.importorskip("PyNvVideoCodec")
    video = os.environ.get("PYUNIPROC_GPU_VIDEO")
    if not video:
        pytest.skip("set PYUNIPROC_GPU_VIDEO to a 1080p H.264 file")
    stream = open_stream(video, backend="nvdec")
    frames = [stream.read().clone() for _ in range(400)]  # loops past the 300-frame clip
    assert all(f.shape == (1080 * 3 // 2, 1920) and f.device.type == "cuda" for f in frames)
    assert not torch.equal(frames[0], frames[1])
    assert any(torch.equal(frames[0], frames[k]) for k in range(250, 400))  # the loop restarts at frame 0
    stream.close()


@pytest.mark.parametrize("kind", ["ssdlite_pedestrian", "nanodet_coco"])
def test_engine_steps_match_the_detector_and_embedder(kind):
    """The engine's fused steps compute what GpuDetector / GpuEmbedder compute (CPU: eager; CUDA: graphs)."""
    from pyuniproc.gpu.engine import BatchEngine

    device = "cuda" if torch.cuda.is_available() else "cpu"
    detector = GpuDetector(kind, model_dir=DEFAULT_MODEL_DIR, device=device, cuda_graphs=False)
    embedder = GpuEmbedder(model_dir=REID_DIR, device=device, cuda_graphs=False)
    engine = BatchEngine(detector, embedder, (72 * 3 // 2, 96), frame_buckets=(2, 4), crop_buckets=(4, 8))
    generator = torch.Generator().manual_seed(0)
    pool = torch.randint(0, 256, (5, 108, 96), dtype=torch.uint8, generator=generator).to(device)
    slots = torch.tensor([4, 1, 2], device=device)
    engine.load(pool, slots)
    packed, *raw = engine.detect(3)
    expected = detector.infer(detector.preprocess_nv12(pool[slots]))
    for got, want in zip(raw, expected, strict=True):
        torch.testing.assert_close(got.float(), want.float(), atol=2e-2, rtol=2e-2)
    frames, kept, _ = engine.detect_frames(3)
    exact = detector.decode(expected, [(72, 96)] * 3).to_host(3)
    assert kept == sum(len(f) for f in frames) and [len(f) for f in frames] == [len(e) for e in exact]
    boxes = torch.tensor(
        [[0, 0, 40, 60], [10, 5, 90, 70], [3, 3, 4, 4], [50, 20, 60, 70], [1, 1, 95, 71]],
        dtype=torch.float32,
        device=device,
    )
    frame_index = torch.tensor([0, 2, 1, 1, 0], device=device)
    want = embedder.embed_nv12(pool[slots], frame_index, boxes)
    torch.testing.assert_close(engine.embed(frame_index, boxes), want, atol=1e-2, rtol=1e-2)
    if kept:  # the boxes detect() compacted into the static buffer embed like the same boxes passed in
        boxes_kept = torch.from_numpy(np.concatenate([f.xyxy for f in frames])).to(device)
        index_kept = torch.from_numpy(np.repeat(np.arange(3), [len(f) for f in frames])).to(device)
        engine.detect(3)
        torch.testing.assert_close(
            engine.embed_kept(kept),
            embedder.embed_nv12(pool[slots], index_kept, boxes_kept),
            atol=1e-2,
            rtol=1e-2,
        )
