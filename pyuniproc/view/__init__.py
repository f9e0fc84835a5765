"""The live web view of a run: every camera's picture, its health, and who went where.

    pyuniproc run --cameras site.yml --out out/ --view          # then open http://127.0.0.1:9464/

    hub      `FrameHub`: latest frame per camera, kept only while someone watches, drawn and
             JPEG-encoded in the server's threads at a capped rate per camera
    feed     `ViewFeed`: camera states, run status, recent cross-camera transitions and
             analytics events, as one JSON snapshot
    app      Starlette routes: the page, MJPEG tiles, snapshots, JSON and Server-Sent Events
    live     `LiveView` (the pipeline observer) and `serve_view` (page + /metrics + /healthz +
             /readyz on one port)
    static   index.html, view.js, view.css: plain files, no build step

Nothing here runs in the pipeline thread beyond a dict lookup per frame while nobody watches
(see `FrameHub.on_frame`); scripts/bench_view_overhead.py measures what the view costs a run.
"""

from pyuniproc.view.app import view_routes
from pyuniproc.view.feed import ViewFeed
from pyuniproc.view.hub import FrameHub, Tile, encode_tile
from pyuniproc.view.live import LiveView, ViewServer, serve_view

__all__ = ["FrameHub", "LiveView", "Tile", "ViewFeed", "ViewServer", "encode_tile", "serve_view",
           "view_routes"]
