"""Savant's file sinks as compose services, shared by the Savant and the embedded deployments."""

from __future__ import annotations

from typing import Any

from pyuniproc.deploy.images import JAEGER_IMAGE, SavantImages

ADAPTERS = "/opt/savant/adapters"


def file_sinks(images: SavantImages, sockets: str, out: str, module_socket: str,
               fusion_socket: str) -> dict[str, dict[str, Any]]:
    """Savant's video-files sink on the module's output and its metadata-JSON sink on fusion's, writing
    under `out` (both deployments, Savant's and the embedded one, run them the same way)."""
    return {
        "video-files": {
            "image": images.adapters_gstreamer,
            "restart": "unless-stopped",
            "entrypoint": f"{ADAPTERS}/gst/sinks/video_files.sh",
            "volumes": [sockets, f"{out}/video:/data/video"],
            "environment": {"ZMQ_ENDPOINT": f"sub+connect:{module_socket}", "DIR_LOCATION": "/data/video"},
        },
        "metadata-json": {
            "image": images.adapters_py,
            "restart": "unless-stopped",
            "command": "python -m adapters.python.sinks.metadata_json",
            "volumes": [sockets, f"{out}/metadata:/data/metadata"],
            "environment": {"ZMQ_ENDPOINT": f"sub+connect:{fusion_socket}",
                            "FILENAME_PATTERN": "/data/metadata/%source_id.json"},
        },
    }


def jaeger_service() -> dict[str, Any]:
    """Jaeger all-in-one, receiving OTLP (4317 gRPC, 4318 HTTP) and serving its UI on 16686: the same
    service in the Savant and the embedded deployment (a fresh dict each call, since YAML would alias a
    shared one)."""
    return {
        "image": JAEGER_IMAGE,
        "restart": "unless-stopped",
        "ports": ["16686:16686", "4317:4317", "4318:4318"],
        "environment": {"COLLECTOR_OTLP_ENABLED": "true"},
    }
