"""The YAML loader behind the module and cameras files: safe_load semantics, no silent duplicate keys."""

from pathlib import Path

import pytest

from pyuniproc.config.cameras import load_cameras
from pyuniproc.config.module import load_module_config
from pyuniproc.config.yaml_source import ConfigError, load_yaml

MODULE = Path(__file__).resolve().parents[2] / "module" / "module.yml"


@pytest.mark.parametrize(
    "text, key, first, again",
    [
        ("name: a\nparameters: {}\nname: b\n", "name", 1, 3),
        ("parameters:\n  tracker:\n    frame_rate: 10\n    kind: bytetrack\n    frame_rate: 30\n",
         "frame_rate", 3, 5),
        ("cameras:\n  - {id: cam1, uri: a.mp4, id: cam2}\n", "id", 2, 2),
    ],
)
def test_a_key_written_twice_is_refused_naming_both_lines(tmp_path, text, key, first, again):
    path = tmp_path / "config.yml"
    path.write_text(text)
    with pytest.raises(ConfigError) as error:
        load_yaml(path)
    assert error.value.line == again
    assert f"duplicate key '{key}': first at line {first}, again at line {again}" in str(error.value)
    assert str(error.value).startswith(f"{path}:{again}: ")


def test_merge_keys_may_still_be_overridden(tmp_path):
    path = tmp_path / "config.yml"
    path.write_text("defaults: &d {x: 1, y: 2}\nmine:\n  <<: *d\n  x: 3\n")
    assert load_yaml(path).data["mine"] == {"x": 3, "y": 2}


def test_the_module_and_cameras_files_refuse_duplicates(tmp_path):
    module = tmp_path / "module.yml"
    module.write_text(MODULE.read_text().replace("  batch_size:", "  detector: nanodet\n  batch_size:", 1))
    with pytest.raises(ConfigError, match="duplicate key 'detector'"):
        load_module_config(module)
    cameras = tmp_path / "cameras.yml"
    cameras.write_text("site: s\ncameras:\n  - id: cam1\n    uri: a.mp4\n    uri: b.mp4\n")
    with pytest.raises(ConfigError, match=r"cameras.yml:5: .*first at line 4, again at line 5"):
        load_cameras(cameras)
