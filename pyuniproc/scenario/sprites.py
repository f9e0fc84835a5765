"""Real pedestrians cut out of vtest.avi: per-person walking sequences as RGBA crops.

vtest.avi is one fixed, elevated camera, so a temporal median of its frames is the empty scene.
Pixels that differ from it are foreground; connected components of the foreground are person
blobs. Blobs are linked frame to frame by box overlap into tracks, and a track's frame is kept as
a sprite only when its blob is clean: a single upright person of the height the scene's
perspective predicts at its feet, not touching the image edge, and clear of every other blob
(so merged pairs, occluded and edge-cut people are left out). Runs of clean frames become
`SpriteSequence`s: the walking animation of one identity.

Identities are split by when they first appear: "train" (first seen in the first half of the
clip) and "test" (second half), so anything that learns from sprites can be scored on people it
never saw.

Extraction takes ~15 s; the result is cached as a compressed npz keyed by the video's sha256
and `EXTRACTOR_VERSION` (same input, same code -> same bank, byte for byte).
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

EXTRACTOR_VERSION = 6
"""Bump when extraction changes, so cached banks are rebuilt."""

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_VIDEO = REPO_ROOT / "samples" / "vtest" / "vtest.avi"


@dataclass(frozen=True)
class SpriteFrame:
    """One cut-out person.

    rgba: (h, w, 4) uint8; alpha 255 on the person, 0 elsewhere (RGB zeroed there).
    foot_x: column of the point between the feet, in crop pixels.
    body_height: smoothed person height in pixels at capture (use it to scale, not rgba's height,
        which jitters with the gait).
    """

    rgba: np.ndarray
    foot_x: float
    body_height: float


@dataclass(frozen=True)
class SpriteSequence:
    identity: int
    frames: tuple[SpriteFrame, ...]
    direction: int  # +1 walking right in the image, -1 left, 0 mostly towards/away from the camera
    source_frames: tuple[int, ...]  # 0-based vtest frame index of each sprite frame


@dataclass(frozen=True)
class SpriteBank:
    sequences: tuple[SpriteSequence, ...]
    identity_split: dict[int, str]  # identity -> "train" | "test"
    identity_first_frame: dict[int, int]
    background: np.ndarray  # (576, 768, 3) uint8 RGB temporal median of the clip
    height_model: tuple[float, float]  # (k, y0): person height = k * (foot_y - y0) in vtest pixels
    video_sha256: str

    def identities(self, split: str = "all") -> list[int]:
        ids = sorted(self.identity_split)
        return ids if split == "all" else [i for i in ids if self.identity_split[i] == split]

    def sequences_of(self, identity: int) -> list[SpriteSequence]:
        return [s for s in self.sequences if s.identity == identity]


# ---------------------------------------------------------------------------------------------
# Loading and caching


def cache_dir() -> Path:
    root = os.environ.get("PYUNIPROC_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "pyuniproc"
    )
    return Path(root)


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def load_sprite_bank(video: Path | str = DEFAULT_VIDEO, *, progress: bool = False) -> SpriteBank:
    """The bank for `video`, from the cache or extracted now (and cached)."""
    video = Path(video)
    if not video.is_file():
        raise FileNotFoundError(f"sprite source video not found: {video}")
    sha = file_sha256(video)
    path = cache_dir() / f"sprites-v{EXTRACTOR_VERSION}-{sha[:16]}.npz"
    if path.is_file():
        try:
            return _read_bank(path)
        except (OSError, ValueError, KeyError):
            pass  # a broken cache file is rebuilt
    from .extract import extract_sprites  # imported here: extract.py builds on these types

    bank = extract_sprites(video, sha=sha, progress=progress)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".{os.getpid()}.tmp.npz")
    _write_bank(bank, tmp)
    os.replace(tmp, path)
    return bank


def _write_bank(bank: SpriteBank, path: Path) -> None:
    pixels, frame_rows, seq_rows = [], [], []
    offset = 0
    for s_index, seq in enumerate(bank.sequences):
        seq_rows.append((seq.identity, len(frame_rows), len(seq.frames), seq.direction))
        for fr, src in zip(seq.frames, seq.source_frames, strict=True):
            h, w = fr.rgba.shape[:2]
            pixels.append(fr.rgba.reshape(-1))
            frame_rows.append((offset, h, w, fr.foot_x, fr.body_height, src, s_index))
            offset += h * w * 4
    ids = sorted(bank.identity_split)
    np.savez_compressed(
        path,
        pixels=np.concatenate(pixels) if pixels else np.zeros(0, np.uint8),
        frames=np.array(frame_rows, np.float64).reshape(-1, 7),
        sequences=np.array(seq_rows, np.int64).reshape(-1, 4),
        identities=np.array(
            [(i, bank.identity_first_frame[i], bank.identity_split[i] == "test") for i in ids], np.int64
        ).reshape(-1, 3),
        background=bank.background,
        height_model=np.array(bank.height_model, np.float64),
        video_sha256=np.array(bank.video_sha256),
    )


def _read_bank(path: Path) -> SpriteBank:
    with np.load(path) as z:
        pixels, frames, seq_rows = z["pixels"], z["frames"], z["sequences"]
        sequences = []
        for identity, start, count, direction in seq_rows:
            sprite_frames, sources = [], []
            for off, h, w, foot_x, body_h, src, _ in frames[start : start + count]:
                off, h, w = int(off), int(h), int(w)
                rgba = pixels[off : off + h * w * 4].reshape(h, w, 4)
                sprite_frames.append(SpriteFrame(rgba, float(foot_x), float(body_h)))
                sources.append(int(src))
            sequences.append(
                SpriteSequence(int(identity), tuple(sprite_frames), int(direction), tuple(sources))
            )
        ident = z["identities"]
        return SpriteBank(
            sequences=tuple(sequences),
            identity_split={int(i): ("test" if t else "train") for i, _, t in ident},
            identity_first_frame={int(i): int(f) for i, f, _ in ident},
            background=z["background"].copy(),
            height_model=(float(z["height_model"][0]), float(z["height_model"][1])),
            video_sha256=str(z["video_sha256"]),
        )
