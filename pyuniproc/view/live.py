"""`LiveView` (the pipeline observer) and `serve_view` (one port for the page and the probes).

    view = serve_view(pipeline, host="127.0.0.1", port=9464)   # before pipeline.run()
    pipeline.run()                                              # the page lives while it runs

`serve_view` attaches a `LiveView` to `pipeline.observers` and serves its routes together with
/metrics, /healthz and /readyz from one uvicorn server, installed as the pipeline's telemetry
server: the run loop's `Telemetry.start()` then finds a server already there and starts no
second one, and `Telemetry.stop()` at the end of the run stops this one. One port to open.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from starlette.applications import Starlette

from pyuniproc.telemetry.server import TelemetryServer, telemetry_routes
from pyuniproc.types import Detections, Frame
from pyuniproc.view.app import view_routes
from pyuniproc.view.feed import CameraProvider, ViewFeed
from pyuniproc.view.hub import FrameHub

if TYPE_CHECKING:
    from pyuniproc.runtime.pipeline import Pipeline

log = logging.getLogger(__name__)


class LiveView:
    """Watches a run for the web page: a `FrameObserver` (see `Pipeline.observers`).

    camera_ids: the site's cameras, in tile order.
    tile_fps: most JPEG tiles per second per camera (`FrameHub.max_fps`).
    max_width, jpeg_quality: tile size and quality (`FrameHub`).
    state_period_seconds: how often the page gets camera states and panels. Lower follows a
        camera's death sooner; each message is a few kB.
    cameras: live per-camera health (`ViewFeed`); None shows the states of the last summary.
    links: name -> URL shown in the page header (e.g. the /metrics endpoint on the same port).
    """

    def __init__(
        self,
        camera_ids: Iterable[str],
        *,
        tile_fps: float = 5.0,
        max_width: int = 640,
        jpeg_quality: int = 75,
        state_period_seconds: float = 0.5,
        cameras: CameraProvider | None = None,
        links: dict[str, str] | None = None,
    ) -> None:
        if not state_period_seconds > 0:
            raise ValueError(f"state_period_seconds must be > 0, got {state_period_seconds!r}")
        camera_ids = list(camera_ids)
        self.hub = FrameHub(camera_ids, max_fps=tile_fps, max_width=max_width, jpeg_quality=jpeg_quality)
        self.feed = ViewFeed(camera_ids, cameras=cameras)
        self.state_period_seconds = float(state_period_seconds)
        self.links = dict(links or {})

    # -- FrameObserver (the pipeline thread: must return at once) ------------------------------

    def on_frame(self, frame: Frame, tracks: Detections, events: list[dict[str, Any]]) -> None:
        if events:
            self.feed.add_events(events, tracks)
        if frame.camera_id not in self.hub:  # a camera added while running gets its tile
            self.hub.add_camera(frame.camera_id)
        self.hub.on_frame(frame, tracks)

    def on_summary(self, summary: dict[str, Any]) -> None:
        self.feed.on_summary(summary)

    # -- serving --------------------------------------------------------------------------------

    def routes(self):
        return view_routes(self)

    def close(self) -> None:
        """End every open stream (before the server stops)."""
        self.hub.close()


class ViewServer(TelemetryServer):
    """The telemetry server that also serves a `LiveView`; stopping it ends the view's streams
    first, so uvicorn's graceful shutdown does not wait on open pages."""

    def __init__(self, view: LiveView, app: Starlette, *, host: str, port: int) -> None:
        super().__init__(app, host=host, port=port)
        self.view = view

    @property
    def view_url(self) -> str:
        return f"{self.url}/view/"

    def stop(self, timeout_seconds: float = 5.0) -> None:
        self.view.close()
        super().stop(timeout_seconds)


def serve_view(
    pipeline: Pipeline,
    *,
    host: str | None = None,
    port: int | None = None,
    **view_options: Any,
) -> ViewServer:
    """Attach a `LiveView` to `pipeline` and start serving it with the telemetry endpoints.

    host, port: where to listen; None takes the telemetry settings of the module
        (`parameters.pyuniproc.telemetry.metrics`, 127.0.0.1:9464 by default), so the page, the
        metrics and the probes share one port. Port 0 picks a free one.
    view_options: `LiveView` keyword arguments (tile_fps, max_width, ...).
    Raises RuntimeError on a bad option or when the address cannot be bound (the view was asked
    for explicitly, so it does not quietly run without).
    """
    telemetry = pipeline.telemetry
    if telemetry.server is not None:
        raise RuntimeError("the pipeline's telemetry server is already running; attach the view before run()")
    settings = telemetry.config.metrics
    host = settings.host if host is None else host
    port = settings.port if port is None else port
    links = {"metrics": "/metrics", "healthz": "/healthz", "readyz": "/readyz"} if settings.enabled else {}
    try:
        view = LiveView([camera.id for camera in pipeline.site.cameras],
                        cameras=telemetry.metrics.cameras.snapshots, links=links, **view_options)
    except ValueError as exc:
        raise RuntimeError(f"live view: {exc}") from None
    routes = view.routes()
    if settings.enabled:
        routes = telemetry_routes(telemetry.metrics, telemetry.health) + routes
    server = ViewServer(view, Starlette(routes=routes), host=host, port=port)
    try:
        server.start()
    except OSError as exc:
        raise RuntimeError(f"live view cannot listen on {host}:{port}: {exc}") from None
    pipeline.observers.append(view)
    telemetry.server = server
    log.info("live view: %s%s", server.view_url,
             " (with /metrics, /healthz, /readyz)" if settings.enabled else "")
    return server
