"""Fixtures for telemetry tests: OTLP receivers and a fully populated metrics registry."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from otlpkit import OtlpGrpcReceiver, OtlpHttpReceiver
from telemetrykit import FakeNvml, camera_snapshot

from pyuniproc.telemetry import PipelineMetrics


@pytest.fixture
def otlp_http() -> Iterator[OtlpHttpReceiver]:
    receiver = OtlpHttpReceiver()
    try:
        yield receiver
    finally:
        receiver.close()


@pytest.fixture
def otlp_grpc() -> Iterator[OtlpGrpcReceiver]:
    receiver = OtlpGrpcReceiver()
    try:
        yield receiver
    finally:
        receiver.close()


@pytest.fixture
def populated_metrics() -> PipelineMetrics:
    """Metrics with every series present: a camera, each stage, fusion, a (fake) GPU, the process."""
    metrics = PipelineMetrics(nvml=FakeNvml())
    metrics.watch_cameras(lambda: {"cam1": camera_snapshot()})
    for stage in (
        "decode_wait",
        "preprocess",
        "infer",
        "decode_boxes",
        "track",
        "analytics",
        "output",
        "end_to_end",
    ):
        metrics.observe_stage(stage, 0.004, "cam1")
    metrics.observe_batch(4)
    metrics.set_fusion_state(active_identities=3, backlog=1)
    metrics.add_matches(2)
    metrics.add_transition("cam1", "cam2")
    metrics.tick()
    return metrics
