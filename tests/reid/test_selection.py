"""One ReID choice for every backend: the CPU runtime's ReID stage and the GPU backend's tracking stage pick
the same tracks through `EmbedSelection`, and both attach float32 embeddings."""

from __future__ import annotations

import numpy as np
import pytest

from pyuniproc.gpu.tracking import TrackingStage
from pyuniproc.reid.selection import EMBEDDING, EMBEDDING_QUALITY, EmbedSelection, attach_embeddings
from pyuniproc.runtime.reid_stage import ReidStage
from pyuniproc.track import create_tracker
from pyuniproc.types import Detections, Frame

FRAME = (240, 320)
PEOPLE = np.array([[10, 10, 50, 110], [100, 40, 140, 150], [200, 20, 240, 130], [290, 200, 300, 210]],
                  np.float32)  # the last one is too small for the gate
SETTINGS = {"min_height": 48, "refresh_frames": 3, "max_crops_per_frame": 2}


class FakeEmbedder:
    dimension = 4

    def embed(self, crops):
        return np.ones((len(crops), self.dimension), np.float16)  # a backend may compute in fp16


def _detections(step: int) -> Detections:
    return Detections(xyxy=PEOPLE + step, confidence=np.full(4, 0.9, np.float32),
                      class_id=np.zeros(4, np.int32))


def test_cpu_reid_stage_and_gpu_tracking_stage_embed_the_same_tracks():
    reid = ReidStage(FakeEmbedder(), selection=EmbedSelection.from_settings(SETTINGS))
    gpu = TrackingStage(selection=SETTINGS)
    tracker = create_tracker("bytetrack")
    image = np.zeros((*FRAME, 3), np.uint8)
    for index in range(8):
        tracks = tracker.update(_detections(index))
        cpu_tracks = reid.process([Frame("7", index, index / 10, image)], [tracks])[0]
        gpu_tracks, rows, quality = gpu.update(7, index, _detections(index), FRAME)
        np.testing.assert_array_equal(gpu_tracks.tracker_id, tracks.tracker_id)
        embedded = ~np.isnan(cpu_tracks.data[EMBEDDING]).any(axis=1)
        np.testing.assert_array_equal(np.flatnonzero(embedded), np.sort(rows))
        np.testing.assert_allclose(cpu_tracks.data[EMBEDDING_QUALITY][rows], quality)
        assert cpu_tracks.data[EMBEDDING].dtype == np.float32


def test_attach_embeddings_writes_float32_and_nan_elsewhere():
    tracks = Detections(xyxy=PEOPLE, confidence=np.full(4, 0.9, np.float32), class_id=np.zeros(4, np.int32),
                        tracker_id=np.arange(1, 5))
    quality = np.array([0.7], np.float32)
    out = attach_embeddings(tracks, np.array([2]), np.ones((1, 3), np.float16), quality, 3)
    assert out.data[EMBEDDING].dtype == np.float32 and out.data[EMBEDDING_QUALITY].dtype == np.float32
    assert np.isnan(out.data[EMBEDDING][[0, 1, 3]]).all() and (out.data[EMBEDDING][2] == 1).all()
    np.testing.assert_allclose(out.data[EMBEDDING_QUALITY], [0, 0, 0.7, 0])
    with pytest.raises(ValueError, match=r"expected \(1, 3\)"):
        attach_embeddings(tracks, np.array([2]), np.ones((1, 4)), np.array([0.7]), 3)


@pytest.mark.parametrize(("settings", "message"), [({"refresh_seconds": 1}, "refresh_seconds"),
                                                   ({"min_height": -1}, "min_height")])
def test_bad_settings_are_named(settings, message):
    with pytest.raises(ValueError, match=message):
        EmbedSelection.from_settings(settings)
