"""`pyuniproc serve`: run the module as a Savant module, behind Savant's own adapters.

    pyuniproc serve --module module/module.yml --cameras site/cameras.yml \\
        --in router+bind:ipc:///tmp/zmq-sockets/input-video.ipc \\
        --out pub+bind:ipc:///tmp/zmq-sockets/output-video.ipc

Defaults follow Savant's module: the endpoints come from ZMQ_SRC_ENDPOINT / ZMQ_SINK_ENDPOINT when set
(else the two above), SOURCE_TIMEOUT (10 s) and SHUTDOWN_AUTH from the environment, so the same compose
environment drives either module. See docs/deploy-savant.md ("Without a GPU").
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

DEFAULT_MODULE = Path("module/module.yml")
DEFAULT_IN = "router+bind:ipc:///tmp/zmq-sockets/input-video.ipc"
DEFAULT_OUT = "pub+bind:ipc:///tmp/zmq-sockets/output-video.ipc"
"""Savant's module binds its input ROUTER and output PUB on these in Savant's own compose files. (Here,
not in service.py: `register` runs at every CLI start and must not import the runtime.)"""


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "serve", help="run the module as a Savant module: frames from Savant's source adapters over ZeroMQ, "
                      "annotated frames out to Savant's sinks",
        description="Read savant-rs frame messages (H.264, HEVC, JPEG, PNG, raw RGBA/RGB) from Savant's "
                    "source adapters, run detection, tracking, ReID, fusion and the pyfuncs of the module "
                    "YAML, and publish each frame with its objects as the Savant module does.")
    parser.add_argument("--module", type=Path, default=DEFAULT_MODULE, help="Savant module YAML")
    parser.add_argument("--cameras", type=Path,
                        help="cameras file: lines, zones and topology of the sources listed there (optional; "
                             "other sources are accepted and reported)")
    parser.add_argument("--in", dest="inbound", default=os.environ.get("ZMQ_SRC_ENDPOINT") or DEFAULT_IN,
                        help=f"input endpoint (env ZMQ_SRC_ENDPOINT; default {DEFAULT_IN})")
    parser.add_argument("--out", dest="outbound", default=os.environ.get("ZMQ_SINK_ENDPOINT") or DEFAULT_OUT,
                        help=f"output endpoint (env ZMQ_SINK_ENDPOINT; default {DEFAULT_OUT})")
    parser.add_argument("--run-dir", type=Path, default=Path(os.environ.get("RUN_DIR", "out/serve")),
                        help="folder of the run's files: summary, tracks, events (env RUN_DIR; "
                             "default out/serve)")
    parser.add_argument("--source-timeout", type=float, default=_env_float("SOURCE_TIMEOUT", 10.0),
                        help="seconds of silence that end a source's stream, and that an ended source "
                             "is kept for a restart (env SOURCE_TIMEOUT; default 10, as Savant)")
    parser.add_argument("--receive-hwm", type=int, default=int(_env_float("ZMQ_SRC_RECEIVE_HWM", 50)),
                        help="messages queued per source before the source blocks (default 50, as Savant)")
    parser.add_argument("--shutdown-auth", default=os.environ.get("SHUTDOWN_AUTH") or None,
                        help="key of the Shutdown message that stops the service (env SHUTDOWN_AUTH; "
                             "default: Shutdown messages are ignored)")
    parser.add_argument("--max-seconds", type=float, help="stop after this many seconds")
    parser.set_defaults(func=serve_command)


def serve_command(args: argparse.Namespace) -> int:
    from pyuniproc.config.cameras import Site, load_cameras
    from pyuniproc.config.module import load_module_config
    from pyuniproc.runtime.stop_signals import stop_on_signals
    from pyuniproc.serve.service import ServeOptions, ServeService

    module = load_module_config(args.module)
    site = load_cameras(args.cameras) if args.cameras else Site(name="serve", cameras=())
    options = ServeOptions(inbound=args.inbound, outbound=args.outbound, run_dir=args.run_dir,
                           source_timeout=args.source_timeout, receive_hwm=args.receive_hwm,
                           shutdown_auth=args.shutdown_auth, max_seconds=args.max_seconds)
    try:
        service = ServeService(module, site, options)
    except ValueError as error:  # a malformed endpoint, or one of the wrong direction
        print(f"pyuniproc serve: {error}", file=sys.stderr)
        return 2
    with stop_on_signals(service.stop):
        summary = service.run()
    serve = summary["serve"]
    print(f"serve: {summary['frames_processed']} frames processed in {summary['elapsed_seconds']:.1f} s; "
          f"published {json.dumps(serve['published'])}; messages {json.dumps(serve['messages'])}; "
          f"rejected {json.dumps(serve['rejected'])}; sources {json.dumps(serve['source_events'])}")
    if serve["unlisted_sources"]:
        print(f"serve: sources not in the cameras file: {', '.join(serve['unlisted_sources'])}")
    return 0


def _env_float(name: str, default: float) -> float:
    try:
        return float(os.environ.get(name) or default)
    except ValueError:
        return default


__all__ = ["register", "serve_command"]
