"""Build a torch module from one of our ONNX files: the same weights, run by torch (fp16, channels_last).

Why our own converter: the device that runs production has torch with CUDA but no TensorRT and only a
CPU onnxruntime, and our graphs (SSDLite and NanoDet detectors, MobileNetV2 embedders, with or without a
learned projection and L2-normalisation tail) use a few dozen plain ONNX ops. A graph interpreter over
`torch.nn.functional` covers them in a few pages and keeps the ONNX file (checked against MODELS.json) the
single source of weights for every runtime. Besides the CNN ops it covers the usual small heads and tails
(MatMul / Gemm projections, Unsqueeze / Expand broadcasting, element-wise maths, reductions,
LpNormalization), so an adapted embedder exports without touching this file.

How it works: constant sub-graphs (initializers, Cast of fp16 weights, shape arithmetic on constants) are
folded once at build time; the remaining nodes run in graph order on torch tensors. Shape arithmetic that
depends on the input (`Shape -> Gather -> Concat -> Reshape`) runs on small CPU int64 tensors, so it never
waits on the GPU. Float constants become buffers of the module, so `.to(device, dtype)` moves them.

An op outside `OPS` raises `UnsupportedOnnxOp` at build time, naming the op and the node.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn


class UnsupportedOnnxOp(ValueError):
    """The graph uses an op (or an attribute value) this converter does not implement."""


def _is_shape_tensor(value: torch.Tensor) -> bool:
    return value.dtype in (torch.int64, torch.int32) and value.device.type == "cpu" and value.dim() <= 1


def _ints(value: torch.Tensor | Sequence[int]) -> list[int]:
    if isinstance(value, torch.Tensor):
        return [int(v) for v in value.reshape(-1).tolist()]
    return [int(v) for v in value]


def _conv(node: _Node, x: torch.Tensor, w: torch.Tensor, b: torch.Tensor | None = None) -> torch.Tensor:
    pads = node.attrs.get("pads", [0, 0, 0, 0])
    if node.attrs.get("auto_pad", b"NOTSET") not in (b"NOTSET", "NOTSET"):
        raise UnsupportedOnnxOp(f"Conv auto_pad={node.attrs['auto_pad']!r} in node {node.name!r}")
    top, left, bottom, right = pads
    padding: Any = 0
    if (top, left) == (bottom, right):
        padding = (top, left)
    else:
        x = F.pad(x, (left, right, top, bottom))
    return F.conv2d(
        x,
        w,
        b,
        stride=tuple(node.attrs.get("strides", [1, 1])),
        padding=padding,
        dilation=tuple(node.attrs.get("dilations", [1, 1])),
        groups=int(node.attrs.get("group", 1)),
    )


def _clip(
    node: _Node, x: torch.Tensor, low: torch.Tensor | None = None, high: torch.Tensor | None = None
) -> torch.Tensor:
    low_v = None if low is None else float(low.reshape(-1)[0])
    high_v = None if high is None else float(high.reshape(-1)[0])
    if low_v == 0.0 and high_v == 6.0:
        return F.relu6(x)
    return torch.clamp(x, low_v, high_v)


def _reshape(node: _Node, x: torch.Tensor, shape: torch.Tensor) -> torch.Tensor:
    dims = _ints(shape)
    if not node.attrs.get("allowzero", 0):
        dims = [x.shape[i] if d == 0 else d for i, d in enumerate(dims)]
    return x.reshape(dims)


def _gather(node: _Node, x: torch.Tensor, indices: torch.Tensor) -> torch.Tensor:
    axis = int(node.attrs.get("axis", 0))
    index = indices.to(torch.int64)
    index = torch.where(index < 0, index + x.shape[axis], index)
    if index.dim() == 0:
        return x.select(axis, int(index))
    return x.index_select(axis, index.reshape(-1).to(x.device)).reshape(
        *x.shape[:axis], *index.shape, *x.shape[axis + 1 :]
    )


def _slice(
    node: _Node,
    x: torch.Tensor,
    starts: torch.Tensor,
    ends: torch.Tensor,
    axes: torch.Tensor | None = None,
    steps: torch.Tensor | None = None,
) -> torch.Tensor:
    starts_l, ends_l = _ints(starts), _ints(ends)
    axes_l = _ints(axes) if axes is not None else list(range(len(starts_l)))
    steps_l = _ints(steps) if steps is not None else [1] * len(starts_l)
    index: list[slice] = [slice(None)] * x.dim()
    for start, end, axis, step in zip(starts_l, ends_l, axes_l, steps_l, strict=True):
        if step != 1:
            raise UnsupportedOnnxOp(f"Slice with step {step} in node {node.name!r}")
        size = x.shape[axis]
        start = max(0, min(size, start + size if start < 0 else start))
        end = max(0, min(size, end + size if end < 0 else end))
        index[axis] = slice(start, end)
    return x[tuple(index)]


def _squeeze(node: _Node, x: torch.Tensor, axes: torch.Tensor | None = None) -> torch.Tensor:
    if axes is None:
        return x.squeeze()
    for axis in sorted((a % x.dim() for a in _ints(axes)), reverse=True):
        x = x.squeeze(axis)
    return x


def _cast(node: _Node, x: torch.Tensor) -> torch.Tensor:
    to = int(node.attrs["to"])
    if to in (1, 10, 11):  # FLOAT, FLOAT16, DOUBLE: keep the module's compute dtype (fp16 stays fp16)
        return x if x.is_floating_point() else x.to(torch.float32)
    if to == 7:
        return x.to(torch.int64)
    if to == 6:
        return x.to(torch.int32)
    raise UnsupportedOnnxOp(f"Cast to ONNX type {to} in node {node.name!r}")


def _pad(node: _Node, x: torch.Tensor, pads: torch.Tensor, value: torch.Tensor | None = None) -> torch.Tensor:
    mode = node.attrs.get("mode", b"constant")
    mode = mode.decode() if isinstance(mode, bytes) else mode
    amounts = _ints(pads)
    rank = len(amounts) // 2
    torch_pads: list[int] = []
    for axis in reversed(range(rank)):  # F.pad lists the last axis first: (begin, end) pairs
        torch_pads += [amounts[axis], amounts[axis + rank]]
    while len(torch_pads) > 2 and torch_pads[-2:] == [0, 0]:
        torch_pads = torch_pads[:-2]
    if mode != "constant":
        return F.pad(x, torch_pads, mode={"edge": "replicate", "reflect": "reflect"}[mode])
    return F.pad(x, torch_pads, value=0.0 if value is None else float(value.reshape(-1)[0]))


def _maxpool(node: _Node, x: torch.Tensor) -> torch.Tensor:
    top, left, bottom, right = node.attrs.get("pads", [0, 0, 0, 0])
    if (top, left) != (bottom, right):
        x = F.pad(x, (left, right, top, bottom), value=float("-inf"))
        top = left = 0
    return F.max_pool2d(
        x,
        tuple(node.attrs["kernel_shape"]),
        stride=tuple(node.attrs.get("strides", [1, 1])),
        padding=(top, left),
        ceil_mode=bool(node.attrs.get("ceil_mode", 0)),
    )


def _resize(
    node: _Node,
    x: torch.Tensor,
    roi: torch.Tensor | None = None,
    scales: torch.Tensor | None = None,
    sizes: torch.Tensor | None = None,
) -> torch.Tensor:
    mode = node.attrs.get("mode", b"nearest")
    mode = mode.decode() if isinstance(mode, bytes) else mode
    transform = node.attrs.get("coordinate_transformation_mode", b"half_pixel")
    transform = transform.decode() if isinstance(transform, bytes) else transform
    if sizes is not None and sizes.numel():
        out = _ints(sizes)[2:]
    else:
        factors = [float(s) for s in scales.reshape(-1).tolist()]  # type: ignore[union-attr]
        out = [int(np.floor(x.shape[2 + i] * factors[2 + i])) for i in range(2)]
    if mode == "linear" and transform in ("half_pixel", "pytorch_half_pixel"):
        return F.interpolate(x, size=out, mode="bilinear", align_corners=False)
    if mode == "linear" and transform == "align_corners":
        return F.interpolate(x, size=out, mode="bilinear", align_corners=True)
    if (
        mode == "nearest"
        and transform == "asymmetric"
        and node.attrs.get("nearest_mode", b"") in (b"floor", "floor")
    ):
        return F.interpolate(x, size=out, mode="nearest")
    raise UnsupportedOnnxOp(f"Resize mode={mode} coordinate_transformation_mode={transform} in {node.name!r}")


def _split(node: _Node, x: torch.Tensor, split: torch.Tensor | None = None) -> tuple[torch.Tensor, ...]:
    axis = int(node.attrs.get("axis", 0))
    sizes = _ints(split) if split is not None else node.attrs.get("split")
    if sizes is None:
        sizes = [x.shape[axis] // len(node.outputs)] * len(node.outputs)
    return torch.split(x, list(sizes), dim=axis)


def _concat(node: _Node, *xs: torch.Tensor) -> torch.Tensor:
    axis = int(node.attrs["axis"])
    if all(_is_shape_tensor(x) for x in xs):
        return torch.cat([x.reshape(-1) for x in xs])
    return torch.cat(xs, dim=axis)


def _batchnorm(
    node: _Node,
    x: torch.Tensor,
    scale: torch.Tensor,
    bias: torch.Tensor,
    mean: torch.Tensor,
    var: torch.Tensor,
) -> torch.Tensor:
    return F.batch_norm(x, mean, var, scale, bias, training=False, eps=float(node.attrs.get("epsilon", 1e-5)))


def _flatten(node: _Node, x: torch.Tensor) -> torch.Tensor:
    axis = int(node.attrs.get("axis", 1))
    return x.reshape(int(np.prod(x.shape[:axis])), -1)


def _reduce_l2(node: _Node, x: torch.Tensor, axes: torch.Tensor | None = None) -> torch.Tensor:
    dims = _axes(node, axes) or list(range(x.dim()))
    keep = bool(node.attrs.get("keepdims", 1))
    # accumulate in float32: fp16 squares of a 1280-d feature overflow
    return torch.linalg.vector_norm(x.float(), dim=tuple(dims), keepdim=keep).to(x.dtype)


def _axes(node: _Node, axes: torch.Tensor | None) -> list[int] | None:
    """Reduction / unsqueeze axes from the input (opset >= 13/18) or the attribute (older opsets)."""
    if axes is not None:
        return _ints(axes)
    value = node.attrs.get("axes")
    return None if value is None else [int(a) for a in value]


def _reduce(reduction: Callable[..., torch.Tensor]) -> Callable[..., torch.Tensor]:
    """ReduceX over `axes` (all when none, or identity with noop_with_empty_axes), in float32: an fp16 sum
    of a long feature overflows or loses the small terms; the result goes back to the input's dtype."""

    def run(node: _Node, x: torch.Tensor, axes: torch.Tensor | None = None) -> torch.Tensor:
        dims = _axes(node, axes)
        keep = bool(node.attrs.get("keepdims", 1))
        if not dims:
            if node.attrs.get("noop_with_empty_axes", 0):
                return x
            dims = list(range(x.dim()))
        return reduction(x.float(), dim=tuple(dims), keepdim=keep).to(x.dtype)

    return run


def _reduce_max(x: torch.Tensor, dim: tuple[int, ...], keepdim: bool) -> torch.Tensor:
    return torch.amax(x, dim=dim, keepdim=keepdim)


def _unsqueeze(node: _Node, x: torch.Tensor, axes: torch.Tensor | None = None) -> torch.Tensor:
    dims = _axes(node, axes) or []
    rank = x.dim() + len(dims)
    for axis in sorted(a % rank for a in dims):
        x = x.unsqueeze(axis)
    return x


def _expand(node: _Node, x: torch.Tensor, shape: torch.Tensor) -> torch.Tensor:
    return x.expand(torch.broadcast_shapes(tuple(x.shape), tuple(_ints(shape))))


def _matmul(node: _Node, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    if _is_shape_tensor(a) and _is_shape_tensor(b):
        return a @ b
    return torch.matmul(a, b.to(a.dtype))


def _gemm(node: _Node, a: torch.Tensor, b: torch.Tensor, c: torch.Tensor | None = None) -> torch.Tensor:
    if node.attrs.get("transA", 0):
        a = a.transpose(0, 1)
    if node.attrs.get("transB", 0):
        b = b.transpose(0, 1)
    out = torch.matmul(a, b.to(a.dtype)) * float(node.attrs.get("alpha", 1.0))
    if c is not None:
        out = out + c.to(out.dtype) * float(node.attrs.get("beta", 1.0))
    return out


def _lp_normalization(node: _Node, x: torch.Tensor) -> torch.Tensor:
    order = int(node.attrs.get("p", 2))
    axis = int(node.attrs.get("axis", -1))
    norm = torch.linalg.vector_norm(x.float(), ord=order, dim=axis, keepdim=True)
    return (x.float() / norm).to(x.dtype)  # ONNX divides as is: a zero row gives NaN there too


def _softmax(node: _Node, x: torch.Tensor) -> torch.Tensor:
    return torch.softmax(x.float(), dim=int(node.attrs.get("axis", -1))).to(x.dtype)


def _pow(node: _Node, x: torch.Tensor, exponent: torch.Tensor) -> torch.Tensor:
    if exponent.numel() == 1 and exponent.device.type == "cpu":
        return torch.pow(x.float(), float(exponent.reshape(-1)[0])).to(x.dtype)
    return torch.pow(x.float(), exponent.float()).to(x.dtype)


def _constant(node: _Node) -> torch.Tensor:
    from onnx import numpy_helper

    attrs = node.attrs
    if "value" in attrs:
        tensor = torch.from_numpy(np.array(numpy_helper.to_array(attrs["value"]), copy=True))
    elif "value_float" in attrs or "value_floats" in attrs:
        tensor = torch.tensor(attrs.get("value_float", attrs.get("value_floats")), dtype=torch.float32)
    elif "value_int" in attrs or "value_ints" in attrs:
        tensor = torch.tensor(attrs.get("value_int", attrs.get("value_ints")), dtype=torch.int64)
    else:
        raise UnsupportedOnnxOp(
            f"Constant node {node.name!r} has none of value, value_float(s), value_int(s)"
        )
    return tensor.float() if tensor.is_floating_point() else tensor.to(torch.int64)


def _maximum(xs: Sequence[torch.Tensor]) -> torch.Tensor:
    result = xs[0]
    for x in xs[1:]:
        result = torch.maximum(result, x)
    return result


def _shape(node: _Node, x: torch.Tensor) -> torch.Tensor:
    return torch.tensor(list(x.shape), dtype=torch.int64)


def _transpose(node: _Node, x: torch.Tensor) -> torch.Tensor:
    return x.permute(*node.attrs["perm"])


def _minimum(xs: Sequence[torch.Tensor]) -> torch.Tensor:
    result = xs[0]
    for x in xs[1:]:
        result = torch.minimum(result, x)
    return result


OPS: dict[str, Callable[..., Any]] = {
    "Add": lambda node, a, b: a + b,
    "Div": lambda node, a, b: a / b,
    "Mul": lambda node, a, b: a * b,
    "Sub": lambda node, a, b: a - b,
    "Max": lambda node, *xs: _maximum(xs),
    "Min": lambda node, *xs: _minimum(xs),
    "Sum": lambda node, *xs: sum(xs[1:], xs[0]),
    "Neg": lambda node, x: -x,
    "Abs": lambda node, x: torch.abs(x),
    "Sqrt": lambda node, x: torch.sqrt(x),
    "Reciprocal": lambda node, x: torch.reciprocal(x),
    "Exp": lambda node, x: torch.exp(x),
    "Log": lambda node, x: torch.log(x),
    "Pow": _pow,
    "Identity": lambda node, x: x,
    "Dropout": lambda node, x, *rest: x,  # inference: the identity (a mask output is never used)
    "Constant": _constant,
    "MatMul": _matmul,
    "Gemm": _gemm,
    "Unsqueeze": _unsqueeze,
    "Expand": _expand,
    "ReduceSum": _reduce(torch.sum),
    "ReduceMean": _reduce(torch.mean),
    "ReduceMax": _reduce(_reduce_max),
    "ReduceSumSquare": _reduce(lambda x, dim, keepdim: torch.sum(x * x, dim=dim, keepdim=keepdim)),
    "LpNormalization": _lp_normalization,
    "Softmax": _softmax,
    "Sigmoid": lambda node, x: torch.sigmoid(x),
    "Relu": lambda node, x: F.relu(x),
    "LeakyRelu": lambda node, x: F.leaky_relu(x, float(node.attrs.get("alpha", 0.01))),
    "GlobalAveragePool": lambda node, x: x.mean(dim=(2, 3), keepdim=True),
    "BatchNormalization": _batchnorm,
    "Cast": _cast,
    "Clip": _clip,
    "Concat": _concat,
    "Conv": _conv,
    "Flatten": _flatten,
    "Gather": _gather,
    "MaxPool": _maxpool,
    "Pad": _pad,
    "ReduceL2": _reduce_l2,
    "Reshape": _reshape,
    "Resize": _resize,
    "Shape": _shape,
    "Slice": _slice,
    "Split": _split,
    "Squeeze": _squeeze,
    "Transpose": _transpose,
}
"""ONNX op -> torch implementation `(node, *inputs) -> output or tuple of outputs`."""

HOST_ARGUMENTS: dict[str, tuple[int, ...]] = {
    "Clip": (1, 2),
    "Resize": (1, 2, 3),
    "Pad": (1, 2),
    "Slice": (1, 2, 3, 4),
    "Reshape": (1,),
    "Squeeze": (1,),
    "Split": (1,),
    "Gather": (1,),
    "ReduceL2": (1,),
    "ReduceSum": (1,),
    "ReduceMean": (1,),
    "ReduceMax": (1,),
    "ReduceSumSquare": (1,),
    "Unsqueeze": (1,),
    "Expand": (1,),
    "Pow": (1,),
}
"""Inputs that are settings rather than data (bounds, scales, pads, shapes): kept on the CPU as constants, so
the forward pass never reads device memory from the host, which a CUDA-graph capture forbids."""


class _Node:
    __slots__ = ("attrs", "inputs", "name", "op", "outputs")

    def __init__(self, op: str, name: str, inputs: list[str], outputs: list[str], attrs: dict[str, Any]):
        self.op, self.name, self.inputs, self.outputs, self.attrs = op, name, inputs, outputs, attrs


def _run_node(node: _Node, values: dict[str, torch.Tensor]) -> None:
    args = [values[name] if name else None for name in node.inputs]
    while args and args[-1] is None:
        args.pop()
    result = OPS[node.op](node, *args)
    if isinstance(result, tuple):
        for name, value in zip(node.outputs, result, strict=True):
            values[name] = value
    else:
        values[node.outputs[0]] = result


def dead_after(nodes: list[_Node], keep: set[str]) -> list[tuple[str, ...]]:
    """For each node, the values computed by the graph that no later node reads (dropped right after it).

    Why: a forward that keeps every intermediate alive until it returns needs the sum of all activations at
    once; dropping each one after its last reader needs only the largest live set. Under a CUDA graph capture
    that is the graph's private pool: with batches of 64 frames or 512 crops, gigabytes per process.
    keep: names never dropped (constants, the input, the graph outputs)."""
    last_reader: dict[str, int] = {}
    for index, node in enumerate(nodes):
        for name in node.inputs:
            if name:
                last_reader[name] = index
    dead: list[list[str]] = [[] for _ in nodes]
    for index, node in enumerate(nodes):
        for name in node.outputs:
            if name and name not in keep:
                # a value nothing reads is dropped at once, after the node that made it
                dead[last_reader.get(name, index)].append(name)
    return [tuple(names) for names in dead]


class OnnxModule(nn.Module):
    """A torch module that computes what the ONNX graph computes. Build it with `from_onnx`.

    Call it with the graph's one input; it returns the graph outputs as a tuple in graph order.
    Float constants are buffers (they follow `.to(device, dtype)`); int constants and settings-like inputs
    (`HOST_ARGUMENTS`) stay on the CPU.
    """

    def __init__(
        self,
        nodes: list[_Node],
        constants: dict[str, torch.Tensor],
        input_name: str,
        output_names: list[str],
        host_names: set[str] | None = None,
    ) -> None:
        super().__init__()
        self.nodes = nodes
        self.input_name = input_name
        self.output_names = output_names
        self._float_names: dict[str, str] = {}
        self._int_constants: dict[str, torch.Tensor] = {}
        host_names = host_names or set()
        for index, (name, value) in enumerate(constants.items()):
            if value.is_floating_point() and name not in host_names:
                buffer = f"c{index}"
                self.register_buffer(buffer, value, persistent=False)
                self._float_names[name] = buffer
            else:
                self._int_constants[name] = value
        self._dead_after = dead_after(nodes, set(constants) | {input_name} | set(output_names))

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        values: dict[str, torch.Tensor] = dict(self._int_constants)
        for name, buffer in self._float_names.items():
            values[name] = getattr(self, buffer)
        values[self.input_name] = x
        for node, dead in zip(self.nodes, self._dead_after, strict=True):
            _run_node(node, values)
            for name in dead:
                del values[name]
        return tuple(values[name] for name in self.output_names)


def from_onnx(path: Path | str) -> OnnxModule:
    """Read an ONNX file (needs the `onnx` package) and build the equivalent float32 torch module.

    Raises UnsupportedOnnxOp naming the first op the converter lacks.
    """
    import onnx
    from onnx import helper, numpy_helper

    model = onnx.load(str(path))
    graph = model.graph
    constants: dict[str, torch.Tensor] = {}
    for init in graph.initializer:
        array = numpy_helper.to_array(init)
        tensor = torch.from_numpy(np.array(array, copy=True))
        constants[init.name] = tensor.float() if tensor.is_floating_point() else tensor.to(torch.int64)
    initializer_names = set(constants)
    graph_inputs = [i.name for i in graph.input if i.name not in initializer_names]
    if len(graph_inputs) != 1:
        raise UnsupportedOnnxOp(f"expected one graph input, got {graph_inputs}")
    nodes: list[_Node] = []
    for node in graph.node:
        if node.op_type not in OPS:
            raise UnsupportedOnnxOp(
                f"ONNX op {node.op_type!r} (node {node.name!r}) is not supported; "
                f"supported: {', '.join(sorted(OPS))}"
            )
        if node.domain not in ("", "ai.onnx"):
            raise UnsupportedOnnxOp(f"node {node.name!r} is in domain {node.domain!r}")
        attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
        parsed = _Node(node.op_type, node.name, list(node.input), list(node.output), attrs)
        if all((not name) or name in constants for name in parsed.inputs):
            with torch.no_grad():
                _run_node(parsed, constants)  # constant folding: weights' Casts, constant shape math
            for name in parsed.outputs:
                value = constants[name]
                if value.is_floating_point():
                    constants[name] = value.float()
            continue
        nodes.append(parsed)
    used = {name for node in nodes for name in node.inputs} | {o.name for o in graph.output}
    constants = {name: value for name, value in constants.items() if name in used}
    host_names = {
        node.inputs[i]
        for node in nodes
        for i in HOST_ARGUMENTS.get(node.op, ())
        if i < len(node.inputs) and node.inputs[i] in constants
    }
    module = OnnxModule(nodes, constants, graph_inputs[0], [o.name for o in graph.output], host_names)
    return module.eval()


def prepare(module: OnnxModule, device: torch.device | str, half: bool) -> OnnxModule:
    """Move to `device`; on CUDA with `half`, fp16 weights and channels_last 4-d weights (tensor cores)."""
    device = torch.device(device)
    module = module.to(device)
    if half:
        module = module.half()
    if device.type == "cuda":
        for name, buffer in list(module.named_buffers(recurse=False)):
            if buffer.dim() == 4:
                setattr(module, name, buffer.contiguous(memory_format=torch.channels_last))
    return module
