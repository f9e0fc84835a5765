"""The ONNX -> torch converter computes what onnxruntime computes, for each of our three graphs."""

from __future__ import annotations

import pytest

pytest.importorskip("torch")
pytest.importorskip("onnx")

import numpy as np
import torch

from pyuniproc.detect import DEFAULT_MODEL_DIR
from pyuniproc.gpu.onnx_torch import UnsupportedOnnxOp, _Node, dead_after, from_onnx
from pyuniproc.reid import DEFAULT_MODEL_DIR as REID_DIR

MODELS = [
    (DEFAULT_MODEL_DIR / "ssdlite_pedestrian.onnx", (2, 3, 300, 300)),
    (DEFAULT_MODEL_DIR / "nanodet_coco.onnx", (2, 3, 416, 416)),
    (REID_DIR / "mobilenetv2_imagenet.onnx", (2, 3, 256, 128)),
]


@pytest.mark.parametrize(("path", "shape"), MODELS, ids=lambda v: getattr(v, "stem", ""))
def test_same_raw_outputs_as_onnxruntime(path, shape):
    import onnxruntime as ort

    rng = np.random.default_rng(7)
    x = (rng.random(shape, dtype=np.float32) * 255 - 120).astype(np.float32)
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    expected = session.run(None, {session.get_inputs()[0].name: x})
    with torch.no_grad():
        got = from_onnx(path)(torch.from_numpy(x))
    assert len(got) == len(expected)
    for e, g in zip(expected, got, strict=True):
        assert g.shape == e.shape
        relative = np.linalg.norm(g.numpy() - e) / np.linalg.norm(e)
        assert relative < 1e-5, relative


@pytest.mark.parametrize(("path", "shape"), MODELS, ids=lambda v: getattr(v, "stem", ""))
def test_forward_never_reads_device_memory_from_the_host(path, shape):
    """CUDA-graph capture forbids host reads of device tensors: on the meta device any such read fails."""
    module = from_onnx(path).to("meta").half()
    outputs = module(torch.empty(shape, device="meta", dtype=torch.float16))
    assert all(o.device.type == "meta" and o.dtype == torch.float16 for o in outputs)


def test_each_intermediate_is_dropped_after_its_last_reader():
    # x -> a -> b ; c = a + b ; the output y = c * w. "a" is read last by node 2, "b" by node 2, "c" by
    # node 3; the input, the weight and the output are never dropped; "unused" (read by nobody) goes at once.
    nodes = [
        _Node("Relu", "n0", ["x"], ["a"], {}),
        _Node("Sigmoid", "n1", ["a"], ["b", "unused"], {}),
        _Node("Add", "n2", ["a", "b"], ["c"], {}),
        _Node("Mul", "n3", ["c", "w"], ["y"], {}),
    ]
    assert dead_after(nodes, keep={"x", "w", "y"}) == [(), ("unused",), ("a", "b"), ("c",)]


@pytest.mark.parametrize(("path", "shape"), MODELS, ids=lambda v: getattr(v, "stem", ""))
def test_forward_holds_only_the_live_values(path, shape):
    """The real nets: while a node runs, the values alive are its inputs and what later nodes still read,
    never the whole history (the peak memory of a batch of 512 crops under a CUDA graph)."""
    module = from_onnx(path)
    plan = module._dead_after
    made = sum(len([n for n in node.outputs if n]) for node in module.nodes)
    dropped = sum(len(names) for names in plan)
    assert dropped == made - len(module.output_names)
    live, peak = 0, 0
    for node, dead in zip(module.nodes, plan, strict=True):
        live += len([n for n in node.outputs if n])
        peak = max(peak, live)
        live -= len(dead)
    assert peak < made / 4


def test_unsupported_op_is_named(tmp_path):
    import onnx
    from onnx import TensorProto, helper

    graph = helper.make_graph(
        [helper.make_node("Hardmax", ["x"], ["y"], name="t0")],
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1])],
    )
    path = tmp_path / "hardmax.onnx"
    onnx.save(helper.make_model(graph), str(path))
    with pytest.raises(UnsupportedOnnxOp, match="Hardmax"):
        from_onnx(path)


def _same_as_onnxruntime(path, x, tolerance=1e-5):
    import onnxruntime as ort

    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    expected = session.run(None, {session.get_inputs()[0].name: x})
    with torch.no_grad():
        got = from_onnx(path)(torch.from_numpy(x))
    for e, g in zip(expected, got, strict=True):
        assert g.shape == e.shape
        relative = np.linalg.norm(g.numpy() - e) / max(np.linalg.norm(e), 1e-12)
        assert relative < tolerance, relative
    return got


@pytest.mark.parametrize("tail", ["reduce_l2", "lp_normalization", "pow_sum_sqrt"])
def test_embedder_with_a_projection_and_normalisation_tail(tmp_path, tail):
    """An adapted embedder (the shipped MobileNetV2 + a learned MatMul projection + L2 normalisation),
    as a fine-tuning script would export it, runs without changes to the converter."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    model = onnx.load(str(REID_DIR / "mobilenetv2_imagenet.onnx"))
    graph = model.graph
    feature = graph.output[0].name
    rng = np.random.default_rng(3)
    weights = (rng.standard_normal((1280, 128)) / 30).astype(np.float32)
    graph.initializer.extend(
        [
            numpy_helper.from_array(weights, "projection"),
            numpy_helper.from_array(rng.standard_normal(128).astype(np.float32) / 10, "projection_bias"),
            numpy_helper.from_array(np.array([1], np.int64), "axis_one"),
            numpy_helper.from_array(np.array(1e-12, np.float32), "eps"),
            numpy_helper.from_array(np.array(2.0, np.float32), "two"),
        ]
    )
    nodes = [
        helper.make_node("MatMul", [feature, "projection"], ["tail_projected"], name="proj"),
        helper.make_node("Add", ["tail_projected", "projection_bias"], ["tail_biased"], name="bias"),
    ]
    if tail == "reduce_l2":
        nodes += [
            helper.make_node("ReduceL2", ["tail_biased"], ["tail_norm"], axes=[1], keepdims=1),
            helper.make_node("Clip", ["tail_norm", "eps"], ["tail_safe"], name="clip"),
            helper.make_node("Shape", ["tail_biased"], ["tail_shape"], name="tail_shape"),
            helper.make_node("Expand", ["tail_safe", "tail_shape"], ["tail_wide"], name="expand"),
            helper.make_node("Div", ["tail_biased", "tail_wide"], ["reid"], name="div"),
        ]
    elif tail == "lp_normalization":
        nodes.append(helper.make_node("LpNormalization", ["tail_biased"], ["reid"], axis=1, p=2, name="lp"))
    else:
        nodes += [
            helper.make_node("Pow", ["tail_biased", "two"], ["tail_squares"], name="pow"),
            helper.make_node("ReduceSum", ["tail_squares", "axis_one"], ["tail_sum"], keepdims=1),
            helper.make_node("Sqrt", ["tail_sum"], ["tail_norm"], name="sqrt"),
            helper.make_node("Div", ["tail_biased", "tail_norm"], ["reid"], name="div"),
        ]
    graph.node.extend(nodes)
    del graph.output[:]
    graph.output.append(helper.make_tensor_value_info("reid", TensorProto.FLOAT, ["batch", 128]))
    path = tmp_path / f"adapted_{tail}.onnx"
    onnx.save(model, str(path))
    x = (np.random.default_rng(5).random((2, 3, 256, 128), dtype=np.float32) * 255 - 120).astype(np.float32)
    (got,) = _same_as_onnxruntime(path, x)
    np.testing.assert_allclose(np.linalg.norm(got.numpy(), axis=1), 1.0, atol=1e-5)
    meta = from_onnx(path).to("meta").half()  # still capturable: no host reads of device values
    (out,) = meta(torch.empty((2, 3, 256, 128), device="meta", dtype=torch.float16))
    assert out.shape == (2, 128)


def test_small_generic_ops(tmp_path):
    """Gemm, Unsqueeze, Expand, reductions, element-wise maths, Softmax and Constant nodes, against ORT."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(11)
    initializers = [
        numpy_helper.from_array(rng.standard_normal((6, 8)).astype(np.float32), "w"),
        numpy_helper.from_array(rng.standard_normal(6).astype(np.float32), "b"),
        numpy_helper.from_array(np.array([1], np.int64), "one"),
        numpy_helper.from_array(np.array([2], np.int64), "two_axis"),
        numpy_helper.from_array(np.array([4, 3, 6], np.int64), "wide"),
    ]
    nodes = [
        helper.make_node("Gemm", ["x", "w", "b"], ["g"], transB=1, alpha=0.5, beta=2.0),
        helper.make_node("Unsqueeze", ["g", "one"], ["u"]),
        helper.make_node("Expand", ["u", "wide"], ["e"]),
        helper.make_node("Constant", [], ["c"], value=numpy_helper.from_array(np.array(0.25, np.float32))),
        helper.make_node("Mul", ["e", "c"], ["m"]),
        helper.make_node("Softmax", ["m"], ["s"], axis=-1),
        helper.make_node("Exp", ["m"], ["ex"]),
        helper.make_node("Neg", ["ex"], ["n"]),
        helper.make_node("Abs", ["n"], ["a"]),
        helper.make_node("Sqrt", ["a"], ["r"]),
        helper.make_node("Sum", ["r", "s", "m"], ["t"]),
        helper.make_node("ReduceMean", ["t"], ["mean"], axes=[2], keepdims=0),
        helper.make_node("ReduceSum", ["t", "two_axis"], ["total"], keepdims=1),
        helper.make_node("ReduceMax", ["total"], ["top"], axes=[1], keepdims=0),
        helper.make_node("Reciprocal", ["top"], ["inv"]),
        helper.make_node("Identity", ["inv"], ["y2"]),
        helper.make_node("Min", ["mean", "mean"], ["y1"]),
    ]
    graph = helper.make_graph(
        nodes,
        "generic",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [4, 8])],
        [
            helper.make_tensor_value_info("y1", TensorProto.FLOAT, [4, 3]),
            helper.make_tensor_value_info("y2", TensorProto.FLOAT, [4, 1]),
        ],
        initializer=initializers,
    )
    path = tmp_path / "generic.onnx"
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)], ir_version=8)
    onnx.save(model, str(path))  # IR 8: what onnxruntime 1.17+ loads
    _same_as_onnxruntime(path, rng.standard_normal((4, 8)).astype(np.float32))
