"""Which edits of module.yml the Savant module applies live, and which need a restart."""

from pathlib import Path

import pytest

from pyuniproc.config.live_rules import changed_paths, classify, flatten
from pyuniproc.config.module_spec import parse_module
from pyuniproc.config.yaml_source import load_yaml

REPO = Path(__file__).resolve().parents[2]

SPEC = parse_module(load_yaml(REPO / "module" / "module.yml"))
LIVE_PYFUNCS = {("module.pyfuncs.analytics", "PeopleAnalytics"): ("analytics", frozenset({"cameras_file"}))}
SELECTOR = "pipeline.elements[0].model.output.objects[0].selector.kwargs"


@pytest.mark.parametrize(("path", "kind", "what"), [
    (f"{SELECTOR}.confidence_threshold", "live", "detector"),
    (f"{SELECTOR}.nms_iou_threshold", "live", "detector"),
    (f"{SELECTOR}.top_k", "restart", None),
    ("pipeline.elements[0].model.output.converter.kwargs.max_detections", "live", "detector"),
    ("pipeline.elements[0].model.model_file", "restart", None),
    ("pipeline.elements[0].model.batch_size", "restart", None),
    ("pipeline.elements[1].properties.ll-config-file", "restart", None),
    ("pipeline.elements[2].model.output.converter.class_name", "restart", None),
    ("pipeline.elements[3].kwargs.cameras_file", "live", "analytics"),
    ("pipeline.elements[3].kwargs.track_timeout_seconds", "restart", None),  # not declared live here
    ("parameters.batch_size", "restart", None),
    ("parameters.telemetry.tracing.sampling_period", "restart", None),
    ("parameters.fusion.match_threshold", "elsewhere", None),
    ("parameters.tracker.track_high_threshold", "elsewhere", None),
    ("parameters.detectors.nanodet.model_file", "ignored", None),
    ("name", "restart", None),
])
def test_classify(path, kind, what):
    got_kind, got_what = classify(path, SPEC, LIVE_PYFUNCS)
    assert got_kind == kind and (what is None or got_what == what)


def test_flatten_keeps_plain_lists_whole_and_indexes_lists_of_mappings():
    leaves = flatten({"a": {"shape": [3, 300, 300], "objects": [{"id": 0}], "empty": {}}})
    assert leaves == {"a.shape": (3, 300, 300), "a.objects[0].id": 0, "a.empty": {}}
    assert changed_paths({"x": 1, "gone": 2}, {"x": 1, "new": 3}) == ["new", "gone"]
