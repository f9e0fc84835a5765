"""`pyuniproc bench-gpu`: the GPU truth table: streams per GPU against the NVDEC ceiling, in one run.

For each number of 1080p H.264 streams (default 1, 8, 32, 64, 96) it measures, on the same machine and
in the same process:

1. the decode-only ceiling: PyNvVideoCodec decoding every stream as fast as it can, nothing else;
2. for each detector, the full pipeline as fast as it can (decode -> detect -> ReID -> track, no frame
   dropped: back-pressure), reported as fps and as a fraction of (1);
3. the same pipeline with every stream paced like a live 30 fps camera: dropped frames and camera-to-track
   latency;
and once per detector a naive baseline (one stream, one frame per inference, no overlap).
Before the sweep it checks numerical parity against the ONNX Runtime CPU path on frames of the same video.

Writes results.json, results.md and fps_latency.png into --out. The synthetic streams come from the
sample footage: `--make-video` upscales vtest.avi to 1920x1080 and encodes H.264 with PyAV's libx264.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np

from pyuniproc.gpu.tracking import RECORD_FIELDS

REPO = Path(__file__).resolve().parents[2]
DETECTOR_DIR = REPO / "module" / "models" / "person_detector"
REID_DIR = REPO / "module" / "models" / "person_reid"
SAMPLE = REPO / "samples" / "vtest" / "vtest.avi"
FIELDS = {name: i for i, name in enumerate(RECORD_FIELDS)}


def make_synthetic_video(
    out: Path,
    *,
    source: Path = SAMPLE,
    frames: int = 300,
    width: int = 1920,
    height: int = 1080,
    fps: int = 30,
    bitrate: int = 4_000_000,
) -> Path:
    """Upscale `source` to width x height and encode `frames` frames of H.264 (High, no B-frames, GOP 1 s)."""
    import av
    import cv2

    out.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(source)) as reader, av.open(str(out), "w") as writer:
        video = writer.add_stream("libx264", rate=fps)
        video.width, video.height, video.pix_fmt, video.bit_rate = width, height, "yuv420p", bitrate
        video.options = {"preset": "veryfast", "bf": "0", "g": str(fps), "profile": "high"}
        written = 0
        for frame in reader.decode(video=0):
            rgb = cv2.resize(
                frame.to_ndarray(format="rgb24"), (width, height), interpolation=cv2.INTER_LINEAR
            )
            for packet in video.encode(av.VideoFrame.from_ndarray(rgb, format="rgb24")):
                writer.mux(packet)
            written += 1
            if written >= frames:
                break
        for packet in video.encode():
            writer.mux(packet)
    return out


def _stream_factory(video: Path, backend: str):
    from pyuniproc.gpu.nvdec import open_stream

    return lambda: open_stream(video, backend=backend, loop=True)


def measure_decode_ceiling(video: Path, streams: int, *, backend: str, seconds: float, warmup: float) -> dict:
    """Decode-only throughput: one thread and one decoder session per stream, frames discarded."""
    counts = [0] * streams
    stop = threading.Event()
    barrier = threading.Barrier(streams + 1)
    factory = _stream_factory(video, backend)

    def loop(i: int) -> None:
        stream = factory()
        barrier.wait()
        while not stop.is_set() and stream.read() is not None:
            counts[i] += 1
        stream.close()

    threads = [threading.Thread(target=loop, args=(i,), daemon=True) for i in range(streams)]
    for thread in threads:
        thread.start()
    barrier.wait(timeout=300)
    time.sleep(warmup)
    start, before = time.perf_counter(), sum(counts)
    time.sleep(seconds)
    elapsed, decoded = time.perf_counter() - start, sum(counts) - before
    stop.set()
    for thread in threads:
        thread.join()
    return {"streams": streams, "decode_fps": decoded / elapsed}


def _latency(records: np.ndarray, start: str, end: str) -> dict:
    from pyuniproc.gpu.stats import percentiles

    return percentiles((records[:, FIELDS[end]] - records[:, FIELDS[start]]) * 1000.0)


def measure_pipeline(
    video: Path,
    streams: int,
    *,
    engines,
    trackers,
    options,
    backend: str,
    seconds: float,
    warmup: float,
    sampler,
) -> dict:
    """One configuration of the full pipeline; figures over frames whose tracking ended in the window."""
    import torch

    from pyuniproc.gpu.pipeline import GpuPipeline
    from pyuniproc.gpu.stats import CpuMeter, percentiles

    trackers.reset()
    pipeline = GpuPipeline([_stream_factory(video, backend)] * streams, engines, trackers, options)
    pipeline.start()
    time.sleep(warmup)
    if torch.cuda.is_available():
        torch.cuda.reset_peak_memory_stats()
    start, (decoded0, dropped0) = time.perf_counter(), pipeline.counters.snapshot()
    cpu = CpuMeter(trackers.pids)
    sampler.start()
    time.sleep(seconds)
    end, (decoded1, dropped1) = time.perf_counter(), pipeline.counters.snapshot()
    usage = {**cpu.read(), **sampler.stop()}
    pipeline.stop()
    records = trackers.collect()
    window = records[(records[:, FIELDS["tracked"]] >= start) & (records[:, FIELDS["tracked"]] < end)]
    elapsed = end - start
    per_stream = np.bincount(window[:, 0].astype(int), minlength=streams) / elapsed
    batches = np.array([b for b in pipeline.batches if start <= b[2] < end]).reshape(-1, 5)
    paced = options.pace_fps > 0
    offered = streams * options.pace_fps * elapsed if paced else None
    result = {
        "streams": streams,
        "mode": "paced" if paced else "max",
        "pace_fps": options.pace_fps,
        "fps_total": len(window) / elapsed,
        "fps_per_stream_mean": float(per_stream.mean()),
        "fps_per_stream_min": float(per_stream.min()),
        "decoded_fps": (decoded1 - decoded0) / elapsed,
        "dropped_frames": int(dropped1 - dropped0),
        # paced: what the cameras sent in the window and never got tracked
        "dropped_pct": max(0.0, 100.0 * (1.0 - len(window) / offered)) if offered else 0.0,
        "latency_ms": {
            "decode": percentiles(window[:, FIELDS["decode_ms"]]),
            "batch_wait": _latency(window, "decoded", "formed"),
            "inference": _latency(window, "formed", "inferred"),
            "tracking": _latency(window, "inferred", "tracked"),
            "end_to_end": _latency(window, "decoded", "tracked"),
            "camera_to_track": _latency(window, "due", "tracked") if paced else None,
        },
        "batch_size_mean": float(batches[:, 3].mean()) if len(batches) else None,
        "detections_per_frame": float(window[:, FIELDS["detections"]].mean()) if len(window) else None,
        "gpu_memory_peak_torch_mib": (torch.cuda.max_memory_allocated() / 2**20)
        if torch.cuda.is_available()
        else None,
        "gpu_memory_reserved_torch_mib": (torch.cuda.memory_reserved() / 2**20)
        if torch.cuda.is_available()
        else None,
        **usage,
    }
    return result


def measure_naive(
    video: Path, *, detector, embedder, backend: str, seconds: float, tracker_kind: str = "bytetrack"
) -> dict:
    """One stream, one frame per inference, every stage waiting for the previous one."""
    import torch

    from pyuniproc.gpu.stats import percentiles
    from pyuniproc.track import create_tracker
    from pyuniproc.types import Detections

    stream = _stream_factory(video, backend)()
    tracker = create_tracker(tracker_kind)
    latencies = []
    frames = 0
    deadline = None
    with torch.no_grad():
        while True:
            started = time.perf_counter()
            frame = stream.read()
            nv12 = frame[None].clone()
            height, width = nv12.shape[1] * 2 // 3, nv12.shape[2]
            detections = detector.decode(detector.infer(detector.preprocess_nv12(nv12)), [(height, width)])
            extra = {}
            if embedder is not None and len(detections.xyxy):
                extra["embedding"] = embedder.embed_nv12(nv12, detections.image, detections.xyxy).half()
            result = detections.to_host(1, extra)[0]
            tracker.update(
                Detections(xyxy=result.xyxy, confidence=result.confidence, class_id=result.class_id)
            )
            now = time.perf_counter()
            if deadline is None:  # first frame: warm-up
                deadline, begun = now + seconds, now
                continue
            frames += 1
            latencies.append((now - started) * 1000.0)
            if now >= deadline:
                break
    stream.close()
    return {
        "streams": 1,
        "mode": "naive",
        "fps_total": frames / (time.perf_counter() - begun),
        "latency_ms": {"end_to_end": percentiles(latencies)},
    }


def environment(sampler) -> dict[str, Any]:
    import torch

    from pyuniproc.gpu.nvdec import pynvvideocodec_version

    info = {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "cuda": torch.version.cuda,
        "cpu_count": os.cpu_count(),
        "pynvvideocodec": pynvvideocodec_version(),
        "host": platform.node(),
    }
    if torch.cuda.is_available():
        info["gpu"] = torch.cuda.get_device_name(0)
        info["gpu_count"] = torch.cuda.device_count()
    info.update({f"nvml_{k}": v for k, v in sampler.device_info().items()})
    try:
        import torchvision

        info["torchvision"] = torchvision.__version__
    except Exception:
        info["torchvision"] = None
    return info


def run_parity(video: Path, backend: str, detectors: list[str], threshold: float, frames: int = 8) -> dict:
    import torch

    from pyuniproc.gpu.nvdec import open_stream
    from pyuniproc.gpu.parity import detector_parity, embedder_parity

    stream = open_stream(video, backend=backend, loop=True)
    picked = []
    for index in range(frames * 20):
        frame = stream.read()
        if index % 20 == 10:
            picked.append(frame.clone())
    stream.close()
    nv12 = torch.stack(picked)
    results: dict[str, Any] = {}
    for kind in detectors:
        for half in (True, False):
            parity = detector_parity(
                kind,
                nv12,
                model_dir=DETECTOR_DIR,
                confidence_threshold=threshold,
                device=nv12.device,
                half=half,
            )
            reference = parity.pop("reference_detections")
            results[f"{kind}_{parity['precision']}"] = parity
    for half in (True, False):
        parity = embedder_parity(nv12, reference, model_dir=REID_DIR, device=nv12.device, half=half)
        results[f"embedder_{parity.get('precision', 'fp32')}"] = parity
    return results


def frame_shape_of(video: Path, backend: str) -> tuple[int, int]:
    """(rows, width) of the video's NV12 frames, read off its first frame."""
    stream = _stream_factory(video, backend)()
    shape = tuple(stream.read().shape)
    stream.close()
    return shape  # type: ignore[return-value]


def build(kind: str, args: argparse.Namespace, frame_shape: tuple[int, int]):
    """Detector, embedder (None with --no-reid) and one engine per inference worker, graphs captured."""
    from pyuniproc.gpu.detector import GpuDetector, GpuEmbedder
    from pyuniproc.gpu.pipeline import prepare_engines

    detector = GpuDetector(kind, model_dir=DETECTOR_DIR, confidence_threshold=args.threshold)
    embedder = None if args.no_reid else GpuEmbedder(model_dir=REID_DIR)
    return detector, embedder, prepare_engines(detector, embedder, frame_shape, args.workers)


def pipeline_options(args: argparse.Namespace, pace: float, **overrides: Any):
    from pyuniproc.gpu.pipeline import PipelineOptions

    settings = {
        "batch_size": args.batch_size,
        "inference_workers": args.workers,
        "max_batch_wait_ms": args.max_batch_wait_ms,
        "pace_fps": pace,
        "reid": not args.no_reid,
    }
    return PipelineOptions(**(settings | overrides))


def sweep(
    kind: str,
    args: argparse.Namespace,
    engines,
    trackers,
    sampler,
    streams: list[int],
    ceiling: dict[int, float],
    naive_fps: float | None,
) -> list[dict[str, Any]]:
    """Every stream count, as fast as possible and (unless --paced-fps 0) paced."""
    rows = []
    modes = [0.0] + ([args.paced_fps] if args.paced_fps > 0 else [])
    for count in streams:
        for pace in modes:
            row = measure_pipeline(
                args.video,
                count,
                engines=engines,
                trackers=trackers,
                options=pipeline_options(args, pace),
                backend=args.decoder,
                seconds=args.seconds,
                warmup=args.warmup,
                sampler=sampler,
            )
            row["detector"] = kind
            row["reid"] = not args.no_reid
            row["decode_ceiling_fps"] = ceiling.get(count)
            row["fraction_of_ceiling"] = row["fps_total"] / ceiling[count] if ceiling.get(count) else None
            row["speedup_vs_naive"] = row["fps_total"] / naive_fps if naive_fps else None
            rows.append(row)
            print("run:", json.dumps(row), flush=True)
    return rows


def bench_gpu(args: argparse.Namespace) -> dict[str, Any]:
    import torch

    from pyuniproc.gpu.report import write_report
    from pyuniproc.gpu.stats import GpuSampler
    from pyuniproc.gpu.tracking import TrackerPool

    if args.make_video:
        print(f"encoding synthetic 1080p H.264 to {args.video} ...", flush=True)
        make_synthetic_video(args.video, frames=args.video_frames)
    if args.decoder == "nvdec" and not torch.cuda.is_available():
        raise RuntimeError("--decoder nvdec needs CUDA; use --decoder pyav for a CPU smoke run")
    sys.setswitchinterval(args.switch_interval_ms / 1000.0)
    streams = [int(s) for s in args.streams.split(",")]
    detectors = args.detectors.split(",")
    sampler = GpuSampler()
    command = args.command_line or " ".join(["pyuniproc", "bench-gpu", *sys.argv[1:]])
    settings = {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items() if k != "func"}
    report: dict[str, Any] = {
        "command": command,
        "environment": environment(sampler),
        "video": str(args.video),
        "settings": settings,
    }
    print(json.dumps(report["environment"]), flush=True)
    trackers = TrackerPool(args.tracker_processes)
    try:
        if args.parity:
            report["parity"] = run_parity(args.video, args.decoder, detectors, args.threshold)
            print("parity:", json.dumps(report["parity"]), flush=True)
        report["decode_ceiling"] = []
        for count in streams:
            row = measure_decode_ceiling(
                args.video, count, backend=args.decoder, seconds=args.seconds, warmup=args.warmup
            )
            report["decode_ceiling"].append(row)
            print("ceiling:", json.dumps(row), flush=True)
        ceiling = {row["streams"]: row["decode_fps"] for row in report["decode_ceiling"]}
        frame_shape = frame_shape_of(args.video, args.decoder)
        report["runs"] = []
        for kind in detectors:
            detector, embedder, engines = build(kind, args, frame_shape)
            naive = measure_naive(
                args.video, detector=detector, embedder=embedder, backend=args.decoder, seconds=args.seconds
            )
            naive["detector"] = kind
            report["runs"].append(naive)
            print("naive:", json.dumps(naive), flush=True)
            report["runs"] += sweep(
                kind, args, engines, trackers, sampler, streams, ceiling, naive["fps_total"]
            )
            del engines, detector, embedder
            if torch.cuda.is_available():
                torch.cuda.empty_cache()
    finally:
        trackers.close()
    write_report(report, args.out)
    return report


def register(commands: argparse._SubParsersAction) -> None:
    """Add `bench-gpu` to the `pyuniproc` command (wired in pyuniproc/cli.py's optional commands)."""
    parser = commands.add_parser(
        "bench-gpu", help="GPU truth table: NVDEC + batched fp16 inference vs streams"
    )
    add_arguments(parser)
    parser.set_defaults(func=lambda args: 0 if bench_gpu(args) else 1)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--video",
        type=Path,
        default=REPO / "out" / "gpu" / "vtest_1080p.mp4",
        help="1080p H.264 file, one copy per stream",
    )
    parser.add_argument(
        "--make-video", action="store_true", help="first encode --video from the sample footage"
    )
    parser.add_argument("--video-frames", type=int, default=300)
    parser.add_argument("--streams", default="1,8,32,64,96", help="comma-separated stream counts")
    parser.add_argument("--detectors", default="ssdlite_pedestrian,nanodet_coco")
    parser.add_argument("--threshold", type=float, default=0.4, help="detector confidence threshold")
    parser.add_argument("--seconds", type=float, default=4.0, help="measurement window per configuration")
    parser.add_argument("--warmup", type=float, default=1.5, help="seconds run before each window")
    parser.add_argument(
        "--paced-fps", type=float, default=30.0, help="also run every count paced at this rate (0: skip)"
    )
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--max-batch-wait-ms", type=float, default=5.0)
    parser.add_argument("--workers", type=int, default=2, help="inference threads")
    parser.add_argument("--tracker-processes", type=int, default=8)
    parser.add_argument(
        "--switch-interval-ms",
        type=float,
        default=1.0,
        help="Python's GIL switch interval; shorter lets inference threads in sooner",
    )
    parser.add_argument("--no-reid", action="store_true", help="leave the ReID embedder out")
    parser.add_argument("--no-parity", dest="parity", action="store_false", help="skip the ORT parity check")
    parser.add_argument("--decoder", default="nvdec", choices=("nvdec", "pyav", "auto"))
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks" / "gpu")
    parser.add_argument("--command-line", default=None, help=argparse.SUPPRESS)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m pyuniproc.bench.gpu",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_arguments(parser)
    args = parser.parse_args(argv)
    args.command_line = " ".join(["python -m pyuniproc.bench.gpu", *(sys.argv[1:] if argv is None else argv)])
    bench_gpu(args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
