#!/usr/bin/env python3
"""Make int8 copies of the person detectors for the CPU runtime, reproducibly, and record them.

Why: on a laptop or CI box the detector is most of the work per frame. Static int8 quantisation
(ONNX QDQ: per-channel int8 weights, uint8 activations calibrated on real frames) runs the same
network 1.5-1.8x faster in ONNX Runtime on x86 CPUs, with boxes that agree with the float model (see
`--check` figures below and benchmarks/cpu/README.md). The float files stay the reference and what
Savant/TensorRT builds its engines from; pyuniproc picks the int8 file on the CPU when
`parameters.pyuniproc.cpu_precision` is `int8`.

The weights of convolutions with group 1 use 7 of their 8 bits (`reduce_range`): on x86 CPUs without
VNNI (AVX2, early AVX-512), ONNX Runtime runs them as uint8 x int8 matrix products with `vpmaddubsw`,
which adds two products into a saturating 16-bit sum; 255 * 127 * 2 overflows it, 255 * 64 * 2 does
not. With 8-bit weights the int8 SSDLite's scores on an AVX2 CPU differed from the exact sums a VNNI
CPU computes by up to 0.41 (mean 0.07), and the quality gate's cam1 IDF1 by 0.05; now every x86 CPU
computes the same exact sums, at the same speed (scripts/probe_detector_numerics.py). Depthwise
convolutions keep 8 bits: their kernel widens each product to 32 bits, and 7 bits there cost SSDLite
accuracy (mean score change to fp32 0.055 instead of 0.031, gate IDF1 0.31 instead of 0.39).

What it does (~30 s on 2 cores):
1. verifies the committed float models against MODELS.json;
2. feeds CALIBRATION_FRAMES of samples/vtest/vtest.avi through the detector's own preprocessing
   (the same function the runtime uses) to ONNX Runtime's MinMax calibrator;
3. writes `<kind>_int8.onnx` next to the float file and an `int8` entry in that model's MODELS.json
   record (file, sha256, method, calibration frames, onnxruntime version);
4. with `--check`, compares float and int8 boxes on other frames of the clip and prints agreement.

Run in the project venv (needs the `onnx` package, e.g. `pip install onnx`):
    python scripts/quantize_models.py --check
Rerun after scripts/convert_models.py, which rewrites MODELS.json without the int8 entries.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

import av
import numpy as np
import onnxruntime as ort
from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static
from onnxruntime.quantization.shape_inference import quant_pre_process

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from pyuniproc.detect import DEFAULT_MODEL_DIR, box_iou, create_detector  # noqa: E402
from pyuniproc.detect.models import PROVENANCE_FILE, sha256_of  # noqa: E402

VIDEO = REPO / "samples" / "vtest" / "vtest.avi"
CALIBRATION_FRAMES = tuple(range(0, 795, 20))  # 40 frames spread over the whole clip
CHECK_FRAMES = tuple(range(10, 795, 20))  # the frames in between: never seen by calibration
KINDS = ("ssdlite_pedestrian", "nanodet_coco")


def read_frames(indices: tuple[int, ...]) -> list[np.ndarray]:
    """(H, W, 3) uint8 RGB frames of the sample clip at `indices`."""
    wanted, frames = set(indices), []
    with av.open(str(VIDEO)) as container:
        for index, frame in enumerate(container.decode(video=0)):
            if index in wanted:
                frames.append(frame.to_ndarray(format="rgb24"))
    return frames


class _Batches(CalibrationDataReader):
    def __init__(self, input_name: str, batches: list[np.ndarray]) -> None:
        self._feeds = iter([{input_name: batch} for batch in batches])

    def get_next(self) -> dict[str, np.ndarray] | None:
        return next(self._feeds, None)


def fold_float16_casts(source: Path, target: Path) -> None:
    """Replace `Cast(float16 initializer) -> float32` pairs by float32 initializers.

    NanoDet's converted file stores its weights in float16 behind Casts (lossless, half the size);
    the quantiser must see the float32 weights themselves, or it computes NaN scales for them.
    """
    import onnx
    from onnx import numpy_helper

    model = onnx.load(str(source))
    graph = model.graph
    initializers = {tensor.name: tensor for tensor in graph.initializer}
    for node in list(graph.node):
        if node.op_type != "Cast" or node.input[0] not in initializers:
            continue
        tensor = initializers[node.input[0]]
        if tensor.data_type != onnx.TensorProto.FLOAT16:
            continue
        weights = numpy_helper.to_array(tensor).astype(np.float32)
        graph.initializer.append(numpy_helper.from_array(weights, name=node.output[0]))
        graph.node.remove(node)
    used = {name for node in graph.node for name in node.input}
    for tensor in [t for t in graph.initializer if t.name not in used]:
        graph.initializer.remove(tensor)
    onnx.save(model, str(target))


def nodes_with_infinite_constants(path: Path) -> list[str]:
    """Nodes fed by a non-finite constant, e.g. NanoDet's max-pool Pad with value -inf: quantising
    their outputs gives infinite scales, so they stay in float."""
    import onnx
    from onnx import numpy_helper

    model = onnx.load(str(path))
    infinite = {t.name for t in model.graph.initializer if not np.isfinite(numpy_helper.to_array(t)).all()}
    return [node.name for node in model.graph.node if infinite.intersection(node.input)]


def gemm_weights(path: Path) -> list[str]:
    """Weights of the convolutions with group 1, which ONNX Runtime runs as u8s8 matrix products: the
    products whose pairwise 16-bit sums saturate on x86 CPUs without VNNI. Depthwise convolutions have
    their own kernel, which widens every product to 32 bits, so their weights keep all 8 bits. (Neither
    detector has MatMul or Gemm nodes; they would need the same.)"""
    import onnx

    model = onnx.load(str(path))
    if any(node.op_type in ("MatMul", "Gemm") for node in model.graph.node):
        raise RuntimeError(f"{path}: MatMul/Gemm weights would need 7 bits too; add them here")
    initializers = {tensor.name for tensor in model.graph.initializer}
    names = []
    for node in model.graph.node:
        group = next((attr.i for attr in node.attribute if attr.name == "group"), 1)
        if node.op_type == "Conv" and group == 1 and node.input[1] in initializers:
            names.append(node.input[1])
    return names


def quantize(kind: str, frames: list[np.ndarray], model_dir: Path) -> dict:
    detector = create_detector(kind, model_dir=model_dir)  # verifies the float file's sha256
    source = detector.model_path
    target = model_dir / f"{kind}_int8.onnx"
    with tempfile.TemporaryDirectory(prefix="quantize-") as temp:
        float32 = Path(temp) / "float32.onnx"
        fold_float16_casts(source, float32)
        prepared = Path(temp) / "prepared.onnx"
        # ONNX shape inference + graph cleanup first (the symbolic pass trips on NanoDet's fp16 Casts).
        quant_pre_process(str(float32), str(prepared), skip_symbolic_shape=True)
        reader = _Batches(detector.input_name, [detector.preprocess([frame]) for frame in frames])
        quantize_static(
            str(prepared),
            str(target),
            reader,
            quant_format=QuantFormat.QDQ,
            per_channel=True,
            activation_type=QuantType.QUInt8,
            weight_type=QuantType.QInt8,
            nodes_to_exclude=nodes_with_infinite_constants(prepared),
            # 7-bit weights where products are summed in pairs (above); the rest keep 8 bits.
            extra_options={"TensorQuantOverrides": {
                name: [{"reduce_range": True, "axis": 0}] for name in gemm_weights(prepared)
            }},
        )
    return {
        "file": target.name,
        "sha256": sha256_of(target),
        "method": "onnxruntime quantize_static, QDQ, per-channel int8 weights (7 bits, reduce_range, for "
        "the convolutions with group 1 and matrix products; 8 bits for depthwise ones), uint8 activations, "
        "MinMax calibration",
        "calibration": {
            "video": str(VIDEO.relative_to(REPO)),
            "frames": list(CALIBRATION_FRAMES),
            "preprocessing": f"pyuniproc {kind} preprocess (the runtime's)",
        },
        "quantized_with": {"onnxruntime": ort.__version__},
        "float_sha256": sha256_of(source),
    }


def check(kind: str, model_dir: Path, frames: list[np.ndarray]) -> str:
    """Float vs int8 on frames calibration never saw: boxes >= 0.5 found by both, score difference."""
    float_detector = create_detector(kind, model_dir=model_dir, confidence_threshold=0.3)
    int8_detector = create_detector(kind, model_dir=model_dir, confidence_threshold=0.3, precision="int8")
    found = agreed = 0
    score_gaps: list[float] = []
    for frame in frames:
        reference, quantized = float_detector.detect([frame])[0], int8_detector.detect([frame])[0]
        confident = reference.confidence >= 0.5
        found += int(confident.sum())
        if len(reference) and len(quantized):
            overlap = box_iou(reference.xyxy, quantized.xyxy)
            best = overlap.argmax(axis=1)
            matched = overlap[np.arange(len(reference)), best] > 0.7
            agreed += int((matched & confident).sum())
            score_gaps += list(np.abs(reference.confidence[matched] - quantized.confidence[best[matched]]))
    gaps = np.asarray(score_gaps) if score_gaps else np.zeros(1)
    return (
        f"{kind}: {agreed}/{found} float boxes >= 0.5 found by int8 (IoU > 0.7); |score difference| "
        f"mean {gaps.mean():.3f}, p95 {np.percentile(gaps, 95):.3f} on {len(frames)} unseen frames"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--model-dir", type=Path, default=DEFAULT_MODEL_DIR)
    parser.add_argument("--check", action="store_true", help="compare float and int8 boxes afterwards")
    args = parser.parse_args()
    provenance_path = args.model_dir / PROVENANCE_FILE
    provenance = json.loads(provenance_path.read_text())
    calibration = read_frames(CALIBRATION_FRAMES)
    for kind in KINDS:
        entry = quantize(kind, calibration, args.model_dir)
        provenance["models"][kind]["int8"] = entry
        size_mb = (args.model_dir / entry["file"]).stat().st_size / 1e6
        print(f"{kind}: {entry['file']} {size_mb:.1f} MB sha256 {entry['sha256']}")
    provenance["regenerate"] = (
        "python scripts/convert_models.py (in the venv of scripts/requirements-convert.txt), "
        "then python scripts/quantize_models.py for the int8 copies"
    )
    provenance_path.write_text(json.dumps(provenance, indent=2) + "\n")
    if args.check:
        unseen = read_frames(CHECK_FRAMES)
        for kind in KINDS:
            print(check(kind, args.model_dir, unseen))


if __name__ == "__main__":
    main()
