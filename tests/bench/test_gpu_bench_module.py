"""`pyuniproc bench-gpu` measures at the module's settings, read by the runtime's own reader."""

from __future__ import annotations


def test_bench_takes_the_modules_detector_tracker_and_reid_settings(monkeypatch):
    """The bench reads the module with the runtime's reader: the threshold `pyuniproc run` uses."""
    from pyuniproc.bench.gpu import REPO, module_settings
    from pyuniproc.config.module import load_module_config

    monkeypatch.setenv("TRACK_HIGH_THRESHOLD", "0.45")
    path = REPO / "module" / "module.yml"
    module = load_module_config(path)
    settings = module_settings(path)
    assert settings["detector_options"]["confidence_threshold"] == module.detector.confidence_threshold
    assert settings["threshold_override"] is None
    assert settings["tracker_options"] == dict(module.tracker.params)
    assert settings["tracker_options"]["track_high_threshold"] == 0.45
    assert settings["reid_selection"] == dict(module.reid.selection)
    overridden = module_settings(path, threshold=0.4)
    assert overridden["detector_options"]["confidence_threshold"] == 0.4
    assert overridden["module_confidence_threshold"] == module.detector.confidence_threshold

def test_the_report_names_the_settings_it_measured():
    from pyuniproc.bench.gpu import REPO, module_settings
    from pyuniproc.gpu.report import _module_line

    line = " ".join(_module_line(module_settings(REPO / "module" / "module.yml", threshold=0.4)))
    assert "confidence threshold 0.4 (override; the module says" in line
    assert "tracker bytetrack" in line and "refresh_frames" in line

def test_nothing_in_the_package_puts_tests_on_the_import_path():
    from pyuniproc.bench.gpu import REPO

    for path in (REPO / "pyuniproc").rglob("*.py"):
        text = path.read_text()
        assert "sys.path" not in text or '"tests"' not in text, path
