"""Renderings stay close to real footage: views do not magnify their background, people are never
drawn much larger than their sprite was recorded, and camera looks are mild (what costs a real
detector its confidence is measured in benchmarks/quality/)."""

from __future__ import annotations

import numpy as np

from pyuniproc.scenario.generate import plan
from pyuniproc.scenario.render import sprite_pixels
from pyuniproc.scenario.site import MAX_SPRITE_UPSCALE
from pyuniproc.scenario.views import PAIR_SCALE_FACTOR, Look


def test_views_magnify_their_source_at_most_its_limit(short_spec):
    _, sources, site, _ = plan(short_spec)
    for group in site.groups:
        for c in group:
            view = site.cameras[c].view
            limit = sources[view.source].max_view_scale * (PAIR_SCALE_FACTOR if len(group) == 2 else 1)
            assert view.scale <= limit + 1e-9, (site.cameras[c].id, view.scale, limit)


def test_people_are_not_drawn_much_larger_than_their_sprite(short_spec):
    bank, sources, site, people = plan(short_spec)
    checked = 0
    for person in people:
        for visit in person.visits:
            native = np.median([f.body_height for f in bank.sequences[visit.sequence].frames])
            source = sources[site.group_source[visit.group]]
            for c in site.groups[visit.group]:
                view = site.cameras[c].view
                feet_y = visit.positions[:, 1]
                feet_y = feet_y[feet_y <= view.crop[3]]  # not yet walking out across the bottom edge
                heights = source.person_height(feet_y) * view.scale * person.height_scale
                assert heights.max(initial=0) <= MAX_SPRITE_UPSCALE * native + 1e-6
                checked += 1
    assert checked >= 10


def test_camera_looks_are_mild():
    rng = np.random.default_rng(0)
    for _ in range(200):
        look = Look.random(rng)
        assert 0.85 <= look.gain <= 1.15 and 0.85 <= look.gamma <= 1.15
        assert all(0.94 <= c <= 1.06 for c in look.cast)
        assert look.blur_sigma <= 0.6 and look.noise_std <= 2.5


def test_sprites_are_blended_premultiplied_without_dark_rims():
    # A flat grey 2x-magnified sprite: every edge pixel keeps the grey, only its opacity falls.
    rgba = np.zeros((8, 4, 4), np.uint8)
    rgba[1:7, 1:3] = (200, 200, 200, 255)
    px = sprite_pixels(rgba, 2.0)
    alpha = px[..., 3]
    edge = (alpha > 10) & (alpha < 245)
    assert edge.any()
    colour = px[..., :3][edge] / (alpha[edge, None] / 255.0)
    np.testing.assert_allclose(colour, 200.0, atol=1.0)
