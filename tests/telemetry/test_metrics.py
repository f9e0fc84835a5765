"""Metrics exposition: per-camera series from snapshots, histograms, fusion, GPU, no credentials."""

from __future__ import annotations

import math

from prometheus_client.parser import text_string_to_metric_families
from telemetrykit import FakeNvml, camera_snapshot

from pyuniproc.sources.stats import CameraStats
from pyuniproc.telemetry import PipelineMetrics
from pyuniproc.telemetry.gpu import gpu_collector


def samples(metrics: PipelineMetrics) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """{(sample name, sorted labels): value} parsed back from the text format."""
    out = {}
    for family in text_string_to_metric_families(metrics.exposition().decode()):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def value(metrics: PipelineMetrics, name: str, /, **labels: str) -> float:
    return samples(metrics)[(name, tuple(sorted(labels.items())))]


def test_camera_series_come_from_snapshots_at_scrape_time():
    metrics = PipelineMetrics(process=False, gpu="off")
    snap = camera_snapshot()
    metrics.watch_cameras(lambda: {"cam1": snap})
    assert value(metrics, "pyuniproc_camera_up", camera="cam1") == 1
    assert value(metrics, "pyuniproc_camera_state", camera="cam1", state="live") == 1
    assert value(metrics, "pyuniproc_camera_state", camera="cam1", state="dead") == 0
    assert value(metrics, "pyuniproc_camera_fps", camera="cam1") == 9.5
    assert value(metrics, "pyuniproc_camera_frames_received_total", camera="cam1") == 120
    assert value(metrics, "pyuniproc_camera_frames_processed_total", camera="cam1") == 118
    assert value(metrics, "pyuniproc_camera_frames_dropped_total", camera="cam1", reason="queue_full") == 2
    assert value(metrics, "pyuniproc_camera_read_errors_total", camera="cam1") == 1
    assert value(metrics, "pyuniproc_camera_reconnects_total", camera="cam1") == 3
    assert value(metrics, "pyuniproc_camera_seconds_since_last_frame", camera="cam1") == 0.1
    assert value(metrics, "pyuniproc_camera_queue_depth", camera="cam1") == 2

    snap.update(state="stalled", frames_received=130, fps=0.0)  # the next scrape sees the change
    assert value(metrics, "pyuniproc_camera_up", camera="cam1") == 0
    assert value(metrics, "pyuniproc_camera_state", camera="cam1", state="stalled") == 1
    assert value(metrics, "pyuniproc_camera_frames_received_total", camera="cam1") == 130


def test_real_camera_stats_before_and_after_frames():
    now = [100.0]
    stats = CameraStats("door", "rtsp://user:pw@host/x", clock=lambda: now[0])
    metrics = PipelineMetrics(process=False, gpu="off")
    metrics.watch_cameras(lambda: {"door": stats.snapshot()})
    assert value(metrics, "pyuniproc_camera_state", camera="door", state="connecting") == 1
    assert math.isnan(value(metrics, "pyuniproc_camera_seconds_since_last_frame", camera="door"))
    assert value(metrics, "pyuniproc_camera_frames_dropped_total", camera="door", reason="queue_full") == 0
    for _ in range(5):
        now[0] += 0.1
        stats.record_frame()
    stats.mark_dropped("overload")
    assert value(metrics, "pyuniproc_camera_up", camera="door") == 1
    assert value(metrics, "pyuniproc_camera_frames_received_total", camera="door") == 5
    assert value(metrics, "pyuniproc_camera_frames_dropped_total", camera="door", reason="overload") == 1
    assert value(metrics, "pyuniproc_camera_fps", camera="door") == 10.0


def test_credentials_never_reach_labels_or_values(populated_metrics):
    text = populated_metrics.exposition().decode()
    assert "hunter2" not in text and "admin" not in text and "10.0.0.5" not in text and "rtsp" not in text


def test_update_from_summary_is_used_without_a_provider():
    metrics = PipelineMetrics(process=False, gpu="off")
    metrics.update_from_summary({"cameras": {"cam1": camera_snapshot(frames_received=10)}})
    assert value(metrics, "pyuniproc_camera_frames_received_total", camera="cam1") == 10
    metrics.update_from_summary({"cameras": {"cam1": camera_snapshot(frames_received=25)}})
    assert value(metrics, "pyuniproc_camera_frames_received_total", camera="cam1") == 25


def test_a_failing_provider_does_not_break_the_scrape():
    metrics = PipelineMetrics(process=False, gpu="off")
    metrics.update_from_summary({"cameras": {"cam1": camera_snapshot()}})

    def broken():
        raise RuntimeError("boom")

    metrics.watch_cameras(broken)
    assert value(metrics, "pyuniproc_camera_up", camera="cam1") == 1  # falls back to the pushed values


def test_stage_histograms_and_end_to_end():
    metrics = PipelineMetrics(process=False, gpu="off")
    for seconds in (0.002, 0.004, 0.2):
        metrics.observe_stage("infer", seconds, "cam1")
    metrics.observe_stage("end_to_end", 0.3, "cam1")
    s = samples(metrics)
    key = (
        "pyuniproc_stage_latency_seconds_bucket",
        (("camera", "cam1"), ("le", "0.005"), ("stage", "infer")),
    )
    assert s[key] == 2
    assert s[("pyuniproc_stage_latency_seconds_count", (("camera", "cam1"), ("stage", "infer")))] == 3
    assert s[("pyuniproc_end_to_end_latency_seconds_count", (("camera", "cam1"),))] == 1
    assert not any(
        name == "pyuniproc_stage_latency_seconds_count" and ("stage", "end_to_end") in labels
        for name, labels in s
    )
    metrics.forget_camera("cam1")
    assert not any(dict(labels).get("camera") == "cam1" for _, labels in samples(metrics))


def test_fusion_counters_and_gauges():
    metrics = PipelineMetrics(process=False, gpu="off")
    metrics.set_fusion_state(active_identities=4, backlog=7)
    metrics.add_matches(3)
    metrics.add_transition("cam1", "cam2")
    metrics.add_transition("cam1", "cam2")
    assert value(metrics, "pyuniproc_fusion_active_identities") == 4
    assert value(metrics, "pyuniproc_fusion_backlog") == 7
    assert value(metrics, "pyuniproc_fusion_matches_total") == 3
    assert value(metrics, "pyuniproc_fusion_transitions_total", from_camera="cam1", to_camera="cam2") == 2


def test_process_collector_on_linux():
    metrics = PipelineMetrics(gpu="off")
    names = {name for name, _ in samples(metrics)}
    assert {"process_cpu_seconds_total", "process_resident_memory_bytes"} <= names


def test_no_gpu_path_exports_no_gpu_series():
    # This machine has no NVML (nvidia-ml-py not installed or no driver): nothing, and no error.
    metrics = PipelineMetrics(process=False, gpu="auto")
    if metrics.gpu is None:
        assert not any(name.startswith("pyuniproc_gpu") for name, _ in samples(metrics))
    assert gpu_collector("off", FakeNvml()) is None


def test_gpu_series_with_nvml():
    metrics = PipelineMetrics(process=False, nvml=FakeNvml())
    assert value(metrics, "pyuniproc_gpu_utilization_ratio", gpu="0") == 0.4
    assert value(metrics, "pyuniproc_gpu_memory_used_bytes", gpu="0") == 4 << 30
    assert value(metrics, "pyuniproc_gpu_memory_total_bytes", gpu="0") == 16 << 30
    assert value(metrics, "pyuniproc_gpu_info", gpu="0", name="Fake GPU") == 1


def test_gpu_that_fails_to_init_is_skipped():
    class NoDriver(FakeNvml):
        def nvmlInit(self) -> None:  # noqa: N802
            raise OSError("NVML Shared Library Not Found")

    assert gpu_collector("auto", NoDriver()) is None


def test_two_instances_do_not_share_a_registry():
    a, b = PipelineMetrics(process=False, gpu="off"), PipelineMetrics(process=False, gpu="off")
    a.add_matches(5)
    assert value(b, "pyuniproc_fusion_matches_total") == 0


def test_recording_series_come_from_the_recorders_at_scrape_time():
    metrics = PipelineMetrics(process=False, gpu="off")
    stats = {"cam1": {"frames_written": 90, "frames_dropped": 10, "queued": 3}}
    metrics.watch_recordings(lambda: stats)
    assert samples(metrics)[("pyuniproc_recording_frames_dropped_total", (("camera", "cam1"),))] == 10
    stats["cam1"] = {"frames_written": 95, "frames_dropped": 12, "queued": 0}
    values = samples(metrics)
    assert values[("pyuniproc_recording_frames_written_total", (("camera", "cam1"),))] == 95
    assert values[("pyuniproc_recording_frames_dropped_total", (("camera", "cam1"),))] == 12
    assert values[("pyuniproc_recording_queue_depth", (("camera", "cam1"),))] == 0


def test_a_failing_recording_provider_does_not_break_the_scrape():
    metrics = PipelineMetrics(process=False, gpu="off")
    metrics.watch_recordings(lambda: 1 / 0)
    assert "pyuniproc_recording_frames_dropped" in metrics.exposition().decode()  # the family, empty


def test_a_removed_cameras_late_transitions_do_not_bring_its_series_back():
    metrics = PipelineMetrics(process=False, gpu="off")
    metrics.add_transition("extra1", "extra1")
    metrics.forget_camera("extra1")
    metrics.add_transition("extra1", "extra1")  # fusion decided a pending track after the removal
    metrics.add_transition("cam2", "extra1")
    assert not any("extra1" in dict(labels).values() for _, labels in samples(metrics))
    metrics.camera_added("extra1")  # the same id added again: counted again
    metrics.add_transition("cam2", "extra1")
    assert value(metrics, "pyuniproc_fusion_transitions_total", from_camera="cam2", to_camera="extra1") == 1
