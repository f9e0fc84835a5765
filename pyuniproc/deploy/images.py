"""Pinned container images of the Savant deployment, per platform (x86 dGPU or Jetson l4t).

Savant publishes its images as `ghcr.io/insight-platform/<name>[-l4t]:<tag>`: the module image and the
DeepStream adapters are tagged `<savant>-<deepstream>`, the GStreamer and Python adapters `<savant>`.
Change `SAVANT_VERSION` / `DEEPSTREAM_VERSION` here and regenerate with `pyuniproc compose`.

The pin is the Savant release whose source module/module.yml is checked against (docs/deploy-savant.md):
0.5.0 on DeepStream 7.0, Python 3.10. Moving on means checking the module YAML with that release's
loader (scripts/savant_config_check.py) and its schema mirror (pyuniproc.deploy.savant_module) again.
"""

from __future__ import annotations

from dataclasses import dataclass

SAVANT_VERSION = "0.5.0"
DEEPSTREAM_VERSION = "7.0"
REGISTRY = "ghcr.io/insight-platform"
PLATFORMS = ("x86", "l4t")

# Third-party services (official images, pinned).
JAEGER_IMAGE = "jaegertracing/all-in-one:1.62.0"
PROMETHEUS_IMAGE = "prom/prometheus:v2.54.1"
GRAFANA_IMAGE = "grafana/grafana:11.2.2"
KAFKA_IMAGE = "apache/kafka:3.8.0"
ETCD_IMAGE = "quay.io/coreos/etcd:v3.5.17"


@dataclass(frozen=True)
class SavantImages:
    """The Savant images one platform uses."""

    platform: str = "x86"
    savant: str = SAVANT_VERSION
    deepstream: str = DEEPSTREAM_VERSION

    def __post_init__(self) -> None:
        if self.platform not in PLATFORMS:
            raise ValueError(f"platform must be one of {PLATFORMS}, got {self.platform!r}")

    def _name(self, name: str) -> str:
        return f"{REGISTRY}/{name}{'-l4t' if self.platform == 'l4t' else ''}"

    @property
    def deepstream_module(self) -> str:
        """Base of our module image (docker/Dockerfile.module[-l4t])."""
        return f"{self._name('savant-deepstream')}:{self.savant}-{self.deepstream}"

    @property
    def adapters_gstreamer(self) -> str:
        return f"{self._name('savant-adapters-gstreamer')}:{self.savant}"

    @property
    def adapters_py(self) -> str:
        return f"{self._name('savant-adapters-py')}:{self.savant}"

    @property
    def adapters_deepstream(self) -> str:
        return f"{self._name('savant-adapters-deepstream')}:{self.savant}-{self.deepstream}"

    @property
    def module_tag(self) -> str:
        """Local tag of the image built from docker/Dockerfile.module[-l4t]."""
        suffix = "-l4t" if self.platform == "l4t" else ""
        return f"people-tracking-module{suffix}:{self.savant}-{self.deepstream}"

    @property
    def fusion_tag(self) -> str:
        suffix = "-l4t" if self.platform == "l4t" else ""
        return f"people-tracking-fusion{suffix}:{self.savant}-{self.deepstream}"

    @property
    def module_dockerfile(self) -> str:
        return "docker/Dockerfile.module-l4t" if self.platform == "l4t" else "docker/Dockerfile.module"


def is_pinned(image: str) -> bool:
    """A reference with an explicit tag other than `latest`, or a digest."""
    if "@sha256:" in image:
        return True
    name, _, tag = image.rpartition(":")
    return bool(name) and "/" not in tag and tag not in ("", "latest")


__all__ = ["DEEPSTREAM_VERSION", "PLATFORMS", "SAVANT_VERSION", "SavantImages", "is_pinned"]
