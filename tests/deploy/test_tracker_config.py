"""DeepStream's NvSORT config carries the ByteTrack thresholds of module.yml (pyuniproc.deploy.tracker)."""

from __future__ import annotations

import pytest
from deploykit import MODULE_YAML, REPO

from pyuniproc.config.module import load_module_config
from pyuniproc.deploy.tracker import nvsort_config, read_nvsort_yaml, render_nvsort_yaml
from pyuniproc.track.bytetrack import ByteTrack

SHIPPED = REPO / "module" / "tracker" / "config_tracker_NvSORT.yml"


def module_tracker(monkeypatch) -> dict:
    monkeypatch.delenv("TRACK_HIGH_THRESHOLD", raising=False)  # the file carries the YAML's defaults
    spec = load_module_config(MODULE_YAML).tracker
    return {"kind": spec.kind, **spec.params}


def test_shipped_config_is_generated_from_module_yaml(monkeypatch):
    """Edit parameters.tracker, then `pyuniproc compose --tracker-config ...`: this test catches a skip."""
    assert SHIPPED.read_text() == render_nvsort_yaml(module_tracker(monkeypatch))


def test_module_yml_points_nvtracker_at_the_shipped_file():
    text = MODULE_YAML.read_text()
    assert "/module/tracker/config_tracker_NvSORT.yml" in text
    assert "libnvds_nvmultiobjecttracker.so" in text


def test_shipped_file_parses_despite_the_opencv_header():
    config = read_nvsort_yaml(SHIPPED)
    assert SHIPPED.read_text().startswith("%YAML:1.0\n")
    assert set(config) == {"BaseConfig", "TargetManagement", "TrajectoryManagement", "DataAssociator",
                           "StateEstimator"}


@pytest.mark.parametrize("param, value, section, key, expected", [
    ("track_low_threshold", 0.2, "BaseConfig", "minDetectorConfidence", 0.2),
    ("track_high_threshold", 0.65, "DataAssociator", "tentativeDetectorConfidence", 0.65),
    ("match_iou_threshold", 0.7, "DataAssociator", "minMatchingScore4Iou", 0.3),
    ("second_match_iou_threshold", 0.4, "DataAssociator", "minMatchingScore4TentativeIou", 0.6),
    ("minimum_consecutive_frames", 3, "TargetManagement", "probationAge", 2),
    ("minimum_consecutive_frames", 1, "TargetManagement", "probationAge", 0),
])
def test_each_bytetrack_threshold_lands_in_its_nvsort_field(param, value, section, key, expected):
    assert nvsort_config({"kind": "bytetrack", param: value})[section][key] == pytest.approx(expected)


@pytest.mark.parametrize("frame_rate, buffer", [(10, 30), (30, 30), (25, 60), (5, 12)])
def test_shadow_age_is_bytetracks_lost_track_lifetime(frame_rate, buffer):
    tracker = ByteTrack(frame_rate=frame_rate, lost_track_buffer=buffer)
    config = nvsort_config({"kind": "bytetrack", "frame_rate": frame_rate, "lost_track_buffer": buffer})
    assert config["TargetManagement"]["maxShadowTrackingAge"] == tracker.max_frames_lost


def test_cascaded_matching_and_bytetracks_kalman_noise():
    config = nvsort_config({"kind": "bytetrack"})
    assert config["DataAssociator"]["associationMatcherType"] == 1  # CASCADED = two-stage, as ByteTrack
    assert config["StateEstimator"] == {"stateEstimatorType": 2, "noiseWeightVar4Loc": 0.05,
                                        "noiseWeightVar4Vel": 0.00625, "useAspectRatio": 1}


@pytest.mark.parametrize("tracker, message", [
    ({"kind": "sort"}, "only ByteTrack"),
    ({"kind": "bytetrack", "track_hi_threshold": 0.5}, "unknown ByteTrack parameters"),
])
def test_other_trackers_and_typos_are_refused(tracker, message):
    with pytest.raises(ValueError, match=message):
        nvsort_config(tracker)


def test_pyuniproc_only_weak_starts_are_accepted_and_leave_nvsort_as_it_is():
    plain = {"kind": "bytetrack", "track_high_threshold": 0.35}
    weak = {**plain, "weak_start_threshold": 0.3, "weak_start_frames": 3, "weak_start_motion": 0.25}
    assert nvsort_config(weak) == nvsort_config(plain)


def test_pyuniproc_only_occlusion_rules_are_accepted_and_leave_nvsort_as_it_is():
    plain = {"kind": "bytetrack", "track_high_threshold": 0.35}
    ocsort = {**plain, "momentum_weight": 0.2, "momentum_frames": 3, "observation_reupdate": True,
              "recovery_match_iou_threshold": 0.7}
    assert nvsort_config(ocsort) == nvsort_config(plain)
