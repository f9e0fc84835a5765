"""The module YAML: the repo's own file loads, and broken files name file, line and field."""

from pathlib import Path

import pytest

from pyuniproc.config.module import load_module_config
from pyuniproc.config.yaml_source import ConfigError

REPO = Path(__file__).resolve().parents[2]
MODULE = REPO / "module" / "module.yml"


def test_repo_module_maps_onto_the_embedded_runtime(monkeypatch):
    monkeypatch.delenv("DETECTOR", raising=False)
    module = load_module_config(MODULE)
    assert module.name == "people_tracking"
    assert module.detector.converter == "NanodetConverter"  # the default, chosen by benchmarks/accuracy
    assert (module.detector.model_dir / module.detector.model_file).is_file()
    assert module.tracker.kind == "bytetrack"
    assert 0 < module.tracker.params["track_high_threshold"] <= module.tracker.params["new_track_threshold"]
    assert [p.class_name for p in module.pyfuncs] == ["PeopleAnalytics"]


def test_environment_overrides_like_savant(monkeypatch):
    monkeypatch.setenv("TRACK_HIGH_THRESHOLD", "0.55")
    monkeypatch.setenv("BATCH_SIZE", "2")
    module = load_module_config(MODULE)
    assert 0 < module.tracker.params["track_high_threshold"] <= module.tracker.params["new_track_threshold"]
    assert module.detector.batch_size == 2


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "module.yml"
    path.write_text(text)
    return path


def test_invalid_yaml_names_file_and_line(tmp_path):
    path = write(tmp_path, "name: x\npipeline:\n  elements: [1\n")
    with pytest.raises(ConfigError, match=r"module\.yml:\d+: invalid YAML"):
        load_module_config(path)


def test_unknown_element_names_line_and_field(tmp_path):
    path = write(tmp_path, "name: x\npipeline:\n  elements:\n    - element: nvinfer@nope\n")
    with pytest.raises(ConfigError) as error:
        load_module_config(path)
    assert error.value.line == 4
    assert error.value.field == "pipeline.elements[0].element"
    assert "nvinfer@nope" in str(error.value)


def test_out_of_range_threshold_names_its_field(tmp_path):
    text = MODULE.read_text().replace("nms_iou_threshold: 0.45", "nms_iou_threshold: 4.5")
    with pytest.raises(ConfigError, match="nms_iou_threshold.*out of range"):
        load_module_config(write(tmp_path, text))


def test_unresolvable_env_names_the_field(tmp_path, monkeypatch):
    monkeypatch.delenv("NO_SUCH_VARIABLE_X", raising=False)
    text = "name: x\nparameters:\n  a: ${oc.env:NO_SUCH_VARIABLE_X}\npipeline:\n  elements: []\n"
    with pytest.raises(ConfigError, match="cannot resolve") as error:
        load_module_config(write(tmp_path, text))
    assert error.value.line == 3


def test_python_tags_are_not_executed(tmp_path):
    path = write(tmp_path, "name: !!python/object/apply:os.system ['echo hacked']\n")
    with pytest.raises(ConfigError, match="invalid YAML"):
        load_module_config(path)


def test_unknown_runtime_setting_rejected(tmp_path):
    text = MODULE.read_text().replace("queue_size: 8", "queue_sise: 8")
    with pytest.raises(ConfigError, match="queue_sise"):
        load_module_config(write(tmp_path, text))


def test_detector_workers_below_one_rejected(tmp_path, monkeypatch):
    monkeypatch.setenv("DETECTOR_WORKERS", "0")
    with pytest.raises(ConfigError, match=r"parameters\.pyuniproc\.detector_workers.*must be >= 1"):
        load_module_config(MODULE)


def test_detector_workers_and_threads_come_from_the_module(monkeypatch):
    monkeypatch.setenv("DETECTOR_WORKERS", "3")
    monkeypatch.setenv("DETECTOR_THREADS", "2")
    runtime = load_module_config(MODULE).runtime
    assert (runtime.detector_workers, runtime.detector_threads) == (3, 2)


def test_backend_defaults_to_auto_and_follows_the_environment(monkeypatch):
    assert load_module_config(MODULE).runtime.backend == "auto"
    monkeypatch.setenv("BACKEND", "cpu")
    assert load_module_config(MODULE).runtime.backend == "cpu"


def test_unknown_backend_rejected_naming_field_and_value(monkeypatch):
    monkeypatch.setenv("BACKEND", "tpu")
    with pytest.raises(ConfigError, match=r"parameters\.pyuniproc\.backend.*auto, cpu, gpu.*'tpu'"):
        load_module_config(MODULE)


def test_decoder_defaults_to_auto_follows_the_environment_and_is_checked(monkeypatch):
    assert load_module_config(MODULE).runtime.decoder == "auto"
    monkeypatch.setenv("DECODER", "nv12-cpu")
    assert load_module_config(MODULE).runtime.decoder == "nv12-cpu"
    monkeypatch.setenv("DECODER", "nvjpeg")
    with pytest.raises(ConfigError, match=r"pyuniproc\.decoder.*auto, cpu, nvdec, nv12-cpu.*'nvjpeg'"):
        load_module_config(MODULE)


RELINK = "\n  relink:\n    enabled: {enabled}\n    max_gap_frames: {gap}\n"


def with_relink(tmp_path: Path, enabled: str = "true", gap: str = "20") -> Path:
    text = MODULE.read_text()
    if "\n  relink:" in text:  # the repo's own block goes; the test's stands in
        start = text.index("\n  relink:")
        end = text.index("\n\n", start)
        text = text[:start] + text[end:]
    text = text.replace("\n  tracker:\n", RELINK.format(enabled=enabled, gap=gap) + "\n  tracker:\n", 1)
    return write(tmp_path, text)


def test_relink_options_come_from_the_module(tmp_path):
    assert load_module_config(with_relink(tmp_path)).relink == {"max_gap_frames": 20}


def test_relink_can_be_switched_off(tmp_path):
    assert load_module_config(with_relink(tmp_path, enabled="false")).relink is None


def test_bad_relink_option_names_the_section(tmp_path):
    with pytest.raises(ConfigError, match=r"parameters\.relink.*max_gap_frames"):
        load_module_config(with_relink(tmp_path, gap="0"))


@pytest.mark.parametrize(("env", "expected"), [(None, "auto"), ("true", True), ("false", False)])
def test_annotated_video_is_true_false_or_auto(monkeypatch, env, expected):
    if env is None:
        monkeypatch.delenv("ANNOTATED_VIDEO", raising=False)
    else:
        monkeypatch.setenv("ANNOTATED_VIDEO", env)
    runtime = load_module_config(MODULE).runtime
    assert runtime.annotated_video == expected and type(runtime.annotated_video) is type(expected)
    assert runtime.recording.when_behind == "auto"


def test_annotated_video_rejects_anything_else(monkeypatch):
    monkeypatch.setenv("ANNOTATED_VIDEO", "sometimes")
    with pytest.raises(ConfigError, match=r"pyuniproc\.annotated_video.*expected true, false or auto"):
        load_module_config(MODULE)


def test_gpu_batch_size_follows_the_environment_and_must_be_positive(monkeypatch):
    assert load_module_config(MODULE).runtime.gpu_batch_size == 32
    monkeypatch.setenv("GPU_BATCH_SIZE", "16")
    assert load_module_config(MODULE).runtime.gpu_batch_size == 16
    monkeypatch.setenv("GPU_BATCH_SIZE", "0")
    with pytest.raises(ConfigError, match=r"parameters\.pyuniproc\.gpu_batch_size.*must be >= 1"):
        load_module_config(MODULE)
