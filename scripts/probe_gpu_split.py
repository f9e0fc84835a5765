"""Where the GPU's time goes per frame, and what decode and inference cost each other (one H100, MPS).

    python scripts/probe_gpu_split.py phases --video clip.mp4 [--compile]
        One process: each part of a batch captured as its own CUDA graph and replayed alone (NV12 -> net
        input, detector net, fixed-shape decode + NMS, the whole detect step, the embed step), GPU ms per
        batch and per frame; with --compile the same parts built with torch.compile (default mode) and
        captured the same way, with their compile time and largest difference from the plain graphs.
    python scripts/probe_gpu_split.py share --video clip.mp4 --configs D4x8,I8,D4x8+I8,...
        Decode-only processes (the native NVDEC loop, frames handed back at once) and inference-only
        processes (load 32 frames -> detect -> boxes to the host -> embed 27 boxes, back to back) started
        together; frames/s of each side in one window. Config items joined by "+": DPxS[h] = P decode
        processes x S sessions (h: high-priority streams), IP[c] = P inference processes (c: compiled).

Prints one JSON line per measurement. Frames are real: the clip's first 64 frames decoded by the native loop.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import threading
import time

FRAME_SHAPE = (1080 * 3 // 2, 1920)


def _models():
    from pyuniproc.bench.gpu import DETECTOR_DIR, REID_DIR, module_settings
    from pyuniproc.gpu.detector import GpuDetector, GpuEmbedder

    settings = module_settings(__import__("pathlib").Path("module/module.yml"))
    detector = GpuDetector(settings["detector"], model_dir=DETECTOR_DIR, **settings["detector_options"])
    embedder = GpuEmbedder(settings["reid_kind"], model_dir=REID_DIR)
    return detector, embedder


def _real_frames(video: str, count: int = 64):
    """(count, 1620, 1920) uint8 NV12 on the GPU: the clip's first frames, via the native loop."""
    import torch

    from pyuniproc.gpu.native_nvdec import NativeNvdecGroup, annexb_for

    data, codec = annexb_for(video)
    pool = torch.empty((count, *FRAME_SHAPE), dtype=torch.uint8, device="cuda")
    group = NativeNvdecGroup([data], pool, threads=1, codec=codec, loop=False)
    group.start()
    got = 0
    while got < count:
        rows = group.wait_ready(count, 2.0, 0.0)
        if not len(rows):
            raise RuntimeError("the clip gave fewer frames than asked for")
        got += len(rows)  # slots are not released: each holds one frame, in decode order
    group.stop()
    torch.cuda.synchronize()
    group.close()
    return pool


def _time_graph(graph, replays: int = 100) -> float:
    """GPU ms per replay (CUDA events around `replays` back-to-back replays)."""
    import torch

    for _ in range(5):
        graph.replay()
    start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    start.record()
    for _ in range(replays):
        graph.replay()
    end.record()
    end.synchronize()
    return start.elapsed_time(end) / replays


def _functions(engine, n: int) -> dict:
    """The detect step split at its seams: pre (NV12 -> net input), net, decode (fixed-shape decode + NMS,
    kept boxes compacted into the engine's static buffers), step (all three)."""
    import torch

    from pyuniproc.gpu.static_decode import decode_ssd_static

    detector = engine.detector

    def pre(frames):
        return detector.preprocess_nv12(frames).contiguous(memory_format=torch.channels_last)

    def decode(box_encodings, class_logits):
        return decode_ssd_static(
            box_encodings,
            class_logits,
            detector.anchors,
            engine.sizes[:n],
            scale_factors=detector.scale_factors,
            confidence_threshold=detector.confidence_threshold,
            nms_iou_threshold=detector.nms_iou_threshold,
            min_width=detector.min_width,
            min_height=detector.min_height,
            max_detections=engine.max_detections,
            candidates=engine.candidates,
            out_boxes=engine.boxes,
            out_frame=engine.box_frame,
        ).rows

    net = detector.net.module
    return {"pre": pre, "net": net, "decode": decode, "step": lambda frames: decode(*net(pre(frames)))}


def _parts(engine, n: int, functions: dict) -> dict:
    """phase name -> zero-argument step over the engine's static buffers."""
    frames = engine.frames[:n]
    net_input = functions["pre"](frames)
    raw = functions["net"](net_input)
    return {
        "preprocess": lambda: (functions["pre"](frames),),
        "net": lambda: tuple(functions["net"](net_input)),
        "decode_nms": lambda: (functions["decode"](raw[0], raw[1]),),
        "detect_step": lambda: (functions["step"](frames),),
    }


def phases(args: argparse.Namespace) -> None:
    from pyuniproc.gpu.cuda_flags import prefer_blocking_sync

    prefer_blocking_sync()
    import torch

    from pyuniproc.gpu.engine import BatchEngine, capture

    detector, embedder = _models()
    pool = _real_frames(args.video)
    engine = BatchEngine(detector, embedder, FRAME_SHAPE, frame_buckets=(32, 64), crop_buckets=(32,))
    engine.load(pool, torch.arange(64, device="cuda"))
    side = torch.cuda.Stream()
    for n in (32, 64):
        detections, kept, _ = engine.detect_frames(n)
        for name, step in _parts(engine, n, _functions(engine, n)).items():
            graph, _ = capture(step, engine.device, None, side)
            ms = _time_graph(graph)
            print(
                json.dumps(
                    {
                        "phase": name,
                        "batch": n,
                        "gpu_ms_per_batch": round(ms, 3),
                        "gpu_us_per_frame": round(1000 * ms / n, 1),
                    }
                ),
                flush=True,
            )
        graph, _ = engine._detect_graphs[n]
        ms = _time_graph(graph)
        print(
            json.dumps(
                {
                    "phase": "engine_detect_graph",
                    "batch": n,
                    "gpu_ms_per_batch": round(ms, 3),
                    "gpu_us_per_frame": round(1000 * ms / n, 1),
                    "kept_boxes": kept,
                    "detections_per_frame": round(sum(len(d) for d in detections) / n, 2),
                }
            ),
            flush=True,
        )
    graph, _ = engine._embed_graphs[32]
    ms = _time_graph(graph)
    print(
        json.dumps(
            {
                "phase": "engine_embed_graph",
                "crops": 32,
                "gpu_ms_per_batch": round(ms, 3),
                "gpu_us_per_crop": round(1000 * ms / 32, 1),
            }
        ),
        flush=True,
    )
    ms = _time_load(engine, pool)
    print(json.dumps({"phase": "load_32_frames", "gpu_ms_per_batch": round(ms, 3)}), flush=True)
    extras(engine, side)
    if not args.compile:
        return
    n = 32
    plain = {
        name: tuple(t.clone() for t in step())
        for name, step in _parts(engine, n, _functions(engine, n)).items()
    }
    torch.cuda.synchronize()
    started = time.perf_counter()
    try:
        compiled = {name: torch.compile(fn, dynamic=False) for name, fn in _functions(engine, n).items()}
        for name, step in _parts(engine, n, compiled).items():
            t0 = time.perf_counter()
            graph, outputs = capture(step, engine.device, None, side)
            compile_s = time.perf_counter() - t0
            ms = _time_graph(graph)
            graph.replay()
            torch.cuda.synchronize()
            difference = max(
                float((a.float() - b.float()).abs().max()) for a, b in zip(outputs, plain[name], strict=True)
            )
            print(
                json.dumps(
                    {
                        "phase": name + "_compiled",
                        "batch": n,
                        "gpu_ms_per_batch": round(ms, 3),
                        "gpu_us_per_frame": round(1000 * ms / n, 1),
                        "capture_and_compile_s": round(compile_s, 1),
                        "max_abs_difference": difference,
                    }
                ),
                flush=True,
            )
    except Exception as error:  # a probe: report and go on
        print(json.dumps({"phase": "compile", "error": f"{type(error).__name__}: {error}"[:2000]}))
    print(json.dumps({"phase": "compile_total_s", "seconds": round(time.perf_counter() - started, 1)}))


def _report(phase: str, ms: float, rows: int, **more) -> None:
    print(
        json.dumps(
            {
                "phase": phase,
                "rows": rows,
                "gpu_ms_per_batch": round(ms, 3),
                "gpu_us_per_row": round(1000 * ms / rows, 1),
                **more,
            }
        ),
        flush=True,
    )


def extras(engine, side) -> None:
    """Image kernels torch vs Triton, the embed step's parts, and cuDNN settings for the detector net."""
    import copy

    import torch

    from pyuniproc.gpu import onnx_torch, triton_image
    from pyuniproc.gpu.engine import capture
    from pyuniproc.gpu.image import nv12_crops, nv12_resize_legacy

    detector, embedder = engine.detector, engine.embedder
    frames = engine.frames[:32]
    size, matrix = detector.input_size, detector.colour_matrix
    bias = detector.bias_values
    steps = {
        "preprocess_torch": lambda: (
            detector._normalise(nv12_resize_legacy(frames, size, matrix)).contiguous(
                memory_format=torch.channels_last
            ),
        ),
        "preprocess_triton": lambda: (
            triton_image.nv12_resize_normalised(
                frames, size, detector.scale, bias, detector.net.dtype, matrix
            ),
        ),
    }
    for name, step in steps.items():
        graph, out = capture(step, engine.device, None, side)
        _report(name, _time_graph(graph), 32)
    a = steps["preprocess_torch"]()[0].float()
    b = steps["preprocess_triton"]()[0].float()
    print(
        json.dumps(
            {
                "phase": "preprocess_difference",
                "max_abs": float((a - b).abs().max()),
                "fraction_differing": float((a != b).float().mean()),
            }
        ),
        flush=True,
    )
    boxes = torch.tensor([[600.0 + 10 * i, 300.0, 680.0 + 10 * i, 500.0] for i in range(32)], device="cuda")
    index = torch.arange(32, device="cuda") % 32
    offsets = embedder.offset_values
    h, w = embedder.input_height, embedder.input_width
    crop_steps = {
        "crops_torch": lambda: (
            (
                ((nv12_crops(frames, index, boxes, h, w, matrix) - embedder.offsets) * embedder.scale).to(
                    embedder.net.dtype
                )
            ).contiguous(memory_format=torch.channels_last),
        ),
        "crops_triton": lambda: (
            triton_image.nv12_crops_normalised(
                frames, index, boxes, h, w, offsets, embedder.scale, embedder.net.dtype, matrix
            ),
        ),
    }
    for name, step in crop_steps.items():
        graph, _ = capture(step, engine.device, None, side)
        _report(name, _time_graph(graph), 32)
    crops = crop_steps["crops_triton"]()[0]
    graph, _ = capture(lambda: tuple(embedder.net.module(crops)), engine.device, None, side)
    _report("embed_net", _time_graph(graph), 32)

    net_input = steps["preprocess_triton"]()[0]
    module = detector.net.module
    graph, _ = capture(lambda: tuple(module(net_input)), engine.device, None, side)
    _report("net_default", _time_graph(graph), 32)
    torch.backends.cudnn.benchmark = True
    graph, _ = capture(lambda: tuple(module(net_input)), engine.device, None, side)
    _report("net_cudnn_benchmark", _time_graph(graph), 32)
    nchw = copy.deepcopy(module)
    for name, buffer in list(nchw.named_buffers(recurse=False)):
        if buffer.dim() == 4:
            setattr(nchw, name, buffer.contiguous())
    plain_input = net_input.contiguous()
    graph, _ = capture(lambda: tuple(nchw(plain_input)), engine.device, None, side)
    _report("net_nchw_cudnn_benchmark", _time_graph(graph), 32)
    clip = onnx_torch.OPS["Clip"]
    onnx_torch.OPS["Clip"] = lambda node, x, low=None, high=None: x.clamp_(0.0, 6.0)  # ssdlite: relu6 only
    graph, _ = capture(lambda: tuple(module(net_input)), engine.device, None, side)
    _report("net_inplace_relu6_cudnn_benchmark", _time_graph(graph), 32)
    onnx_torch.OPS["Clip"] = clip
    torch.backends.cudnn.benchmark = False


def _time_load(engine, pool) -> float:
    import torch

    slots = torch.arange(32, device="cuda")
    for _ in range(3):
        engine.load(pool, slots)
    start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    start.record()
    for _ in range(50):
        engine.load(pool, slots)
    end.record()
    end.synchronize()
    return start.elapsed_time(end) / 50


# --- share: decode and inference processes side by side -----------------------------------------------------
def _decode_worker(video: str, sessions: int, high: bool, go, seconds: float, out) -> None:
    from pyuniproc.gpu.cuda_flags import prefer_blocking_sync

    prefer_blocking_sync()
    import torch

    from pyuniproc.gpu.native_nvdec import NativeNvdecGroup, annexb_for

    data, codec = annexb_for(video)
    pool = torch.empty((32, *FRAME_SHAPE), dtype=torch.uint8, device="cuda")
    group = NativeNvdecGroup(
        [data] * sessions, pool, threads=2, codec=codec, poll=True, priority="high" if high else "normal"
    )
    stop = threading.Event()

    def drain() -> None:
        while not stop.is_set():
            rows = group.wait_ready(32, 0.1, 0.0)
            if len(rows):
                group.release(rows["slot"])

    out.put(("ready", 0))
    start = _wait_for_go(go)
    group.start()
    drainer = threading.Thread(target=drain, daemon=True)
    drainer.start()
    time.sleep(max(0.0, start - time.perf_counter()))
    first = int(group.status()[0].sum())
    time.sleep(max(0.0, start + seconds - time.perf_counter()))
    last = int(group.status()[0].sum())
    stop.set()
    drainer.join()
    group.stop()
    group.close()
    out.put(("decode", last - first))


def _infer_worker(video: str, compiled: bool, go, seconds: float, out) -> None:
    from pyuniproc.gpu.cuda_flags import prefer_blocking_sync

    prefer_blocking_sync()
    import numpy as np
    import torch

    import pyuniproc.gpu.engine as engine_module
    from pyuniproc.gpu.engine import BatchEngine

    torch.set_num_threads(1)
    detector, embedder = _models()
    if compiled:  # every part of the detect step compiled (the phases run filled the compile cache)
        detector.net.module = torch.compile(detector.net.module, dynamic=False)
        detector.preprocess_nv12 = torch.compile(detector.preprocess_nv12, dynamic=False)
        engine_module.decode_ssd_static = torch.compile(engine_module.decode_ssd_static, dynamic=False)
    pool = _real_frames(video)
    engine = BatchEngine(detector, embedder, FRAME_SHAPE, frame_buckets=(32,), crop_buckets=(32,))
    out.put(("ready", 0))
    start = _wait_for_go(go)
    slots = torch.arange(32, device="cuda")
    rows = np.arange(27) % 32
    boxes = np.tile(np.array([[600.0, 300.0, 680.0, 500.0]], dtype=np.float32), (27, 1))
    frames = 0
    counting = False
    while True:
        now = time.perf_counter()
        if not counting and now >= start:
            counting, frames = True, 0
        if now >= start + seconds:
            break
        engine.load(pool, slots)
        engine.detect_frames(32)
        engine.embed_rows(rows, boxes)
        frames += 32
    out.put(("infer", frames if counting else 0))


def _wait_for_go(go) -> float:
    while go.value == 0.0:
        time.sleep(0.01)
    return go.value


def share(args: argparse.Namespace) -> None:
    context = mp.get_context("spawn")
    for config in args.configs.split(","):
        procs, out = [], context.Queue()
        go = context.Value("d", 0.0)  # the window's start, set once every process is built
        for item in config.split("+"):
            if item.startswith("D"):
                count, sessions = item[1:].rstrip("h").split("x")
                for _ in range(int(count)):
                    procs.append(
                        context.Process(
                            target=_decode_worker,
                            args=(args.video, int(sessions), item.endswith("h"), go, args.seconds, out),
                        )
                    )
            else:
                for _ in range(int(item[1:].rstrip("c"))):
                    procs.append(
                        context.Process(
                            target=_infer_worker,
                            args=(args.video, item.endswith("c"), go, args.seconds, out),
                        )
                    )
        for p in procs:
            p.start()
        for _ in procs:  # every process built (and compiled) its part
            out.get(timeout=400)
        go.value = time.perf_counter() + args.warmup
        results = [out.get(timeout=120) for _ in procs]
        for p in procs:
            p.join(timeout=30)
        total = {"decode": 0, "infer": 0}
        for kind, frames in results:
            total[kind] += frames
        print(
            json.dumps(
                {
                    "config": config,
                    "decode_fps": round(total["decode"] / args.seconds),
                    "infer_fps": round(total["infer"] / args.seconds),
                }
            ),
            flush=True,
        )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("mode", choices=["phases", "share"])
    parser.add_argument("--video", required=True)
    parser.add_argument("--compile", action="store_true")
    parser.add_argument("--configs", default="D4x8,I8,D4x8+I8,D4x8h+I8")
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--warmup", type=float, default=2.0)
    args = parser.parse_args()
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    (phases if args.mode == "phases" else share)(args)


if __name__ == "__main__":
    main()
