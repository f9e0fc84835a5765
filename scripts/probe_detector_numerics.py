#!/usr/bin/env python3
"""How much the detectors' boxes move with the things that differ between machines, and what int8 costs.

ONNX Runtime picks its kernels by the CPU it runs on (MLAS reads CPUID; there is no switch to make it
use another instruction set), so another CPU cannot be imitated here. What can be measured on one
machine, on `--frames` frames of vtest.avi spread over the clip, each against the same reference:

- int8 vs fp32: what the quantised model changes at all;
- int8 vs int8 with `session.x64quantprecision=1`: MLAS's u8s8 kernels on CPUs without VNNI (AVX2,
  AVX-512 before Cascade Lake) multiply with `vpmaddubsw`, whose 16-bit pair sums saturate; this option
  widens the products to 16 bits first, i.e. the exact integer sums a VNNI CPU computes. The gap between
  the two is the int8 result's dependence on the CPU;
- fp32 with ONNX Runtime's graph optimisations off vs on: other kernels and another summation order,
  the size of float rounding differences between CPUs;
- the same model with +-0.02 levels of noise on its input (the OpenCV resize's error was 0.014): how
  much an input difference at the rounding level is amplified.

For each: confident boxes (score >= 0.5 in the reference) matched at IoU >= 0.5, the smallest IoU of a
match, the largest and mean score change. And the CPU time of one single-threaded inference per session.

    .venv/bin/python scripts/probe_detector_numerics.py [--frames 40] [--json out/probe_detector.json]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import av
import numpy as np
import onnxruntime as ort

from pyuniproc.bench.machine import machine_info
from pyuniproc.detect import DEFAULT_MODEL_DIR, OnnxDetector, box_iou, create_detector
from pyuniproc.types import Detections

REPO = Path(__file__).resolve().parents[1]
VTEST = REPO / "samples" / "vtest" / "vtest.avi"
KINDS = ("ssdlite_pedestrian", "nanodet_coco")


def read_frames(count: int) -> list[np.ndarray]:
    """`count` RGB frames spread evenly over vtest.avi (795 frames)."""
    wanted = set(np.linspace(0, 790, count).astype(int).tolist())
    frames = []
    with av.open(str(VTEST)) as container:
        for index, frame in enumerate(container.decode(video=0)):
            if index in wanted:
                frames.append(frame.to_ndarray(format="rgb24"))
            if len(frames) == len(wanted):
                break
    return frames


def session(detector: OnnxDetector, **config: str) -> ort.InferenceSession:
    """A single-threaded session of the detector's model file with extra config entries; `optimise`
    "0" turns ONNX Runtime's graph optimisations off."""
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    if config.pop("optimise", "1") == "0":
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    for key, value in config.items():
        options.add_session_config_entry(key, value)
    return ort.InferenceSession(
        str(detector.model_path), sess_options=options, providers=["CPUExecutionProvider"]
    )


def compare(reference: list[Detections], other: list[Detections]) -> dict[str, float]:
    """How `other` differs from `reference` on the reference's confident boxes."""
    confident = matched = 0
    ious: list[float] = []
    score_changes: list[float] = []
    for ref, oth in zip(reference, other, strict=True):
        sure = ref.confidence >= 0.5
        confident += int(sure.sum())
        if not sure.any() or len(oth) == 0:
            continue
        iou = box_iou(ref.xyxy[sure], oth.xyxy)
        best, best_iou = iou.argmax(axis=1), iou.max(axis=1)
        found = best_iou >= 0.5
        matched += int(found.sum())
        ious += best_iou[found].tolist()
        score_changes += np.abs(ref.confidence[sure][found] - oth.confidence[best[found]]).tolist()
    return {
        "confident": confident,
        "matched": matched,
        "min_iou": round(min(ious), 4) if ious else float("nan"),
        "max_score_change": round(max(score_changes), 4) if score_changes else float("nan"),
        "mean_score_change": round(statistics.fmean(score_changes), 5) if score_changes else float("nan"),
    }


def cpu_ms_per_frame(run: Callable[[np.ndarray], object], batch: np.ndarray, repeats: int = 3) -> float:
    """Best of `repeats` passes over the frames one at a time: CPU ms per frame (the process's CPU time,
    which a shared machine's other jobs disturb far less than wall time; the sessions use one thread)."""
    best = float("inf")
    for _ in range(repeats):
        started = time.process_time()
        for index in range(len(batch)):
            run(batch[index : index + 1])
        best = min(best, (time.process_time() - started) / len(batch))
    return round(best * 1e3, 2)


def probe_kind(kind: str, frames: list[np.ndarray], model_dir: Path) -> list[dict]:
    sizes = [frame.shape[:2] for frame in frames]
    fp32 = create_detector(kind, model_dir=model_dir, confidence_threshold=0.3)
    int8 = create_detector(kind, model_dir=model_dir, confidence_threshold=0.3, precision="int8")
    net_input = fp32.preprocess(frames)
    noise = np.random.default_rng(0).uniform(-0.02, 0.02, net_input.shape).astype(np.float32) * fp32.scale
    sessions = {
        "fp32": (fp32, session(fp32)),
        "fp32, graph optimisations off": (fp32, session(fp32, optimise="0")),
        "int8": (int8, session(int8)),
        "int8, exact products (x64quantprecision)": (
            int8, session(int8, **{"session.x64quantprecision": "1"})
        ),
    }

    def detect(name: str, batch: np.ndarray) -> list[Detections]:
        detector, sess = sessions[name]
        raw = [sess.run(detector.output_names, {detector.input_name: batch[i : i + 1]})
               for i in range(len(batch))]
        outputs = [np.concatenate(parts) for parts in zip(*raw, strict=True)]
        return detector.postprocess(outputs, sizes)

    results = {name: detect(name, net_input) for name in sessions}
    rows = []
    for name, reference, other in (
        ("int8 vs fp32", "fp32", results["int8"]),
        ("int8 vs int8 with exact products (CPU without vs with VNNI)", "int8",
         results["int8, exact products (x64quantprecision)"]),
        ("fp32 vs fp32 with graph optimisations off (float rounding)", "fp32",
         results["fp32, graph optimisations off"]),
        ("fp32, input +-0.02 levels", "fp32", detect("fp32", net_input + noise)),
        ("int8, input +-0.02 levels", "int8", detect("int8", net_input + noise)),
    ):
        rows.append({"kind": kind, "comparison": name, **compare(results[reference], other)})
    for name, (detector, sess) in sessions.items():
        def run(batch: np.ndarray, detector: OnnxDetector = detector,
                sess: ort.InferenceSession = sess) -> object:
            return sess.run(detector.output_names, {detector.input_name: batch})

        cpu_ms = cpu_ms_per_frame(run, net_input[:20])
        rows.append({"kind": kind, "session": name, "cpu_ms_per_frame": cpu_ms})
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=40)
    parser.add_argument("--model-dir", type=Path, default=DEFAULT_MODEL_DIR)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    frames = read_frames(args.frames)
    rows = [row for kind in KINDS for row in probe_kind(kind, frames, args.model_dir)]
    machine = machine_info()
    print(f"{machine['cpu_model']}; ISA: {' '.join(machine['isa'])}; onnxruntime {ort.__version__}")
    for row in rows:
        if "comparison" in row:
            print(f"{row['kind']:18} {row['comparison']:62} matched {row['matched']}/{row['confident']}  "
                  f"min IoU {row['min_iou']:.3f}  score change max {row['max_score_change']:.4f} "
                  f"mean {row['mean_score_change']:.5f}")
        else:
            print(f"{row['kind']:18} {row['session']:62} {row['cpu_ms_per_frame']:.2f} CPU ms/frame")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        document = {"machine": machine, "frames": args.frames, "rows": rows}
        args.json.write_text(json.dumps(document, indent=1) + "\n")


if __name__ == "__main__":
    main()
