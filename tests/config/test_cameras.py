"""The cameras file: ids, URIs, lines, zones and topology, with clear errors."""

from pathlib import Path

import pytest

from pyuniproc.config.cameras import load_cameras, site_from_sources
from pyuniproc.config.yaml_source import ConfigError

REPO = Path(__file__).resolve().parents[2]


def test_demo_site_loads_with_paths_resolved_next_to_the_file():
    site = load_cameras(REPO / "samples" / "demo" / "cameras.yml")
    assert [c.id for c in site.cameras] == ["cam1", "cam2"]
    assert Path(site.cameras[0].uri).is_file()
    assert site.cameras[1].start_seconds == 30
    assert site.cameras[0].lines[0].name == "crossing"
    # Links are bidirectional unless said otherwise.
    assert ({(link.source, link.target) for link in site.topology.links}
            == {("cam1", "cam2"), ("cam2", "cam1")})


def test_duplicate_ids_rejected_naming_both_lines(tmp_path):
    path = tmp_path / "cameras.yml"
    path.write_text("cameras:\n  - {id: a, uri: x.mp4}\n  - id: b\n    uri: y.mp4\n"
                    "  - uri: z.mp4\n    id: a\n")
    with pytest.raises(ConfigError, match="duplicate camera id 'a'") as error:
        load_cameras(path)
    assert (error.value.line, error.value.field) == (6, "cameras[2].id")
    assert str(error.value).startswith(f"{path}:6: field 'cameras[2].id': ")
    assert "cameras[2] (line 6) and cameras[0] (line 2)" in str(error.value)


def test_link_to_unknown_camera_rejected(tmp_path):
    path = tmp_path / "cameras.yml"
    path.write_text("cameras:\n  - {id: a, uri: x.mp4}\ntopology:\n  links:\n"
                    "    - {from: a, to: b, min_seconds: 1, max_seconds: 2}\n")
    with pytest.raises(ConfigError, match="unknown camera 'b'"):
        load_cameras(path)


def test_live_uris_are_kept_as_given(tmp_path):
    path = tmp_path / "cameras.yml"
    path.write_text("cameras:\n  - {id: door, uri: 'rtsp://u:p@10.0.0.5/s', rtsp_transport: udp}\n")
    camera = load_cameras(path).cameras[0]
    assert camera.uri == "rtsp://u:p@10.0.0.5/s" and camera.rtsp_transport == "udp"


def test_line_needs_two_points(tmp_path):
    path = tmp_path / "cameras.yml"
    path.write_text("cameras:\n  - id: a\n    uri: x.mp4\n    lines:\n      - {name: l, points: [[0, 0]]}\n")
    with pytest.raises(ConfigError, match="at least 2 points"):
        load_cameras(path)


def test_sources_from_the_command_line():
    site = site_from_sources(["a=x.mp4", "b=rtsp://h/s"])
    assert [c.id for c in site.cameras] == ["a", "b"]
    with pytest.raises(ConfigError, match="duplicate"):
        site_from_sources(["a=x.mp4", "a=y.mp4"])
    with pytest.raises(ConfigError, match="ID=URI"):
        site_from_sources(["no-equals-sign"])


def test_record_is_a_per_camera_override_of_annotated_video(tmp_path):
    path = tmp_path / "cameras.yml"
    path.write_text("cameras:\n  - {id: a, uri: x.mp4, record: true}\n"
                    "  - {id: b, uri: y.mp4, record: false}\n  - {id: c, uri: z.mp4}\n")
    assert [camera.record for camera in load_cameras(path).cameras] == [True, False, None]


def test_record_must_be_true_or_false(tmp_path):
    path = tmp_path / "cameras.yml"
    path.write_text("cameras:\n  - {id: a, uri: x.mp4}\n  - {id: b, uri: y.mp4, record: 'yes'}\n")
    with pytest.raises(ConfigError, match="must be true or false") as error:
        load_cameras(path)
    assert (error.value.line, error.value.field) == (3, "cameras[1].record")


def test_fps_gives_a_file_its_rate_and_must_be_a_rate(tmp_path):
    path = tmp_path / "cameras.yml"
    path.write_text("cameras:\n  - {id: a, uri: x.h264, fps: 30}\n  - {id: b, uri: y.mp4}\n")
    assert [camera.fps for camera in load_cameras(path).cameras] == [30.0, None]
    for bad in ("0", "-5", "'thirty'", "true", ".nan"):
        path.write_text(f"cameras:\n  - {{id: a, uri: x.h264, fps: {bad}}}\n")
        with pytest.raises(ConfigError, match="must be a frame rate") as error:
            load_cameras(path)
        assert error.value.field == "cameras[0].fps"
