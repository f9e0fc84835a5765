"""All files of one run, in one place: `--out DIR` holds

    tracks.csv            every tracked box of every camera
    mot/<camera_id>.txt   MOTChallenge rows per camera (1-based frames, local track ids)
    video/<camera_id>.mp4 annotated video (fragmented MP4: playable even after a crash)
    events.jsonl          analytics events (line crossings, zones, track ends)
    summary.json          per-camera counters and stage latencies, rewritten periodically
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pyuniproc.outputs import AnnotatedVideoWriter, EventsWriter, MotWriter, SummaryWriter, TracksCsvWriter
from pyuniproc.types import Detections, Frame


class RunOutputs:
    def __init__(self, out_dir: Path, *, annotate: bool = True):
        self.out_dir = Path(out_dir)
        self.out_dir.mkdir(parents=True, exist_ok=True)
        self.annotate = annotate
        self.tracks = TracksCsvWriter(self.out_dir / "tracks.csv")
        self.mot = MotWriter(self.out_dir / "mot")
        self.events = EventsWriter(self.out_dir / "events.jsonl")
        self._summary = SummaryWriter(self.out_dir / "summary.json")
        self._videos: dict[str, AnnotatedVideoWriter] = {}
        self._closed_videos: set[str] = set()

    def write_frame(self, frame: Frame, tracks: Detections, events: list[dict[str, Any]], *,
                    fps: float, video_fps: float = 10.0) -> None:
        self.tracks.write(frame.camera_id, frame.index, frame.pts_seconds, tracks)
        self.mot.write(frame.camera_id, frame.index, tracks)
        self.write_events(events)
        if self.annotate and frame.camera_id not in self._closed_videos:
            video = self._videos.get(frame.camera_id)
            if video is None:
                video = AnnotatedVideoWriter(self.out_dir / "video" / f"{frame.camera_id}.mp4", fps=video_fps,
                                             width=frame.width, height=frame.height, label=frame.camera_id)
                self._videos[frame.camera_id] = video
            video.write(frame, tracks, current_fps=fps)

    def write_events(self, events: list[dict[str, Any]]) -> None:
        if events:
            self.events.write_many(events)

    def write_summary(self, summary: dict[str, Any]) -> None:
        self._summary.write(summary)

    def close_camera(self, camera_id: str) -> None:
        """A camera's stream ended: finish its video so it is complete on disk."""
        video = self._videos.pop(camera_id, None)
        if video is not None:
            video.close()
            self._closed_videos.add(camera_id)
        self.mot.close_camera(camera_id)

    def paths(self) -> dict[str, str]:
        paths = {"out": self.out_dir, "tracks": self.out_dir / "tracks.csv", "mot": self.out_dir / "mot",
                 "events": self.out_dir / "events.jsonl", "summary": self.out_dir / "summary.json"}
        if self.annotate:
            paths["video"] = self.out_dir / "video"
        return {name: str(path) for name, path in paths.items()}

    def close(self) -> None:
        for camera_id in list(self._videos):
            self.close_camera(camera_id)
        self.tracks.close()
        self.mot.close()
        self.events.close()
