"""What the pipeline does with a frame when it cannot keep up with its cameras.

The camera buffers are bounded (`CameraWorker` drops the oldest frame of a full buffer as
`queue_full`), so memory never grows; but a full buffer of `queue_size` frames still means every
frame waits `queue_size` frame intervals before the detector sees it. `OverloadPolicy` bounds that
wait by measuring it: the pipeline asks, for each frame of a batch, how old it is (seconds since it
was decoded) and how many newer frames of its camera are waiting, and the policy answers

    detect    run the detector and update the tracker (the normal path)
    predict   no detector run: `tracker.predict_only()` moves the tracks along their motion
              model, so the camera still gets tracks, boxes and events on every frame
    drop      skip the frame: it is too old (see the modes) and a newer frame of the same
              camera is already waiting (counted as dropped, reason "stale")

Modes:
    off             always detect (the bounded buffers alone limit latency)
    drop_oldest     drop stale frames while a newer one waits: latency stays near
                    `max_latency_ms`, the detector runs on the newest frames, the dropped ones
                    leave gaps in the tracks (ByteTrack bridges a few)
    skip_detection  a camera whose frames wait longer than `max_latency_ms` is overloaded until
                    they wait less than `recover_ratio * max_latency_ms`; while it is, the
                    detector runs on every `detect_every`-th frame and the tracker predicts the
                    others. Every frame is still tracked and written; the detector's work (the
                    expensive stage, and ReID with it) drops to 1/`detect_every`. When even that is
                    not enough (more cameras than the machine can decode, track and write), frames
                    older than `drop_after_ms` are dropped as in drop_oldest, so latency stays
                    bounded whatever the load; None never drops (latency then ends at the full
                    camera buffer, `queue_size` frame intervals).

Savant/DeepStream: skip_detection with `detect_every` k corresponds to nvinfer's `interval`
property k - 1 (batches skipped between two inferences, the tracker predicting the frames in
between), which there is static and applies to every source; here it switches on per camera and
only while that camera is late. Live sources in DeepStream drop late buffers at the sink
(`sync`/`qos`), which is what drop_oldest and `drop_after_ms` do here.

Every frame gets exactly one answer, so with the pipeline's counters `processed + dropped ==
received` holds per camera (a predicted frame is processed). The policy is plain Python with no
clock of its own: it is fed measured ages, and its decisions and counters are easy to test.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

from pyuniproc.compat import StrEnum

STALE_REASON = "stale"
"""`CameraStats.mark_dropped` reason of a frame the policy drops."""

MODES = ("off", "drop_oldest", "skip_detection")


class Action(StrEnum):
    DETECT = "detect"
    PREDICT = "predict"
    DROP = "drop"


@dataclass
class CameraLoad:
    """The policy's view of one camera: whether it is overloaded, and what was decided so far."""

    overloaded: bool = False
    frames_since_detect: int = 0
    last_age_ms: float = 0.0
    detected: int = 0
    predicted: int = 0
    dropped: int = 0
    overload_episodes: int = 0

    def to_json(self) -> dict[str, Any]:
        return {
            "overloaded": self.overloaded,
            "last_age_ms": round(self.last_age_ms, 1),
            "detected": self.detected,
            "predicted": self.predicted,
            "dropped_stale": self.dropped,
            "overload_episodes": self.overload_episodes,
        }


@dataclass(frozen=True)
class OverloadSettings:
    """`parameters.pyuniproc.overload` of the module YAML; checked when built (see `OverloadPolicy`)."""

    mode: str = "off"
    detect_every: int = 2
    max_latency_ms: float = 500.0
    recover_ratio: float = 0.5
    drop_after_ms: float | None = None

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise ValueError(f"overload mode must be one of {MODES}, got {self.mode!r}")
        detect_every = self.detect_every
        if isinstance(detect_every, bool) or not isinstance(detect_every, int) or detect_every < 1:
            raise ValueError(f"detect_every must be an int >= 1, got {detect_every!r}")
        max_latency_ms = self.max_latency_ms
        finite = isinstance(max_latency_ms, (int, float)) and math.isfinite(max_latency_ms)
        if isinstance(max_latency_ms, bool) or not (finite and max_latency_ms > 0):
            raise ValueError(f"max_latency_ms must be a number > 0, got {max_latency_ms!r}")
        recover_ratio = self.recover_ratio
        in_range = isinstance(recover_ratio, (int, float)) and 0 < recover_ratio <= 1
        if isinstance(recover_ratio, bool) or not in_range:
            raise ValueError(f"recover_ratio must be in (0, 1], got {recover_ratio!r}")
        drop_after = self.drop_after_ms
        if drop_after is not None and (
            isinstance(drop_after, bool)
            or not isinstance(drop_after, (int, float))
            or not math.isfinite(drop_after)
            or drop_after < max_latency_ms
        ):
            raise ValueError(f"drop_after_ms must be null or a number >= max_latency_ms, got {drop_after!r}")

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any] | None) -> OverloadSettings:
        """From a mapping; unknown keys raise ValueError naming them and the known ones."""
        data = dict(data or {})
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"unknown overload setting(s) {unknown}; known: {sorted(known)}")
        return cls(**data)


class OverloadPolicy:
    """Per-frame decision between detect, predict-only and drop, driven by measured frame age.

    mode: "off", "drop_oldest" or "skip_detection" (see the module docstring).
    detect_every: in skip_detection, run the detector on every k-th frame of an overloaded camera
        (k >= 1; 1 never skips). Higher sheds more detector work but tracks coast longer between
        detections, so fast or crossing people are matched less reliably.
    max_latency_ms: a frame that waited longer than this between decode and processing is late.
        Lower keeps the output closer to real time but sheds work sooner; it should exceed a
        batch's detector time, or a camera is never on time.
    recover_ratio: in skip_detection, an overloaded camera is back to normal once its frames wait
        less than `recover_ratio * max_latency_ms` (0 < ratio <= 1). Lower avoids flapping
        between the two regimes, higher returns to full detection sooner.
    drop_after_ms: in skip_detection, a frame older than this with a newer one waiting is dropped
        (None: never). The bound on latency when skipping detections is not enough; lower keeps
        latency tighter, higher keeps more frames (the tracker bridges fewer gaps).

    Thread-safe; `decide` is called from the pipeline thread, `snapshot` from anywhere.
    """

    def __init__(
        self,
        mode: str = "off",
        *,
        detect_every: int = 2,
        max_latency_ms: float = 500.0,
        recover_ratio: float = 0.5,
        drop_after_ms: float | None = None,
    ) -> None:
        self._cameras: dict[str, CameraLoad] = {}
        self._lock = threading.Lock()
        self.reconfigure(OverloadSettings(mode, detect_every, max_latency_ms, recover_ratio, drop_after_ms))

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any] | None) -> OverloadPolicy:
        """From a config mapping such as `{"mode": "skip_detection", "detect_every": 3}`.

        Unknown keys raise ValueError naming them (a typo must not silently disable the policy).
        """
        return cls.from_settings(OverloadSettings.from_mapping(data))

    @classmethod
    def from_settings(cls, settings: OverloadSettings) -> OverloadPolicy:
        policy = cls()
        policy.reconfigure(settings)
        return policy

    def reconfigure(self, settings: OverloadSettings) -> None:
        """New settings for a running policy (live module edits); per-camera state is kept."""
        with self._lock:
            self.settings = settings
            self.mode = settings.mode
            self.detect_every = settings.detect_every
            self.max_latency_ms = float(settings.max_latency_ms)
            self.recover_ratio = float(settings.recover_ratio)
            self.drop_after_ms = None if settings.drop_after_ms is None else float(settings.drop_after_ms)

    def decide(self, camera_id: str, *, age_ms: float, newer_frames: int = 0) -> Action:
        """What to do with one frame of `camera_id`, in the camera's frame order.

        age_ms: milliseconds since the frame was decoded, measured when its batch starts.
        newer_frames: frames of the same camera waiting behind this one (later in the batch plus
            still buffered). The newest frame of a camera (0) is never dropped.
        """
        with self._lock:
            load = self._cameras.get(camera_id)
            if load is None:
                load = self._cameras[camera_id] = CameraLoad(frames_since_detect=self.detect_every)
            load.last_age_ms = float(age_ms)
            action = self._decide(load, float(age_ms), int(newer_frames))
            if action is Action.DETECT:
                load.detected += 1
                load.frames_since_detect = 1
            elif action is Action.PREDICT:
                load.predicted += 1
                load.frames_since_detect += 1
            else:
                load.dropped += 1
            return action

    def _decide(self, load: CameraLoad, age_ms: float, newer_frames: int) -> Action:
        late = age_ms > self.max_latency_ms
        if self.mode == "drop_oldest":
            return Action.DROP if late and newer_frames > 0 else Action.DETECT
        if self.mode == "skip_detection":
            if self.drop_after_ms is not None and age_ms > self.drop_after_ms and newer_frames > 0:
                return Action.DROP
            if late and not load.overloaded:
                load.overloaded = True
                load.overload_episodes += 1
            elif load.overloaded and age_ms < self.recover_ratio * self.max_latency_ms:
                load.overloaded = False
            if load.overloaded and load.detected and load.frames_since_detect < self.detect_every:
                return Action.PREDICT
        return Action.DETECT

    def forget(self, camera_id: str) -> None:
        """A camera left the run (removed, or its stream ended for good)."""
        with self._lock:
            self._cameras.pop(camera_id, None)

    def overloaded(self, camera_id: str) -> bool:
        with self._lock:
            load = self._cameras.get(camera_id)
            return bool(load and load.overloaded)

    def snapshot(self) -> dict[str, Any]:
        """JSON-ready settings and per-camera counters (for summary.json)."""
        with self._lock:
            return {
                "mode": self.mode,
                "detect_every": self.detect_every,
                "max_latency_ms": self.max_latency_ms,
                "recover_ratio": self.recover_ratio,
                "drop_after_ms": self.drop_after_ms,
                "cameras": {camera_id: load.to_json() for camera_id, load in sorted(self._cameras.items())},
            }

    def __repr__(self) -> str:
        return (
            f"OverloadPolicy(mode={self.mode!r}, detect_every={self.detect_every}, "
            f"max_latency_ms={self.max_latency_ms:g}, recover_ratio={self.recover_ratio:g}, "
            f"drop_after_ms={self.drop_after_ms!r})"
        )
