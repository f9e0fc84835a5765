#!/usr/bin/env python3
"""What the live view costs the pipeline: throughput with the view off / on without a viewer /
on with one viewer, same footage, same time in each mode.

The cameras are read as fast as possible (not paced; a file camera waits for the pipeline, so
nothing is dropped), so frames/s is the pipeline's capacity.

Method "windows" (default): one run; the three modes take turns in short windows (`--window`
seconds each, after `--settle` seconds to let the previous mode's streams close), the order
rotating every cycle. Turns this short cancel most of the drift of a machine that other programs
load, which separate runs cannot (on a shared 2-core box, two identical runs differ by 2x).
  off     no observer in `pipeline.observers` (as without --view)
  idle    the view attached and served, nobody connected
  viewer  one page's worth of streams open: an MJPEG stream per camera plus the SSE state feed,
          read with plain sockets so that only the server's work is measured (--viewer chromium
          opens the real page in a headless Chromium on this machine instead; its decoding and
          drawing then compete for the same cores, as when someone watches on the machine itself)
Method "runs": a separate run per mode, interleaved, `--repeats` times (median reported).

Also reported: process CPU time per frame (all threads), the time `LiveView.on_frame` takes in
the pipeline thread, tiles encoded, and the draw+encode time of one tile. And, as a number other
programs on the machine hardly move, the view's own CPU time: a `LiveView` alone (no pipeline)
fed decoded vtest frames at 10 fps per camera, CPU ms per second without and with a viewer.

    .venv/bin/python scripts/bench_view_overhead.py [--cameras 2] [--cycles 8] [--window 3]
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import statistics
import sys
import tempfile
import threading
import time
from dataclasses import fields, replace
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "view"))  # cdpkit, for --viewer chromium

from pyuniproc.config.cameras import CameraSpec, Site  # noqa: E402
from pyuniproc.config.module import load_module_config  # noqa: E402
from pyuniproc.runtime.pipeline import Pipeline, RunOptions  # noqa: E402
from pyuniproc.types import Detections, Frame  # noqa: E402
from pyuniproc.view import LiveView, encode_tile, serve_view  # noqa: E402

VTEST = ROOT / "samples" / "vtest" / "vtest.avi"
MODES = ("off", "idle", "viewer")


class TimedView:
    """Wraps a LiveView's on_frame to time it (the only view code in the pipeline thread)."""

    def __init__(self, view: LiveView) -> None:
        self.view = view
        self.seconds = 0.0
        self.calls = 0

    def on_frame(self, frame, tracks, events) -> None:
        start = time.perf_counter()
        self.view.on_frame(frame, tracks, events)
        self.seconds += time.perf_counter() - start
        self.calls += 1

    def on_summary(self, summary) -> None:
        self.view.on_summary(summary)

    def take(self) -> tuple[float, int]:
        seconds, calls = self.seconds, self.calls
        self.seconds, self.calls = 0.0, 0
        return seconds, calls


@contextlib.contextmanager
def viewer(kind: str, server, cameras: list[str]):
    """One page's worth of viewing while inside."""
    if kind == "chromium":
        from cdpkit import Browser, find_chromium

        with Browser(find_chromium()) as browser:
            browser.goto(server.view_url)
            yield
        return
    stop = threading.Event()
    connections = []

    def read(path: str) -> None:
        connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=5)
        connections.append(connection)
        connection.request("GET", path)
        response = connection.getresponse()
        while not stop.is_set():
            try:
                if not response.read1(1 << 16):
                    break
            except (OSError, AttributeError, http.client.HTTPException):  # closed under us: done
                break

    paths = [f"/view/tiles/{c}.mjpg" for c in cameras] + ["/view/api/events"]
    threads = [threading.Thread(target=read, args=(p,), daemon=True) for p in paths]
    for thread in threads:
        thread.start()
    try:
        yield
    finally:
        stop.set()
        for connection in connections:
            with contextlib.suppress(OSError):
                connection.sock.shutdown(2)
            connection.close()
        for thread in threads:
            thread.join(2)


def make_pipeline(module, cameras: int, out: Path, max_seconds: float | None) -> Pipeline:
    site = Site(name="bench", cameras=tuple(
        CameraSpec(id=f"cam{i + 1}", uri=str(VTEST), loop=True, start_seconds=7.0 * i)
        for i in range(cameras)))
    return Pipeline(module, site, RunOptions(out_dir=out, max_seconds=max_seconds, progress=False,
                                             watch_module=False, realtime=False, loop=True))


def attach_timed(pipeline: Pipeline):
    server = serve_view(pipeline, host="127.0.0.1", port=0)
    timed = TimedView(pipeline.observers.pop())
    pipeline.observers.append(timed)
    return server, timed


def processed(pipeline: Pipeline) -> int:
    return sum(c.get("frames_processed", 0) for c in pipeline.telemetry.metrics.cameras.snapshots().values())


def windows(module, args) -> list[dict]:
    with tempfile.TemporaryDirectory() as out:
        pipeline = make_pipeline(module, args.cameras, Path(out), None)
        server, timed = attach_timed(pipeline)
        camera_ids = [c.id for c in pipeline.site.cameras]
        thread = threading.Thread(target=pipeline.run, daemon=True)
        thread.start()
        while processed(pipeline) < 20:  # model warm, decoders running
            time.sleep(0.2)
        results = []
        try:
            for cycle in range(args.cycles):
                order = MODES[cycle % 3:] + MODES[:cycle % 3]
                for mode in order:
                    pipeline.observers[:] = [] if mode == "off" else [timed]
                    watching = viewer(args.viewer, server, camera_ids) if mode == "viewer" \
                        else contextlib.nullcontext()
                    with watching:
                        time.sleep(args.settle)
                        timed.take()
                        encodes0 = sum(timed.view.hub.encodes(c) for c in camera_ids)
                        f0, t0, c0 = processed(pipeline), time.monotonic(), time.process_time()
                        time.sleep(args.window)
                        f1, t1, c1 = processed(pipeline), time.monotonic(), time.process_time()
                        seconds, calls = timed.take()
                        encodes = sum(timed.view.hub.encodes(c) for c in camera_ids) - encodes0
                    result = {"mode": mode, "fps": (f1 - f0) / (t1 - t0),
                              "cpu_ms_per_frame": 1000 * (c1 - c0) / max(f1 - f0, 1), "encodes": encodes}
                    if mode != "off":
                        result["on_frame_us"] = 1e6 * seconds / max(calls, 1)
                    results.append(result)
                    report_line(f"cycle {cycle + 1}/{args.cycles}", result)
        finally:
            pipeline.stop()
            thread.join(20)
        return results


def runs(module, args) -> list[dict]:
    results = []
    for repeat in range(args.repeats):
        for mode in MODES:
            with tempfile.TemporaryDirectory() as out:
                pipeline = make_pipeline(module, args.cameras, Path(out), args.seconds)
                timed = None
                context = contextlib.nullcontext()
                if mode != "off":
                    server, timed = attach_timed(pipeline)
                    if mode == "viewer":
                        context = viewer(args.viewer, server, [c.id for c in pipeline.site.cameras])
                with context:
                    cpu = time.process_time()
                    summary = pipeline.run()
                    cpu = time.process_time() - cpu
            frames = summary["frames_processed"]
            result = {"mode": mode, "fps": summary["throughput_fps"],
                      "cpu_ms_per_frame": 1000 * cpu / max(frames, 1)}
            if timed is not None:
                seconds, calls = timed.take()
                result["on_frame_us"] = 1e6 * seconds / max(calls, 1)
                result["encodes"] = sum(timed.view.hub.encodes(c.id) for c in pipeline.site.cameras)
            results.append(result)
            report_line(f"run {repeat + 1}/{args.repeats}", result)
    return results


def report_line(prefix: str, result: dict) -> None:
    line = (f"{prefix} {result['mode']:6s} {result['fps']:6.2f} frames/s "
            f"{result['cpu_ms_per_frame']:6.2f} CPU ms/frame")
    if "on_frame_us" in result:
        line += f"  on_frame {result['on_frame_us']:.1f} us, {result.get('encodes', 0)} tiles encoded"
    print(line, flush=True)


def encode_ms(repeats: int = 50) -> float:
    """Median time to draw and encode one 640 px tile of vtest with five boxes."""
    import av

    with av.open(str(VTEST)) as container:
        image = next(container.decode(video=0)).to_ndarray(format="rgb24")
    frame = Frame("cam1", 0, 0.0, image)
    tracks = Detections(xyxy=[[50 + 100 * i, 100, 110 + 100 * i, 260] for i in range(5)],
                        confidence=[0.9] * 5, class_id=[0] * 5, tracker_id=list(range(1, 6)))
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        encode_tile(frame, tracks)
        times.append(time.perf_counter() - start)
    return 1000 * statistics.median(times)


def view_cpu(cameras: int, viewer_kind: str, seconds: float = 6.0) -> dict[str, float]:
    """Process CPU ms per second of a LiveView alone, fed 10 fps per camera: no viewer / viewer."""
    import av
    from starlette.applications import Starlette

    from pyuniproc.view import ViewServer

    with av.open(str(VTEST)) as container:
        decoded = zip(range(40), container.decode(video=0), strict=False)
        images = [f.to_ndarray(format="rgb24") for _, f in decoded]
    tracks = Detections(xyxy=[[50 + 100 * i, 100, 110 + 100 * i, 260] for i in range(5)],
                        confidence=[0.9] * 5, class_id=[0] * 5, tracker_id=list(range(1, 6)))
    camera_ids = [f"cam{i + 1}" for i in range(cameras)]
    view = LiveView(camera_ids)
    server = ViewServer(view, Starlette(routes=view.routes()), host="127.0.0.1", port=0).start()
    stop = threading.Event()

    def feed() -> None:
        i = 0
        while not stop.wait(0.1):
            for k, camera_id in enumerate(camera_ids):
                view.on_frame(Frame(camera_id, i, i / 10, images[(i + 7 * k) % len(images)]), tracks, [])
            i += 1

    thread = threading.Thread(target=feed, daemon=True)
    thread.start()
    result = {}
    try:
        for mode in ("idle", "viewer"):
            watching = viewer(viewer_kind, server, camera_ids) if mode == "viewer" \
                else contextlib.nullcontext()
            with watching:
                time.sleep(1.0)
                cpu, wall = time.process_time(), time.monotonic()
                time.sleep(seconds)
                result[mode] = round(1000 * (time.process_time() - cpu) / (time.monotonic() - wall), 1)
    finally:
        stop.set()
        thread.join()
        server.stop()
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--module", type=Path, default=ROOT / "module" / "module.yml")
    parser.add_argument("--cameras", type=int, default=2)
    parser.add_argument("--method", choices=("windows", "runs"), default="windows")
    parser.add_argument("--cycles", type=int, default=8, help="windows: turns of the three modes")
    parser.add_argument("--window", type=float, default=3.0, help="windows: seconds measured per turn")
    parser.add_argument("--settle", type=float, default=0.7, help="windows: seconds before measuring")
    parser.add_argument("--seconds", type=float, default=20.0, help="runs: length of each run")
    parser.add_argument("--repeats", type=int, default=3, help="runs: runs per mode")
    parser.add_argument("--viewer", choices=("stream", "chromium"), default="stream")
    parser.add_argument("--no-reid", action="store_true", help="run without the module's ReID and fusion")
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args()
    module = load_module_config(args.module)
    if args.no_reid:
        module = replace(module, **{name: None for name in ("reid", "fusion")
                                    if name in {f.name for f in fields(module)}})
    results = windows(module, args) if args.method == "windows" else runs(module, args)

    def median(mode: str, key: str) -> float:
        return round(statistics.median(r[key] for r in results if r["mode"] == mode), 2)

    fps = {mode: median(mode, "fps") for mode in MODES}
    cpu = {mode: median(mode, "cpu_ms_per_frame") for mode in MODES}
    report = {
        "method": args.method, "cameras": args.cameras, "viewer": args.viewer, "reid": not args.no_reid,
        "median_fps": fps,
        "ratio_idle_to_off": round(fps["idle"] / fps["off"], 3),
        "ratio_viewer_to_off": round(fps["viewer"] / fps["off"], 3),
        "median_cpu_ms_per_frame": cpu,
        "on_frame_us_median": {mode: median(mode, "on_frame_us") for mode in ("idle", "viewer")},
        "tiles_encoded_idle": sum(r.get("encodes", 0) for r in results if r["mode"] == "idle"),
        "encode_ms_per_tile": round(encode_ms(), 2),
        "view_alone_cpu_ms_per_second": view_cpu(args.cameras, args.viewer),
        "results": results,
    }
    print(json.dumps({k: v for k, v in report.items() if k != "results"}, indent=2))
    if args.json:
        args.json.write_text(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
