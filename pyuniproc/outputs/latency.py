"""Latency of one pipeline stage in milliseconds, with bounded memory: p50 / p95 / mean / max / count.

The runtime keeps one `LatencyStats` per stage (`{stage: LatencyStats() for stage in STAGES}`).
Each keeps its last `window` samples in a fixed-size ring buffer, so a run of days uses the
same memory as a run of minutes, and percentiles describe recent behaviour instead of a warm-up
hours ago. `count`, `mean` and `max` are exact over the whole run (running totals); `p50` and
`p95` are over the window (exact while count <= window). Safe to feed from several threads.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np


class LatencyStats:
    """Millisecond samples of one stage.

    window: samples kept for the percentiles (8 bytes each); larger is steadier, smaller
        follows changes faster.
    """

    def __init__(self, window: int = 4096) -> None:
        if not isinstance(window, int) or window < 1:
            raise ValueError(f"window must be a positive int, got {window!r}")
        self.window = window
        self._samples = np.empty(window, dtype=np.float64)
        self._next = 0
        self._count = 0
        self._total = 0.0
        self._max = -math.inf
        self._lock = threading.Lock()

    @property
    def count(self) -> int:
        return self._count

    def add(self, milliseconds: float) -> None:
        ms = float(milliseconds)
        if not math.isfinite(ms):
            raise ValueError(f"latency must be finite, got {milliseconds!r}")
        with self._lock:
            self._samples[self._next] = ms
            self._next = (self._next + 1) % self.window
            self._count += 1
            self._total += ms
            self._max = max(self._max, ms)

    @contextmanager
    def time(self) -> Iterator[None]:
        """`with stats.time(): ...` adds the block's wall time."""
        start = time.perf_counter()
        try:
            yield
        finally:
            self.add((time.perf_counter() - start) * 1000.0)

    def summary(self) -> dict[str, float | int]:
        """`{"count", "mean", "p50", "p95", "max"}` in ms, rounded to µs; just `{"count": 0}` when empty."""
        with self._lock:
            if self._count == 0:
                return {"count": 0}
            recent = self._samples[: min(self._count, self.window)]
            p50, p95 = np.percentile(recent, [50, 95]).tolist()
            mean, maximum, count = self._total / self._count, self._max, self._count
        return {
            "count": count,
            "mean": round(mean, 3),
            "p50": round(p50, 3),
            "p95": round(p95, 3),
            "max": round(maximum, 3),
        }
