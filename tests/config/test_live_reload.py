"""Edits of the module YAML that break its schema while a run goes on: the watcher hands the pipeline a
ConfigError naming file, line and field (which it reports and ignores), never an exception of its own,
and the next good edit loads again. (The pipeline's side, keeping the running configuration:
tests/runtime/test_live_config.py.)"""

from pathlib import Path

import pytest
import yaml

from pyuniproc.config.module import ModuleConfig
from pyuniproc.config.yaml_source import ConfigError
from pyuniproc.runtime.live_config import ModuleWatcher

REPO = Path(__file__).resolve().parents[2]
ORIGINAL = (REPO / "module" / "module.yml").read_text()


def edited(path: tuple, value: object) -> str:
    doc = yaml.safe_load(ORIGINAL)
    node = doc
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    return yaml.safe_dump(doc, sort_keys=False)


BREAKING_EDITS = {  # what the edit does: (new text, field the error names)
    "pipeline becomes a string": (edited(("pipeline",), "x"), "pipeline"),
    "the detector's model becomes a number": (
        edited(("pipeline", "elements", 0, "model"), 5),
        "pipeline.elements[0].model",
    ),
    "the selector becomes a string": (
        edited(("pipeline", "elements", 0, "model", "output", "objects", 0, "selector"), "x"),
        "pipeline.elements[0].model.output.objects[0].selector",
    ),
    "a threshold becomes NaN": (
        edited(
            (
                "pipeline",
                "elements",
                0,
                "model",
                "output",
                "objects",
                0,
                "selector",
                "kwargs",
                "nms_iou_threshold",
            ),
            float("nan"),
        ),
        "pipeline.elements[0].model.output.objects[0].selector.kwargs.nms_iou_threshold",
    ),
    "a recursive alias": (ORIGINAL + "loop: &x [*x]\n", None),
}


@pytest.mark.parametrize("edit", list(BREAKING_EDITS))
def test_a_schema_breaking_edit_is_a_config_error_and_a_good_edit_loads_again(tmp_path, edit):
    path = tmp_path / "module.yml"
    path.write_text(ORIGINAL)
    watcher = ModuleWatcher(path, interval_seconds=0)
    text, field = BREAKING_EDITS[edit]
    path.write_text(text)
    error = watcher.poll()  # returned, not raised: the pipeline reports it and keeps its configuration
    assert isinstance(error, ConfigError), repr(error)
    assert error.path == str(path) and error.field == field and error.line is not None
    assert str(error).startswith(f"{path}:{error.line}: ")
    path.write_text(ORIGINAL.replace("queue_size: 8", "queue_size: 6"))
    assert isinstance(watcher.poll(), ModuleConfig)
