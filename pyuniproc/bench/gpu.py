"""`pyuniproc bench-gpu`: the GPU truth table: streams per GPU against the NVDEC ceiling, in one run.

For each number of 1080p H.264 streams (default 1, 8, 32, 64, 96) it measures, on the same machine and
in the same run:

1. the decode-only ceiling: PyNvVideoCodec decoding every stream as fast as it can, nothing else, in two
   layouts (all decoder threads in one process; decoders spread over the worker processes the pipeline
   uses); the higher of the two is the ceiling the pipeline is compared with;
2. for each detector, the full pipeline as fast as it can (decode -> detect -> track -> scheduled ReID, no
   frame dropped: back-pressure), cameras spread over worker processes (`pyuniproc.gpu.shards`), reported
   as fps and as a fraction of (1);
3. the same pipeline with every stream paced like a live 30 fps camera: dropped frames and camera-to-track
   latency;
4. variants at one stream count (first detector): ReID on every detection, ReID off, one process only;
and once per detector a naive baseline (one stream, one frame per inference, no overlap).
Before the sweep it checks numerical parity against the ONNX Runtime CPU path on frames of the same video.

The detector (its kind, confidence and NMS thresholds, minimum box size), the tracker and its thresholds, and
the ReID model with its gate and schedule come from the module YAML (`--module`), read by the runtime's own
reader (`pyuniproc.config.module`), so the table is measured at the settings `pyuniproc run` uses; every
value is recorded under `module_settings` in results.json (`--detectors` / `--threshold` override them, and
the override is recorded too). Writes results.json, results.md and fps_latency.png into --out. The synthetic
streams come from the sample footage: `--make-video` upscales vtest.avi to 1920x1080 and encodes H.264 with
PyAV.
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
    from pyuniproc.gpu.native_nvdec import remux_annexb

    # the same stream without its container, for the native decode loop (NVDEC's parser reads Annex-B)
    out.with_suffix(".h264").write_bytes(remux_annexb(out, av)[0])
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


def processes_for(streams: int, args: argparse.Namespace) -> int:
    """Worker processes for a stream count: one per `streams_per_process` cameras, at most `processes`."""
    return max(1, min(args.processes, -(-streams // args.streams_per_process)))


def measure_decode_sharded(
    pool, video: Path, streams: int, processes: int, *, backend: str, seconds: float, warmup: float
) -> dict:
    """Decode-only throughput with the decoders spread over `processes` workers of `pool`."""
    results, start, end = pool.run(
        "decode",
        streams,
        processes=processes,
        video=str(video),
        backend=backend,
        warmup=warmup,
        seconds=seconds,
    )
    return {
        "streams": streams,
        "processes": len(results),
        "decode_fps": sum(r["decoded"] for r in results.values()) / (end - start),
    }


def measure_pipeline(
    pool,
    video: Path,
    streams: int,
    *,
    processes: int,
    options,
    backend: str,
    seconds: float,
    warmup: float,
    sampler,
    tracker_kind: str | None = None,
) -> dict:
    """One configuration of the full pipeline; figures over frames whose tracking ended in the window.

    tracker_kind: another registered tracker than the module's for this run (an A/B in one run)."""
    from dataclasses import asdict

    from pyuniproc.gpu.stats import CpuMeter, percentiles

    meter: dict[str, Any] = {}

    def begin() -> None:
        meter["cpu"] = CpuMeter(pool.pids)
        sampler.start()

    def finish() -> None:
        meter["usage"] = {**meter["cpu"].read(), **sampler.stop()}

    results, start, end = pool.run(
        "pipeline",
        streams,
        processes=processes,
        video=str(video),
        backend=backend,
        warmup=warmup,
        seconds=seconds,
        options=asdict(options) | ({"tracker_kind": tracker_kind} if tracker_kind else {}),
        on_start=begin,
        on_end=finish,
    )
    records = np.concatenate([r["records"].reshape(-1, len(RECORD_FIELDS)) for r in results.values()])
    batches = np.concatenate([r["batches"] for r in results.values()])
    window = records[(records[:, FIELDS["tracked"]] >= start) & (records[:, FIELDS["tracked"]] < end)]
    batches = batches[(batches[:, 2] >= start) & (batches[:, 2] < end)]
    elapsed = end - start
    per_stream = np.bincount(window[:, 0].astype(int), minlength=streams) / elapsed
    paced = options.pace_fps > 0
    offered = streams * options.pace_fps * elapsed if paced else None
    frames = max(1, len(window))
    return {
        "streams": streams,
        "processes": len(results),
        "mode": "paced" if paced else "max",
        "reid_mode": options.reid,
        "decode_loop": options.decode_loop,
        "tracker_kind": sorted({r.get("tracker_kind") for r in results.values()}, key=str),
        "pace_fps": options.pace_fps,
        "fps_total": len(window) / elapsed,
        "fps_per_stream_mean": float(per_stream.mean()),
        "fps_per_stream_min": float(per_stream.min()),
        "decoded_fps": sum(r["decoded"] for r in results.values()) / elapsed,
        "dropped_frames": int(sum(r["dropped"] for r in results.values())),
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
        "detections_per_frame": float(window[:, FIELDS["detections"]].sum() / frames),
        "tracks_per_frame": float(window[:, FIELDS["tracks"]].sum() / frames),
        "crops_per_frame": float(window[:, FIELDS["embedded"]].sum() / frames),
        "fallbacks": int(sum(r["fallbacks"] for r in results.values())),
        # CPU time per frame done, by thread kind, summed over the processes (window only)
        "cpu_ms_per_frame": {
            kind: 1000.0 * sum(r["thread_cpu_seconds"][kind] for r in results.values()) / frames
            for kind in ("decode", "inference")
        },
        **meter.get("usage", {}),
        # the native decode loop's counters over the window, summed (None with Python decoders)
        "native_stats": _sum_stats([r.get("native_stats") for r in results.values()]),
    }


def _sum_stats(parts: list[dict[str, float] | None]) -> dict[str, float] | None:
    parts = [p for p in parts if p]
    return {k: round(sum(p[k] for p in parts), 3) for k in parts[0]} if parts else None


def measure_naive(
    video: Path, *, detector, embedder, backend: str, seconds: float, settings: dict[str, Any]
) -> dict:
    """One stream, one frame per inference, every stage waiting for the previous one."""
    import torch

    from pyuniproc.gpu.stats import percentiles
    from pyuniproc.track import create_tracker
    from pyuniproc.types import Detections

    stream = _stream_factory(video, backend)()
    tracker = create_tracker(settings["tracker_kind"], **settings["tracker_options"])
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
                extra["embedding"] = embedder.embed_nv12(nv12, detections.image, detections.xyxy).float()
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
        "processes": 1,
        "mode": "naive",
        "reid_mode": "all" if embedder is not None else "off",
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
    pipe = Path(os.environ.get("CUDA_MPS_PIPE_DIRECTORY", "/tmp/nvidia-mps")) / "control"
    info["mps"] = pipe.exists()  # an MPS control daemon is running: processes share the GPU concurrently
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


def run_parity(
    video: Path, backend: str, detectors: list[str], detector_options: dict[str, float], reid_kind: str,
    frames: int = 8,
) -> dict:
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
                confidence_threshold=detector_options["confidence_threshold"],
                device=nv12.device,
                half=half,
            )
            reference = parity.pop("reference_detections")
            results[f"{kind}_{parity['precision']}"] = parity
    for half in (True, False):
        parity = embedder_parity(
            nv12, reference, model_dir=REID_DIR, device=nv12.device, half=half, kind=reid_kind
        )
        results[f"embedder_{parity.get('precision', 'fp32')}"] = parity
    return results


def frame_shape_of(video: Path, backend: str, size: str | None = None) -> tuple[int, int]:
    """(rows, width) of the video's NV12 frames: from `size` ("1920x1080") or read off its first frame."""
    if size:
        width, height = (int(v) for v in size.lower().split("x"))
        return height * 3 // 2, width
    stream = _stream_factory(video, backend)()
    shape = tuple(stream.read().shape)
    stream.close()
    return shape  # type: ignore[return-value]


def module_settings(path: Path, *, threshold: float | None = None) -> dict[str, Any]:
    """What the bench takes from the module YAML, read by `pyuniproc.config.module.load_module_config` (the
    runtime's reader): the detector kind and its options, the tracker kind and thresholds, the ReID model
    kind and its gate/schedule settings. threshold: a confidence threshold other than the module's.

    A `.json` path is such a dict written by `--write-module-settings` on a machine with the runtime's
    packages (the GPU machine has only torch's stack): the same reader's values, carried."""
    if Path(path).suffix == ".json":
        settings = json.loads(Path(path).read_text())
        if threshold is not None:
            settings["detector_options"]["confidence_threshold"] = threshold
            settings["threshold_override"] = threshold
        return settings
    from pyuniproc.config.module import load_module_config
    from pyuniproc.detect import KIND_BY_CONVERTER
    from pyuniproc.reid import kind_for_model_file

    module = load_module_config(path)
    detector = module.detector
    reid_file = module.reid.model_file if module.reid else None
    return {
        "module": str(path),
        "detector": KIND_BY_CONVERTER[detector.converter],
        "detector_options": {
            "confidence_threshold": detector.confidence_threshold if threshold is None else threshold,
            "nms_iou_threshold": detector.nms_iou_threshold,
            "min_width": detector.min_width,
            "min_height": detector.min_height,
        },
        "module_confidence_threshold": detector.confidence_threshold,
        "threshold_override": threshold,
        "tracker_kind": module.tracker.kind,
        "tracker_options": dict(module.tracker.params),
        "reid_model_file": reid_file,
        "reid_kind": kind_for_model_file(reid_file) if reid_file else None,
        "reid_selection": dict(module.reid.selection) if module.reid else {},
    }


def shard_spec(kind: str, args: argparse.Namespace, frame_shape: tuple[int, int], settings: dict[str, Any]):
    """What every worker process builds for detector `kind`."""
    from pyuniproc.gpu.engine import CROP_BUCKETS
    from pyuniproc.gpu.shards import ShardSpec
    return ShardSpec(
        detector=kind,
        detector_dir=str(DETECTOR_DIR),
        reid_dir=str(REID_DIR),
        frame_shape=tuple(frame_shape),
        detector_options=dict(settings["detector_options"]),
        reid_kind=None if args.reid == "off" else settings["reid_kind"],
        workers=args.workers,
        tracker_kind=settings["tracker_kind"],
        tracker_options=settings["tracker_options"],
        reid_selection=dict(settings["reid_selection"]) if settings["reid_kind"] else None,
        switch_interval_ms=args.switch_interval_ms,
        blocking_sync=args.blocking_sync,
        frame_buckets=frame_buckets(args.batch_size, args.frame_buckets),
        crop_buckets=tuple(int(c) for c in args.crop_buckets.split(","))
        if args.crop_buckets
        else CROP_BUCKETS,
    )


def frame_buckets(batch_size: int, chosen: str | None = None) -> tuple[int, ...]:
    """Frame buckets up to the batch size (a graph per bucket; larger ones only cost memory): the engine's,
    or `chosen` ("1,8,16,32")."""
    from pyuniproc.gpu.engine import FRAME_BUCKETS

    buckets = tuple(int(b) for b in chosen.split(",")) if chosen else FRAME_BUCKETS
    return tuple(b for b in buckets if b < batch_size) + (batch_size,)


def pipeline_options(args: argparse.Namespace, pace: float, **overrides: Any):
    from pyuniproc.gpu.pipeline import PipelineOptions

    settings = {
        "batch_size": args.batch_size,
        "inference_workers": args.workers,
        "max_batch_wait_ms": args.max_batch_wait_ms,
        "pace_fps": pace,
        "reid": args.reid,
        "pool_frames": args.pool_frames or None,
        "decode_priority": args.decode_priority,
        "sessions_per_decoder": args.sessions_per_decoder,
        "decode_loop": "python" if args.decode_loop == "auto" else args.decode_loop,  # sweep rows choose
        "native_threads": args.native_threads,
    }
    return PipelineOptions(**(settings | overrides))


def _annotate(row: dict[str, Any], kind: str, ceiling: dict[int, float], naive_fps: float | None) -> dict:
    row["detector"] = kind
    row["decode_ceiling_fps"] = ceiling.get(row["streams"])
    row["fraction_of_ceiling"] = (
        row["fps_total"] / ceiling[row["streams"]] if ceiling.get(row["streams"]) else None
    )
    row["speedup_vs_naive"] = row["fps_total"] / naive_fps if naive_fps else None
    print("run:", json.dumps(row), flush=True)
    return row


def sweep(
    kind: str,
    args: argparse.Namespace,
    pool,
    sampler,
    streams: list[int],
    ceiling: dict[int, float],
    naive_fps: float | None,
) -> list[dict[str, Any]]:
    """Every stream count, as fast as possible and (unless --paced-fps 0) paced."""
    rows = []
    modes = [0.0] + ([args.paced_fps] if args.paced_fps > 0 else [])
    for count in streams:
        for pace in modes:  # decode loop per row: `decode_loop_for`
            overrides: dict[str, Any] = {"decode_loop": decode_loop_for(args, count, pace, pool)}
            if pace:
                overrides["max_batch_wait_ms"] = args.paced_batch_wait_ms
            options = pipeline_options(args, pace, **overrides)
            row = measure_pipeline(
                pool,
                args.video,
                count,
                processes=processes_for(count, args),
                options=options,
                backend=args.decoder,
                seconds=args.seconds,
                warmup=args.warmup,
                sampler=sampler,
            )
            rows.append(_annotate(row, kind, ceiling, naive_fps))
    return rows


def pool_processes(args: argparse.Namespace) -> int:
    """Worker processes to build: --processes, or more where a --variants case asks for more (a case
    cannot run on workers that were never built)."""
    asked = []
    if variant_counts(args.variant_streams):
        asked = [int(change.get("processes", 0)) for _, change in parse_variants(args.variants)]
    return max([args.processes, *asked])


def decode_loop_for(
    args: argparse.Namespace, streams: int, pace: float, pool, processes: int | None = None
) -> str:
    """The decode loop of a row: python when paced (the native loop has no live-camera mode), and for
    `auto` native up to --native-max-streams per GPU in use (workers take the GPUs in turn, so `processes`
    workers use at most that many)."""
    if pace:
        return "python"
    if args.decode_loop != "auto":
        return args.decode_loop
    workers = processes if processes is not None else processes_for(streams, args)
    gpus = min(len(getattr(pool, "gpus", None) or [0]), max(1, workers))
    return "native" if streams / gpus <= args.native_max_streams else "python"


def _flag(text: str) -> bool:
    return text.lower() in ("1", "true", "yes")


VARIANT_KEYS = {
    "reid": str,
    "tracker": str,
    "processes": int,
    "pool_frames": int,
    "batch_size": int,
    "max_batch_wait_ms": float,
    "decode_priority": str,
    "sessions_per_decoder": int,
    "decode_loop": str,
    "native_threads": int,
    "native_lookahead": int,
    "native_poll": _flag,
    "native_access_units": _flag,
}


def parse_variants(text: str) -> list[tuple[str, dict[str, Any]]]:
    """ "reid=all,processes=1" -> [("reid=all", {"reid": "all"}), ("processes=1", {"processes": 1})];
    settings joined by "+" change together: "a=1+b=2" -> [("a=1+b=2", {"a": 1, "b": 2})]."""
    cases = []
    for item in filter(None, (part.strip() for part in text.split(","))):
        change = {}
        for setting in item.split("+"):
            key, _, value = setting.strip().partition("=")
            if key not in VARIANT_KEYS or not value:
                raise ValueError(
                    f"variant {item!r}: expected KEY=VALUE (several joined by +) with KEY one of "
                    f"{', '.join(VARIANT_KEYS)}"
                )
            change[key] = VARIANT_KEYS[key](value)
        cases.append((item, change))
    return cases


def variant_counts(text: str) -> list[int]:
    """ "64,96" -> [64, 96]; "0" or "" -> [] (no variants)."""
    return [int(part) for part in text.split(",") if part.strip() and int(part) > 0]


def variants(kind: str, args: argparse.Namespace, pool, sampler, ceiling: dict[int, float]) -> list[dict]:
    """What each lever is worth, at each --variant-streams count, as fast as possible: each --variants case
    changes one setting of the sweep's (e.g. ReID on every detection, no ReID, all cameras in one process,
    `tracker=NAME`: another registered tracker)."""
    rows = []
    for count in variant_counts(args.variant_streams):
        for name, change in parse_variants(args.variants):
            processes = change.pop("processes", None) or processes_for(count, args)
            tracker = change.pop("tracker", None)
            # the loop the sweep row at this count used, unless the case names one (`auto` is per row)
            change.setdefault("decode_loop", decode_loop_for(args, count, 0.0, pool, processes))
            row = measure_pipeline(
                pool,
                args.video,
                count,
                processes=processes,
                options=pipeline_options(args, 0.0, **change),
                backend=args.decoder,
                seconds=args.seconds,
                warmup=args.warmup,
                sampler=sampler,
                tracker_kind=tracker,
            )
            row["variant"] = name
            rows.append(_annotate(row, kind, ceiling, None))
    return rows


def bench_gpu(args: argparse.Namespace) -> dict[str, Any]:
    if args.write_module_settings:
        settings = module_settings(args.module, threshold=args.threshold)
        args.write_module_settings.write_text(json.dumps(settings, indent=1, default=str))
        return settings
    import torch

    from pyuniproc.gpu.detector import GpuDetector, GpuEmbedder
    from pyuniproc.gpu.report import write_report
    from pyuniproc.gpu.shards import ShardPool, spec_dict
    from pyuniproc.gpu.stats import GpuSampler

    if args.make_video:
        print(f"encoding synthetic 1080p H.264 to {args.video} ...", flush=True)
        make_synthetic_video(args.video, frames=args.video_frames)
    if args.decoder == "nvdec" and not torch.cuda.is_available():
        raise RuntimeError("--decoder nvdec needs CUDA; use --decoder pyav for a CPU smoke run")
    sys.setswitchinterval(args.switch_interval_ms / 1000.0)
    streams = [int(s) for s in args.streams.split(",")]
    settings = module_settings(args.module, threshold=args.threshold)
    detectors = args.detectors.split(",") if args.detectors else [settings["detector"]]
    available = torch.cuda.device_count() if torch.cuda.is_available() else 0
    gpus = list(range(available)) if args.gpus == "all" else [int(g) for g in args.gpus.split(",")]
    if available and max(gpus) >= available:
        raise ValueError(f"--gpus {args.gpus}: only {available} GPU(s) visible")
    sampler = GpuSampler(gpus)
    command = args.command_line or " ".join(["pyuniproc", "bench-gpu", *sys.argv[1:]])
    arguments = {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items() if k != "func"}
    report: dict[str, Any] = {
        "command": command,
        "environment": environment(sampler),
        "video": str(args.video),
        "settings": arguments,
        "module_settings": settings,
        "gpus": gpus,
    }
    print(json.dumps(report["environment"]), flush=True)
    if args.parity and settings["reid_kind"]:
        report["parity"] = run_parity(
            args.video, args.decoder, detectors, settings["detector_options"], settings["reid_kind"]
        )
        print("parity:", json.dumps(report["parity"]), flush=True)
    report["decode_ceiling"] = []
    if args.ceiling_threads:
        for count in streams:
            row = measure_decode_ceiling(
                args.video, count, backend=args.decoder, seconds=args.seconds, warmup=args.warmup
            )
            row["layout"] = "threads, 1 process"
            report["decode_ceiling"].append(row)
            print("ceiling:", json.dumps(row), flush=True)
    frame_shape = frame_shape_of(args.video, args.decoder, args.frame_size)
    report["runs"] = []
    report["shards"] = {}
    for position, kind in enumerate(detectors):
        naive = {"fps_total": None}
        if args.naive:
            detector = GpuDetector(kind, model_dir=DETECTOR_DIR, **settings["detector_options"])
            embedder = GpuEmbedder(settings["reid_kind"], model_dir=REID_DIR) if args.reid != "off" else None
            naive = measure_naive(
                args.video,
                detector=detector,
                embedder=embedder,
                backend=args.decoder,
                seconds=args.seconds,
                settings=settings,
            )
            naive["detector"] = kind
            report["runs"].append(naive)
            print("naive:", json.dumps(naive), flush=True)
            del detector, embedder
            torch.cuda.empty_cache()
        spec = shard_spec(kind, args, frame_shape, settings)
        pool = ShardPool(spec, pool_processes(args), gpus=gpus)
        try:
            report["shards"][kind] = {"spec": spec_dict(spec), "workers": pool.info}
            print("shards:", json.dumps(report["shards"][kind], default=str), flush=True)
            layouts = []
            if position == 0 and args.ceiling_sharded:
                layouts.append((args.decoder, "decoders spread over worker processes"))
            if position == 0 and args.ceiling_native:
                layouts.append(("native", "native loop, spread over worker processes"))
            for backend, layout in layouts:
                for count in streams:
                    row = measure_decode_sharded(
                        pool,
                        args.video,
                        count,
                        processes_for(count, args),
                        backend=backend,
                        seconds=args.seconds,
                        warmup=args.warmup,
                    )
                    row["layout"] = layout
                    report["decode_ceiling"].append(row)
                    print("ceiling:", json.dumps(row), flush=True)
            ceiling = ceiling_by_streams(report["decode_ceiling"])
            report["runs"] += sweep(kind, args, pool, sampler, streams, ceiling, naive["fps_total"])
            if position == 0 and variant_counts(args.variant_streams):
                report["runs"] += variants(kind, args, pool, sampler, ceiling)
        finally:
            pool.close()
        write_report(report, args.out)  # a partial table survives a later failure
    write_report(report, args.out)
    return report


def ceiling_by_streams(rows: list[dict[str, Any]]) -> dict[int, float]:
    """The best decode-only fps measured for each stream count, whatever the layout."""
    best: dict[int, float] = {}
    for row in rows:
        best[row["streams"]] = max(best.get(row["streams"], 0.0), row["decode_fps"])
    return best


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
    parser.add_argument(
        "--detectors",
        default=None,
        help="comma-separated detector kinds (default: the module's, as `pyuniproc run` uses it)",
    )
    parser.add_argument(
        "--threshold",
        type=float,
        default=None,
        help="detector confidence threshold (default: the module's; an override is recorded in the results)",
    )
    parser.add_argument("--seconds", type=float, default=4.0, help="measurement window per configuration")
    parser.add_argument("--warmup", type=float, default=1.5, help="seconds run before each window")
    parser.add_argument(
        "--paced-fps", type=float, default=30.0, help="also run every count paced at this rate (0: skip)"
    )
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--max-batch-wait-ms", type=float, default=5.0)
    parser.add_argument(
        "--paced-batch-wait-ms",
        type=float,
        default=20.0,
        help="paced runs: how long a worker waits to fill a batch (live cameras trickle in)",
    )
    parser.add_argument("--workers", type=int, default=1, help="inference threads (and engines) per process")
    parser.add_argument(
        "--frame-buckets",
        default=None,
        help="comma-separated batch sizes with a captured detect graph, up to --batch-size (default: the "
        "engine's); a batch runs padded to the next one",
    )
    parser.add_argument(
        "--crop-buckets",
        default=None,
        help="comma-separated crop counts with a captured embed graph (default: the engine's; more crops "
        "run in chunks of the largest); smaller buckets need less GPU memory per engine",
    )
    parser.add_argument(
        "--decode-priority",
        default="normal",
        choices=("normal", "high"),
        help="CUDA stream priority of the NVDEC sessions: high keeps their frame mapping ahead of the "
        "detector's kernels (variant key decode_priority)",
    )
    parser.add_argument(
        "--sessions-per-decoder",
        type=int,
        default=1,
        help="cameras each decoder thread serves round robin (variant key sessions_per_decoder); "
        "fewer threads waiting in the driver cost less host CPU per frame",
    )
    parser.add_argument(
        "--decode-loop",
        default="auto",
        choices=("python", "native", "auto"),
        help="python: a decoder thread per camera over PyNvVideoCodec; native: the C loop of "
        "pyuniproc.gpu.native_nvdec (a few threads decode all cameras into the pool; reads the video's "
        ".h264 sibling); auto: native for unpaced runs of at most --native-max-streams per GPU, python "
        "otherwise. Paced runs always use python (variant key decode_loop)",
    )
    parser.add_argument(
        "--native-max-streams",
        type=int,
        default=32,
        help="--decode-loop auto: most streams per GPU for the native loop. Measured (benchmarks/gpu/"
        "README.md): on one H100 it leads at 32 streams (87-92 %% of the ceiling) and at 64 (3,966 vs "
        "3,329 frames/s) and loses at 96; on two H200s at 64 per GPU it stalled (639 frames/s), so the "
        "default stays at 32",
    )
    parser.add_argument(
        "--native-threads",
        type=int,
        default=6,
        help="C decoder threads per process of the native loop (variant key native_threads)",
    )
    parser.add_argument(
        "--ceiling-native",
        action="store_true",
        help="also measure the decode-only ceiling with the native loop (spread over the worker "
        "processes); the ceiling is the best of all layouts",
    )
    parser.add_argument(
        "--pool-frames",
        type=int,
        default=32,
        help="decoded frames a process may hold on the GPU (0: batch x (workers + 1)); in `max` runs "
        "the queue, hence the latency, grows with it",
    )
    parser.add_argument(
        "--no-blocking-sync",
        dest="blocking_sync",
        action="store_false",
        help="let CUDA spin-wait (its default) instead of sleeping in synchronize",
    )
    parser.add_argument("--processes", type=int, default=8, help="most worker processes (shards of cameras)")
    parser.add_argument(
        "--streams-per-process", type=int, default=4, help="cameras per worker process, up to --processes"
    )
    parser.add_argument(
        "--gpus", default="0", help="comma-separated GPU indices, or 'all'; workers alternate"
    )
    parser.add_argument(
        "--reid",
        default="scheduled",
        choices=("scheduled", "all", "off"),
        help="scheduled: the module's gate + schedule pick tracks to embed; all: every detection",
    )
    parser.add_argument(
        "--module",
        type=Path,
        default=REPO / "module" / "module.yml",
        help="module YAML: detector and its thresholds, tracker thresholds, ReID model and its gate/schedule",
    )
    parser.add_argument(
        "--variants",
        default="reid=all,reid=off,processes=1",
        help="changes measured at --variant-streams, comma-separated; settings joined by + change together "
        "(keys: " + ", ".join(VARIANT_KEYS) + ")",
    )
    parser.add_argument(
        "--variant-streams",
        default="64",
        help="comma-separated stream counts of the lever variants (first detector); 0 skips them",
    )
    parser.add_argument(
        "--no-ceiling-threads",
        dest="ceiling_threads",
        action="store_false",
        help="skip the one-process decode ceiling",
    )
    parser.add_argument(
        "--no-ceiling-sharded",
        dest="ceiling_sharded",
        action="store_false",
        help="skip the decode ceiling with decoders spread over the worker processes",
    )
    parser.add_argument(
        "--switch-interval-ms",
        type=float,
        default=1.0,
        help="Python's GIL switch interval; shorter lets inference threads in sooner",
    )
    parser.add_argument("--no-parity", dest="parity", action="store_false", help="skip the ORT parity check")
    parser.add_argument(
        "--no-naive", dest="naive", action="store_false", help="skip the naive one-stream baseline"
    )
    parser.add_argument(
        "--frame-size",
        default=None,
        help="WIDTHxHEIGHT of the video (default: read off its first frame with --decoder); with it and the "
        "native loop only, no Python decoder is opened",
    )
    parser.add_argument(
        "--write-module-settings",
        type=Path,
        default=None,
        help="write the settings read from --module as JSON to this path and stop (carry it to a machine "
        "without the runtime's packages and pass it as --module)",
    )
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
