"""The view's HTTP routes (Starlette), mountable next to /metrics, /healthz and /readyz.

    GET /                         redirects to /view/
    GET /view/                    the page (static/index.html; plain HTML/JS/CSS, no build step)
    GET /view/static/...          its script and style sheet
    GET /view/api/config          cameras, tile rate, palette, links: what the page needs once
    GET /view/api/state           `ViewFeed.snapshot()` as JSON (scripts, tests)
    GET /view/api/events          the same snapshot as Server-Sent Events, every `state_period_seconds`
    GET /view/tiles/<camera>.mjpg MJPEG (multipart/x-mixed-replace): any browser's <img>, VLC, ffplay
    GET /view/tiles/<camera>.jpg  the newest tile once (polling clients; keeps the camera watched
                                  for `FrameHub.lease_seconds`)

Streams are async generators on uvicorn's event loop; drawing and encoding run in Starlette's
thread pool (`FrameHub.tile`), so a slow encode never stalls the other streams. A browser keeps
at most six HTTP/1.1 connections to one server, so the page uses MJPEG for up to
`MJPEG_MAX_TILES` cameras and polls .jpg snapshots beyond that. Every stream ends when the hub
closes (the run is over), so the server can shut down without waiting on open pages.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import TYPE_CHECKING

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, RedirectResponse, Response, StreamingResponse
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from pyuniproc.outputs.draw import PALETTE, UNTRACKED_COLOR

if TYPE_CHECKING:
    from pyuniproc.view.live import LiveView

STATIC = Path(__file__).resolve().parent / "static"
BOUNDARY = "pyuniproc-frame"
MJPEG_MAX_TILES = 4
"""Tiles streamed as MJPEG; with more cameras the page polls snapshots (six-connection limit)."""
NO_STORE = {"Cache-Control": "no-store"}


def view_routes(view: LiveView) -> list[BaseRoute]:
    """The page and its feeds; give them to a Starlette app (with the telemetry routes)."""
    hub, feed = view.hub, view.feed

    def index(request: Request) -> Response:
        return FileResponse(STATIC / "index.html", headers=NO_STORE)

    def config(request: Request) -> Response:
        return JSONResponse({
            "cameras": hub.camera_ids,
            "tile_fps": hub.max_fps,
            "state_period_seconds": view.state_period_seconds,
            "mjpeg_max_tiles": MJPEG_MAX_TILES,
            "palette": [list(color) for color in PALETTE],
            "untracked_color": list(UNTRACKED_COLOR),
            "links": view.links,
        }, headers=NO_STORE)

    def state(request: Request) -> Response:
        return JSONResponse(feed.snapshot(), headers=NO_STORE)

    async def events(request: Request) -> Response:
        async def stream() -> AsyncIterator[str]:
            yield "retry: 1000\n\n"
            while not hub.closed:
                started = time.monotonic()
                yield f"event: state\ndata: {json.dumps(feed.snapshot(), separators=(',', ':'))}\n\n"
                await asyncio.sleep(max(0.0, view.state_period_seconds - (time.monotonic() - started)))
            yield "event: end\ndata: {}\n\n"

        return StreamingResponse(stream(), media_type="text/event-stream",
                                 headers={**NO_STORE, "X-Accel-Buffering": "no"})

    async def mjpeg(request: Request) -> Response:
        camera_id = request.path_params["camera_id"]
        if camera_id not in hub:
            return JSONResponse({"error": f"no camera {camera_id!r}"}, status_code=404)

        async def parts() -> AsyncIterator[bytes]:
            with hub.watching(camera_id):
                # Each part ends with the next boundary, so a browser shows it at once instead
                # of waiting for the next frame to learn that this one is complete.
                yield f"--{BOUNDARY}\r\n".encode()
                sent = None
                while not hub.closed:
                    started = time.monotonic()
                    tile = await run_in_threadpool(hub.tile, camera_id)
                    if tile is not None and tile.seq != sent:
                        sent = tile.seq
                        head = (f"Content-Type: image/jpeg\r\nContent-Length: {len(tile.jpeg)}\r\n"
                                f"X-Frame-Index: {tile.frame_index}\r\n\r\n")
                        yield head.encode() + tile.jpeg + f"\r\n--{BOUNDARY}\r\n".encode()
                    # Ask twice per slot: the hub decides when a slot is due, a poll that comes a
                    # little early then costs half a slot, not a whole one.
                    await asyncio.sleep(max(0.01, hub.min_interval / 2 - (time.monotonic() - started)))

        return StreamingResponse(parts(), media_type=f"multipart/x-mixed-replace; boundary={BOUNDARY}",
                                 headers={**NO_STORE, "X-Accel-Buffering": "no"})

    async def snapshot(request: Request) -> Response:
        camera_id = request.path_params["camera_id"]
        if camera_id not in hub:
            return JSONResponse({"error": f"no camera {camera_id!r}"}, status_code=404)
        hub.touch(camera_id)
        tile = await run_in_threadpool(hub.tile, camera_id)
        if tile is None:  # nothing stored yet: the lease above makes the next poll find one
            return Response(status_code=204, headers=NO_STORE)
        return Response(tile.jpeg, media_type="image/jpeg",
                        headers={**NO_STORE, "X-Frame-Index": str(tile.frame_index)})

    def home(request: Request) -> Response:
        return RedirectResponse("/view/")

    return [
        Route("/", home, methods=["GET"]),
        Mount("/view", routes=[
            Route("/", index, methods=["GET"]),
            Route("/api/config", config, methods=["GET"]),
            Route("/api/state", state, methods=["GET"]),
            Route("/api/events", events, methods=["GET"]),
            Route("/tiles/{camera_id}.mjpg", mjpeg, methods=["GET"]),
            Route("/tiles/{camera_id}.jpg", snapshot, methods=["GET"]),
            Mount("/static", StaticFiles(directory=STATIC), name="static"),
        ]),
    ]
