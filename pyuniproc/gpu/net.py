"""Run a converted network on a device: fp16 + channels_last on CUDA, batch-size buckets, CUDA graphs.

Why buckets and graphs: a MobileNet forward is ~100 small kernels; launched one by one from Python they
cost about as much CPU time as the GPU spends on a batch of 64, and that CPU time competes for the GIL
with the decoder threads. Each bucket (a batch size) is captured once as a CUDA graph and replayed; a
batch is padded up to the next bucket. On the CPU (tests, fallback) the module simply runs eagerly.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence

import torch

from pyuniproc.gpu.onnx_torch import OnnxModule, prepare

log = logging.getLogger(__name__)

DEFAULT_BUCKETS = (1, 4, 8, 16, 32, 64, 128)


class TorchNet:
    """One network on one device; call it with an (n, C, H, W) tensor, get the graph's outputs for n rows.

    half: fp16 weights and inputs (default: on CUDA). cuda_graphs: capture each bucket (default: on CUDA).
    buckets: batch sizes captured; larger batches run in chunks of the largest bucket.
    Thread safety: a CUDA graph has one static input buffer, so each thread that runs batches should own a
    `TorchNet` (`clone()` shares the weights and captures its own graphs).
    """

    def __init__(
        self,
        module: OnnxModule,
        input_shape: Sequence[int],
        *,
        device: torch.device | str = "cpu",
        half: bool | None = None,
        cuda_graphs: bool | None = None,
        buckets: Sequence[int] = DEFAULT_BUCKETS,
        _prepared: bool = False,
    ) -> None:
        self.device = torch.device(device)
        on_cuda = self.device.type == "cuda"
        self.half = on_cuda if half is None else half
        self.cuda_graphs = on_cuda if cuda_graphs is None else (cuda_graphs and on_cuda)
        self.dtype = torch.float16 if self.half else torch.float32
        self.input_shape = tuple(int(v) for v in input_shape)
        self.buckets = tuple(sorted(set(int(b) for b in buckets)))
        self.module = module if _prepared else prepare(module, self.device, self.half)
        self._graphs: dict[int, tuple[torch.cuda.CUDAGraph, torch.Tensor, tuple[torch.Tensor, ...]]] = {}
        self._pool: object = None  # one memory pool for this instance's graphs (replayed one at a time)
        self._lock = threading.Lock()

    def clone(self) -> TorchNet:
        """Same weights, own CUDA graphs (for another worker thread)."""
        return TorchNet(
            self.module,
            self.input_shape,
            device=self.device,
            half=self.half,
            cuda_graphs=self.cuda_graphs,
            buckets=self.buckets,
            _prepared=True,
        )

    def _memory_format(self) -> torch.memory_format:
        return torch.channels_last if self.device.type == "cuda" else torch.contiguous_format

    def _bucket(self, n: int) -> int:
        for bucket in self.buckets:
            if bucket >= n:
                return bucket
        return self.buckets[-1]

    def capture(self, stream: torch.cuda.Stream | None = None) -> None:
        """Capture every bucket now (before worker threads start: a capture must not overlap other work)."""
        if not self.cuda_graphs:
            return
        # Largest first: the graphs share one pool, replayed one at a time, so the smaller captures reuse
        # the largest one's blocks instead of each growing the pool. Then the warm-ups' blocks (outside the
        # pool, cached by the allocator) go back to the driver: other processes share this GPU.
        for bucket in reversed(self.buckets):
            self._graph(bucket, stream)
        torch.cuda.synchronize(self.device)
        torch.cuda.empty_cache()

    def _graph(
        self, bucket: int, stream: torch.cuda.Stream | None = None
    ) -> tuple[torch.cuda.CUDAGraph, torch.Tensor, tuple[torch.Tensor, ...]]:
        if bucket in self._graphs:
            return self._graphs[bucket]
        with self._lock:
            static = torch.zeros((bucket, *self.input_shape), device=self.device, dtype=self.dtype)
            static = static.contiguous(memory_format=self._memory_format())
            side = stream or torch.cuda.Stream(self.device)
            side.wait_stream(torch.cuda.current_stream(self.device))
            with torch.cuda.stream(side), torch.no_grad():
                for _ in range(2):  # warm-up: cuDNN picks its algorithms outside the capture
                    self.module(static)
            torch.cuda.current_stream(self.device).wait_stream(side)
            graph = torch.cuda.CUDAGraph()
            if self._pool is None:
                self._pool = torch.cuda.graph_pool_handle()
            with torch.cuda.graph(graph, pool=self._pool, stream=side), torch.no_grad():
                outputs = self.module(static)
            self._graphs[bucket] = (graph, static, outputs)
        return self._graphs[bucket]

    def __call__(self, batch: torch.Tensor) -> tuple[torch.Tensor, ...]:
        n = batch.shape[0]
        if tuple(batch.shape[1:]) != self.input_shape:
            raise ValueError(
                f"expected (n, {', '.join(map(str, self.input_shape))}) input, got {tuple(batch.shape)}"
            )
        if n == 0:
            with torch.no_grad():
                empty = self.module(torch.zeros((1, *self.input_shape), device=self.device, dtype=self.dtype))
            return tuple(o[:0] for o in empty)
        if n > self.buckets[-1]:
            step = self.buckets[-1]
            parts = [self(batch[i : i + step]) for i in range(0, n, step)]
            return tuple(torch.cat(chunks) for chunks in zip(*parts, strict=True))
        batch = batch.to(self.device, self.dtype)
        if not self.cuda_graphs:
            with torch.no_grad():
                return self.module(batch.contiguous(memory_format=self._memory_format()))
        graph, static, outputs = self._graph(self._bucket(n))
        static[:n].copy_(batch)
        if n < static.shape[0]:
            static[n:].zero_()
        graph.replay()
        # the outputs are the graph's static buffers: clone so the next replay cannot overwrite them
        return tuple(o[:n].clone() for o in outputs)
