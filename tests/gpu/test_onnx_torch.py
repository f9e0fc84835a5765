"""The ONNX -> torch converter computes what onnxruntime computes, for each of our three graphs."""

from __future__ import annotations

import pytest

pytest.importorskip("torch")
pytest.importorskip("onnx")

import numpy as np
import torch

from pyuniproc.detect import DEFAULT_MODEL_DIR
from pyuniproc.gpu.onnx_torch import UnsupportedOnnxOp, from_onnx
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


def test_unsupported_op_is_named(tmp_path):
    import onnx
    from onnx import TensorProto, helper

    graph = helper.make_graph(
        [helper.make_node("Tanh", ["x"], ["y"], name="t0")],
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1])],
    )
    path = tmp_path / "tanh.onnx"
    onnx.save(helper.make_model(graph), str(path))
    with pytest.raises(UnsupportedOnnxOp, match="Tanh"):
        from_onnx(path)
