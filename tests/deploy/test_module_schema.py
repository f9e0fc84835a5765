"""module.yml against a mirror of Savant's config schema (pyuniproc.deploy.savant_module).

Passing means: element kinds and fields Savant knows, required fields present, model files where
Savant looks for them (MODEL_PATH/<element name>/), the tracker config on disk, converter and pyfunc
classes importable and constructible with their YAML kwargs. Not that DeepStream ran.
"""

from __future__ import annotations

import pytest
from deploykit import MODELS, MODULE_YAML, REPO

from pyuniproc.deploy.savant_module import (
    METRICS,
    METRICS_PARAMS,
    METRICS_PROVIDERS,
    TRACING,
    TRACING_PARAMS,
    TRACING_PROVIDERS,
    check_module_yaml,
)


@pytest.mark.parametrize("detector", ["ssdlite", "nanodet"])
def test_repo_module_passes_for_each_detector_profile(detector, monkeypatch):
    monkeypatch.setenv("DETECTOR", detector)
    assert check_module_yaml(MODULE_YAML) == []


def test_telemetry_uses_only_savant_050_fields_and_providers():
    """Savant 0.5.0: TracingParameters / MetricsParameters fields, the `jaeger` tracer (agent host:port),
    the `prometheus` exporter with its labels under provider_params (there is no `extra_labels`)."""
    from omegaconf import OmegaConf

    telemetry = OmegaConf.to_container(OmegaConf.load(MODULE_YAML), resolve=True)["parameters"]["telemetry"]
    tracing, metrics = telemetry["tracing"], telemetry["metrics"]
    assert set(tracing) <= TRACING and set(metrics) <= METRICS
    assert tracing["provider"] in TRACING_PROVIDERS and metrics["provider"] in METRICS_PROVIDERS
    assert set(tracing["provider_params"]) <= TRACING_PARAMS
    assert set(metrics["provider_params"]) <= METRICS_PARAMS
    assert (tracing["provider"], tracing["provider_params"]["endpoint"]) == ("jaeger", "jaeger:6831")
    assert metrics["provider_params"] == {"port": 8000, "labels": {"module": "people_tracking"}}


BROKEN = [
    # (text in module.yml, replacement, expected problem)
    ("maintain_aspect_ratio: false", "maintain_aspect_ratio: false\n          keep_ratio: true",
     "model.input.keep_ratio: not a Savant field"),
    ("model_file: ${parameters.detectors.${parameters.detector}.model_file}", "model_file: missing.onnx",
     "missing.onnx does not exist"),
    ("element: nvtracker", "element: nvtrackr", "'nvtrackr' is not an element"),
    ("tracker-width: 640", "tracker-width: 650", "tracker-width: 650 must be a multiple of 32"),
    ("class_name: PeopleAnalytics", "class_name: NoSuchPyfunc", "has no class NoSuchPyfunc"),
    ("module: module.converters.detector", "module: module.converters.nothing", "cannot import"),
    ("track_timeout_seconds: 2.0", "track_timeout_seconds: soon", "(**kwargs) fails"),
    # What Savant 0.5.0 refuses: at load (unknown fields) or when the pipeline starts (providers).
    ("provider: ${oc.decode:${oc.env:TRACING_PROVIDER, jaeger}}", "provider: opentelemetry",
     "tracing.provider: 'opentelemetry' not in"),
    ("history: 100", "history: 100\n      extra_labels: {site: a}",
     "metrics.extra_labels: not a Savant field"),
    ("provider: prometheus", "provider: statsd", "metrics.provider: 'statsd' not in"),
    ("port: ${oc.decode:${oc.env:METRICS_PORT, 8000}}", "host: 0.0.0.0",
     "prometheus needs provider_params.port"),
    ("endpoint: ${oc.env:JAEGER_AGENT_ENDPOINT, 'jaeger:6831'}", "endpoint: 'http://jaeger:4317'",
     "is not the Jaeger agent's host:port"),
    ("codec: ${oc.env:CODEC, h264}", "codec: mpeg2", "output_frame.codec"),
    ("element: nvinfer@detector", "element: nvinfer", "nvinfer needs a type"),
    ("      name: person_detector\n", "", "name: required for model elements"),
    ("label: person", "label: pedestrian\n              colour: red",
     "objects[0].colour: not a Savant field"),
]


@pytest.mark.parametrize("old, new, problem", BROKEN, ids=[b[2] for b in BROKEN])
def test_broken_module_is_reported(tmp_path, old, new, problem):
    text = MODULE_YAML.read_text()
    assert old in text
    path = tmp_path / "module.yml"
    path.write_text(text.replace(old, new, 1))
    problems = check_module_yaml(path, project_root=REPO, model_path=MODELS)
    assert any(problem in p for p in problems), problems


def test_attribute_model_must_name_an_earlier_detector_object(tmp_path):
    reid = """
    - element: nvinfer@attribute_model
      name: person_reid
      model:
        format: onnx
        model_file: ssdlite_pedestrian.onnx
        local_path: {models}/person_detector
        input:
          object: {object}
          shape: [3, 256, 128]
        output:
          layer_names: [embedding]
          converter:
            module: module.converters.detector
            class_name: SsdliteConverter
          attributes:
            - name: embedding
"""
    text = MODULE_YAML.read_text()
    anchor = "    - element: nvtracker"
    for obj, ok in (("person_detector.person", True), ("face_detector.face", False)):
        path = tmp_path / f"{ok}.yml"
        path.write_text(text.replace(anchor, reid.format(models=MODELS, object=obj).lstrip("\n") + anchor))
        problems = check_module_yaml(path, project_root=REPO, model_path=MODELS)
        assert (problems == []) is ok, problems
