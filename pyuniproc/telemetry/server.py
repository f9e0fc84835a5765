"""The telemetry HTTP server: /metrics, /healthz, /readyz on one small ASGI app.

Why Starlette + uvicorn rather than prometheus-client's own `start_http_server`: health
endpoints need their own handlers, and a live web view can later add its routes to the same
app (`telemetry_routes()` returns them; mount them in a bigger `Starlette(routes=[...])` and
pass that app to `TelemetryServer`). uvicorn runs in one daemon thread with its own event loop;
the endpoints are plain functions run in Starlette's thread pool, so a slow scrape never
blocks the event loop and never touches the pipeline thread.

The listening socket is bound in the caller's thread, so a port already in use raises
`OSError` at `start()` (instead of a log line from a background thread), and port 0 works
(`server.port` tells which port was picked).
"""

from __future__ import annotations

import logging
import socket
import threading

import uvicorn
from prometheus_client.exposition import choose_encoder
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route
from starlette.types import ASGIApp

from pyuniproc.telemetry.health import Health
from pyuniproc.telemetry.metrics import PipelineMetrics

log = logging.getLogger(__name__)


def telemetry_routes(metrics: PipelineMetrics, health: Health) -> list[BaseRoute]:
    """The three routes, to mount in any Starlette app."""

    def metrics_endpoint(request: Request) -> Response:
        encoder, content_type = choose_encoder(request.headers.get("accept", ""))
        return Response(encoder(metrics.registry), media_type=content_type)

    def healthz(request: Request) -> Response:
        alive, body = health.liveness()
        return JSONResponse(body, status_code=200 if alive else 503)

    def readyz(request: Request) -> Response:
        ready, body = health.readiness()
        return JSONResponse(body, status_code=200 if ready else 503)

    return [
        Route("/metrics", metrics_endpoint, methods=["GET"]),
        Route("/healthz", healthz, methods=["GET"]),
        Route("/readyz", readyz, methods=["GET"]),
    ]


def create_app(metrics: PipelineMetrics, health: Health) -> Starlette:
    return Starlette(routes=telemetry_routes(metrics, health))


class TelemetryServer:
    """Serves an ASGI app from a background thread.

    host: 127.0.0.1 by default: nothing off this machine can reach it unless configured.
    port: 0 picks a free port.
    """

    def __init__(self, app: ASGIApp, *, host: str = "127.0.0.1", port: int = 0) -> None:
        self.app = app
        self.host = host
        self.port = port
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    def start(self, *, ready_timeout_seconds: float = 5.0) -> TelemetryServer:
        """Bind (raises OSError if the port is taken) and serve until `stop()`."""
        if self._thread is not None:
            raise RuntimeError("server already started")
        sock = _bind(self.host, self.port)
        self.port = sock.getsockname()[1]
        config = uvicorn.Config(
            self.app,
            log_config=None,
            log_level="warning",
            access_log=False,
            lifespan="off",
            http="h11",
            loop="asyncio",
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [sock]}, name="telemetry-http", daemon=True
        )
        self._thread.start()
        deadline = threading.Event()
        waited = 0.0
        while not self._server.started and waited < ready_timeout_seconds and self._thread.is_alive():
            deadline.wait(0.01)
            waited += 0.01
        if not self._server.started:
            self.stop()
            raise RuntimeError(f"telemetry server did not start on {self.url}")
        log.info("telemetry: %s/metrics, /healthz, /readyz", self.url)
        return self

    def stop(self, timeout_seconds: float = 5.0) -> None:
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout_seconds)
        self._server = None
        self._thread = None

    def __enter__(self) -> TelemetryServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    sock.listen(128)
    sock.set_inheritable(True)
    return sock
