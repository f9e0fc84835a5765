"""Render one camera of a planned site: frames to H.264, and the ground truth of what was drawn.

Per frame: the camera's background, then every person in view drawn back to front (by the row
of their feet, so nearer people hide farther ones), each as the sprite frame of their walking
animation scaled to the height the perspective gives at their feet. A label image records which
person owns each pixel; a person's GT box is the extent of the pixels they still own after
everyone in front of them and the scenery in front of the walkers (the street's fence) was
drawn. The row is scored (consider 1, class 1) when at least MIN_VISIBLE of their full mask
(off-frame parts included) is visible, and written as a distractor (consider 0, class 8) when
less but some of it is: the evaluation neither rewards nor punishes boxes on such people, as
MOTChallenge (and TrackEval's MOT preprocessing) does with its distractors. The camera's look
(tone curve, colour cast, blur, noise) is applied last, to the whole picture, as a real sensor
would.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np

from .resample import gaussian_blur, resize
from .site import MIN_VISIBLE, Person, Site
from .sprites import SpriteBank, SpriteFrame
from .views import Source

SPRITE_FPS = 10.0  # vtest's frame rate: one sprite frame per 0.1 s of walking
ALPHA_DRAWN = 128  # alpha at or above which a pixel counts as the person's, for the GT
DISTRACTOR_CLASS = 8  # MOTChallenge's "distractor" class: the class of ignored (too hidden) rows


@dataclass
class _Appearance:
    person: int  # index into people
    visit: int
    feet: np.ndarray  # (n, 2) output pixels
    heights: np.ndarray  # (n,) output pixels
    start_frame: int
    mirror: bool
    phase: int


def render_camera(
    camera_index: int,
    site: Site,
    people: list[Person],
    sources: dict[str, Source],
    bank: SpriteBank,
    *,
    n_frames: int,
    fps: float,
    video_path: Path,
    seed: int,
    crf: int = 23,
    progress=None,
    capture: set[int] | None = None,
) -> tuple[np.ndarray, dict[tuple[int, int], tuple[int, int]], dict]:
    """Writes `video_path`; returns GT rows (m, 9) float64 (consider flag and class in columns 6
    and 7: 1, 1 scored; 0, DISTRACTOR_CLASS too hidden); per (person id, visit index) the first
    and last 0-based frame with a scored GT row; and for each 0-based frame in `capture` (for
    tests) the label image, whose pixel value v > 0 is drawn by person `ids[v]`, as (labels, ids)."""
    camera = site.cameras[camera_index]
    view = camera.view
    source = sources[view.source]
    width, height = view.width, view.height
    background = view.render_background(source)
    front = view.render_front(source)
    if front is not None:
        front_pixels = front >= 0.5
        front = front[..., None]
    lut = np.stack(camera.look.tables(), axis=1).reshape(256, 1, 3)
    rng = np.random.default_rng([seed, camera_index, 7])
    noise = (rng.standard_normal((height + 32, width + 32, 3)) * camera.look.noise_std).astype(np.int16)

    per_frame: list[list[tuple[_Appearance, int]]] = [[] for _ in range(n_frames)]
    for p_index, person in enumerate(people):
        for v_index, visit in enumerate(person.visits):
            if visit.group != camera.group:
                continue
            feet = view.to_image(visit.positions)
            heights = source.person_height(visit.positions[:, 1]) * view.scale * person.height_scale
            seq = bank.sequences[visit.sequence]
            dx = feet[-1, 0] - feet[0, 0]
            mirror = seq.direction != 0 and np.sign(dx) != 0 and np.sign(dx) != seq.direction
            app = _Appearance(
                p_index,
                v_index,
                feet,
                heights,
                visit.start_frame,
                bool(mirror),
                phase=(person.id * 7 + v_index * 3) % len(seq.frames),
            )
            for k in range(len(feet)):
                f = visit.start_frame + k
                if 0 <= f < n_frames and heights[k] >= 4:
                    per_frame[f].append((app, k))

    captured: dict[int, tuple[np.ndarray, dict[int, int]]] = {}
    rows: list[tuple] = []
    seen: dict[tuple[int, int], tuple[int, int]] = {}
    recoloured: dict[tuple[int, int, int], np.ndarray] = {}
    video_path.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(video_path), mode="w") as container:
        stream = container.add_stream("libx264", rate=Fraction(fps).limit_denominator(1001))
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.options = {"crf": str(crf), "preset": "veryfast", "threads": "1"}
        stream.codec_context.gop_size = max(1, round(fps * 3))
        for f in range(n_frames):
            frame = background.copy()
            labels = np.zeros((height, width), np.int16)
            items = sorted(
                per_frame[f], key=lambda item: (item[0].feet[item[1], 1], people[item[0].person].id)
            )
            drawn = []
            for label, (app, k) in enumerate(items, start=1):
                person = people[app.person]
                visit = person.visits[app.visit]
                seq = bank.sequences[visit.sequence]
                s_index = (app.phase + int((f - app.start_frame) * SPRITE_FPS / fps)) % len(seq.frames)
                key = (app.person, visit.sequence, s_index)
                rgba = recoloured.get(key)
                if rgba is None:
                    rgba = _recolour(seq.frames[s_index].rgba, person.recolour)
                    recoloured[key] = rgba
                area = _draw(
                    frame, labels, label, rgba, seq.frames[s_index], app.feet[k], app.heights[k], app.mirror
                )
                drawn.append((label, app, area))
            if front is not None and drawn:
                frame = (frame * (1 - front) + background * front + 0.5).astype(np.uint8)
                labels[front_pixels] = 0
            if capture and f in capture:
                captured[f] = (labels.copy(), {label: people[app.person].id for label, app, _ in drawn})
            for label, app, (roi, full_count) in drawn:
                if roi is None or full_count == 0:
                    continue
                y1, y2, x1, x2 = roi
                mine = labels[y1:y2, x1:x2] == label
                count = int(mine.sum())
                if count == 0:
                    continue
                scored = count >= MIN_VISIBLE * full_count
                ys = np.nonzero(mine.any(axis=1))[0]
                xs = np.nonzero(mine.any(axis=0))[0]
                person = people[app.person]
                rows.append(
                    (
                        f + 1,
                        person.id,
                        x1 + xs[0],
                        y1 + ys[0],
                        xs[-1] - xs[0] + 1,
                        ys[-1] - ys[0] + 1,
                        int(scored),
                        1 if scored else DISTRACTOR_CLASS,
                        round(count / full_count, 3),
                    )
                )
                if not scored:
                    continue
                key = (person.id, app.visit)
                first, _ = seen.get(key, (f, f))
                seen[key] = (first, f)
            frame = apply_look(frame, camera.look, lut)
            ox, oy = (int(v) for v in rng.integers(0, 32, 2))
            frame = np.clip(frame + noise[oy : oy + height, ox : ox + width], 0, 255).astype(np.uint8)
            for packet in stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")):
                container.mux(packet)
            if progress is not None:
                with progress.get_lock():
                    progress.value += 1
        for packet in stream.encode():
            container.mux(packet)
    gt = np.array(rows, np.float64).reshape(-1, 9)
    return gt, seen, captured


def apply_look(frame: np.ndarray, look, lut: np.ndarray | None = None) -> np.ndarray:
    """Tone curve, colour cast and blur of a camera (its noise is added separately)."""
    if lut is None:
        lut = np.stack(look.tables(), axis=1).reshape(256, 1, 3)
    frame = cv2.LUT(frame, lut)  # a table lookup: exact on any build
    if look.blur_sigma > 0:
        frame = gaussian_blur(frame, look.blur_sigma)
    return frame


def _recolour(rgba: np.ndarray, recolour) -> np.ndarray:
    """A lookalike: the same person with differently coloured torso and legs."""
    if recolour is None:
        return rgba
    out = rgba.copy()
    h = rgba.shape[0]
    for (lo, hi), params in zip(((0.15, 0.55), (0.55, 1.0)), recolour, strict=True):
        band = out[int(lo * h) : int(hi * h)]
        rgb = band[..., :3].astype(np.float32) * np.array(params[:3], np.float32) + np.array(
            params[3:], np.float32
        )
        on = band[..., 3:] > 0
        band[..., :3] = np.where(on, np.clip(rgb, 0, 255), band[..., :3]).astype(np.uint8)
    return out


def sprite_pixels(rgba: np.ndarray, scale: float, *, mirror: bool = False, feather_sigma: float = 0.0
                  ) -> np.ndarray:
    """The sprite resized by `scale`: (h, w, 4) float32, premultiplied RGB and alpha, 0..255.

    Sprites store RGB = 0 where alpha = 0, i.e. premultiplied; resizing them that way and
    blending with `roi * (1 - a) + rgb` gives edge pixels the person's colour at partial
    opacity (multiplying by alpha again, as the first renderer did, drew a dark rim around every
    magnified sprite). `feather_sigma` (output px) softens the mask edge; 0 keeps it as cut.
    """
    sh, sw = rgba.shape[:2]
    out_w, out_h = max(1, round(sw * scale)), max(1, round(sh * scale))
    px = resize(rgba, out_w, out_h)  # area average when shrinking, bilinear when enlarging
    if mirror:
        px = px[:, ::-1]
    if feather_sigma > 0:
        px = gaussian_blur(px, feather_sigma)
    return px


def _draw(
    frame: np.ndarray,
    labels: np.ndarray,
    label: int,
    rgba: np.ndarray,
    sprite: SpriteFrame,
    foot: np.ndarray,
    body_height: float,
    mirror: bool,
):
    """Alpha-blends the sprite with its feet at `foot`; returns ((y1, y2, x1, x2) clipped box or
    None, pixel count of the whole drawn mask)."""
    scale = body_height / sprite.body_height
    sprite_px = sprite_pixels(rgba, scale, mirror=mirror)
    out_h, out_w = sprite_px.shape[:2]
    foot_x = sprite.foot_x * out_w / rgba.shape[1]
    if mirror:
        foot_x = out_w - foot_x
    left = int(round(foot[0] - foot_x))
    top = int(round(foot[1])) - out_h
    alpha = sprite_px[..., 3]
    full_count = int(np.count_nonzero(alpha >= ALPHA_DRAWN))
    height, width = labels.shape
    x1, y1 = max(0, left), max(0, top)
    x2, y2 = min(width, left + out_w), min(height, top + out_h)
    if x1 >= x2 or y1 >= y2:
        return None, full_count
    part = sprite_px[y1 - top : y2 - top, x1 - left : x2 - left]
    a = part[..., 3:] / 255.0
    roi = frame[y1:y2, x1:x2]
    roi[:] = np.clip(roi * (1 - a) + part[..., :3] + 0.5, 0, 255).astype(np.uint8)
    lab = labels[y1:y2, x1:x2]
    lab[part[..., 3] >= ALPHA_DRAWN] = label
    return (y1, y2, x1, x2), full_count
