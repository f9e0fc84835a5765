"""The sprite bank cut out of vtest.avi: clean walkers, split by identity."""

from __future__ import annotations

import numpy as np

from pyuniproc.scenario.sprites import load_sprite_bank


def test_bank_has_train_and_test_people_with_walking_sequences():
    bank = load_sprite_bank()
    train, test = bank.identities("train"), bank.identities("test")
    assert len(train) >= 15 and len(test) >= 15
    assert not set(train) & set(test)
    half = 795 // 2
    assert all(bank.identity_first_frame[i] < half for i in train)
    assert all(bank.identity_first_frame[i] >= half for i in test)
    for seq in bank.sequences:
        assert len(seq.frames) >= 10
        assert np.all(np.diff(seq.source_frames) == 1)  # consecutive frames: a real walking animation


def test_sprites_are_single_upright_people():
    bank = load_sprite_bank()
    k, y0 = bank.height_model
    assert 0.1 < k < 0.5  # people grow towards the bottom of vtest's picture
    for seq in bank.sequences:
        for frame in seq.frames:
            alpha = frame.rgba[..., 3]
            assert set(np.unique(alpha)) <= {0, 255}
            assert (frame.rgba[..., :3][alpha == 0] == 0).all()  # no background pixels kept
            h, w = alpha.shape
            assert 1.6 <= h / w <= 4.6
            assert 0 <= frame.foot_x <= w
            assert alpha[-3:].any() and alpha[:3].any()  # cropped tight: head at top, feet at bottom
