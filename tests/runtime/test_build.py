"""Stages built from the module YAML: settings reach the stage, bad ones are named with their field."""

from pathlib import Path

import pytest

from pyuniproc.config.module import ConfigError, load_module_config
from pyuniproc.runtime.build import build_tracker

MODULE = Path(__file__).resolve().parents[2] / "module" / "module.yml"
SQUAT_LINES = "    squat_box_aspect: null\n"


def module_with_squat_lines(tmp_path: Path, lines: str) -> Path:
    """A copy of the module whose squat-box lines are `lines`."""
    text = MODULE.read_text()
    assert SQUAT_LINES in text
    path = tmp_path / "module.yml"
    path.write_text(text.replace(SQUAT_LINES, lines))
    return path


def test_the_committed_module_leaves_squat_boxes_as_they_are(module_config):
    assert build_tracker(module_config).squat_box_aspect is None


def test_squat_box_completion_switches_on_from_the_module(tmp_path):
    lines = "    squat_box_aspect: 1.6\n    completed_box_aspect: 2.2\n"
    tracker = build_tracker(load_module_config(module_with_squat_lines(tmp_path, lines)))
    assert (tracker.squat_box_aspect, tracker.completed_box_aspect) == (1.6, 2.2)


@pytest.mark.parametrize("lines", ["    squat_box_aspect: null\n", ""])
def test_squat_box_completion_switches_off_with_null_or_left_out(tmp_path, lines):
    module = load_module_config(module_with_squat_lines(tmp_path, lines))
    assert build_tracker(module).squat_box_aspect is None


@pytest.mark.parametrize("lines, message", [
    ("    squat_box_aspect: 1.6\n    completed_box_aspect: 1.0\n",
     "completed_box_aspect=1.0 must be at least"),
    ("    squat_box_aspect: tall\n", "squat_box_aspect='tall' must be a number above 0"),
])
def test_bad_squat_box_settings_name_the_field(tmp_path, lines, message):
    module = load_module_config(module_with_squat_lines(tmp_path, lines))
    with pytest.raises(ConfigError, match=r"field 'parameters.tracker': " + message):
        build_tracker(module)
