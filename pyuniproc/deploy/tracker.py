"""DeepStream's NvSORT tracker config from the ByteTrack parameters of the module YAML.

pyuniproc tracks with ByteTrack (`parameters.tracker` in module/module.yml); Savant's `nvtracker` runs
NVIDIA's NvMultiObjectTracker with a low-level YAML. NvSORT's cascaded matcher is ByteTrack's scheme:
confident detections are matched first, then "tentative" (low-score) ones only extend existing targets,
by IoU alone; the Kalman filter is the same x, y, aspect, height model with noise proportional to the
box height. So most thresholds carry over one to one; `nvsort_config` does the mapping and
`render_nvsort_yaml` writes the file DeepStream reads, each value with the ByteTrack parameter it came from.

What does not carry over (NvSORT has no knob for it):
- `new_track_threshold`: NvSORT starts targets from any non-tentative detection, i.e. from
  `track_high_threshold` up; ByteTrack waits for `new_track_threshold`.
- `fuse_score`: ByteTrack multiplies IoU by the detection score in the first association; NvSORT matches on
  IoU alone.
- `unconfirmed_match_iou_threshold`: NvSORT uses the same IoU floor for tentative targets.
- weak starts (`weak_start_threshold`, `weak_start_frames`, `weak_start_motion`): pyuniproc's own rule
  for people never detected confidently; NvSORT's tentative detections only extend existing targets, so
  under DeepStream such people get no track (the `weak_start_*` values are accepted and left out).
- squat box completion (`squat_box_aspect`, `completed_box_aspect`): pyuniproc's own rule extending
  head-and-shoulder boxes of people behind a fence to a whole person; NvSORT tracks the boxes as the
  detector gives them (the values are accepted and left out).
- OC-SORT's occlusion rules (`momentum_weight`, `momentum_frames`, `observation_reupdate`,
  `recovery_match_iou_threshold`): pyuniproc's ByteTrack only; NvSORT/NvDCF have no observation-centric
  momentum, re-update or recovery, so under DeepStream crossings are matched by IoU alone (the values are
  accepted and left out).
- time: ByteTrack counts a lost track's life in frames scaled by `frame_rate / 30`; NvSORT's
  `maxShadowTrackingAge` is in frames of the stream as it reaches the tracker, so for a stream at another
  rate than `frame_rate`, set `frame_rate` to the stream's rate before generating.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

BYTETRACK_DEFAULTS: dict[str, Any] = {
    "track_high_threshold": 0.6,
    "track_low_threshold": 0.1,
    "new_track_threshold": 0.7,
    "match_iou_threshold": 0.8,
    "second_match_iou_threshold": 0.5,
    "unconfirmed_match_iou_threshold": 0.7,
    "lost_track_buffer": 30,
    "frame_rate": 30,
    "minimum_consecutive_frames": 1,
}
"""pyuniproc.track.ByteTrack's defaults, used for parameters the YAML leaves out."""

PYUNIPROC_ONLY = {"weak_start_threshold", "weak_start_frames", "weak_start_motion", "squat_box_aspect",
                  "completed_box_aspect", "momentum_weight", "momentum_frames", "observation_reupdate",
                  "recovery_match_iou_threshold"}
"""ByteTrack parameters with no NvSORT counterpart (see above): accepted, not mapped."""

STD_WEIGHT_POSITION = 1.0 / 20
STD_WEIGHT_VELOCITY = 1.0 / 160
"""ByteTrack's Kalman noise weights (pyuniproc.track.kalman), as fractions of the box height."""

MAX_TARGETS_PER_STREAM = 150


def nvsort_config(tracker: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """`parameters.tracker` of the module YAML (kind bytetrack) -> NvSORT sections and values."""
    kind = tracker.get("kind", "bytetrack")
    if kind != "bytetrack":
        raise ValueError(f"only ByteTrack parameters map onto NvSORT, got tracker kind {kind!r}")
    unknown = set(tracker) - set(BYTETRACK_DEFAULTS) - {"kind", "fuse_score"} - PYUNIPROC_ONLY
    if unknown:
        raise ValueError(f"unknown ByteTrack parameters {sorted(unknown)}; "
                         f"known: {sorted(BYTETRACK_DEFAULTS)}")
    p = {**BYTETRACK_DEFAULTS, **{k: v for k, v in tracker.items() if k != "kind"}}
    return {
        "BaseConfig": {
            "minDetectorConfidence": _round(p["track_low_threshold"]),
        },
        "TargetManagement": {
            "enableBboxUnClipping": 0,
            "preserveStreamUpdateOrder": 0,
            "maxTargetsPerStream": MAX_TARGETS_PER_STREAM,
            "minIouDiff4NewTarget": 1.0,
            "probationAge": max(int(p["minimum_consecutive_frames"]) - 1, 0),
            "maxShadowTrackingAge": int(float(p["frame_rate"]) / 30.0 * int(p["lost_track_buffer"])),
            "earlyTerminationAge": 1,
        },
        "TrajectoryManagement": {
            "useUniqueID": 0,
        },
        "DataAssociator": {
            "dataAssociatorType": 0,
            "associationMatcherType": 1,
            "checkClassMatch": 1,
            "minMatchingScore4Overall": _round(1.0 - float(p["match_iou_threshold"])),
            "minMatchingScore4SizeSimilarity": 0.0,
            "minMatchingScore4Iou": _round(1.0 - float(p["match_iou_threshold"])),
            "matchingScoreWeight4SizeSimilarity": 0.0,
            "matchingScoreWeight4Iou": 1.0,
            "tentativeDetectorConfidence": _round(p["track_high_threshold"]),
            "minMatchingScore4TentativeIou": _round(1.0 - float(p["second_match_iou_threshold"])),
        },
        "StateEstimator": {
            "stateEstimatorType": 2,
            "noiseWeightVar4Loc": _round(STD_WEIGHT_POSITION),
            "noiseWeightVar4Vel": _round(STD_WEIGHT_VELOCITY),
            "useAspectRatio": 1,
        },
    }


WHY: dict[str, str] = {
    "minDetectorConfidence": "= track_low_threshold: weaker detections are ignored",
    "enableBboxUnClipping": "ByteTrack keeps boxes as detected",
    "preserveStreamUpdateOrder": "ids need not follow stream order",
    "maxTargetsPerStream": "people per camera, shadow tracks included",
    "minIouDiff4NewTarget": "ByteTrack never drops a new track for overlapping an existing one",
    "probationAge": "= minimum_consecutive_frames - 1: frames after the first before a track is reported",
    "maxShadowTrackingAge": "= int(frame_rate / 30 * lost_track_buffer): frames a lost track survives",
    "earlyTerminationAge": "an unconfirmed track missed once is removed (ByteTrack step 3)",
    "useUniqueID": "ids per camera; fusion adds the camera id",
    "dataAssociatorType": "the only one",
    "associationMatcherType": "CASCADED: confident detections first, then tentative ones (ByteTrack)",
    "checkClassMatch": "people only",
    "minMatchingScore4Overall": "= 1 - match_iou_threshold (score = IoU)",
    "minMatchingScore4SizeSimilarity": "size similarity is not used",
    "minMatchingScore4Iou": "= 1 - match_iou_threshold: least IoU in the first association",
    "matchingScoreWeight4SizeSimilarity": "IoU alone, as ByteTrack",
    "matchingScoreWeight4Iou": "IoU alone, as ByteTrack",
    "tentativeDetectorConfidence": "= track_high_threshold: below it a detection is low-score (second stage)",
    "minMatchingScore4TentativeIou": "= 1 - second_match_iou_threshold: least IoU for low-score matches",
    "stateEstimatorType": "REGULAR Kalman filter",
    "noiseWeightVar4Loc": "ByteTrack's position noise, 1/20 of the box height",
    "noiseWeightVar4Vel": "ByteTrack's velocity noise, 1/160 of the box height",
    "useAspectRatio": "state x, y, aspect, height as ByteTrack",
}


def render_nvsort_yaml(tracker: Mapping[str, Any], source: str = "module/module.yml") -> str:
    """The NvSORT low-level config as DeepStream reads it (OpenCV-style `%YAML:1.0` header), commented."""
    lines = [
        "%YAML:1.0",
        "# NvSORT low-level config for Savant's nvtracker (DeepStream NvMultiObjectTracker).",
        f"# Generated from parameters.tracker (ByteTrack) in {source} by pyuniproc.deploy.tracker;",
        "# regenerate with `pyuniproc compose --tracker-config module/tracker/config_tracker_NvSORT.yml`",
        "# rather than editing it, so both runtimes keep the same thresholds.",
        "# Not expressible in NvSORT: new_track_threshold (targets start from track_high_threshold),",
        "# fuse_score (IoU is not weighted by score), unconfirmed_match_iou_threshold.",
        "",
    ]
    for section, values in nvsort_config(tracker).items():
        lines.append(f"{section}:")
        for key, value in values.items():
            entry = f"  {key}: {_format(value)}"
            lines.append(f"{entry:<44}# {WHY[key]}")
        lines.append("")
    return "\n".join(lines)


def read_nvsort_yaml(path: Path | str) -> dict[str, dict[str, Any]]:
    """Parse a low-level tracker config (the `%YAML:1.0` line is OpenCV syntax, not YAML: skipped)."""
    text = Path(path).read_text(encoding="utf-8")
    body = "\n".join(line for line in text.splitlines() if not line.startswith("%YAML"))
    data = yaml.safe_load(body)
    if not isinstance(data, dict):
        raise ValueError(f"{path}: expected sections of key: value pairs")
    return data


def write_nvsort_yaml(tracker: Mapping[str, Any], out: Path | str, source: str = "module/module.yml") -> Path:
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(render_nvsort_yaml(tracker, source), encoding="utf-8")
    return out


def _round(value: Any) -> float:
    return round(float(value), 6)


def _format(value: Any) -> str:
    if isinstance(value, float):
        return repr(value)
    return str(value)


__all__ = ["BYTETRACK_DEFAULTS", "nvsort_config", "read_nvsort_yaml", "render_nvsort_yaml",
           "write_nvsort_yaml"]
