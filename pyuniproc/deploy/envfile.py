"""Camera addresses and other secrets: kept out of docker-compose.yml, written to a private .env.

The compose file refers to `${CAM1_RTSP_URI}`; `update_env_file` writes the real URI (with its user and
password, if any) into `.env`, which docker compose reads from the project folder and git ignores.
"""

from __future__ import annotations

import os
import re
import secrets
from collections.abc import Mapping
from pathlib import Path

from pyuniproc.config.cameras import Site

CREDENTIALS_IN_URI = re.compile(r"[a-z][a-z0-9+.-]*://[^/\s@:]+:[^/\s@]+@", re.IGNORECASE)
"""`scheme://user:password@` anywhere in a text."""


def env_var_name(camera_id: str, uri: str) -> str:
    """Environment variable holding a camera's URI: `cam1` -> CAM1_RTSP_URI (CAM1_URI if not RTSP)."""
    stem = re.sub(r"[^A-Za-z0-9]", "_", camera_id).upper()
    return f"{stem}_RTSP_URI" if uri.startswith(("rtsp://", "rtsps://")) else f"{stem}_URI"


def redact_uri(uri: str) -> str:
    """`rtsp://user:secret@host/path` -> `rtsp://***@host/path` (for logs and messages)."""
    return re.sub(r"^([a-z][a-z0-9+.-]*://)[^/@]+@", r"\1***@", uri)


def camera_env(site: Site) -> dict[str, str]:
    """Variables the compose file expects for the network cameras, with their URIs."""
    from pyuniproc.deploy.compose import camera_kind

    return {env_var_name(c.id, c.uri): c.uri for c in site.cameras if camera_kind(c) in ("rtsp", "network")}


def new_password() -> str:
    """A random password for a service admin (e.g. Grafana's), for a fresh .env."""
    return secrets.token_urlsafe(18)


def update_env_file(path: Path, values: Mapping[str, str]) -> list[str]:
    """Set `values` in a dotenv file (kept private: mode 0600), leaving its other lines; returns the
    names that changed. Values are single-quoted so compose takes them literally."""
    lines = path.read_text(encoding="utf-8").splitlines() if path.is_file() else []
    changed, seen = [], set()
    for i, line in enumerate(lines):
        name = line.split("=", 1)[0].strip()
        if name in values:
            seen.add(name)
            new = f"{name}={_quote(values[name])}"
            if line != new:
                lines[i] = new
                changed.append(name)
    for name, value in values.items():
        if name not in seen:
            lines.append(f"{name}={_quote(value)}")
            changed.append(name)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as stream:
        stream.write("\n".join(lines) + "\n")
    os.chmod(path, 0o600)
    return changed


def read_env_file(path: Path) -> dict[str, str]:
    values = {}
    for line in path.read_text(encoding="utf-8").splitlines() if path.is_file() else []:
        if "=" in line and not line.lstrip().startswith("#"):
            name, value = line.split("=", 1)
            values[name.strip()] = value.strip().strip("'")
    return values


def _quote(value: str) -> str:
    if "'" in value:
        raise ValueError("a camera URI with a single quote cannot be written to a .env file")
    return f"'{value}'"


__all__ = ["CREDENTIALS_IN_URI", "camera_env", "env_var_name", "new_password", "read_env_file", "redact_uri",
           "update_env_file"]
