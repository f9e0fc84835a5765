"""Camera views: which real background a camera sees, how it maps ground to pixels, how it looks.

A *source* is a still of a real, empty scene with a person-height model: a standing person whose
feet are at row y is `k * (y - y0)` pixels tall (flat ground seen by a pinhole camera). People
walk in source coordinates; a *view* is a crop of a source (optionally mirrored), resized to the
output frame, so perspective carries over exactly. Two views cropped from the same source and
overlapping see the same people at the same time (an overlap pair). Each view also has its own
photometric look: brightness, colour cast, contrast, blur and sensor noise.

Views magnify their source at most `Source.max_view_scale` (a crop at least that wide), so the
background keeps its native sharpness and people stay about vtest's size (mostly 40-110 px tall
at 640x360). Looks are mild, like cameras of one site with different white balance and
exposure, not damaged footage: benchmarks/quality/render_factors.py measured that a blur of 1 px,
a +-15% green cast or the first generator's harshest look (gain 0.7, blur 1.6 px) cut SSDLite's
median score on a clearly visible person by 35-80% (benchmarks/quality/README.md).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

import cv2
import numpy as np

from .resample import warp_scaled

BACKGROUNDS_DIR = Path(__file__).resolve().parents[2] / "samples" / "backgrounds"
MIN_PERSON_HEIGHT = 28  # output pixels; smaller people are too small to be worth tracking
PAIR_SCALE_FACTOR = 1.1  # an overlap pair's crops may magnify this much more than a single view's


@dataclass(frozen=True)
class Source:
    name: str
    image: np.ndarray  # (h, w, 3) uint8 RGB
    height_k: float
    height_y0: float
    walk_y: tuple[float, float]  # rows between which feet may be, in source pixels
    crop_top_max: float  # crops must start above this row, or every walker's head is cut off
    max_view_scale: float  # most a view may magnify the source (output px per source px)
    front: np.ndarray | None = None  # (h, w) uint8 0/1: scenery nearer than any walker (a fence)

    def person_height(self, foot_y: np.ndarray | float) -> np.ndarray | float:
        return self.height_k * (np.asarray(foot_y) - self.height_y0)


def load_sources(vtest_background: np.ndarray, vtest_height: tuple[float, float]) -> dict[str, Source]:
    street = cv2.imread(str(BACKGROUNDS_DIR / "bikes_street.png"), cv2.IMREAD_COLOR)
    if street is None:
        raise FileNotFoundError(f"missing background {BACKGROUNDS_DIR / 'bikes_street.png'}")
    return {
        # 768x576: a 640x360 view is a 640-768 px wide crop, never magnified.
        "vtest": Source(
            "vtest", vtest_background, vtest_height[0], vtest_height[1], (120.0, 570.0), 576.0, 1.0
        ),
        # 640x272: the widest 16:9 crop is 483 px, so its views magnify 1.33-1.45.
        "street": Source(
            "street",
            np.ascontiguousarray(street[:, :, ::-1]),
            1.05,
            95.0,
            (135.0, 215.0),
            80.0,
            1.45,
            front=_street_front(street),
        ),
    }


def _street_front(bgr: np.ndarray) -> np.ndarray:
    """The fence and the parked bicycle in front of the street: dark pixels below the skyline,
    connected to the bottom edge. Walkers are drawn behind them."""
    mask = (bgr.max(axis=2) < 95).astype(np.uint8)
    mask[:85] = 0
    mask = cv2.morphologyEx(mask, cv2.MORPH_OPEN, np.ones((2, 2), np.uint8))
    count, labels, stats, _ = cv2.connectedComponentsWithStats(mask)
    front = np.zeros_like(mask)
    for j in range(1, count):
        x, y, w, h, area = stats[j]
        if y + h >= mask.shape[0] - 7 and area > 500:
            front[labels == j] = 1
    return front


@dataclass(frozen=True)
class Look:
    """Photometric look of one camera, applied to every composed frame."""

    gain: float  # overall brightness multiplier
    cast: tuple[float, float, float]  # per-channel (R, G, B) multipliers: white balance
    gamma: float  # contrast curve; < 1 lifts shadows
    blur_sigma: float  # Gaussian blur in output pixels (focus, compression softness); 0 = sharp
    noise_std: float  # Gaussian sensor noise, in 0-255 levels

    @staticmethod
    def random(rng: np.random.Generator) -> Look:
        """A plausible camera of the same site: exposure within +-15%, white balance within
        +-6% per channel, a mild contrast curve, half of the cameras slightly soft, light noise
        (H.264 smooths most of it away; more only costs file size)."""
        gain = float(rng.uniform(0.85, 1.15))
        cast = tuple(float(c) for c in rng.uniform(0.94, 1.06, 3))
        gamma = float(rng.uniform(0.85, 1.15))
        soft = bool(rng.random() < 0.5)
        blur = float(rng.uniform(0.3, 0.6)) if soft else 0.0
        noise = float(rng.uniform(0.5, 2.5))
        return Look(gain=gain, cast=cast, gamma=gamma, blur_sigma=blur, noise_std=noise)

    def tables(self) -> list[np.ndarray]:
        """One 256-entry uint8 lookup table per RGB channel (gain, cast and gamma in one step)."""
        levels = np.arange(256, dtype=np.float64) / 255.0
        curve = levels**self.gamma
        return [np.clip(np.round(curve * self.gain * c * 255.0), 0, 255).astype(np.uint8) for c in self.cast]


@dataclass(frozen=True)
class View:
    """A crop of a source resized to (width, height); mirrored left-right if `mirror`."""

    source: str
    crop: tuple[float, float, float, float]  # x0, y0, x1, y1 in source pixels; aspect = width/height
    mirror: bool
    width: int
    height: int

    @property
    def scale(self) -> float:
        return self.width / (self.crop[2] - self.crop[0])

    def to_image(self, xy_source: np.ndarray) -> np.ndarray:
        """(n, 2) source points -> (n, 2) output pixel coordinates."""
        xy = np.asarray(xy_source, np.float64).reshape(-1, 2)
        x = (xy[:, 0] - self.crop[0]) * self.scale
        y = (xy[:, 1] - self.crop[1]) * self.scale
        if self.mirror:
            x = self.width - x
        return np.stack([x, y], axis=1)

    def render_background(self, source: Source) -> np.ndarray:
        """(height, width, 3) uint8: the crop, resampled bilinearly (the crop need not be whole pixels)."""
        size = (self.width, self.height)
        return warp_scaled(source.image, self.crop[:2], self.scale, size, mirror=self.mirror)

    def render_front(self, source: Source) -> np.ndarray | None:
        """(height, width) float32 opacity of the source's foreground scenery in this view, or None."""
        if source.front is None:
            return None
        return warp_scaled(
            source.front.astype(np.float32), self.crop[:2], self.scale, (self.width, self.height),
            mirror=self.mirror,
        )

    def walk_band(self, source: Source) -> tuple[float, float]:
        """Source rows between which a person's feet may be in this view: on the ground, inside
        the crop, at least MIN_PERSON_HEIGHT tall, and with the whole body below the top edge."""
        lo, hi = source.walk_y
        lo = max(lo, self.crop[1] + 1)
        hi = min(hi, self.crop[3] - 4 / self.scale)
        k, y0 = source.height_k, source.height_y0
        lo = max(lo, y0 + MIN_PERSON_HEIGHT / (self.scale * k))  # tall enough
        # Head below the top edge: foot_y - k * (foot_y - y0) >= crop top.
        if k < 1:
            lo = max(lo, (self.crop[1] - k * y0) / (1 - k) + 2)
        elif k > 1:
            hi = min(hi, (self.crop[1] - k * y0) / (1 - k) - 2)
        return lo, hi

    def describe(self) -> dict:
        return asdict(self)


def crop_width_range(source: Source, aspect: float, width: int, max_scale: float) -> tuple[float, float]:
    """Narrowest and widest crop (source px) of `aspect` for a `width`-px view magnifying at most
    `max_scale`; the narrowest is never wider than the widest the source allows."""
    sh, sw = source.image.shape[:2]
    max_w = min(sw, sh * aspect)
    return min(max_w, width / max_scale), max_w


def random_crop(
    rng: np.random.Generator, source: Source, aspect: float, width_range: tuple[float, float]
) -> tuple[float, float, float, float]:
    """A crop of `aspect` (w/h), `width_range` source px wide, that shows a good part of the
    walkable ground."""
    sh, sw = source.image.shape[:2]
    w = float(rng.uniform(*width_range))
    h = w / aspect
    x0 = float(rng.uniform(0, sw - w))
    walk_lo, walk_hi = source.walk_y
    # The crop's bottom must be below the start of the walkable rows by at least a third of its
    # height, so people have room to walk.
    y0_lo = max(0.0, walk_lo + h / 3 - h)
    y0_hi = min(sh - h, source.crop_top_max)
    y0 = float(rng.uniform(min(y0_lo, y0_hi), y0_hi))
    return (x0, y0, x0 + w, y0 + h)


def overlapping_crop(
    rng: np.random.Generator,
    source: Source,
    crop: tuple[float, float, float, float],
    width_range: tuple[float, float],
) -> tuple[float, float, float, float]:
    """A second crop of the same source, `width_range` source px wide, sharing 30-60% of `crop`'s
    width (more where the source is too narrow for that), at a different zoom."""
    sh, sw = source.image.shape[:2]
    x0, y0, x1, y1 = crop
    w0, aspect = x1 - x0, (x1 - x0) / (y1 - y0)
    w = float(np.clip(w0 * float(rng.uniform(0.8, 1.2)), *width_range))
    h = w / aspect
    shift = w0 * float(rng.uniform(0.4, 0.7))
    nx0 = x0 + shift if x0 + shift + w <= sw or x0 - shift < 0 else x0 - shift
    nx0 = float(np.clip(nx0, 0, sw - w))
    ny0 = float(np.clip(y1 - h + rng.uniform(-0.1, 0.1) * h, 0, sh - h))
    return (nx0, ny0, nx0 + w, ny0 + h)
