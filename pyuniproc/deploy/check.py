"""Static checks of the deployment files, since nothing here runs docker or DeepStream.

`check_compose` reads a compose document the way its containers will use it: ZeroMQ endpoints pair up
(one side binds, peers connect with the matching socket type), ipc sockets sit on one shared volume,
each camera has exactly one source with its own SOURCE_ID, the module has a GPU and a healthcheck,
images are pinned, and no camera credentials are written in clear. `check_dockerfile` checks that a
Dockerfile's base image is pinned and that everything it copies exists in the build context.
Each returns a list of problems, empty when all is well; `pyuniproc compose --check` prints them.
"""

from __future__ import annotations

import fnmatch
import re
import shlex
from collections import Counter
from collections.abc import Mapping
from pathlib import Path, PurePosixPath
from typing import Any

import yaml

from pyuniproc.config.cameras import Site
from pyuniproc.deploy.compose import CAMERA_LABEL, SOCKETS_DIR
from pyuniproc.deploy.embedded import is_embedded
from pyuniproc.deploy.envfile import CREDENTIALS_IN_URI
from pyuniproc.deploy.images import is_pinned
from pyuniproc.transport.endpoints import Endpoint, check_pairing, parse_endpoint

ENDPOINT_VARIABLES = ("ZMQ_ENDPOINT", "ZMQ_SRC_ENDPOINT", "ZMQ_SINK_ENDPOINT")
ENDPOINT_FLAGS = ("--in", "--out")
URI_VARIABLES = ("RTSP_URI", "URI")
REFERENCE = re.compile(r"^\$\{[A-Z0-9_]+(:?[-?][^}]*)?\}$")


def environment(service: Mapping[str, Any]) -> dict[str, str]:
    """A service's environment as a dict, from either compose form (mapping or KEY=VALUE list)."""
    env = service.get("environment") or {}
    if isinstance(env, Mapping):
        return {str(k): "" if v is None else str(v) for k, v in env.items()}
    return dict(item.split("=", 1) if "=" in item else (item, "") for item in env)


def service_endpoints(name: str, service: Mapping[str, Any]) -> list[tuple[str, Endpoint]]:
    """ZeroMQ endpoints a service uses: Savant's env variables and fusion's --in/--out."""
    env = environment(service)
    found = [(name, parse_endpoint(env[key])) for key in ENDPOINT_VARIABLES if key in env]
    command = service.get("command") or []
    words = shlex.split(command) if isinstance(command, str) else [str(w) for w in command]
    for flag, value in zip(words, words[1:], strict=False):
        if flag in ENDPOINT_FLAGS:
            found.append((name, parse_endpoint(value)))
    return found


def check_compose(document: Mapping[str, Any], site: Site | None = None) -> list[str]:
    """Problems of a compose document (a parsed docker-compose.yml); `site` adds the camera checks."""
    problems: list[str] = []
    services: Mapping[str, Any] = document.get("services") or {}
    if not services:
        return ["no services"]
    endpoints: list[tuple[str, Endpoint]] = []
    for name, service in services.items():
        try:
            endpoints.extend(service_endpoints(name, service))
        except ValueError as error:
            problems.append(f"service {name}: {error}")
    problems += check_pairing(endpoints)
    problems += _check_ipc_volume(services, endpoints, document.get("volumes") or {})
    problems += _check_images(services)
    problems += _check_module(services)
    problems += _check_sources(services, site)
    problems += _check_credentials(services, document)
    return problems


def _check_ipc_volume(services: Mapping[str, Any], endpoints: list[tuple[str, Endpoint]],
                      volumes: Mapping[str, Any]) -> list[str]:
    problems = []
    mounts: dict[str, set[str]] = {}
    for name in {owner for owner, endpoint in endpoints if endpoint.ipc_path is not None}:
        for spec in services[name].get("volumes") or []:
            source, _, target = str(spec).partition(":")
            if target.split(":")[0] == SOCKETS_DIR:
                mounts.setdefault(source, set()).add(name)
        folders = {str(e.ipc_path.parent) for o, e in endpoints if o == name and e.ipc_path is not None}
        if folders - {SOCKETS_DIR}:
            problems.append(f"service {name}: ipc sockets outside {SOCKETS_DIR}: {sorted(folders)}")
    users = {owner for owner, endpoint in endpoints if endpoint.ipc_path is not None}
    mounted = set().union(*mounts.values()) if mounts else set()
    for name in sorted(users - mounted):
        problems.append(f"service {name}: uses ipc sockets but does not mount a volume at {SOCKETS_DIR}")
    if len(mounts) > 1:
        problems.append(f"ipc sockets on different volumes {sorted(mounts)}: all must share one")
    for source in mounts:
        if source.startswith((".", "/")):
            continue  # a host folder is shared as well
        if source not in volumes:
            problems.append(f"volume {source!r} mounted at {SOCKETS_DIR} is not declared under volumes:")
    return problems


def _check_images(services: Mapping[str, Any]) -> list[str]:
    problems = []
    for name, service in services.items():
        image = service.get("image")
        if image is None:
            problems.append(f"service {name}: no image (a built service needs image: name:tag too)")
        elif not is_pinned(str(image)):
            problems.append(f"service {name}: image {image!r} is not pinned to a version")
    return problems


def _needs_gpu(service: Mapping[str, Any]) -> bool:
    reservations = ((service.get("deploy") or {}).get("resources") or {}).get("reservations") or {}
    devices = reservations.get("devices")
    return (any("gpu" in (d.get("capabilities") or []) for d in devices or [])
            or service.get("runtime") == "nvidia")


def _check_module(services: Mapping[str, Any]) -> list[str]:
    module = services.get("module")
    if module is None:
        return ["no service named module"]
    problems = []
    if is_embedded(dict(services)):  # the deployment without a GPU: nothing may ask for one
        problems += [f"service {name}: asks for a GPU in the embedded (CPU) deployment"
                     for name, service in services.items() if _needs_gpu(service)]
    elif not _needs_gpu(module):
        problems.append("service module: no GPU (deploy.resources.reservations.devices with capabilities "
                        "[gpu], or runtime: nvidia on Jetson)")
    if not (module.get("healthcheck") or {}).get("test"):
        problems.append("service module: no healthcheck (sources wait for it to be healthy)")
    return problems


def _check_sources(services: Mapping[str, Any], site: Site | None) -> list[str]:
    problems = []
    sources = {name: s for name, s in services.items() if CAMERA_LABEL in (s.get("labels") or {})}
    ids = Counter(environment(s).get("SOURCE_ID") for s in sources.values())
    for source_id, count in ids.items():
        if not source_id:
            problems.append("a camera source has no SOURCE_ID")
        elif count > 1:
            problems.append(f"SOURCE_ID {source_id!r} is used by {count} sources; each camera needs its own")
    for name, service in sources.items():
        label = service["labels"][CAMERA_LABEL]
        if environment(service).get("SOURCE_ID") != label:
            problems.append(f"service {name}: SOURCE_ID differs from its camera label {label!r}")
        condition = ((service.get("depends_on") or {}).get("module") or {}).get("condition")
        if condition != "service_healthy":
            problems.append(f"service {name}: should start after the module is healthy")
    if site is not None:
        cameras = [c.id for c in site.cameras]
        missing = [c for c in cameras if c not in ids]
        extra = [s for s in ids if s not in cameras]
        if missing:
            problems.append(f"cameras without a source service: {missing}")
        if extra:
            problems.append(f"source services for cameras not in the cameras file: {extra}")
        live = services.get("always-on-rtsp")
        if live is not None:
            shown = environment(live).get("SOURCE_IDS", "").split(",")
            if sorted(shown) != sorted(cameras):
                problems.append(f"always-on-rtsp SOURCE_IDS {shown} differ from the cameras {cameras}")
    return problems


def _check_credentials(services: Mapping[str, Any], document: Mapping[str, Any]) -> list[str]:
    problems = []
    text = yaml.safe_dump(dict(document), sort_keys=False)
    for match in CREDENTIALS_IN_URI.finditer(text):
        scheme = match.group(0).split("://")[0]
        problems.append(f"credentials in clear: {scheme}://***@ (use ${{VAR}} from .env)")
    for name, service in services.items():
        env = environment(service)
        for key in URI_VARIABLES:
            if key in env and not env[key].startswith("/dev/") and not REFERENCE.match(env[key]):
                problems.append(f"service {name}: {key} is written in the file; use a variable from .env")
    return problems


def check_dockerfile(path: Path, context: Path) -> list[str]:
    """Problems of a Dockerfile: unpinned base image, COPY/ADD sources missing from the build context."""
    problems = []
    args: dict[str, str] = {}
    ignored = _dockerignore(context)
    text = re.sub(r"\\\n", " ", Path(path).read_text(encoding="utf-8"))
    for line in text.splitlines():
        words = line.split()
        if not words or words[0].startswith("#"):
            continue
        instruction = words[0].upper()
        if instruction == "ARG" and len(words) > 1 and "=" in words[1]:
            key, value = words[1].split("=", 1)
            args.setdefault(key, value)
        elif instruction == "FROM":
            image = re.sub(r"\$\{?(\w+)\}?", lambda m: args.get(m.group(1), m.group(0)), words[1])
            if not is_pinned(image):
                problems.append(f"{path}: base image {image!r} is not pinned")
        elif instruction in ("COPY", "ADD"):
            operands = [w for w in words[1:] if not w.startswith("--")]
            if any(w.startswith("--from") for w in words[1:]):
                continue
            for source in operands[:-1]:
                if not list(Path(context).glob(source)):
                    problems.append(f"{path}: {instruction} source {source!r} does not exist in {context}")
                elif _ignored(source, ignored):
                    problems.append(f"{path}: {instruction} source {source!r} is excluded by .dockerignore")
    return problems


def _dockerignore(context: Path) -> list[str]:
    path = Path(context) / ".dockerignore"
    lines = path.read_text(encoding="utf-8").splitlines() if path.is_file() else []
    return [line.strip().rstrip("/") for line in lines if line.strip() and not line.startswith(("#", "!"))]


def _ignored(source: str, patterns: list[str]) -> bool:
    """Whether a build-context path (or a folder above it) matches a .dockerignore pattern."""
    parts = PurePosixPath(source.strip("/")).parts
    prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    return any(fnmatch.fnmatch(prefix, pattern.removeprefix("**/")) or fnmatch.fnmatch(prefix, pattern)
               for pattern in patterns for prefix in prefixes)


__all__ = ["check_compose", "check_dockerfile", "environment", "service_endpoints"]
