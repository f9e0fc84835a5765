"""The site and what people do in it: a plan, no pixels.

Cameras form a chain (cam1 - cam2 - ... - camN) plus a few random shortcuts; each link has a
window of walking times between the two views. Pairs of neighbouring cameras may be an *overlap
pair*: two crops of the same scene, so one walk is seen by both at once. A *group* is one camera
or one overlap pair; people walk across a group's view, leave it, walk between groups along a
link (taking a time inside its window), or come back into the same group after a while, or leave
the site.

Times are counted in whole frames of the output. A visit's path is in source-image coordinates
(see views.py); "visible" here means at least MIN_VISIBLE of the body is inside a camera's frame
(the renderer applies the same rule to what is actually drawn, occlusion included, for the GT).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from .sprites import SpriteBank
from .views import PAIR_SCALE_FACTOR, Look, Source, View, crop_width_range, overlapping_crop, random_crop

MIN_VISIBLE = 0.5  # fraction of a person's pixels that must be visible for a scored GT row; people
# drawn less visible than that (behind others, the fence, the frame edge) get an ignored row
# (MOTChallenge "consider" flag 0): finding them is not rewarded, and not an error either
PERSON_METRES = 1.7  # height of a standing person, to turn walking speed into pixels
TRAVEL_MARGIN_SECONDS = 0.5  # planned walks stay this far inside their window (rendering may
# differ from the plan by a few frames when someone is occluded at the moment they leave or enter)
REENTER_SECONDS = (4.0, 12.0)  # time away before coming back into the same view
PERSON_WIDTH_RATIO = 0.4  # width / height of a walker, for the plan's visibility estimate
MAX_SPRITE_UPSCALE = 1.25  # a walker is never drawn taller than this times their sprite's native
# height: magnified sprites look soft and blocky, and NanoDet's score on them falls from 0.65
# (native) to 0.53 (x1.5) and 0.29 (x2) (benchmarks/quality/README.md). Visits keep to the rows
# where the chosen sprite sequence stays within it.


@dataclass(frozen=True)
class Camera:
    id: str
    group: int
    view: View
    look: Look


@dataclass(frozen=True)
class Link:
    """People walk between `a` and `b` (either way) in min_seconds..max_seconds."""

    a: int  # group index
    b: int
    min_seconds: float
    max_seconds: float


@dataclass(frozen=True)
class Site:
    cameras: tuple[Camera, ...]
    groups: tuple[tuple[int, ...], ...]  # camera indices of each group
    group_source: tuple[str, ...]
    links: tuple[Link, ...]

    def neighbours(self, group: int) -> list[Link]:
        return [link for link in self.links if group in (link.a, link.b)]

    @property
    def overlaps(self) -> list[tuple[str, str]]:
        return [(self.cameras[g[0]].id, self.cameras[g[1]].id) for g in self.groups if len(g) == 2]


@dataclass
class Visit:
    group: int
    start_frame: int  # output frame of positions[0]
    positions: np.ndarray  # (n, 2) float64 feet in source pixels, one per frame
    sequence: int  # index into the sprite bank's sequences
    entry_side: str
    exit_side: str
    visible: dict[int, tuple[int, int]] = field(default_factory=dict)  # camera -> first, last frame


@dataclass
class Transition:
    kind: str  # "link" or "reenter"
    from_visit: int  # index of the visit left; the next visit is from_visit + 1
    from_camera: int
    to_camera: int
    exit_frame: int  # last planned visible frame in from_camera
    entry_frame: int  # first planned visible frame in to_camera
    window: tuple[float, float] | None  # the link's min/max seconds; None for re-entries


@dataclass
class Person:
    id: int  # global person id, 1-based
    sprite_identity: int
    split: str
    distractor_of: int | None
    recolour: tuple[tuple[float, ...], tuple[float, ...]] | None  # torso, legs: 3 gains + 3 offsets
    height_scale: float
    speed_mps: float
    visits: list[Visit] = field(default_factory=list)
    transitions: list[Transition] = field(default_factory=list)


# ---------------------------------------------------------------------------------------------
# The site


def make_site(
    rng: np.random.Generator,
    sources: dict[str, Source],
    *,
    n_cameras: int,
    n_overlaps: int,
    width: int,
    height: int,
) -> Site:
    n_overlaps = max(0, min(n_overlaps, n_cameras // 2))
    # Overlap pairs are neighbours in the chain: pick pair starts that do not share a camera.
    starts: list[int] = []
    candidates = list(rng.permutation(n_cameras - 1))
    while len(starts) < n_overlaps and candidates:
        s = int(candidates.pop(0))
        if all(abs(s - t) >= 2 for t in starts):
            starts.append(s)
    groups: list[tuple[int, ...]] = []
    i = 0
    while i < n_cameras:
        groups.append((i, i + 1) if i in starts else (i,))
        i += len(groups[-1])
    n_groups = len(groups)
    n_street = max(1, round(n_groups / 4)) if n_groups >= 2 else 0
    group_source = ["street"] * n_street + ["vtest"] * (n_groups - n_street)
    group_source = [group_source[j] for j in rng.permutation(n_groups)]

    cameras: list[Camera] = []
    aspect = width / height
    for g, members in enumerate(groups):
        source = sources[group_source[g]]
        mirror = bool(rng.random() < 0.5)
        # An overlap pair shares part of a narrower crop, so each camera also sees ground the
        # other does not.
        widths = crop_width_range(source, aspect, width, source.max_view_scale)
        if len(members) == 2:
            lo, _ = crop_width_range(source, aspect, width, source.max_view_scale * PAIR_SCALE_FACTOR)
            widths = (lo, min(widths[1], lo * 1.15))
        crop = _crop_with_room(rng, source, aspect, width, height, mirror, widths)
        for position, c in enumerate(members):
            if position == 1:
                crop = _crop_with_room(rng, source, aspect, width, height, mirror, widths, overlap_with=crop)
            view = View(source.name, crop, mirror, width, height)
            cameras.append(Camera(f"cam{c + 1}", g, view, Look.random(rng)))

    pairs = {(g, g + 1) for g in range(n_groups - 1)}
    if n_groups >= 4:
        others = [
            (a, b)
            for a in range(n_groups)
            for b in range(a + 2, n_groups)
            if (a, b) != (0, n_groups - 1) or n_groups > 4
        ]
        for j in rng.permutation(len(others))[: n_groups // 4]:
            pairs.add(others[int(j)])
    links = []
    for a, b in sorted(pairs):
        low = float(np.round(rng.uniform(2.0, 6.0) * 2) / 2)
        high = float(low + np.round(rng.uniform(6.0, 12.0) * 2) / 2)
        links.append(Link(a, b, low, high))
    return Site(tuple(cameras), tuple(groups), tuple(group_source), tuple(links))


def _crop_with_room(rng, source, aspect, width, height, mirror, widths, overlap_with=None):
    """A crop `widths` source px wide whose walkable band spans at least a quarter of the frame's
    height."""
    crop = overlap_with
    for _ in range(50):
        if overlap_with is None:
            crop = random_crop(rng, source, aspect, widths)
        else:
            crop = overlapping_crop(rng, source, overlap_with, widths)
        lo, hi = View(source.name, crop, mirror, width, height).walk_band(source)
        if (hi - lo) * width / (crop[2] - crop[0]) >= 0.25 * height:
            return crop
    return crop


# ---------------------------------------------------------------------------------------------
# People


def plan_people(
    rng: np.random.Generator,
    site: Site,
    sources: dict[str, Source],
    bank: SpriteBank,
    *,
    n_people: int,
    n_distractors: int,
    split: str,
    seconds: float,
    fps: float,
) -> list[Person]:
    n_frames = round(seconds * fps)
    pool = bank.identities(split)
    if not pool:
        raise ValueError(f"no sprite identities in split {split!r}")
    n_distractors = max(0, min(n_distractors, n_people - 1))
    n_main = n_people - n_distractors
    order = [pool[int(j)] for j in rng.permutation(len(pool))]
    people: list[Person] = []
    for i in range(n_main):
        identity = order[i % len(order)]
        # More people than identities: later copies are recoloured lookalikes of the first.
        first = people[i % len(order)].id if i >= len(order) else None
        people.append(_new_person(rng, i + 1, identity, bank, first, _recolour(rng) if first else None))
    originals = rng.permutation(n_main)
    for j in range(n_distractors):
        original = people[int(originals[j % n_main])]
        people.append(
            _new_person(rng, n_main + j + 1, original.sprite_identity, bank, original.id, _recolour(rng))
        )
    for person in people:
        _plan_route(rng, person, site, sources, bank, n_frames, fps, seconds)
    return people


def _new_person(rng, pid, identity, bank, distractor_of, recolour) -> Person:
    return Person(
        pid,
        identity,
        bank.identity_split[identity],
        distractor_of,
        recolour,
        height_scale=float(rng.uniform(0.92, 1.08)),
        speed_mps=float(rng.uniform(1.0, 1.6)),
    )


def _recolour(rng) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """Torso and legs colour changes: per-channel gain and offset, clearly different from none."""
    parts = []
    for _ in range(2):
        gains = rng.uniform(0.55, 1.6, 3)
        offsets = np.zeros(3)
        offsets[int(rng.integers(3))] = rng.uniform(25, 70)
        parts.append(tuple(float(v) for v in (*gains, *offsets)))
    return parts[0], parts[1]


def _plan_route(
    rng, person: Person, site: Site, sources, bank: SpriteBank, n_frames: int, fps: float, seconds: float
) -> None:
    group = int(rng.integers(len(site.groups)))
    entry_frame = int(rng.uniform(0, 0.75) * n_frames)  # first visible frame of the first visit
    sequences = [i for i, s in enumerate(bank.sequences) if s.identity == person.sprite_identity]
    weights = np.array([len(bank.sequences[i].frames) for i in sequences], np.float64)
    native = {i: float(np.median([f.body_height for f in bank.sequences[i].frames])) for i in sequences}
    tallest = max(sequences, key=lambda i: native[i])
    pending: tuple[str, int, tuple[float, float] | None] | None = None
    tried: set[int] = set()  # groups where the first visit did not fit
    while True:
        visit = None
        for attempt in range(20):
            # Any of the person's walking sequences; the tallest when smaller ones keep failing
            # (their upscale limit leaves too little ground in this view).
            sequence = int(rng.choice(sequences, p=weights / weights.sum())) if attempt < 12 else tallest
            visit = _make_visit(rng, person, site, sources, group, fps, native[sequence])
            if visit.visible:
                break
        if not visit or not visit.visible:
            tried.add(group)
            if person.visits or len(tried) == len(site.groups):
                return  # walks off the site (or fits nowhere)
            group = int(rng.choice(sorted(set(range(len(site.groups))) - tried)))
            continue
        visit.sequence = sequence
        first = min(visit.visible.values(), key=lambda fl: fl[0])[0]
        shift = entry_frame - first
        visit.start_frame += shift
        visit.visible = {c: (f + shift, last + shift) for c, (f, last) in visit.visible.items()}
        if pending is not None:
            kind, exit_camera, window = pending
            entry_camera = min(visit.visible, key=lambda c: visit.visible[c][0])
            exit_frame = person.visits[-1].visible[exit_camera][1]
            person.transitions.append(
                Transition(
                    kind, len(person.visits) - 1, exit_camera, entry_camera, exit_frame, entry_frame, window
                )
            )
        person.visits.append(visit)
        exit_camera = max(visit.visible, key=lambda c: visit.visible[c][1])
        exit_frame = visit.visible[exit_camera][1]
        if exit_frame >= n_frames - 1 or rng.random() < 0.2:
            return  # out of time, or leaves the site
        if rng.random() < 0.15:
            travel = rng.uniform(*REENTER_SECONDS)
            pending = ("reenter", exit_camera, None)
        else:
            link = site.neighbours(group)[int(rng.integers(len(site.neighbours(group))))]
            low = math.ceil((link.min_seconds + TRAVEL_MARGIN_SECONDS) * fps)
            high = math.floor((link.max_seconds - TRAVEL_MARGIN_SECONDS) * fps)
            travel = int(rng.integers(low, high + 1)) / fps
            group = link.b if link.a == group else link.a
            pending = ("link", exit_camera, (link.min_seconds, link.max_seconds))
        entry_frame = exit_frame + round(travel * fps)
        if entry_frame >= n_frames:
            return


_SIDES = ("left", "right", "bottom")


def _make_visit(
    rng, person: Person, site: Site, sources, group: int, fps: float, sprite_height: float
) -> Visit:
    """A walk across the group's view by a person drawn from a sprite `sprite_height` px tall;
    no `visible` cameras when the view has no ground where that sprite is drawn small enough."""
    members = site.groups[group]
    source = sources[site.group_source[group]]
    views = [site.cameras[c].view for c in members]
    ux0 = min(v.crop[0] for v in views)
    ux1 = max(v.crop[2] for v in views)
    uy1 = max(v.crop[3] for v in views)
    bands = [v.walk_band(source) for v in views]
    lo, hi = min(b[0] for b in bands), max(b[1] for b in bands)
    # Nearer rows draw people taller: stop where the most magnifying view of the group would
    # draw them above MAX_SPRITE_UPSCALE times the sprite's own height.
    scale = max(v.scale for v in views) * person.height_scale
    hi = min(hi, source.height_y0 + MAX_SPRITE_UPSCALE * sprite_height / (source.height_k * scale))
    if hi - lo < 0.1 * views[0].height / views[0].scale:
        return Visit(group, 0, np.zeros((0, 2)), -1, "left", "right")
    sides = list(_SIDES) if hi >= uy1 - 6 else ["left", "right"]
    entry = sides[int(rng.integers(len(sides)))]
    exits = [s for s in sides if s != entry]
    exit_ = exits[int(rng.integers(len(exits)))]

    def endpoint(side: str) -> np.ndarray:
        y = float(rng.uniform(lo, hi))
        margin = 0.4 * float(source.person_height(y)) * person.height_scale
        if side == "left":
            return np.array([ux0 - margin, y])
        if side == "right":
            return np.array([ux1 + margin, y])
        x = float(rng.uniform(ux0 + 0.15 * (ux1 - ux0), ux1 - 0.15 * (ux1 - ux0)))
        return np.array([x, uy1 + 0.1 * float(source.person_height(uy1))])

    p0, p2 = endpoint(entry), endpoint(exit_)
    p1 = np.array([rng.uniform(ux0 + 0.2 * (ux1 - ux0), ux1 - 0.2 * (ux1 - ux0)), rng.uniform(lo, hi)])
    t = np.linspace(0, 1, 400)[:, None]
    curve = (1 - t) ** 2 * p0 + 2 * (1 - t) * t * p1 + t**2 * p2
    seg = np.linalg.norm(np.diff(curve, axis=0), axis=1)
    arc = np.concatenate([[0.0], np.cumsum(seg)])
    positions = []
    s = 0.0
    while s <= arc[-1]:
        point = np.array([np.interp(s, arc, curve[:, 0]), np.interp(s, arc, curve[:, 1])])
        positions.append(point)
        pixels_per_metre = float(source.person_height(point[1])) / PERSON_METRES
        s += person.speed_mps * pixels_per_metre / fps
    positions = np.array(positions)
    visit = Visit(group, 0, positions, -1, entry, exit_)
    for c in members:
        frac = visible_fraction(site.cameras[c].view, source, positions, person.height_scale)
        idx = np.nonzero(frac >= MIN_VISIBLE)[0]
        if len(idx):
            visit.visible[c] = (int(idx[0]), int(idx[-1]))
    return visit


def visible_fraction(view: View, source: Source, feet: np.ndarray, height_scale: float) -> np.ndarray:
    """(n,) share of a walker's box inside the frame, for feet at (n, 2) source points."""
    xy = view.to_image(feet)
    h = np.maximum(source.person_height(feet[:, 1]) * view.scale * height_scale, 1e-6)
    w = PERSON_WIDTH_RATIO * h
    x1, x2 = xy[:, 0] - w / 2, xy[:, 0] + w / 2
    y1, y2 = xy[:, 1] - h, xy[:, 1]
    inside_w = np.clip(np.minimum(x2, view.width) - np.maximum(x1, 0), 0, None)
    inside_h = np.clip(np.minimum(y2, view.height) - np.maximum(y1, 0), 0, None)
    return inside_w * inside_h / (w * h)
