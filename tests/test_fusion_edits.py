"""`pyuniproc fusion` follows edits of the module YAML between messages: the crop-quality gate applies to
the next frame, fusion's own parameters apply to the running fusion (those of the floor need a
restart), a bad edit is rejected with file:line:field; the notices leave with the next frame sent
(tag `config.events`)."""

import json
from pathlib import Path

import numpy as np
import pytest

from pyuniproc.config.cameras import load_cameras
from pyuniproc.config.module import load_module_config
from pyuniproc.fusion import Fusion
from pyuniproc.fusion_edits import FusionEdits, quality_gate
from pyuniproc.fusion_service import FusionService
from pyuniproc.transport import FrameMessage
from pyuniproc.types import Detections

REPO = Path(__file__).resolve().parents[1]


class Writer:
    def __init__(self) -> None:
        self.sent: list[FrameMessage] = []

    def send(self, message: FrameMessage) -> None:
        self.sent.append(message)


@pytest.fixture
def service(tmp_path):
    module_file = tmp_path / "module.yml"
    module_file.write_text((REPO / "module" / "module.yml").read_text())
    cameras = tmp_path / "cameras.yml"
    cameras.write_text("cameras:\n  - {id: cam1, uri: a.mp4}\n")
    module = load_module_config(module_file)
    fusion = Fusion(load_cameras(cameras), module.fusion, accept_unknown_cameras=True)
    return FusionService(None, Writer(), fusion, quality_gate(module),
                         edits=FusionEdits(module, fusion, interval_seconds=0)), module_file


def small_person(index: int) -> FrameMessage:
    """One person 40 px tall (below the gate's 48 px), with an embedding."""
    tracks = Detections(xyxy=np.array([[300, 100, 316, 140]], np.float32), confidence=[0.9], class_id=[0],
                        tracker_id=[3], data={"embedding": np.eye(1, 16, dtype=np.float32)})
    return FrameMessage(camera_id="cam1", pts=index * 100_000_000, width=640, height=360, tracks=tracks)


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert text.count(old) == 1
    path.write_text(text.replace(old, new))


def line_of(path: Path, needle: str) -> int:
    return next(i for i, line in enumerate(path.read_text().splitlines(), 1) if needle in line)


def notices(message: FrameMessage) -> list[dict]:
    return json.loads(message.tags.get("config.events") or "[]")


def test_a_lowered_gate_trusts_the_next_frames_small_crops(service):
    service, module_file = service
    assert service._weighted(small_person(0)).data["embedding_quality"].tolist() == [0.0]
    edit(module_file, "min_height: 48", "min_height: 30")
    service.follow_edits()
    assert service._weighted(small_person(1)).data["embedding_quality"][0] > 0
    service.handle(small_person(1))
    [notice] = notices(service.writer.sent[-1])
    assert (notice["kind"], notice["sections"]) == ("config_reloaded", ["reid"])
    service.handle(small_person(2))
    assert notices(service.writer.sent[-1]) == []  # once


def test_a_bad_gate_value_is_rejected_at_its_line_and_the_gate_stays(service):
    service, module_file = service
    gate = service.gate
    edit(module_file, "min_confidence: 0.5", "min_confidence: 5")
    service.follow_edits()
    assert service.gate is gate
    service.handle(small_person(0))
    [notice] = notices(service.writer.sent[-1])
    assert notice["kind"] == "config_rejected" and notice["field"] == "parameters.reid.min_confidence"
    assert notice["error"].startswith(f"{module_file}:{line_of(module_file, 'min_confidence: 5')}: ")


def test_a_fusion_threshold_edit_applies_to_the_running_fusion(service):
    service, module_file = service
    identities_before = service.fusion.stats()
    edit(module_file, "match_threshold: 0.75", "match_threshold: 0.9")
    service.follow_edits()
    service.handle(small_person(0))
    [notice] = notices(service.writer.sent[-1])
    assert (notice["kind"], notice["sections"]) == ("config_reloaded", ["fusion"])
    assert service.fusion.config.match_threshold == 0.9
    assert service.fusion.stats().keys() == identities_before.keys()  # the same Fusion, not a new one


def test_a_floor_setting_edit_needs_a_restart_while_the_rest_of_the_edit_applies(service):
    service, module_file = service
    edit(module_file, "match_threshold: 0.75", "match_threshold: 0.9\n    floor_bonus: 0.2")
    service.follow_edits()
    service.follow_edits()  # reported once
    service.handle(small_person(0))
    restart, reloaded = notices(service.writer.sent[-1])
    assert (restart["kind"], restart["field"], restart["edited"]) == (
        "config_restart_needed", "parameters.fusion.floor_bonus", 0.2)
    assert restart["line"] == line_of(module_file, "floor_bonus: 0.2")
    assert reloaded["kind"] == "config_reloaded"
    assert service.fusion.config.match_threshold == 0.9
    assert service.fusion.config.floor_bonus == restart["running"] != 0.2
