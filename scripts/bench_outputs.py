#!/usr/bin/env python3
"""Throughput of the run's text outputs: tracks.csv, mot/, mtmc/, events.jsonl, summary.json.

Drives the real writers (and `RunOutputs.write_frame`, the whole per-frame output path of
`pyuniproc run` without video) with synthetic tracks: `--cameras` cameras x `--fps` x `--seconds`
frames, `--people` tracked people per frame (with global ids, as when fusion runs) and about
`--events-per-frame` analytics events per frame. Each writer runs beside a baseline in the same
process, interleaved `--repeats` times (median reported):

  baseline  the writers of main before this change (fb7f1ce): a flush (a write system call) per
            frame and per event, rows formatted one numpy row at a time (tracks.csv through the
            csv module), kept below verbatim
  current   pyuniproc.outputs: a frame's rows formatted from its columns in one go, buffered,
            flushed every second, before summary.json and at close

Prints frames/s (wall) and CPU ms per 1,000 frames (this process's CPU time: on a shared machine
the figure other programs move least), and checks the two write the same bytes. Also: ms per
summary.json write (main's indent=2 vs one line per key), and the CPU cost of recording one 1080p
frame (draw + x264), the reason annotated video is opt-in on the GPU backend.

    nice -n 5 .venv/bin/python scripts/bench_outputs.py [--cameras 150 --fps 30 --seconds 2 --people 10]
        [--repeats 3] [--json benchmarks/outputs/results.json]
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from pyuniproc.analytics import Event
from pyuniproc.outputs import EventsWriter, MotWriter, SummaryWriter, TracksCsvWriter
from pyuniproc.outputs._files import check_camera_id, json_default, open_for_append
from pyuniproc.outputs.events import _with_output_frame
from pyuniproc.runtime.outputs import RunOutputs
from pyuniproc.types import Detections, Frame

HEADER = "camera_id,frame,pts_seconds,track_id,global_id,x1,y1,x2,y2,confidence"

# -- the baseline: main's writers at fb7f1ce, verbatim but for names --------------------------------


class BaselineTracksCsv:
    def __init__(self, path: Path) -> None:
        self._file = open_for_append(path, HEADER)
        self._csv = csv.writer(self._file, lineterminator="\n")

    def write(self, camera_id: str, frame_index: int, pts_seconds: float, tracks: Detections,
              text: Any = None) -> int:  # `text`: what RunOutputs passes today, unused here
        tracked = np.flatnonzero(tracks.tracker_id >= 0)
        if len(tracked) == 0:
            return 0
        global_ids = tracks.data.get("global_id")
        frame, pts = str(int(frame_index) + 1), f"{float(pts_seconds):.3f}"
        rows = []
        for i in tracked.tolist():
            x1, y1, x2, y2 = tracks.xyxy[i].tolist()
            global_id = "" if global_ids is None or int(global_ids[i]) < 0 else str(int(global_ids[i]))
            rows.append((camera_id, frame, pts, int(tracks.tracker_id[i]), global_id, f"{x1:.2f}",
                         f"{y1:.2f}", f"{x2:.2f}", f"{y2:.2f}", f"{float(tracks.confidence[i]):.4f}"))
        self._csv.writerows(rows)
        self._file.flush()
        return len(rows)

    def flush(self) -> None:
        pass

    def close(self) -> None:
        self._file.close()


class BaselineMot:
    def __init__(self, directory: Path, *, id_key: str = "tracker_id") -> None:
        self.directory, self.id_key, self._files = Path(directory), id_key, {}

    def write(self, camera_id: str, frame_index: int, tracks: Detections, text: Any = None) -> int:
        file = self._files.get(camera_id)
        if file is None:
            path = self.directory / f"{check_camera_id(camera_id)}.txt"
            file = self._files[camera_id] = open_for_append(path)
        ids = tracks.tracker_id if self.id_key == "tracker_id" else tracks.data.get(self.id_key)
        if ids is None:
            return 0
        ids = np.asarray(ids).astype(np.int64)
        frame = int(frame_index) + 1
        lines = []
        for i in np.flatnonzero(ids >= 0).tolist():
            x1, y1, x2, y2 = tracks.xyxy[i].tolist()
            lines.append(f"{frame},{int(ids[i])},{x1:.2f},{y1:.2f},{x2 - x1:.2f},{y2 - y1:.2f},"
                         f"{float(tracks.confidence[i]):.4f},-1,-1,-1\n")
        file.writelines(lines)
        file.flush()
        return len(lines)

    def flush(self) -> None:
        pass

    def close_camera(self, camera_id: str) -> None:
        file = self._files.pop(camera_id, None)
        if file is not None:
            file.close()

    def close(self) -> None:
        for camera_id in list(self._files):
            self.close_camera(camera_id)


class BaselineEvents:
    def __init__(self, path: Path) -> None:
        self._file = open_for_append(path)

    def write(self, event: Any) -> None:
        record = _with_output_frame(dict(event) if isinstance(event, dict) else event.to_json_dict())
        self._file.write(json.dumps(record, default=json_default, allow_nan=False) + "\n")
        self._file.flush()

    def flush(self) -> None:
        pass

    def close(self) -> None:
        self._file.close()


# -- workload ----------------------------------------------------------------------------------------


class Workload:
    """Frames in the order a pipeline hands them out: every camera's frame i, then i + 1, ..."""

    def __init__(
        self, cameras: int, fps: float, seconds: float, people: int, events_per_frame: float
    ) -> None:
        rng = np.random.default_rng(0)
        image = np.zeros((8, 8, 3), np.uint8)  # never drawn: no video in this benchmark
        ids = [f"cam{c + 1:03d}" for c in range(cameras)]
        steps = int(round(fps * seconds))
        start = rng.uniform([0, 0], [1700, 800], (cameras, people, 2)).astype(np.float32)
        velocity = rng.normal(0, 2, (cameras, people, 2)).astype(np.float32)
        size = np.array([60, 170], np.float32)
        self.items: list[tuple[Frame, Detections, list[dict[str, Any]]]] = []
        for i in range(steps):
            for c, camera_id in enumerate(ids):
                corner = start[c] + velocity[c] * i
                xyxy = np.concatenate([corner, corner + size], axis=1)
                global_ids = np.where(rng.random(people) < 0.8, 1000 * c + np.arange(people), -1)
                tracks = Detections(
                    xyxy=xyxy, confidence=rng.uniform(0.3, 1.0, people).astype(np.float32),
                    class_id=np.zeros(people, np.int64), tracker_id=np.arange(1, people + 1) + 100 * c,
                    data={"global_id": global_ids.astype(np.int64)})
                events = []
                if rng.random() < events_per_frame:
                    details = {"line": "door", "direction": "in", "count_in": i, "count_out": 0}
                    track_id = int(tracks.tracker_id[0])
                    event = Event("line_crossed", camera_id, i / fps, i, track_id, details)
                    events.append(event.to_json_dict())
                self.items.append((Frame(camera_id, i, i / fps, image), tracks, events))
        self.cameras, self.fps = ids, fps

    @property
    def rows(self) -> int:
        return sum(len(tracks) for _, tracks, _ in self.items)

    @property
    def events(self) -> list[dict[str, Any]]:
        return [event for _, _, events in self.items for event in events]


# -- measuring ---------------------------------------------------------------------------------------


def timed(run: Callable[[Path], None], ignore: tuple[str, ...] = ()) -> tuple[float, float, dict[str, bytes]]:
    """Wall and CPU seconds of `run(folder)` (writes and close), and the files it wrote but `ignore`."""
    with tempfile.TemporaryDirectory(prefix="bench-outputs-") as folder:
        wall, cpu = time.perf_counter(), time.process_time()
        run(Path(folder))
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        files = {str(p.relative_to(folder)): p.read_bytes() for p in sorted(Path(folder).rglob("*"))
                 if p.is_file() and p.suffix in (".csv", ".txt", ".jsonl") and p.name not in ignore}
    return wall, cpu, files


def tracks_csv(make: Callable[[Path], Any], work: Workload) -> Callable[[Path], None]:
    def run(folder: Path) -> None:
        writer = make(folder / "tracks.csv")
        for frame, tracks, _ in work.items:
            writer.write(frame.camera_id, frame.index, frame.pts_seconds, tracks)
        writer.close()

    return run


def mot(make: Callable[..., Any], work: Workload, id_key: str) -> Callable[[Path], None]:
    def run(folder: Path) -> None:
        writer = make(folder / "mot", id_key=id_key)
        for frame, tracks, _ in work.items:
            writer.write(frame.camera_id, frame.index, tracks)
        writer.close()

    return run


def events(make: Callable[[Path], Any], work: Workload) -> Callable[[Path], None]:
    def run(folder: Path) -> None:
        writer = make(folder / "events.jsonl")
        for _, _, frame_events in work.items:
            for event in frame_events:
                writer.write(event)
        writer.close()

    return run


def run_outputs(baseline: bool, work: Workload) -> Callable[[Path], None]:
    """`RunOutputs.write_frame` for every frame (no video), fusion's mtmc files on; the baseline
    swaps main's writers in (the same RunOutputs around them: event conversion, id watchers)."""

    def run(folder: Path) -> None:
        outputs = RunOutputs(folder, annotate=False, global_ids=True, site="bench")
        if baseline:
            for writer in (outputs.tracks, outputs.mot, outputs.mtmc):
                writer.close()
            outputs.tracks = BaselineTracksCsv(folder / "tracks.csv")
            outputs.mot = BaselineMot(folder / "mot")
            outputs.mtmc = BaselineMot(folder / "mtmc", id_key="global_id")
            sink = outputs.events.sinks[0]
            sink._writer.close()
            sink._writer = BaselineEvents(sink.path)
        for frame, tracks, frame_events in work.items:
            outputs.write_frame(frame, tracks, frame_events, fps=work.fps)
        outputs.close()

    return run


class BaselineSummary(SummaryWriter):
    """main's summary.json: `json.dumps(indent=2)` (Python's pure-Python encoder), then the same
    atomic replace (fsync included)."""

    def write(self, summary: Any) -> None:
        text = json.dumps(summary, indent=2, default=json_default, allow_nan=False) + "\n"
        fd, temp_name = tempfile.mkstemp(prefix=f".{self.path.name}.", suffix=".tmp", dir=self.path.parent)
        with os.fdopen(fd, "w", encoding="utf-8") as temp:
            temp.write(text)
            temp.flush()
            os.fsync(temp.fileno())
        os.replace(temp_name, self.path)


def summary_write_ms(cameras: list[str], writer: type[SummaryWriter], repeats: int = 20) -> float:
    """Mean ms of one summary.json write with `cameras` cameras (the runtime writes one every 2 s)."""
    camera = {"state": "live", "fps": 30.0, "frames_received": 123456, "frames_processed": 123400,
              "dropped": {"queue_full": 56}, "read_errors": 0, "reconnect_attempts": 0,
              "consecutive_failures": 0, "seconds_since_last_frame": 0.01, "last_error": None,
              "uri": "rtsp://camera/stream", "tracks_seen": 812, "people_max": 14, "last_frame": 123400,
              "first_frame": 1}
    recording = {"frames_written": 1000, "frames_dropped": 3, "queued": 0, "segments": 1}
    summary = {"status": "running", "cameras": {c: dict(camera) for c in cameras},
               "latency_ms": {s: {"p50": 1.0, "p95": 2.0, "p99": 3.0, "max": 9.0, "count": 10**6}
                              for s in ("decode_wait", "preprocess", "infer", "track", "output")},
               "recording": {c: dict(recording) for c in cameras},
               "numbering": {"cameras": {c: {"last_frame": 123400, "largest_track_id": 812,
                                             "source_starts": [1]} for c in cameras}}}
    with tempfile.TemporaryDirectory(prefix="bench-summary-") as folder:
        summary_writer = writer(Path(folder) / "summary.json")
        start = time.perf_counter()
        for _ in range(repeats):
            summary_writer.write(summary)
        return (time.perf_counter() - start) / repeats * 1000


def encode_cpu_ms(frames: int = 60) -> float:
    """CPU ms (all threads) to draw and x264-encode one 1080p frame with the recording's defaults:
    vtest.avi's first frames upscaled to 1920 x 1080, 10 boxes drawn: what recording a camera costs."""
    import av
    import cv2

    from pyuniproc.outputs import AnnotatedVideoWriter

    images = []
    with av.open(str(Path(__file__).resolve().parents[1] / "samples" / "vtest" / "vtest.avi")) as container:
        for image in container.decode(video=0):
            images.append(cv2.resize(image.to_ndarray(format="bgr24"), (1920, 1080)))
            if len(images) > frames:
                break
    boxes = [[100 + 150 * k, 300, 220 + 150 * k, 700] for k in range(10)]
    tracks = Detections(xyxy=boxes, confidence=[0.9] * 10, class_id=[0] * 10, tracker_id=list(range(1, 11)))
    with tempfile.TemporaryDirectory(prefix="bench-encode-") as folder:
        writer = AnnotatedVideoWriter(Path(folder) / "cam.mp4", fps=30, width=1920, height=1080)
        writer.write(Frame("cam", 0, 0.0, images[0]), tracks)  # the encoder's start-up is not per frame
        cpu = time.process_time()
        for i, image in enumerate(images[1:], 1):
            writer.write(Frame("cam", i, i / 30, image), tracks, current_fps=30.0)
        writer.close()
        return (time.process_time() - cpu) / (len(images) - 1) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cameras", type=int, default=150)
    parser.add_argument("--fps", type=float, default=30.0)
    parser.add_argument("--seconds", type=float, default=2.0, help="stream seconds of every camera")
    parser.add_argument("--people", type=int, default=10)
    parser.add_argument("--events-per-frame", type=float, default=0.1)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args()
    work = Workload(args.cameras, args.fps, args.seconds, args.people, args.events_per_frame)
    frames, event_list = len(work.items), work.events
    cases = {
        "tracks.csv": (tracks_csv(BaselineTracksCsv, work), tracks_csv(TracksCsvWriter, work), frames),
        "mot/": (mot(BaselineMot, work, "tracker_id"), mot(MotWriter, work, "tracker_id"), frames),
        "mtmc/": (mot(BaselineMot, work, "global_id"), mot(MotWriter, work, "global_id"), frames),
        "events.jsonl": (events(BaselineEvents, work), events(EventsWriter, work), len(event_list)),
        "RunOutputs.write_frame": (run_outputs(True, work), run_outputs(False, work), frames),
    }
    print(f"{args.cameras} cameras x {args.fps:g} fps x {args.seconds:g} s = {frames} frames, "
          f"{work.rows} rows, {len(event_list)} events; {args.repeats} repeats, median\n")
    print(f"{'output':24} {'items':>6}  {'baseline /s':>12} {'current /s':>12}  "
          f"{'CPU ms/1k base':>14} {'CPU ms/1k cur':>13}  {'speed-up':>8}  same bytes")
    results = []
    for name, (base_run, current_run, items) in cases.items():
        runs: dict[str, list[tuple[float, float]]] = {"baseline": [], "current": []}
        written: dict[str, dict[str, bytes]] = {}
        for _ in range(args.repeats):
            for label, run in (("baseline", base_run), ("current", current_run)):
                # RunOutputs' event envelopes carry a random id and the wall-clock time: not compared
                wall, cpu, files = timed(run, ("events.jsonl",) if name.startswith("RunOutputs") else ())
                runs[label].append((wall, cpu))
                written[label] = files
        row: dict[str, Any] = {"output": name, "items": items,
                               "unit": "events" if name == "events.jsonl" else "frames"}
        for label, samples in runs.items():
            wall = statistics.median(w for w, _ in samples)
            cpu = statistics.median(c for _, c in samples)
            row[label] = {"per_second": round(items / wall), "cpu_ms_per_1000": round(cpu / items * 1e6, 2)}
        row["same_bytes"] = written["baseline"] == written["current"]
        results.append(row)
        b, c = row["baseline"], row["current"]
        speed_up = b["cpu_ms_per_1000"] / c["cpu_ms_per_1000"]
        print(f"{name:24} {items:>6}  {b['per_second']:>12,} {c['per_second']:>12,}  "
              f"{b['cpu_ms_per_1000']:>14.1f} {c['cpu_ms_per_1000']:>13.1f}  {speed_up:>7.1f}x  "
              f"{row['same_bytes']}")
    writers = (("baseline", BaselineSummary), ("current", SummaryWriter))
    summary_ms = {
        label: statistics.median(summary_write_ms(work.cameras, writer) for _ in range(args.repeats))
        for label, writer in writers
    }
    print(f"\nsummary.json with {args.cameras} cameras, ms per write (one every 2 s, fsync included): "
          f"baseline {summary_ms['baseline']:.1f}, current {summary_ms['current']:.1f}")
    encode_ms = encode_cpu_ms()
    cores = encode_ms * args.cameras * args.fps / 1000
    print(f"annotated video, one 1080p frame drawn + x264-encoded (crf 28, veryfast): {encode_ms:.1f} CPU ms "
          f"(x {args.cameras} cameras x {args.fps:g} fps = {cores:.0f} cores)")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({
            "command": "scripts/bench_outputs.py " + " ".join(
                f"--{k.replace('_', '-')} {v}" for k, v in vars(args).items() if k != "json"),
            "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
                       f"Python {platform.python_version()}, load {os.getloadavg()[0]:.1f}",
            "frames": frames, "rows": work.rows, "events": len(event_list), "results": results,
            "summary_write_ms": {label: round(ms, 2) for label, ms in summary_ms.items()},
            "encode_1080p_cpu_ms": round(encode_ms, 1),
        }, indent=2) + "\n")


if __name__ == "__main__":
    main()
