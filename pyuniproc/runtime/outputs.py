"""All outputs of one run, in one place: `--out DIR` holds

    tracks.csv            every tracked box of every camera
    mot/<camera_id>.txt   MOTChallenge rows per camera (1-based frames, local track ids)
    mtmc/<camera_id>.txt  the same rows with global (cross-camera) ids, when fusion runs
    video/mosaic.mp4      with `recording.mosaic`: every camera in one grid, on the cameras' clock
    video/<camera_id>.mp4 annotated video of the recorded cameras (`annotated_video` and the cameras
                          file's `record`: outputs/record_choice.py; off on the GPU backend unless
                          asked) (fragmented MP4: playable even after a crash), or with
                          `recording.segment_seconds`: video/<camera_id>/<camera_id>-<time>-<seq>.mp4;
                          a file that exists is never overwritten: a restart with the same folder
                          (or a camera added again) writes video/<camera_id>.1.mp4, .2.mp4, ...
    events.jsonl          `pyuniproc.event/1` events (docs/events.md); Kafka too when configured
    summary.json          per-camera counters and stage latencies, rewritten periodically,
                          plus the event sinks' and recordings' counters (frames recorded and
                          dropped for the recording, per camera: never pipeline frames)

Events leave the process only through `self.events` (a fan-out of the configured sinks): the
pipeline's dicts are converted to checked envelopes here, fusion's `global_id` column becomes
global_id_assigned/corrected, and each summary's camera states become camera_up/down/stalled.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from pyuniproc.events import (
    CameraStateWatcher,
    EventRecord,
    EventSchemaError,
    EventsConfig,
    EventSink,
    GlobalIdWatcher,
    JsonLinesSinkSettings,
    build_sink,
    to_event,
)
from pyuniproc.outputs import (
    MosaicRecorder,
    MotWriter,
    RecordingConfig,
    SegmentedVideoWriter,
    SummaryWriter,
    TracksCsvWriter,
)
from pyuniproc.outputs._files import FLUSH_SECONDS, FlushTimer
from pyuniproc.outputs.box_text import BoxText
from pyuniproc.outputs.record_choice import record_by_default, resolve_when_behind
from pyuniproc.outputs.recording import EncoderFactory
from pyuniproc.types import Detections, Frame

log = logging.getLogger(__name__)
_VIDEO_JOIN_SECONDS = 30.0  # per camera, at the end of the run


class RunOutputs:
    """The run's writers; called from the pipeline thread only.

    annotate: `annotated_video` (true, false or "auto"): whether a camera is recorded unless `record`
        says otherwise; "auto" is on for backend "cpu", off for "gpu" (outputs/record_choice.py).
    backend: the run's resolved backend, "cpu" or "gpu".
    record: camera id -> the cameras file's `record` (True / False; None or absent: the default).
    global_ids: fusion runs, so also write mtmc/<camera_id>.txt keyed by global id.
    site: the site name stamped on every event.
    events: where events go (default: events.jsonl in `out_dir`).
    recording: segmenting and queueing of the annotated video (default: one file per camera).
    sink: an already built event sink, instead of `events` (tests, or a sink shared with fusion).
    camera_ids: the site's cameras, in display order; needed for the mosaic (`recording.mosaic`).
    flush_seconds: longest time rows and events wait in memory before the files get them; the
        text writers are flushed together (so after a kill tracks.csv and mot/ end at the same
        frame), and always before summary.json is written and at close (outputs/_files.py).
    encoder_factory: opens one video file (default: x264 with the `recording` settings; tests and
        benchmarks pass a slow one).
    """

    def __init__(
        self,
        out_dir: Path,
        *,
        annotate: bool | str = True,
        backend: str = "cpu",
        record: Mapping[str, bool | None] | None = None,
        global_ids: bool = False,
        site: str = "",
        events: EventsConfig | None = None,
        recording: RecordingConfig | None = None,
        sink: EventSink | None = None,
        camera_ids: Sequence[str] = (),
        flush_seconds: float = FLUSH_SECONDS,
        encoder_factory: EncoderFactory | None = None,
    ):
        self.out_dir = Path(out_dir)
        self.out_dir.mkdir(parents=True, exist_ok=True)
        self.record_default = record_by_default(annotate, backend)
        self._record = {camera_id: bool(on) for camera_id, on in (record or {}).items() if on is not None}
        # some video may be written (the folder is listed in paths()); the mosaic is off only when
        # annotated_video is false: `recording.mosaic` asks for it on either backend
        self.annotate = self.record_default or any(self._record.values())
        if annotate == "auto" and not self.record_default:
            asked = sorted(camera_id for camera_id, on in self._record.items() if on)
            log.info("annotated video off by default on the %s backend (no video encoder on the device); "
                     "recorded: %s (record: true in the cameras file)", backend, ", ".join(asked) or "none")
        self.site = site
        self.events_config = events or EventsConfig()
        self.recording = recording or RecordingConfig()
        self._flush_timer = FlushTimer(flush_seconds)
        self.tracks = TracksCsvWriter(self.out_dir / "tracks.csv", flush_seconds=math.inf)  # flushed here
        self.mot = MotWriter(self.out_dir / "mot", flush_seconds=math.inf)
        self.mtmc = None
        if global_ids:
            self.mtmc = MotWriter(self.out_dir / "mtmc", id_key="global_id", flush_seconds=math.inf)
        self.events: EventSink = sink if sink is not None else build_sink(self.events_config, self.out_dir)
        self._summary = SummaryWriter(self.out_dir / "summary.json")
        self._videos: dict[str, SegmentedVideoWriter] = {}
        self._finished_videos: dict[str, SegmentedVideoWriter] = {}
        self._closing_videos: list[SegmentedVideoWriter] = []  # of removed cameras, until their encoder ends
        self._encoder_factory = keep_existing_files(encoder_factory or self.recording.encoder_factory())
        self._cameras = CameraStateWatcher(site=site)
        self._global_ids = GlobalIdWatcher(site=site)
        self._last_frames: dict[str, tuple[int, float]] = {}
        self._rejected: dict[str, int] = {}
        self._last_summary: dict[str, Any] | None = None
        self.mosaic: MosaicRecorder | None = None
        if annotate is not False and self.recording.mosaic:
            if camera_ids:
                self.mosaic = MosaicRecorder(
                    self.out_dir / "video",
                    camera_ids,
                    width=self.recording.mosaic_width,
                    fps=self.recording.mosaic_fps,
                    segment_seconds=self.recording.segment_seconds,
                    encoder_factory=self._encoder_factory,
                )
            else:
                log.warning("recording.mosaic is on but RunOutputs got no camera_ids: no mosaic recorded")

    def write_frame(
        self,
        frame: Frame,
        tracks: Detections,
        events: list[dict[str, Any]],
        *,
        fps: float,
        video_fps: float = 10.0,
        live: bool | None = None,
    ) -> None:
        """live: the camera drops frames when the pipeline is behind (`CameraWorker.drop_when_full`);
        with `recording.when_behind: auto` its recorder then drops too instead of waiting."""
        text = BoxText(tracks)  # formatted once for all three files
        self.tracks.write(frame.camera_id, frame.index, frame.pts_seconds, tracks, text)
        self.mot.write(frame.camera_id, frame.index, tracks, text)
        if self.mtmc is not None:
            self.mtmc.write(frame.camera_id, frame.index, tracks, text)
        self._last_frames[frame.camera_id] = (frame.index + 1, frame.pts_seconds)
        self._global_ids.observe(frame.camera_id, tracks)  # fusion reports its decisions as events itself
        self.write_events(events)
        if self.records(frame.camera_id) and frame.camera_id not in self._finished_videos:
            video = self._videos.get(frame.camera_id)
            if video is None:
                video = SegmentedVideoWriter(
                    self.out_dir / "video",
                    frame.camera_id,
                    fps=video_fps,
                    width=frame.width,
                    height=frame.height,
                    label=frame.camera_id,
                    segment_seconds=self.recording.segment_seconds,
                    queue_frames=self.recording.queue_frames,
                    when_behind=resolve_when_behind(self.recording.when_behind, live=live),
                    encoder_factory=self._encoder_factory,
                )
                self._videos[frame.camera_id] = video
            video.write(frame, tracks, current_fps=fps)
        if self.mosaic is not None:
            self.mosaic.on_frame(frame, tracks)
        if self._flush_timer.due():
            self.flush()

    def records(self, camera_id: str) -> bool:
        """Whether `camera_id` gets annotated video: its `record` setting, else the default."""
        return self._record.get(camera_id, self.record_default)

    def write_events(self, events: Iterable[Mapping[str, Any] | EventRecord]) -> None:
        """Convert each event to a `pyuniproc.event/1` envelope and publish it. An event that does
        not fit the schema (e.g. a custom pyfunc's own kind) is logged and counted, not raised."""
        for raw in events:
            camera_id, track_id = _ids(raw)
            global_id = (
                self._global_ids.global_id(camera_id, track_id)
                if camera_id and track_id is not None
                else None
            )
            raw = self._with_frame(raw, camera_id)
            try:
                event = to_event(raw, site=self.site, global_id=global_id)
            except EventSchemaError as exc:
                kind = str(raw.get("kind") if isinstance(raw, Mapping) else type(raw).__name__)
                self._rejected[kind] = self._rejected.get(kind, 0) + 1
                if self._rejected[kind] == 1:
                    log.warning("event of kind %r left out: %s (counted in summary.json)", kind, exc)
                continue
            self.events.publish(event)
            if event.kind == "track_ended" and event.camera_id and event.track_id is not None:
                self._global_ids.forget(event.camera_id, event.track_id)

    def _with_frame(self, raw: Any, camera_id: str | None) -> Any:
        """Fusion's events carry only pts: give them the frame number when it is that camera's
        latest frame (they are decided while that frame is processed)."""
        if not isinstance(raw, Mapping) or camera_id is None or "frame" in raw or "frame_index" in raw:
            return raw
        last = self._last_frames.get(camera_id)
        if last is None or raw.get("pts_seconds") != last[1]:
            return raw
        return {**raw, "frame": last[0]}

    def observe_cameras(self, snapshots: Mapping[str, Mapping[str, Any]]) -> None:
        """Publish camera_up/down/stalled for state changes since the last call (`CameraStats.snapshot()`
        per camera id). `write_summary` calls it with the summary's cameras; calling it more often
        reports changes sooner."""
        for event in self._cameras.update(snapshots, last_frames=self._last_frames):
            self.events.publish(event)

    def flush(self) -> None:
        """Hand every row and event written so far to the OS (the writers buffer up to a second)."""
        self.tracks.flush()
        self.mot.flush()
        if self.mtmc is not None:
            self.mtmc.flush()
        self.events.flush(timeout=0.0)

    def write_summary(self, summary: dict[str, Any]) -> None:
        cameras = summary.get("cameras")
        if isinstance(cameras, Mapping):
            self.observe_cameras(cameras)
        # the files first: summary.json (what a restart resumes from) never counts rows not yet written
        self.flush()
        self._last_summary = summary
        self._summary.write({**summary, "events": self.event_stats(), "recording": self.recording_stats()})

    def event_stats(self) -> dict[str, Any]:
        return {**self.events.stats(), "rejected": dict(self._rejected)}

    def recording_stats(self) -> dict[str, Any]:
        """camera id (and "mosaic") -> its recorder's counters; only recorded cameras are listed.
        Also read by /metrics at scrape time from another thread: the tables are copied first."""
        videos = dict(list(self._finished_videos.items()) + list(self._videos.items()))
        stats = {camera_id: video.stats() for camera_id, video in sorted(videos.items())}
        if self.mosaic is not None:
            stats["mosaic"] = self.mosaic.stats()
        return stats

    def open_camera(self, camera_id: str, *, record: bool | None = None) -> None:
        """A camera (re)starts during the run: an earlier recording of the same id stays as it is
        and the camera gets a new file. `record`: its spec's setting (None: as before, or the default)."""
        if record is not None:
            self._record[camera_id] = record
            self.annotate = self.annotate or record
        video = self._finished_videos.pop(camera_id, None)
        if video is not None:
            self._closing_videos.append(video)
        self._prune_closed_videos()

    def forget_camera(self, camera_id: str, snapshot: Mapping[str, Any]) -> None:
        """A camera was removed from the run (after `close_camera`): report its last state
        (camera_down) and drop everything kept for it; its recording finishes on its own thread."""
        self.observe_cameras({camera_id: snapshot})
        self._cameras.forget(camera_id)
        self._global_ids.forget(camera_id)
        self._last_frames.pop(camera_id, None)
        self.open_camera(camera_id)

    def _prune_closed_videos(self) -> None:
        self._closing_videos = [video for video in self._closing_videos if not video.closed]

    def close_camera(self, camera_id: str) -> None:
        """A camera's stream ended: its recording finishes on its own thread (the pipeline does not
        wait; `close` does), its MOT file closes."""
        video = self._videos.pop(camera_id, None)
        if video is not None:
            video.close(wait=False)
            self._finished_videos[camera_id] = video
        self.mot.close_camera(camera_id)
        if self.mtmc is not None:
            self.mtmc.close_camera(camera_id)
        if self.mosaic is not None:
            self.mosaic.end_camera(camera_id)
        self._global_ids.forget(camera_id)

    def paths(self) -> dict[str, str]:
        paths = {
            "out": self.out_dir,
            "tracks": self.out_dir / "tracks.csv",
            "mot": self.out_dir / "mot",
            "summary": self.out_dir / "summary.json",
        }
        jsonl = [s for s in self.events_config.sinks if isinstance(s, JsonLinesSinkSettings)]
        if jsonl:
            paths["events"] = self.out_dir / jsonl[0].path
        if self.annotate:
            paths["video"] = self.out_dir / "video"
        if self.mosaic is not None:
            mosaic = self.mosaic.writer
            if mosaic.segment_seconds is not None:
                paths["mosaic"] = mosaic.directory / mosaic.camera_id
            else:  # mosaic.1.mp4 when an earlier run in this folder made mosaic.mp4
                paths["mosaic"] = mosaic.segments[0] if mosaic.segments else mosaic.directory / "mosaic.mp4"
        if self.mtmc is not None:
            paths["mtmc"] = self.out_dir / "mtmc"
        return {name: str(path) for name, path in paths.items()}

    def close(self) -> None:
        # text first: waiting for the encoders below can take seconds, and a kill then must not
        # cost rows the run already processed
        self.flush()
        for camera_id in list(self._videos):
            self.close_camera(camera_id)
        recorders = list(self._finished_videos.items()) + [(v.camera_id, v) for v in self._closing_videos]
        if self.mosaic is not None:
            self.mosaic.close(wait=False)
            recorders.append(("mosaic", self.mosaic.writer))
        for camera_id, video in recorders:
            video.close(wait=True, timeout=_VIDEO_JOIN_SECONDS)
            if not video.closed:
                log.error(
                    "recording %s: encoder still busy after %.0f s; its last segment may be cut short",
                    camera_id,
                    _VIDEO_JOIN_SECONDS,
                )
        self.tracks.close()
        self.mot.close()
        if self.mtmc is not None:
            self.mtmc.close()
        self.events.close()
        if self._last_summary is not None:  # the sinks' and recorders' final counts (e.g. lost_at_close)
            final = {**self._last_summary, "events": self.event_stats(), "recording": self.recording_stats()}
            self._summary.write(final)


def keep_existing_files(factory: Any) -> Any:
    """Wrap an encoder factory so that it never overwrites a file: when the path it is given
    exists (an earlier run in the same folder, or a camera added again), it opens
    `<name>.1.mp4`, `<name>.2.mp4`, ... instead, the first that does not exist."""

    def open_encoder(path: Path, **kwargs: Any) -> Any:
        return factory(unused_path(Path(path)), **kwargs)

    return open_encoder


def unused_path(path: Path) -> Path:
    """`path` if nothing is there, else `<stem>.<n><suffix>` with the smallest free n >= 1."""
    candidate, n = path, 0
    while candidate.exists():
        n += 1
        candidate = path.with_name(f"{path.stem}.{n}{path.suffix}")
    return candidate


def _ids(raw: Mapping[str, Any] | EventRecord | Any) -> tuple[str | None, int | None]:
    if isinstance(raw, Mapping):
        camera_id, track_id = raw.get("camera_id"), raw.get("track_id")
    else:
        camera_id, track_id = getattr(raw, "camera_id", None), getattr(raw, "track_id", None)
    return (
        camera_id if isinstance(camera_id, str) else None,
        int(track_id) if isinstance(track_id, int) else None,
    )
