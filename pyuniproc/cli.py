"""The `pyuniproc` command: run a module on cameras, benchmark, make and score scenarios."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from pyuniproc import __version__
from pyuniproc.config.yaml_source import ConfigError
from pyuniproc.extras import explain
from pyuniproc.module_files import default_module_file


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="pyuniproc", description=__doc__)
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    parser.add_argument("--version", action="version",
                        version=f"pyuniproc {__version__} (default module: {default_module_file()})")
    commands = parser.add_subparsers(dest="command", required=True)
    _register_run(commands)
    for register in _optional_commands():
        register(commands)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        return int(args.func(args) or 0)
    except ConfigError as exc:
        print(f"pyuniproc: config error: {exc}", file=sys.stderr)
        return 2
    except RuntimeError as exc:  # ModelError and other clear, user-facing failures
        print(f"pyuniproc: error: {exc}", file=sys.stderr)
        return 2
    except ModuleNotFoundError as exc:  # an optional part (pyuniproc/extras.py): say which extra brings it
        message = explain(exc)
        if message is None:
            raise
        print(f"pyuniproc: {message}", file=sys.stderr)
        return 2


def _optional_commands():
    """Subcommands living next to the code they drive; each module offers `register(subparsers)`.
    Importing them must not need an optional extra (eval, kafka, gpu): those are imported when a
    command runs, so `pyuniproc --help` works on a plain install (tests/test_packaging.py)."""
    from pyuniproc import fusion_service
    from pyuniproc.ablation import command as ablation
    from pyuniproc.accuracy import command as accuracy
    from pyuniproc.bench import command as bench
    from pyuniproc.bench import gpu as bench_gpu
    from pyuniproc.calibration import command as calibrate
    from pyuniproc.deploy import cli as deploy
    from pyuniproc.evaluation import cli as evaluation
    from pyuniproc.report import command as report
    from pyuniproc.scenario import cli as scenario
    from pyuniproc.serve import command as serve

    return [module.register for module in (bench, bench_gpu, scenario, evaluation, ablation, accuracy, report,
                                                deploy, fusion_service, serve, calibrate)]


def _register_run(commands: argparse._SubParsersAction) -> None:
    run = commands.add_parser("run", help="run the module on cameras and write tracks, videos and events")
    run.add_argument("--module", type=Path, default=None,
                     help="Savant module YAML (default: the module shipped with pyuniproc, "
                          "module/module.yml in a checkout; `pyuniproc --version` prints where)")
    cams = run.add_mutually_exclusive_group(required=True)
    cams.add_argument("--cameras", type=Path, help="cameras file (docs/cameras-file.md)")
    cams.add_argument("--source", action="append", metavar="ID=URI", help="a camera; repeat for more")
    run.add_argument("--out", type=Path, required=True, help="output folder")
    run.add_argument("--max-seconds", type=float, help="stop after this many seconds of wall time")
    run.add_argument("--max-frames", type=int, help="stop each camera after this many frames")
    run.add_argument("--realtime", action="store_true", default=None, help="pace files at their native rate")
    run.add_argument("--loop", action="store_true", default=None, help="loop files")
    run.add_argument("--no-progress", action="store_true", help="no live progress display")
    run.add_argument("--backend", choices=("auto", "cpu", "gpu"), default=None,
                     help="where the detector and ReID run (default: the module's "
                          "parameters.pyuniproc.backend; auto = the GPU when torch sees CUDA, else the CPU)")
    run.add_argument("--workers", default=None, metavar="N|auto",
                     help="split the cameras into N groups, each run by a worker process (decode, "
                          "detection, tracking, ReID); fusion, pyfuncs and outputs stay in this one "
                          "(default: the module's parameters.pyuniproc.workers, 1; auto = one per GPU "
                          "when there are several)")
    run.add_argument("--decoder", choices=("auto", "cpu", "nvdec", "nv12-cpu"), default=None,
                     help="how video files are decoded (default: the module's parameters.pyuniproc.decoder; "
                          "auto: NVDEC with the frames kept on the GPU "
                          "when the backend is the GPU and NVDEC runs here, else PyAV on the CPU; nv12-cpu: "
                          "the NVDEC path's NV12 frames made by PyAV, without a GPU)")
    view = run.add_argument_group("live view", "a web page of every camera, served with /metrics, /healthz "
                                  "and /readyz on one port")
    view.add_argument("--view", action="store_true", help="serve the live view while running")
    view.add_argument("--view-host", help="listen address (default: the telemetry host, 127.0.0.1)")
    view.add_argument("--view-port", type=int,
                      help="port (default: the telemetry port, 9464; 0: any free port)")
    view.add_argument("--view-fps", type=float, default=5.0,
                      help="most pictures per second per camera tile (default 5); encoded only while watched")
    run.set_defaults(func=run_command)


def run_command(args: argparse.Namespace) -> int:
    from pyuniproc.config.cameras import load_cameras, site_from_sources
    from pyuniproc.config.module import load_module_config
    from pyuniproc.runtime.pipeline import Pipeline, RunOptions
    from pyuniproc.runtime.report import print_run_report

    module = load_module_config(args.module or default_module_file())
    site = load_cameras(args.cameras) if args.cameras else site_from_sources(args.source)
    options = RunOptions(out_dir=args.out, max_seconds=args.max_seconds, max_frames=args.max_frames,
                         realtime=args.realtime, loop=args.loop, progress=not args.no_progress,
                         backend=args.backend, decoder=args.decoder, workers=_workers_arg(args.workers))
    pipeline = Pipeline(module, site, options)
    if args.view:
        from pyuniproc.view import serve_view

        serve_view(pipeline, host=args.view_host, port=args.view_port, tile_fps=args.view_fps)
    from pyuniproc.runtime.stop_signals import stop_on_signals

    with stop_on_signals(pipeline.stop):
        summary = pipeline.run()
    print_run_report(summary)
    if any(group["state"] == "died" for group in summary.get("workers") or ()):
        return 4
    return 0 if summary["frames_processed"] > 0 else 3


def _workers_arg(value: str | None) -> int | str | None:
    from pyuniproc.runtime.workers import check_workers

    if value is None:
        return None
    try:
        return check_workers(value)
    except ValueError as exc:
        raise SystemExit(f"pyuniproc run: --workers: {exc}") from None


if __name__ == "__main__":
    sys.exit(main())
