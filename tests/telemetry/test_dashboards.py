"""Grafana dashboard and provisioning files; every PromQL name they (and the alerts) read is exported."""

from __future__ import annotations

import json

import pytest
import yaml
from promqlkit import PROMETHEUS_SYNTHETIC, dashboard_exprs, exposed_names, metric_names, rule_exprs
from telemetrykit import DEPLOY

DASHBOARD = DEPLOY / "grafana" / "dashboards" / "pyuniproc.json"
ALERTS = DEPLOY / "prometheus" / "alerts.yml"


@pytest.mark.parametrize(
    "expr, names",
    [
        ('sum by (camera, le) (rate(a_bucket{camera=~"$camera"}[$__rate_interval]))', {"a_bucket"}),
        ("histogram_quantile(0.95, sum by (le) (rate(b_bucket[1m]))) > 0.5", {"b_bucket"}),
        ('x > 10 unless on (camera, job) y{state=~"finished|dead"} == 1', {"x", "y"}),
        ("rate(c_total[5m]) / (rate(d_total[5m]) > 0) > 5e-2", {"c_total", "d_total"}),
        ('ALERTS{alertstate="firing"}', {"ALERTS"}),
        ("label_values(pyuniproc_camera_up, camera)", {"pyuniproc_camera_up"}),
    ],
)
def test_metric_name_extraction(expr, names):
    assert metric_names(expr) == names


def test_dashboard_reads_only_exported_metrics(populated_metrics):
    exposed = exposed_names(populated_metrics.exposition()) | PROMETHEUS_SYNTHETIC
    queries = list(dashboard_exprs(DASHBOARD))
    assert len(queries) > 20
    missing = {
        where: sorted(metric_names(expr) - exposed) for where, expr in queries if metric_names(expr) - exposed
    }
    assert not missing, missing
    used = set().union(*(metric_names(expr) for _, expr in queries))
    for needed in (
        "pyuniproc_camera_fps",
        "pyuniproc_camera_frames_dropped_total",
        "pyuniproc_end_to_end_latency_seconds_bucket",
        "pyuniproc_gpu_utilization_ratio",
        "pyuniproc_fusion_active_identities",
    ):
        assert needed in used, f"the dashboard should show {needed}"


def test_alert_rules_read_only_exported_metrics(populated_metrics):
    exposed = exposed_names(populated_metrics.exposition()) | PROMETHEUS_SYNTHETIC
    missing = {
        where: sorted(metric_names(expr) - exposed)
        for where, expr in rule_exprs(ALERTS)
        if metric_names(expr) - exposed
    }
    assert not missing, missing


def test_dashboard_layout_and_datasource():
    dashboard = json.loads(DASHBOARD.read_text())
    assert dashboard["uid"] == "pyuniproc"
    ids = [p["id"] for p in dashboard["panels"]]
    assert len(ids) == len(set(ids)), "panel ids are unique"
    for panel in dashboard["panels"]:
        grid = panel["gridPos"]
        assert grid["x"] + grid["w"] <= 24, panel["title"]
        if panel["type"] != "row":
            assert panel["datasource"]["uid"] == "prometheus", panel["title"]
    cells = set()
    for panel in dashboard["panels"]:  # no two panels overlap
        g = panel["gridPos"]
        for x in range(g["x"], g["x"] + g["w"]):
            for y in range(g["y"], g["y"] + g["h"]):
                assert (x, y) not in cells, panel["title"]
                cells.add((x, y))


def test_provisioning_points_at_the_dashboard_and_datasource():
    datasources = yaml.safe_load((DEPLOY / "grafana/provisioning/datasources/prometheus.yml").read_text())
    (source,) = datasources["datasources"]
    assert (source["uid"], source["type"]) == ("prometheus", "prometheus")
    providers = yaml.safe_load((DEPLOY / "grafana/provisioning/dashboards/pyuniproc.yml").read_text())
    (provider,) = providers["providers"]
    assert provider["type"] == "file" and provider["options"]["path"] == "/var/lib/grafana/dashboards"
