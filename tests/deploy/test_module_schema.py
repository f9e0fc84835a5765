"""module.yml against a mirror of Savant's config schema (pyuniproc.deploy.savant_module).

Passing means: element kinds and fields Savant knows, required fields present, model files where
Savant looks for them (MODEL_PATH/<element name>/), the tracker config on disk, converter and pyfunc
classes importable and constructible with their YAML kwargs. Not that DeepStream ran.
"""

from __future__ import annotations

import pytest
from deploykit import MODELS, MODULE_YAML, REPO

from pyuniproc.deploy.savant_module import check_module_yaml


@pytest.mark.parametrize("detector", ["ssdlite", "nanodet"])
def test_repo_module_passes_for_each_detector_profile(detector, monkeypatch):
    monkeypatch.setenv("DETECTOR", detector)
    assert check_module_yaml(MODULE_YAML) == []


def test_telemetry_is_savant_06_opentelemetry_with_prometheus_metrics():
    from omegaconf import OmegaConf

    telemetry = OmegaConf.to_container(OmegaConf.load(MODULE_YAML), resolve=True)["parameters"]["telemetry"]
    assert telemetry["tracing"]["provider"] == "opentelemetry"
    assert telemetry["tracing"]["provider_params"]["endpoint"] == "http://jaeger:4317"
    assert set(telemetry["metrics"]) <= {"frame_period", "time_period", "history", "extra_labels"}


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
    ("provider: ${oc.decode:${oc.env:TRACING_PROVIDER, opentelemetry}}", "provider: zipkin",
     "provider: 'zipkin' not in"),
    ("history: 100", "history: 100\n      provider: prometheus", "metrics.provider: not a Savant field"),
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
