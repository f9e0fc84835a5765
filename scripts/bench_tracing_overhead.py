#!/usr/bin/env python3
"""Per-frame cost of tracing, as the run loop pays it: off / on but unsampled / on and sampled.

Each simulated frame does what the pipeline does per frame: open the frame trace, record the
three batched stages (batch of --batch frames: preprocess, infer, decode_boxes), four per-frame
stages (decode_wait, track, analytics, output) and close the frame. The loop's own work is not
simulated; an empty loop is measured and subtracted, so the numbers are tracing's cost alone.
"Sampled" exports through the real BatchSpanProcessor into an exporter that drops the batch
(or, with --endpoint, to a real OTLP/HTTP receiver), so the export thread's work competes for
the GIL as it would in production.

    .venv/bin/python scripts/bench_tracing_overhead.py [--frames 20000] [--batch 4]
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Sequence

from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

from pyuniproc.telemetry.config import TracingSettings
from pyuniproc.telemetry.metrics import PipelineMetrics
from pyuniproc.telemetry.tracing import Tracer, setup_tracing

BATCH_STAGES = ("preprocess", "infer", "decode_boxes")
FRAME_STAGES = ("decode_wait", "track", "analytics", "output")


class DropExporter(SpanExporter):
    """Takes batches and throws them away: measures our side, not a network."""

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        return SpanExportResult.SUCCESS


def run_frames(tracer: Tracer | None, frames: int, batch: int) -> float:
    """Seconds for `frames` frames (tracer None: the bare loop)."""
    now = time.monotonic
    start = time.perf_counter()
    for first in range(0, frames, batch):
        t = now()
        if tracer is None:
            traces = [None] * batch
            for _ in BATCH_STAGES:
                pass
            for _ in traces:
                for _ in FRAME_STAGES:
                    pass
            continue
        traces = [tracer.start_frame("cam1", first + i, t) for i in range(batch)]
        for stage in BATCH_STAGES:
            tracer.batch_stage(traces, stage, t, t + 0.001)
        for frame in traces:
            for stage in FRAME_STAGES:
                frame.stage(stage, t, t + 0.0001)
            frame.end(t + 0.002, objects=3)
    return time.perf_counter() - start


def measure(name: str, tracer: Tracer | None, frames: int, batch: int, repeats: int) -> list[float]:
    run_frames(tracer, min(frames, 2000), batch)  # warm up
    return [run_frames(tracer, frames, batch) / frames * 1e9 for _ in range(repeats)]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=10000)
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument(
        "--endpoint", help="send sampled spans to this OTLP/HTTP receiver instead of dropping them"
    )
    args = parser.parse_args(argv)

    exporter = None if args.endpoint else DropExporter()
    sampled = TracingSettings(enabled=True, sampling_ratio=1.0, endpoint=args.endpoint, max_queue_size=65536)
    tracers: dict[str, Tracer] = {
        "off": setup_tracing(TracingSettings(enabled=False)),
        "on, unsampled (ratio 0)": setup_tracing(
            TracingSettings(enabled=True, sampling_ratio=0.0), exporter=DropExporter()
        ),
        "on, sampled (ratio 1)": setup_tracing(sampled, exporter=exporter),
    }
    base = statistics.median(measure("bare", None, args.frames, args.batch, args.repeats))
    print(
        f"{args.frames} frames, batch {args.batch}, "
        f"{len(BATCH_STAGES) + len(FRAME_STAGES)} stage spans a frame; "
        f"bare loop {base:.0f} ns/frame subtracted"
    )
    print(f"{'mode':<28}{'ns/frame (median)':>20}{'min':>12}{'max':>12}")
    for name, tracer in tracers.items():
        samples = [s - base for s in measure(name, tracer, args.frames, args.batch, args.repeats)]
        print(f"{name:<28}{statistics.median(samples):>20,.0f}{min(samples):>12,.0f}{max(samples):>12,.0f}")
        tracer.shutdown()
    histograms = [
        run_histograms(args.frames, args.batch) / args.frames * 1e9 - base for _ in range(args.repeats)
    ]
    print(
        f"for comparison, the 8 latency-histogram observations a frame (metrics, always on): "
        f"{statistics.median(histograms):,.0f} ns/frame"
    )


def run_histograms(frames: int, batch: int) -> float:
    """Seconds for the per-frame `observe_stage` calls the loop makes (Prometheus histograms)."""
    metrics = PipelineMetrics(process=False, gpu="off")
    start = time.perf_counter()
    for _ in range(0, frames, batch):
        for _ in range(batch):
            for stage in BATCH_STAGES + FRAME_STAGES + ("end_to_end",):
                metrics.observe_stage(stage, 0.001, "cam1")
    return time.perf_counter() - start


if __name__ == "__main__":
    main()
