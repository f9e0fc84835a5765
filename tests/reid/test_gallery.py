"""Per-track galleries: bounded, diverse, quality-weighted unit descriptor, dropped with the track."""

from __future__ import annotations

import numpy as np
import pytest

from pyuniproc.reid import GalleryBank, TrackGallery


def unit(*values: float) -> np.ndarray:
    v = np.array(values, np.float32)
    return v / np.linalg.norm(v)


def test_descriptor_is_the_quality_weighted_mean_normalised():
    gallery = TrackGallery(2, max_size=4)
    assert gallery.descriptor() is None
    gallery.add(unit(1, 0), 0.75, 0)
    gallery.add(unit(0, 1), 0.25, 1)
    np.testing.assert_allclose(gallery.descriptor(), unit(0.75, 0.25), atol=1e-6)
    assert np.linalg.norm(gallery.descriptor()) == pytest.approx(1.0)


def test_gallery_is_bounded_and_keeps_diverse_views():
    gallery = TrackGallery(3, max_size=3)
    gallery.add(unit(1, 0, 0), 0.9, 0)
    gallery.add(unit(0, 1, 0), 0.9, 1)
    gallery.add(unit(0, 0, 1), 0.9, 2)
    gallery.add(unit(1, 0.05, 0), 0.5, 3)  # near-copy of view 0, worse quality: it goes
    assert len(gallery) == 3 and gallery.total_added == 4
    assert sorted(gallery.frames.tolist()) == [0, 1, 2]
    gallery.add(unit(1, 0.05, 0), 0.95, 4)  # near-copy of view 0, better quality: it replaces view 0
    assert sorted(gallery.frames.tolist()) == [1, 2, 4]


def test_long_track_memory_stays_constant():
    gallery = TrackGallery(16, max_size=8)
    rng = np.random.default_rng(0)
    for frame in range(500):
        gallery.add(rng.normal(size=16), float(rng.uniform()), frame)
    assert len(gallery) == 8 and gallery.embeddings.shape == (8, 16)
    np.testing.assert_allclose(np.linalg.norm(gallery.embeddings, axis=1), 1.0, atol=1e-6)


def test_inputs_are_checked():
    gallery = TrackGallery(2)
    with pytest.raises(ValueError, match=r"embedding must have 2 values, got 3"):
        gallery.add(np.ones(3), 0.5, 0)
    with pytest.raises(ValueError, match=r"quality must be in \[0, 1\], got 1.5"):
        gallery.add(np.ones(2), 1.5, 0)
    with pytest.raises(ValueError, match=r"max_size must be >= 1, got 0"):
        TrackGallery(2, max_size=0)


def test_bank_keeps_one_gallery_per_camera_and_track():
    bank = GalleryBank(2, max_size=4)
    bank.add("a", np.array([1, 2]), np.stack([unit(1, 0), unit(0, 1)]), np.array([0.5, 0.5]), 0)
    bank.add("b", np.array([1]), unit(0, 1)[None], np.array([0.5]), 0)
    np.testing.assert_allclose(bank.descriptor("a", 1), unit(1, 0))
    np.testing.assert_allclose(bank.descriptor("b", 1), unit(0, 1))
    assert bank.descriptor("a", 99) is None and bank.descriptor("zzz", 1) is None
    track_ids, descriptors = bank.descriptors("a")
    assert track_ids.tolist() == [1, 2] and descriptors.shape == (2, 2)
    assert bank.track_count() == 3


def test_bank_drops_ended_tracks_cameras_and_idle_tracks():
    bank = GalleryBank(2, forget_after_frames=10)
    bank.add("a", np.array([1, 2, 3]), np.tile(unit(1, 1), (3, 1)), np.full(3, 0.5), 0)
    bank.end_tracks("a", [1])
    assert bank.track_count("a") == 2
    bank.add("a", np.array([3]), unit(1, 1)[None], np.array([0.5]), 11)  # 2 idle for 11 frames
    assert bank.descriptors("a")[0].tolist() == [3]
    bank.drop_camera("a")
    assert bank.track_count() == 0 and bank.descriptors("a")[1].shape == (0, 2)


def test_bank_checks_row_counts():
    bank = GalleryBank(2)
    with pytest.raises(ValueError, match=r"embeddings must be \(2, 2\), got \(1, 2\)"):
        bank.add("a", np.array([1, 2]), unit(1, 0)[None], np.array([0.5, 0.5]), 0)
    with pytest.raises(ValueError, match=r"qualities must have 1 rows like track_ids, got 2"):
        bank.add("a", np.array([1]), unit(1, 0)[None], np.array([0.5, 0.5]), 0)
