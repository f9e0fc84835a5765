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
from pyuniproc.gpu.tracking import RECORD_FIELDS, TrackingStage
from pyuniproc.reid import DEFAULT_MODEL_DIR as REID_DIR

FIELD = {name: i for i, name in enumerate(RECORD_FIELDS)}
SELECTION = {"min_height": 20, "min_confidence": 0.3, "refresh_frames": 3, "max_crops_per_frame": 8}


@pytest.fixture(scope="module")
def small_video(tmp_path_factory, pyav):
    from pyuniproc.bench.gpu import make_synthetic_video

    return make_synthetic_video(
        tmp_path_factory.mktemp("gpu") / "small.mp4", frames=12, width=384, height=288
    )


@pytest.fixture(scope="module")
def engines(reid_kind):
    detector = GpuDetector(
        "ssdlite_pedestrian", model_dir=DEFAULT_MODEL_DIR, confidence_threshold=0.3, device="cpu"
    )
    embedder = GpuEmbedder(reid_kind, model_dir=REID_DIR, device="cpu")
    return prepare_engines(detector, embedder, (288 * 3 // 2, 384), 2)


def _run(video, engines, options, seconds, sink=None, cameras=2, loop=True):
    tracking = TrackingStage(selection=SELECTION)
    pipeline = GpuPipeline(
        [lambda: open_stream(video, backend="pyav", loop=loop)] * cameras,
        engines,
        options,
        tracking,
        camera_ids=list(range(10, 10 + cameras)),
        sink=sink,
    )
    pipeline.start()
    time.sleep(seconds)
    pipeline.stop()
    return pipeline, np.array(pipeline.records).reshape(-1, len(RECORD_FIELDS))


def test_frames_flow_from_decoders_to_tracks_and_scheduled_embeddings(small_video, engines):
    seen = []
    pipeline, records = _run(
        small_video,
        engines,
        PipelineOptions(batch_size=4, inference_workers=2),
        4.0,
        sink=lambda camera, index, tracks: seen.append((camera, index, tracks)),
    )
    assert len(records) >= 4
    assert set(records[:, FIELD["stream"]].astype(int)) == {10, 11}
    for camera in (10, 11):  # each camera's frames reach its tracker in order, with two workers too
        indices = [index for c, index, _ in seen if c == camera]
        assert indices == sorted(indices) and len(set(indices)) == len(indices)
    assert np.all(records[:, FIELD["tracked"]] >= records[:, FIELD["inferred"]])
    assert np.all(records[:, FIELD["inferred"]] >= records[:, FIELD["decoded"]])
    assert records[:, FIELD["detections"]].sum() > 0 and records[:, FIELD["tracks"]].sum() > 0
    # scheduled ReID: at most the tracks, and fewer crops than detections once tracks are known
    embedded = records[:, FIELD["embedded"]]
    assert 0 < embedded.sum() < records[:, FIELD["detections"]].sum()
    assert np.all(embedded <= records[:, FIELD["tracks"]])
    for _, _, tracks in seen:  # the CPU runtime's contract: float32, NaN rows where not embedded this frame
        vectors = tracks.data["embedding"]
        assert vectors.dtype == np.float32 and tracks.data["embedding_quality"].dtype == np.float32
        done = ~np.isnan(vectors).any(axis=1)
        assert np.allclose(np.linalg.norm(vectors[done], axis=1), 1.0, atol=1e-2)
        assert np.all((tracks.data["embedding_quality"] > 0) == done)
    assert pipeline.counters.snapshot()[1] == 0  # unpaced: back-pressure, nothing dropped
    assert pipeline.pool._free.qsize() == pipeline.pool.slots  # every slot came back


def test_one_decoder_thread_can_serve_several_cameras_round_robin(small_video, engines):
    """3 cameras, 2 per thread (threads of 2 and 1): every frame of every camera arrives once, in order."""
    seen = []
    options = PipelineOptions(batch_size=4, sessions_per_decoder=2, pool_frames=4)
    pipeline, records = _run(
        small_video, engines, options, 6.0, cameras=3, loop=False,
        sink=lambda camera, index, tracks: seen.append((camera, index)),
    )
    assert sum(thread.name.startswith("decode") for thread in pipeline._threads) == 2
    assert pipeline.counters.snapshot() == (36, 0)  # 3 x the 12-frame clip, nothing dropped
    for camera in (10, 11, 12):
        assert [index for c, index in seen if c == camera] == list(range(12))
    assert len(records) == 36 and pipeline.pool._free.qsize() == pipeline.pool.slots


def test_paced_cameras_sharing_a_decoder_thread_keep_their_own_clocks(small_video, engines):
    # a lag allowance of 1 s: a slow moment of a loaded 2-core CI box must not count as a skip
    options = PipelineOptions(batch_size=2, pace_fps=5.0, sessions_per_decoder=2, max_lag_ms=1000.0)
    pipeline, records = _run(small_video, engines, options, 2.0)
    decoded, dropped = pipeline.counters.snapshot()
    assert dropped == 0 and 14 <= decoded <= 24  # 2 cameras x 5 fps x 2 s, give or take the edges
    assert abs(pipeline.counters.decoded[0] - pipeline.counters.decoded[1]) <= 1
    assert set(records[:, FIELD["stream"]].astype(int)) == {10, 11}


def test_embedding_every_detection_and_none(small_video, engines):
    _, every = _run(small_video, engines, PipelineOptions(batch_size=4, reid="all"), 2.0)
    assert np.array_equal(every[:, FIELD["embedded"]], every[:, FIELD["detections"]])
    _, none = _run(small_video, engines, PipelineOptions(batch_size=4, reid="off"), 2.0)
    assert len(none) and none[:, FIELD["embedded"]].sum() == 0


def test_paced_cameras_drop_what_the_pipeline_cannot_take(small_video, engines):
    options = PipelineOptions(batch_size=2, inference_workers=1, pace_fps=60.0, pool_frames=2, max_lag_ms=50)
    pipeline, records = _run(small_video, engines, options, 3.0)
    decoded, dropped = pipeline.counters.snapshot()
    assert dropped > 0  # a CPU cannot detect 2 x 60 fps: live cameras lose frames instead of lagging
    assert len(records) > 0


def test_options_are_checked(engines):
    with pytest.raises(ValueError):
        PipelineOptions(batch_size=0)
    with pytest.raises(ValueError):
        PipelineOptions(pace_fps=-1)
    with pytest.raises(ValueError, match="reid"):
        PipelineOptions(reid="sometimes")
    with pytest.raises(ValueError, match="sessions_per_decoder"):
        PipelineOptions(sessions_per_decoder=0)
    with pytest.raises(ValueError, match="decode priority"):
        PipelineOptions(decode_priority="urgent")
    with pytest.raises(ValueError, match="decode priority"):
        open_stream("never-opened.mp4", backend="pyav", priority="urgent")
    with pytest.raises(ValueError, match="selection"):
        GpuPipeline([], engines, PipelineOptions(), TrackingStage())


def test_report_files(tmp_path):
    from pyuniproc.gpu.report import markdown, write_report

    latency = {"p50": 1.0, "p95": 2.0, "mean": 1.2}
    run = {
        "detector": "ssdlite_pedestrian",
        "streams": 8,
        "processes": 2,
        "mode": "max",
        "reid_mode": "scheduled",
        "fps_total": 1000.0,
        "fps_per_stream_mean": 125.0,
        "fps_per_stream_min": 120.0,
        "dropped_pct": 0.0,
        "fraction_of_ceiling": 0.9,
        "crops_per_frame": 0.8,
        "latency_ms": {k: latency for k in ("decode", "inference", "tracking", "end_to_end")}
        | {"camera_to_track": None},
    }
    report = {
        "command": "pyuniproc bench-gpu",
        "environment": {"gpu": "test"},
        "video": "v.mp4",
        "decode_ceiling": [
            {"streams": 8, "decode_fps": 1111.0, "layout": "threads, 1 process"},
            {"streams": 8, "decode_fps": 1200.0, "processes": 2, "layout": "sharded"},
        ],
        "runs": [
            run,
            run | {"variant": "reid=all", "reid_mode": "all", "fps_total": 500.0},
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
    assert "| ssdlite_pedestrian | 8 | max | 2 | scheduled | 1,000 |" in text and "10.0x" in text
    assert "| 8 | 1,111 | 1,200 (2 proc.) | 1,200 |" in text
    assert "| ssdlite_pedestrian | 8 | reid=all | 2 | all | 500 |" in text
    write_report(report, tmp_path)
    assert (tmp_path / "results.json").exists() and (tmp_path / "results.md").exists()
    pytest.importorskip("matplotlib")
    assert (tmp_path / "fps_latency.png").stat().st_size > 1000


@pytest.fixture
def gpu_video() -> str:
    """On the GPU machine: PYUNIPROC_GPU_VIDEO names a 1080p H.264 clip (the benchmark's)."""
    import os

    pytest.importorskip("PyNvVideoCodec")
    video = os.environ.get("PYUNIPROC_GPU_VIDEO")
    if not video:
        pytest.skip("set PYUNIPROC_GPU_VIDEO to a 1080p H.264 file")
    return video


@pytest.mark.cuda
def test_nvdec_gives_nv12_frames_on_the_gpu(gpu_video):
    video = gpu_video
    stream = open_stream(video, backend="nvdec")
    frames = [stream.read().clone() for _ in range(400)]  # loops past the 300-frame clip
    assert all(f.shape == (1080 * 3 // 2, 1920) and f.device.type == "cuda" for f in frames)
    assert not torch.equal(frames[0], frames[1])
    assert any(torch.equal(frames[0], frames[k]) for k in range(250, 400))  # the loop restarts at frame 0
    stream.close()


@pytest.mark.cuda
def test_a_high_priority_session_decodes_the_same_frames_on_its_own_stream(gpu_video):
    video = gpu_video
    normal, high = open_stream(video, backend="nvdec"), open_stream(video, backend="nvdec", priority="high")
    assert getattr(normal, "cuda_stream", None) is None
    assert high.cuda_stream is not None and high.cuda_stream.priority < 0
    for index in range(120):
        expected = normal.read().clone()
        frame = high.read()
        with torch.cuda.stream(high.cuda_stream):  # copied where it was mapped, as the pipeline does
            got = frame.clone()
        high.cuda_stream.synchronize()
        assert torch.equal(expected, got), f"frame {index} differs"
    normal.close()
    high.close()


@pytest.mark.parametrize("kind", ["ssdlite_pedestrian", "nanodet_coco"])
def test_engine_steps_match_the_detector_and_embedder(kind, reid_kind):
    """The engine's fused steps compute what GpuDetector / GpuEmbedder compute (CPU: eager; CUDA: graphs)."""
    from pyuniproc.gpu.engine import BatchEngine

    device = "cuda" if torch.cuda.is_available() else "cpu"
    detector = GpuDetector(kind, model_dir=DEFAULT_MODEL_DIR, device=device, cuda_graphs=False)
    embedder = GpuEmbedder(reid_kind, model_dir=REID_DIR, device=device, cuda_graphs=False)
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
    rows = engine.embed_rows(frame_index.cpu().numpy(), boxes.cpu().numpy())  # host-chosen boxes
    torch.testing.assert_close(rows, want, atol=1e-2, rtol=1e-2)
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


def test_shard_pool_runs_decode_and_pipeline_in_worker_processes(small_video):
    """Two cameras over two spawned workers (CPU, PyAV): each worker reports its own cameras' frames."""
    from pyuniproc.gpu.shards import ShardPool, ShardSpec

    spec = ShardSpec(
        detector="ssdlite_pedestrian",
        detector_dir=str(DEFAULT_MODEL_DIR),
        reid_dir=str(REID_DIR),
        frame_shape=(288 * 3 // 2, 384),
        detector_options={"confidence_threshold": 0.3},
        reid_kind="mobilenetv2_imagenet",
        frame_buckets=(1, 4),
        crop_buckets=(8,),
        reid_selection=SELECTION,
    )
    pool = ShardPool(spec, 2, gpus=None)
    try:
        assert pool.assign(5, 2) == {0: [0, 2, 4], 1: [1, 3]}
        common = {"video": str(small_video), "backend": "pyav", "warmup": 1.0, "seconds": 1.5}
        decoded, _, _ = pool.run("decode", 2, processes=2, **common)
        assert set(decoded) == {0, 1} and all(r["decoded"] > 0 for r in decoded.values())
        options = {"batch_size": 4, "reid": "scheduled"}
        results, start, end = pool.run("pipeline", 2, processes=2, options=options, **common)
        for worker, camera in ((0, 0), (1, 1)):
            records = results[worker]["records"]
            assert len(records) and set(records[:, FIELD["stream"]].astype(int)) == {camera}
            assert results[worker]["tracker_kind"] == "bytetrack"
        assert end > start
    finally:
        pool.close()
