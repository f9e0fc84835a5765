#!/usr/bin/env python3
"""Adapt the ImageNet MobileNetV2 embedder to people, on generated scenarios of training identities only.

Why: no person-ReID weights ship in any reachable package, and the ImageNet features barely tell
people apart (same person ~0.78-0.93 cosine, different people ~0.70-0.84). The scenario generator
knows who everyone is, so its ground truth labels appearance data exactly; its `--split train`
scenarios use only the people first seen in the first half of vtest.avi, so the people of the second
half ("test" sprites) stay unseen and measure what the adaptation learned, not what it memorised.

What it does (about 6 minutes on 2 shared cores, 2 with the scenarios already rendered; nothing
downloads; same inputs -> the same file, byte for byte, on this machine):
1. checks the base model (`mobilenetv2_imagenet.onnx`, sha256 from MODELS.json);
2. renders `--seeds` scenarios with `--split train` into `--work-dir` (reused when their
   scenario.json already records the same arguments and generator version);
3. cuts the GT crops the runtime would embed (`pyuniproc.reid.scenario_crops`: QualityGate on the GT
   boxes, `crop_boxes`, the embedder's own preprocessing), at slightly jittered boxes, since
   detector boxes are never exact (measured: as good as exact boxes on detector crops, never worse);
4. runs the base network extended by a colour descriptor (mean RGB of 8 horizontal stripes of the
   net input: where the ImageNet feature is weakest, clothes colour by body height) and fits Fisher's
   linear discriminant on [1280-d unit feature, 24 colour values / 255]: the directions in which
   people differ most relative to how one person varies (pose, light, camera, box), with the
   within-person scatter shrunk towards a multiple of the identity (`--shrinkage`) because ~160
   appearances cannot estimate a 1304x1304 covariance. One class = one appearance: a sprite in all
   scenarios, or a recoloured copy (lookalike) within its scenario;
5. writes `mobilenetv2_person_adapted.onnx`: the base graph unchanged, then Concat, MatMul, Add (the
   centring), L2 normalisation -- one file for nvinfer and pyuniproc, same input and preprocessing,
   output `embedding` [batch, `--dims`]; checks it against the numpy projection;
6. adds its entry to MODELS.json (base sha256, generator version, seeds, split, identities, method,
   sizes, sha256 of the new file) and, unless --no-eval, runs benchmarks/reid/compare.py (before vs
   after on held-out identities).

Run it in the project venv with the `onnx` package (the `gpu` extra has it; torch is not needed):
    python scripts/adapt_reid.py                       # seeds 101-108, split train
    python scripts/adapt_reid.py --seeds 101-104 --work-dir /tmp/adapt-reid --no-eval
"""

from __future__ import annotations

import argparse
import hashlib
import json
import platform
import sys
import time
from dataclasses import asdict
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # pyuniproc from this checkout: the runtime's own crops and preprocessing

from pyuniproc import __version__ as PYUNIPROC_VERSION  # noqa: E402
from pyuniproc.reid import DEFAULT_MODEL_DIR, create_embedder  # noqa: E402
from pyuniproc.reid.scenario_crops import ScenarioCrops, collect_scenario_crops  # noqa: E402
from pyuniproc.scenario import ScenarioSpec, generate  # noqa: E402
from pyuniproc.scenario.generate import GENERATOR_VERSION  # noqa: E402

BASE_KIND = "mobilenetv2_imagenet"
KIND = "mobilenetv2_person_adapted"
STRIPES = 8  # horizontal colour stripes of the 256x128 input, 32 rows each
COLOUR_SCALE = 1.0 / 255.0  # colour means (pixels minus the ImageNet offsets) to about unit range
L2_EPS = 1e-12
SCENARIO = {"cameras": 4, "people": 40, "distractors": 6, "seconds": 60.0, "overlaps": 1}
"""Training scenario shape: 40 people over 22 train sprites -> 18 recoloured copies + 6 lookalikes per
seed, i.e. ~20 new appearances each seed besides the 22 sprites."""


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def parse_seeds(text: str) -> list[int]:
    """"101-108" or "101,103,105" or a mix -> sorted unique ints."""
    seeds: set[int] = set()
    for part in text.split(","):
        first, _, last = part.strip().partition("-")
        seeds.update(range(int(first), int(last or first) + 1))
    return sorted(seeds)


# ---------------------------------------------------------------- data
def ensure_scenario(spec: ScenarioSpec, out: Path) -> Path:
    """Render `spec` into `out` unless it is already there with the same arguments and generator."""
    recorded = out / "scenario.json"
    if recorded.exists():
        doc = json.loads(recorded.read_text())
        if (doc.get("spec") == asdict(spec) and doc.get("generator_version") == GENERATOR_VERSION
                and (out / "README").exists()):  # written last
            return out
    generate(spec, out, show_progress=False)
    return out


def training_spec(seed: int, split: str) -> ScenarioSpec:
    return ScenarioSpec(seed=seed, split=split, **SCENARIO)


# ---------------------------------------------------------------- graph
def _node(op: str, inputs: list[str], output: str, **attrs) -> onnx.NodeProto:
    return helper.make_node(op, inputs, [output], name=output, **attrs)


def extended_graph(base: onnx.ModelProto, projection: np.ndarray | None = None,
                   bias: np.ndarray | None = None) -> onnx.ModelProto:
    """The base graph plus the colour stripes; then either output their concatenation with the base
    embedding (`reid_input`, [batch, 1304]: what the projection is fitted on) or, given a projection,
    the adapted unit embedding (`embedding`, [batch, D])."""
    model = onnx.ModelProto()
    model.CopyFrom(base)
    graph = model.graph
    (last,) = [n for n in graph.node if list(n.output) == ["embedding"]]
    last.output[0] = last.name = "base_embedding"
    # Stripe means as Reshape + ReduceMean (not AveragePool): ops every runtime of ours has, the
    # torch one in pyuniproc/gpu included. [batch, 3, H, W] -> [batch, 3, STRIPES, H/STRIPES*W] -> mean.
    graph.initializer.append(numpy_helper.from_array(np.array([0, 3, STRIPES, -1], np.int64), "colour.shape"))
    nodes = [
        _node("Reshape", ["crop", "colour.shape"], "colour.stripes"),
        _node("ReduceMean", ["colour.stripes"], "colour.means", axes=[3], keepdims=0),
        _node("Flatten", ["colour.means"], "colour", axis=1),  # [batch, 3 * STRIPES], channel-major
        _node("Concat", ["base_embedding", "colour"], "reid_input", axis=1),
    ]
    del graph.output[:]
    if projection is None:
        graph.node.extend(nodes)
        graph.output.append(helper.make_tensor_value_info("reid_input", TensorProto.FLOAT, ["batch", None]))
        return model
    graph.initializer.extend([
        numpy_helper.from_array(projection.astype(np.float32), "adapt.projection"),
        numpy_helper.from_array(bias.astype(np.float32), "adapt.bias"),
        numpy_helper.from_array(np.array(L2_EPS, np.float32), "adapt.eps"),
    ])
    nodes += [
        _node("MatMul", ["reid_input", "adapt.projection"], "adapt.projected"),
        _node("Add", ["adapt.projected", "adapt.bias"], "adapt.centred"),
        _node("ReduceL2", ["adapt.centred"], "adapt.norm", axes=[1], keepdims=1),
        _node("Max", ["adapt.norm", "adapt.eps"], "adapt.norm_safe"),
        _node("Div", ["adapt.centred", "adapt.norm_safe"], "embedding"),
    ]
    graph.node.extend(nodes)
    graph.name = KIND
    graph.output.append(helper.make_tensor_value_info("embedding", TensorProto.FLOAT,
                                                      ["batch", int(projection.shape[1])]))
    graph.doc_string = "ImageNet MobileNetV2 pooled feature + colour stripes, person-adapted LDA projection"
    model.doc_string = f"{KIND}: {BASE_KIND} + LDA fitted on generated train-split scenarios"
    model.producer_name = "pyuniproc scripts/adapt_reid.py"
    return model


def reid_inputs(session: ort.InferenceSession, embedder, crops: list[np.ndarray], batch: int = 64
                ) -> np.ndarray:
    """(n, 1304) float64 [unit base feature, colour * COLOUR_SCALE], with the runtime's preprocessing."""
    out = [session.run(["reid_input"], {"crop": embedder.preprocess(crops[k:k + batch])})[0]
           for k in range(0, len(crops), batch)]
    features = np.concatenate(out).astype(np.float64) if out else np.zeros((0, 1304))
    features[:, -3 * STRIPES:] *= COLOUR_SCALE
    return features


# ---------------------------------------------------------------- fit
def fit_lda(x: np.ndarray, labels: np.ndarray, *, dims: int, shrinkage: float
            ) -> tuple[np.ndarray, np.ndarray, dict]:
    """Fisher LDA: y = (x - mean) @ matrix, matrix (D_in, dims) whitening the (shrunk) within-class
    scatter, then the top `dims` between-class directions. Every class counts once in the
    between-class scatter however many crops it has. Column signs are fixed (largest |entry| > 0)
    so reruns give the same file where the arithmetic agrees."""
    classes, index = np.unique(labels, return_inverse=True)
    if dims >= len(classes):
        raise ValueError(f"dims must be < the number of classes ({len(classes)}), got {dims}")
    mean = x.mean(axis=0)
    centred = x - mean
    class_means = np.stack([centred[index == k].mean(axis=0) for k in range(len(classes))])
    within = centred - class_means[index]
    d = x.shape[1]
    scatter_w = within.T @ within / len(within)
    scatter_w = (1 - shrinkage) * scatter_w + shrinkage * np.trace(scatter_w) / d * np.eye(d)
    spread = class_means - class_means.mean(axis=0)
    scatter_b = spread.T @ spread / len(classes)
    values, vectors = np.linalg.eigh(scatter_w)
    whiten = vectors / np.sqrt(values)
    b_values, b_vectors = np.linalg.eigh(whiten.T @ scatter_b @ whiten)
    order = np.argsort(b_values)[::-1][:dims]
    matrix = whiten @ b_vectors[:, order]
    signs = np.sign(matrix[np.abs(matrix).argmax(axis=0), np.arange(dims)])
    matrix *= signs
    kept = b_values[order]
    stats = {"classes": int(len(classes)), "input_dims": int(d), "output_dims": int(dims),
             "shrinkage": shrinkage, "between_to_within_ratio_top": round(float(kept[0]), 4),
             "between_to_within_ratio_last_kept": round(float(kept[-1]), 4),
             "share_of_discriminant_energy_kept": round(float(kept.sum() / b_values.clip(0).sum()), 4)}
    return mean, matrix, stats


# ---------------------------------------------------------------- main
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", default="101-108", help="training scenario seeds, e.g. 101-108")
    parser.add_argument("--split", default="train", choices=("train",),
                        help="sprite identities to train on; only train: the test people stay unseen")
    parser.add_argument("--work-dir", type=Path, default=Path("/tmp/adapt-reid"),
                        help="rendered training scenarios (reused when identical)")
    parser.add_argument("--model-dir", type=Path, default=DEFAULT_MODEL_DIR)
    parser.add_argument("--frame-step", type=int, default=2, help="crop every n-th frame")
    parser.add_argument("--jitter", type=float, default=0.08,
                        help="cut training crops at GT boxes moved/rescaled by this fraction (0: exact)")
    parser.add_argument("--dims", type=int, default=128, help="embedding size")
    parser.add_argument("--shrinkage", type=float, default=0.1, help="within-class scatter shrinkage, 0..1")
    parser.add_argument("--no-eval", action="store_true", help="skip benchmarks/reid/compare.py")
    args = parser.parse_args(argv)
    if not 0.0 <= args.shrinkage <= 1.0:
        parser.error(f"--shrinkage must be in [0, 1], got {args.shrinkage}")
    adapt(args)  # returns before the evaluation, so its crops and features are freed first
    if not args.no_eval:
        sys.path.insert(0, str(REPO / "benchmarks" / "reid"))
        import compare  # noqa: PLC0415

        return compare.main(["--work-dir", str(args.work_dir), "--model-dir", str(args.model_dir)])
    return 0


def adapt(args: argparse.Namespace) -> None:
    """Steps 1-6 of the module docstring, up to the new MODELS.json entry."""
    started = time.perf_counter()
    seeds = parse_seeds(args.seeds)

    base = create_embedder(BASE_KIND, model_dir=args.model_dir)  # checks the base file's sha256
    base_proto = onnx.load(str(base.model_path))
    features_session = ort.InferenceSession(extended_graph(base_proto).SerializeToString(),
                                            providers=["CPUExecutionProvider"])
    timings: dict[str, float] = {}

    t = time.perf_counter()
    folders = []
    for seed in seeds:
        folders.append(ensure_scenario(training_spec(seed, args.split), args.work_dir / f"train_{seed}"))
        print(f"scenario seed {seed}: {folders[-1]}", flush=True)
    timings["render_seconds"] = time.perf_counter() - t

    t = time.perf_counter()
    parts = []
    for seed, folder in zip(seeds, folders, strict=True):
        parts.append(collect_scenario_crops(folder, frame_step=args.frame_step, jitter=args.jitter,
                                            seed=seed))
        print(f"crops seed {seed}: {len(parts[-1])}", flush=True)
    data = ScenarioCrops.concatenate(parts)
    assert set(data.split) == {args.split}, set(data.split)
    timings["crop_seconds"] = time.perf_counter() - t

    t = time.perf_counter()
    x = reid_inputs(features_session, base, data.crops)
    timings["feature_seconds"] = time.perf_counter() - t
    print(f"features: {x.shape} in {timings['feature_seconds']:.0f} s", flush=True)

    t = time.perf_counter()
    mean, matrix, stats = fit_lda(x, data.identity_key, dims=args.dims, shrinkage=args.shrinkage)
    timings["fit_seconds"] = time.perf_counter() - t
    # The graph sees raw colour means: fold COLOUR_SCALE into their rows; centring becomes a bias.
    graph_matrix = matrix.copy()
    graph_matrix[-3 * STRIPES:] *= COLOUR_SCALE
    bias = -(mean @ matrix)
    model = extended_graph(base_proto, graph_matrix, bias)
    onnx.checker.check_model(model, full_check=True)
    path = args.model_dir / f"{KIND}.onnx"
    path.write_bytes(model.SerializeToString(deterministic=True))

    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    sample = np.linspace(0, len(data) - 1, 256).astype(np.int64)
    expected = (x[sample] - mean) @ matrix
    expected /= np.linalg.norm(expected, axis=1, keepdims=True)
    got = session.run(["embedding"], {"crop": base.preprocess([data.crops[i] for i in sample])})[0]
    diff = float(np.abs(got - expected).max())
    print(f"ONNX vs numpy projection on {len(sample)} crops: max |diff| {diff:.2e}")
    assert diff < 1e-4, diff

    timings["total_seconds"] = time.perf_counter() - started
    write_provenance(args, seeds, data, stats, path, base, diff, timings)
    print(f"{KIND}: {path} {path.stat().st_size / 1e6:.1f} MB, {args.dims}-d, sha256 {sha256(path)}; "
          f"{len(data)} crops of {stats['classes']} appearances; {timings['total_seconds']:.0f} s")


def write_provenance(args, seeds, data: ScenarioCrops, stats: dict, path: Path, base, diff: float,
                     timings: dict) -> None:
    provenance_path = args.model_dir / "MODELS.json"
    provenance = json.loads(provenance_path.read_text())
    base_entry = provenance["models"][BASE_KIND]
    entry = {
        "kind": KIND,
        "architecture": f"{BASE_KIND} unchanged (pooled 1280-d unit feature) + colour descriptor (mean of "
                        f"(RGB - offsets) over {STRIPES} horizontal stripes of the net input, 24 values) -> "
                        f"Concat -> MatMul ({1280 + 3 * STRIPES}x{args.dims}) -> Add -> L2 normalisation",
        "trained_for": "person appearance: Fisher LDA on generated scenarios of the TRAIN-split vtest people "
                       "only; the test-split people (first seen in vtest's second half) were never seen",
        "base_model": {"kind": BASE_KIND, "file": base_entry["file"], "sha256": base_entry["sha256"]},
        "regenerate": f"python scripts/adapt_reid.py --seeds {args.seeds} --split {args.split} "
                      f"--frame-step {args.frame_step} --jitter {args.jitter} --dims {args.dims} "
                      f"--shrinkage {args.shrinkage} (project venv; no downloads)",
        "training_data": {
            "generator": "pyuniproc scenario", "generator_version": GENERATOR_VERSION,
            "pyuniproc_version": PYUNIPROC_VERSION, "seeds": seeds, "split": args.split,
            "scenario_arguments": SCENARIO,
            "sprite_video": json.loads((args.work_dir / f"train_{seeds[0]}" / "scenario.json").read_text())
            .get("sprite_video_sha256"),
            "sprite_identities": sorted({int(s) for s in data.sprite}),
            "boxes": f"GT boxes passing QualityGate() (confidence 1), frames 1-based divisible by "
                     f"{args.frame_step}, "
                     f"cut with jitter {args.jitter} (centre moved by N(0, {args.jitter}) of the box size, "
                     f"width and height scaled by exp(N(0, {args.jitter})))",
            "crops": len(data), "appearances": stats["classes"],
            "appearance_label": "a sprite in every scenario (sprite:N), or a recoloured copy within its "
                                "scenario (seedS:personP)",
        },
        "method": {"name": "Fisher linear discriminant (shrunk within-class scatter)",
                   "features": "[unit 1280-d base feature, 24 colour-stripe means / 255]"} | stats,
        "file": path.name, "sha256": sha256(path), "size_bytes": path.stat().st_size,
        "opset": base_entry["opset"],
        "input": base_entry["input"],
        "output": {"name": "embedding", "shape": ["batch", args.dims], "dtype": "float32",
                   "meaning": "unit-length person-appearance embedding (L2-normalised in the graph); compare "
                              "by dot product. Cosines are on another scale than the base model's: same "
                              "person ~0.5, different people ~0.05 per crop (benchmarks/reid/README.md)"},
        "check": {"crops": 256, "max_abs_diff_vs_numpy_projection": diff},
        "evaluation": "held-out people, before vs after: benchmarks/reid/README.md "
                      "(python benchmarks/reid/compare.py)",
        "adapted_with": {"python": platform.python_version(), "numpy": np.__version__,
                         "onnx": onnx.__version__, "onnxruntime": ort.__version__},
        "run_seconds": {k: round(v, 1) for k, v in timings.items()},
    }
    provenance["models"][KIND] = entry
    provenance_path.write_text(json.dumps(provenance, indent=2) + "\n")


if __name__ == "__main__":
    raise SystemExit(main())
