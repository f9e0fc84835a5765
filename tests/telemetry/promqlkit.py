"""Which metric names a PromQL expression reads, and the names our exporter exposes.

Enough of PromQL for our own rules and dashboard: label matchers, ranges, grouping clauses,
strings and numbers are stripped; what is left that is not a function, keyword or number is a
metric name. Grafana's `label_values(metric, label)` is understood too.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml
from prometheus_client.parser import text_string_to_metric_families

# Series Prometheus makes itself, which no exporter exposes.
PROMETHEUS_SYNTHETIC = {"up", "ALERTS", "ALERTS_FOR_STATE"}
KEYWORDS = {
    "and",
    "or",
    "unless",
    "bool",
    "offset",
    "by",
    "without",
    "on",
    "ignoring",
    "group_left",
    "group_right",
    "inf",
    "nan",
    "Inf",
    "NaN",
    "atan2",
    "start",
    "end",
}
_GROUPING = re.compile(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)")
_IDENT = re.compile(r"[A-Za-z_:][A-Za-z0-9_:]*")
_LABEL_VALUES = re.compile(
    r"^\s*label_values\(\s*([A-Za-z_:][A-Za-z0-9_:]*)?\s*(\{[^}]*\})?\s*,?\s*(\w+)?\s*\)\s*$"
)


def metric_names(expr: str) -> set[str]:
    match = _LABEL_VALUES.match(expr)
    if match:
        return {match.group(1)} if match.group(1) else set()
    text = re.sub(r"\{[^}]*\}", " ", expr)  # label matchers (hold the strings)
    text = re.sub(r'"(?:[^"\\]|\\.)*"', " ", text)  # any other string
    text = re.sub(r"\[[^\]]*\]", " ", text)  # ranges and subqueries
    text = _GROUPING.sub(" ", text)
    names = set()
    for m in _IDENT.finditer(text):
        if m.start() > 0 and (text[m.start() - 1].isdigit() or text[m.start() - 1] == "."):
            continue  # part of a number such as 1e9 or a duration
        following = text[m.end() :].lstrip()
        if following.startswith("(") or m.group() in KEYWORDS:
            continue
        names.add(m.group())
    return names


def exposed_names(exposition: bytes) -> set[str]:
    """Sample names in a /metrics body (histograms give _bucket, _sum, _count)."""
    return {s.name for family in text_string_to_metric_families(exposition.decode()) for s in family.samples}


def dashboard_exprs(path: Path) -> Iterator[tuple[str, str]]:
    """(where, expr) for every query of a Grafana dashboard: panel targets and template variables."""
    dashboard = json.loads(path.read_text())

    def panels(items: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
        for panel in items:
            yield panel
            yield from panels(panel.get("panels", []))

    for panel in panels(dashboard.get("panels", [])):
        for target in panel.get("targets", []):
            yield f"panel '{panel.get('title')}' {target.get('refId')}", target["expr"]
    for variable in dashboard.get("templating", {}).get("list", []):
        query = variable.get("query")
        if isinstance(query, dict):
            query = query.get("query")
        if variable.get("type") == "query" and query:
            yield f"variable ${variable['name']}", query


def rule_exprs(path: Path) -> Iterator[tuple[str, str]]:
    for group in yaml.safe_load(path.read_text())["groups"]:
        for rule in group["rules"]:
            yield f"rule {rule.get('alert') or rule.get('record')}", rule["expr"]
