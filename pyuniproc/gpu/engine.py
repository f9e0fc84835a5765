"""One inference worker's GPU state: a static frame batch and two families of captured CUDA graphs.

Why: launched op by op from Python, one batch is ~300 small kernels (NV12 gathers, colour conversion,
two networks, crop sampling), and every op releases and re-takes the GIL, which 96 decoder threads also
want. Measured on the H100 with op-by-op launches: ~110 ms per batch of 64 with the GPU half idle. Here the
two static parts of a batch are captured once per size bucket and replayed with one call each:

- detect graph per frame bucket b: `static_frames[:b]` (NV12) -> net input -> detector raw outputs ->
  fixed-shape decode and NMS (`static_decode`) -> one packed result tensor, and the kept boxes compacted
  into `static_boxes` for the embed graph;
- embed graph per crop bucket c: `static_boxes[:c]` of `static_frames` -> crops -> embeddings (unit rows).

So a batch is: one index_select, one replay, one copy to the host (boxes), one replay, one copy (embeddings).
The embed graph runs either on the boxes the detect graph compacted (`embed_kept`: every detection) or on
boxes chosen on the host (`embed_rows`: the tracks the ReID schedule picked, one pinned host->device copy).

Memory: warm-up runs happen on one side stream per engine and the allocator's cache is emptied after the
captures. (Warming each graph up on a fresh stream left every warm-up's blocks cached for a stream nobody
used again: ~32 GB "reserved" per engine on the H100, which capped a GPU at two engines.)
When the fixed-shape decode cannot vouch for its answer (more candidates than it keeps, NMS not converged)
the batch is decoded the exact, dynamic way instead (`fallbacks` counts those batches). On the CPU (tests)
the same steps run eagerly.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence

import numpy as np
import torch

from pyuniproc.gpu.detector import GpuDetector, GpuEmbedder
from pyuniproc.gpu.postprocess import _priors
from pyuniproc.gpu.static_decode import decode_nanodet_static, decode_ssd_static
from pyuniproc.types import Detections

FRAME_BUCKETS = (1, 2, 4, 8, 12, 16, 24, 32, 48, 64)
CROP_BUCKETS = (4, 8, 12, 16, 24, 32, 48, 64, 96, 128, 192, 256)
"""Batch sizes and crop counts captured; a batch runs padded to the next bucket, more crops than the largest
run in chunks of it. Steps of at most 1.5x keep the padding (GPU work thrown away) under a third: with 16
processes at 32 streams a batch holds ~13 frames and ~11 crops. Scheduled ReID embeds < 1 crop per frame
(0.8-1.1 measured), ReID on every detection ~4 (ssdlite) to ~6 (nanodet). The graphs share one memory pool per
engine, sized by the largest step (~4.8 GB on the H100 with the largest buckets): what limits how many
processes share one GPU."""

_CAPTURE_LOCK = threading.Lock()


def capture(
    fn: Callable[[], tuple[torch.Tensor, ...]],
    device: torch.device,
    pool: object = None,
    side: torch.cuda.Stream | None = None,
) -> tuple[torch.cuda.CUDAGraph, tuple]:
    """Warm `fn` up on a side stream (cuDNN picks algorithms, caches fill), then capture it as a graph.

    pool: memory pool shared with other graphs that are never replayed at the same time as this one.
    side: the stream to warm up and capture on; pass the same one for all graphs of an owner, so that the
    warm-ups' cached blocks are reused instead of piling up per stream."""
    with _CAPTURE_LOCK:
        side = side or torch.cuda.Stream(device)
        side.wait_stream(torch.cuda.current_stream(device))
        with torch.cuda.stream(side), torch.no_grad():
            for _ in range(2):
                fn()
        torch.cuda.current_stream(device).wait_stream(side)
        graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(graph, pool=pool, stream=side), torch.no_grad():
            outputs = fn()
        torch.cuda.current_stream(device).wait_stream(side)
    return graph, outputs


class BatchEngine:
    """detect(n) and embed(frame_index, boxes) over frames loaded with `load()`; one engine per thread.

    frame_shape: (rows, width) of the NV12 frames (rows = height * 3 // 2); every camera must share it.
    graphs: capture CUDA graphs (default: on CUDA). Memory: the static frame batch (max bucket x frame) plus
    one graph memory pool shared by all of the engine's graphs (sized by its largest step).
    """

    def __init__(
        self,
        detector: GpuDetector,
        embedder: GpuEmbedder | None,
        frame_shape: tuple[int, int],
        *,
        frame_buckets: Sequence[int] = FRAME_BUCKETS,
        crop_buckets: Sequence[int] = CROP_BUCKETS,
        graphs: bool | None = None,
        candidates: int = 256,
        max_detections: int = 100,
    ) -> None:
        self.detector = detector
        self.embedder = embedder
        self.device = detector.device
        self.graphs = (self.device.type == "cuda") if graphs is None else graphs
        self.frame_buckets = tuple(sorted(frame_buckets))
        self.crop_buckets = tuple(sorted(crop_buckets))
        rows, width = frame_shape
        self.height, self.width = rows * 2 // 3, width
        self.frames = torch.zeros(
            (self.frame_buckets[-1], rows, width), dtype=torch.uint8, device=self.device
        )
        self.candidates = candidates
        self.max_detections = max_detections
        rows_capacity = max(self.crop_buckets[-1], self.frame_buckets[-1] * candidates) + 1  # + trash row
        self.boxes = torch.zeros((rows_capacity, 4), dtype=torch.float32, device=self.device)
        self.box_frame = torch.zeros(rows_capacity, dtype=torch.int64, device=self.device)
        self.sizes = torch.tensor([[float(self.height), float(self.width)]], device=self.device).repeat(
            self.frame_buckets[-1], 1
        )
        self.fallbacks = 0
        self._pinned: torch.Tensor | None = None  # (rows, 5) host staging for embed_rows
        self.reserved_bytes = 0  # what building this engine added to the allocator's reservation (CUDA)
        self._detect_graphs: dict[int, tuple[torch.cuda.CUDAGraph, tuple]] = {}
        self._embed_graphs: dict[int, tuple[torch.cuda.CUDAGraph, tuple]] = {}
        if self.graphs:
            before = torch.cuda.memory_reserved(self.device)
            # One memory pool for all of this engine's graphs: they replay one after another on the engine's
            # thread, and each replay's outputs are cloned before the next, so their scratch memory can be
            # shared. Largest buckets first, so the pool is sized once by the largest step.
            pool = torch.cuda.graph_pool_handle()
            side = torch.cuda.Stream(self.device)
            for bucket in reversed(self.frame_buckets):
                self._detect_graphs[bucket] = capture(
                    lambda b=bucket: self._detect_step(b), self.device, pool, side
                )
            if embedder is not None:
                for bucket in reversed(self.crop_buckets):
                    self._embed_graphs[bucket] = capture(
                        lambda c=bucket: self._embed_step(c), self.device, pool, side
                    )
            torch.cuda.synchronize(self.device)
            torch.cuda.empty_cache()  # the warm-ups' blocks: the graphs keep only their own pool
            self.reserved_bytes = torch.cuda.memory_reserved(self.device) - before

    @property
    def capacity(self) -> int:
        return self.frame_buckets[-1]

    def _detect_step(self, n: int) -> tuple[torch.Tensor, ...]:
        """-> (packed (n, K * 7 + 3) float32 rows | overflow, converged | kept count, *raw outputs)."""
        detector = self.detector
        raw = detector.net.module(
            detector.preprocess_nv12(self.frames[:n]).contiguous(
                memory_format=torch.channels_last if self.device.type == "cuda" else torch.contiguous_format
            )
        )
        options = {
            "confidence_threshold": detector.confidence_threshold,
            "nms_iou_threshold": detector.nms_iou_threshold,
            "min_width": detector.min_width,
            "min_height": detector.min_height,
            "max_detections": self.max_detections,
            "candidates": self.candidates,
            "out_boxes": self.boxes,
            "out_frame": self.box_frame,
        }
        if detector.name == "ssdlite_pedestrian":
            static = decode_ssd_static(
                raw[0],
                raw[1],
                detector.anchors,
                self.sizes[:n],
                scale_factors=detector.scale_factors,
                **options,
            )
        else:
            wanted = torch.zeros(1, dtype=torch.int64, device=self.device)  # COCO person
            static = decode_nanodet_static(
                raw[0],
                raw[1],
                _priors(detector.input_size, self.device),
                wanted,
                self.sizes[:n],
                input_size=detector.input_size,
                **options,
            )
        packed = torch.cat(
            [
                static.rows.reshape(n, -1),
                static.flags.float(),
                static.count.float().reshape(1, 1).expand(n, 1),
            ],
            dim=1,
        )
        return (packed, *raw)

    def _embed_step(self, n: int) -> tuple[torch.Tensor, ...]:
        embedder = self.embedder
        assert embedder is not None
        batch = embedder.crops_nv12(self.frames, self.box_frame[:n], self.boxes[:n])
        if self.device.type == "cuda":
            batch = batch.contiguous(memory_format=torch.channels_last)
        (raw,) = embedder.net.module(batch)
        raw = raw.float()
        return (raw / raw.norm(dim=1, keepdim=True).clamp_min(1e-12),)

    @staticmethod
    def _bucket(buckets: Sequence[int], n: int) -> int:
        return next(b for b in buckets if b >= n)

    def load(self, pool: torch.Tensor, slots: torch.Tensor) -> None:
        """Copy the frames at `slots` of `pool` into the static batch (at most `capacity`)."""
        torch.index_select(pool, 0, slots, out=self.frames[: len(slots)])

    def detect(self, n: int) -> tuple[torch.Tensor, ...]:
        """(packed, *raw outputs) for the first n loaded frames (see `_detect_step`); the raw outputs are
        only valid until the next `detect` of this engine."""
        if not self.graphs:
            with torch.no_grad():
                return self._detect_step(n)
        bucket = self._bucket(self.frame_buckets, n)
        graph, outputs = self._detect_graphs[bucket]
        graph.replay()
        # raw outputs are returned as views of the graph's buffers: valid until this engine's next replay
        return (outputs[0][:n].clone(), *(o[:n] for o in outputs[1:]))

    def detect_frames(self, n: int) -> tuple[list[Detections], int | None, tuple[torch.Tensor, ...]]:
        """Detections of the first n loaded frames, with one device->host copy.

        Returns (per-frame detections, number of kept boxes compacted into the static buffer for
        `embed_kept`, or None when the batch fell back to the exact decoder, raw outputs)."""
        packed, *raw = self.detect(n)
        host = packed.cpu().numpy()
        k = (host.shape[1] - 3) // 7
        rows = host[:, : k * 7].reshape(n, k, 7)
        overflow, converged = host[:, k * 7] > 0.5, host[:, k * 7 + 1] > 0.5
        if overflow.any() or not converged.all():
            self.fallbacks += 1
            exact = self.detector.decode(raw, self.sizes[:n]).to_host(n)
            return exact, None, tuple(raw)
        frames = []
        for frame_rows in rows:
            kept = frame_rows[frame_rows[:, 6] > 0.5]
            frames.append(
                Detections(xyxy=kept[:, :4], confidence=kept[:, 4], class_id=kept[:, 5].astype(np.int32))
            )
        # kept rows of these n frames come first in the static buffer (a padded bucket's extra frames follow)
        return frames, int((rows[:, :, 6] > 0.5).sum()), tuple(raw)

    def embed_kept(self, count: int) -> torch.Tensor:
        """(count, D) embeddings of the boxes the last `detect` compacted into the static buffer, in order."""
        assert self.embedder is not None
        if count == 0:
            return torch.zeros((0, self.embedder.dimension), device=self.device)
        largest = self.crop_buckets[-1]
        parts = []
        for start in range(0, count, largest):
            size = min(largest, count - start)
            if start:  # move the next chunk to the front, where the embed step reads
                self.boxes[:size].copy_(self.boxes[start : start + size].clone())
                self.box_frame[:size].copy_(self.box_frame[start : start + size].clone())
            parts.append(self._run_embed(size))
        return parts[0] if len(parts) == 1 else torch.cat(parts)

    def _run_embed(self, k: int) -> torch.Tensor:
        if not self.graphs:
            with torch.no_grad():
                return self._embed_step(k)[0]
        graph, (embeddings,) = self._embed_graphs[self._bucket(self.crop_buckets, k)]
        graph.replay()
        return embeddings[:k].clone()

    def _empty_or_chunked(
        self, embed: Callable[..., torch.Tensor], frame_index: Sequence, boxes: Sequence
    ) -> torch.Tensor | None:
        """What `embed` returns for no boxes, or for more boxes than the largest crop bucket (one call
        per bucket-sized chunk); None when `boxes` fit one graph run."""
        assert self.embedder is not None
        k, largest = len(boxes), self.crop_buckets[-1]
        if k == 0:
            return torch.zeros((0, self.embedder.dimension), device=self.device)
        if k <= largest:
            return None
        chunks = range(0, k, largest)
        return torch.cat([embed(frame_index[i : i + largest], boxes[i : i + largest]) for i in chunks])

    def embed_rows(self, frame_index: np.ndarray, boxes: np.ndarray) -> torch.Tensor:
        """(k, D) float32 unit embeddings (on the device) of host-chosen `boxes` (k, 4) pixels of the loaded
        frames `frame_index` (k,): one pinned host->device copy, then the embed graph (chunked above the
        largest crop bucket)."""
        special = self._empty_or_chunked(self.embed_rows, frame_index, boxes)
        if special is not None:
            return special
        k, largest = len(boxes), self.crop_buckets[-1]
        if self._pinned is None:
            self._pinned = torch.zeros(
                (largest, 5), dtype=torch.float32, pin_memory=self.device.type == "cuda"
            )
        staged = self._pinned[:k]
        staged[:, 0] = torch.from_numpy(np.asarray(frame_index, dtype=np.float32))
        staged[:, 1:] = torch.from_numpy(np.asarray(boxes, dtype=np.float32))
        device_rows = staged.to(self.device, non_blocking=True)
        self.box_frame[:k].copy_(device_rows[:, 0])
        self.boxes[:k].copy_(device_rows[:, 1:])
        embeddings = self._run_embed(k)
        if self.device.type == "cuda":  # the pinned rows are rewritten by the next call
            torch.cuda.current_stream(self.device).synchronize()
        return embeddings

    def embed(self, frame_index: torch.Tensor, boxes: torch.Tensor) -> torch.Tensor:
        """(k, D) float32 unit embeddings of `boxes` (k, 4) of loaded frames `frame_index` (k,)."""
        special = self._empty_or_chunked(self.embed, frame_index, boxes)
        if special is not None:
            return special
        k = len(boxes)
        self.boxes[:k].copy_(boxes)
        self.box_frame[:k].copy_(frame_index)
        return self._run_embed(k)
