"""Cutting walkers out of vtest.avi (see sprites.py for what comes out and why).

Pipeline: temporal-median backgrounds over sliding windows -> foreground masks -> connected
components (closing joins a body's fragments; the sprite keeps the unclosed pixels) -> IoU
linking with a constant-velocity guess (a blob overlapping two tracks is a merge: both coast) ->
runs of clean frames -> sequences, split into identities when a track's colours jump.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import av
import cv2
import numpy as np
from scipy.optimize import linear_sum_assignment

from .sprites import SpriteBank, SpriteFrame, SpriteSequence

# Foreground and blob filters, in vtest pixels (768x576).
_DIFF_THRESHOLD = 35  # max |frame - background| over RGB above which a pixel is foreground
_MIN_AREA = 250  # smaller blobs are noise or far-away fragments
_MIN_HEIGHT = 40
_ASPECT_RANGE = (1.6, 4.6)  # height / width of one upright walker; merged pairs are wider
_FILL_RANGE = (0.3, 0.85)  # blob area / box area
_HEIGHT_TOLERANCE = 0.22  # max relative deviation from the perspective height model
_EDGE_MARGIN = 3  # blobs closer than this to the image border are cut off
_CLEARANCE = 0.15  # boxes grown by this fraction of their height must not touch another blob
_MIN_RUN = 10  # shortest clean run kept as a sequence (1 s at 10 fps, about one stride)
_LINK_IOU = 0.25
_BRIDGE_FRAMES = 15  # a track lost for up to this long and found again is the same identity
_MAX_WIDTH = 0.58  # blob width / expected height above which a frame is two people or an arm out
_MAX_WIDTH_MEDIAN = 0.5  # the same over a whole run: a pair walking side by side
_MAX_HOLE = 0.02  # enclosed background smaller than this share of the box is filled in
_SIGNATURE_JUMP = 60.0  # torso/legs colour change (0-255) that means a track swapped people


def _decode(video: Path):
    with av.open(str(video)) as container:
        for i, frame in enumerate(container.decode(video=0)):
            yield i, frame.to_ndarray(format="rgb24")


def _median_backgrounds(video: Path) -> tuple[int, list[int], list[np.ndarray]]:
    """Medians over sliding windows, so slow scene changes (tape, parked cars) stay background."""
    step = 6
    indices, samples = [], []
    i = -1
    for i, image in _decode(video):
        if i % step == 0:
            indices.append(i)
            samples.append(image)
    n_frames = i + 1
    stack = np.stack(samples)
    idx = np.array(indices)
    anchors = list(range(0, n_frames, 100))
    medians = []
    for a in anchors:
        sel = (idx >= a - 150) & (idx < a + 250)
        medians.append(np.median(stack[sel], axis=0).astype(np.uint8))
    return n_frames, anchors, medians


@dataclass
class _Blob:
    box: np.ndarray  # x1, y1, x2, y2 (exclusive)
    area: int
    rgba: np.ndarray
    upright: bool  # passes the shape filters (before the height model)


@dataclass
class _Track:
    entries: list[tuple[int, int]]  # (frame, blob index)
    last_box: np.ndarray
    velocity: np.ndarray
    lost: int = 0


def _foreground_blobs(image: np.ndarray, background: np.ndarray) -> list[_Blob]:
    channels = cv2.absdiff(image, background)
    diff = np.maximum(np.maximum(channels[..., 0], channels[..., 1]), channels[..., 2])
    mask = (diff > _DIFF_THRESHOLD).astype(np.uint8)
    pixels = cv2.morphologyEx(mask, cv2.MORPH_OPEN, np.ones((3, 3), np.uint8))
    # Closing joins a body's fragments into one blob; the sprite's alpha keeps the unclosed
    # pixels, so the gap between the legs stays see-through.
    joined = cv2.morphologyEx(pixels, cv2.MORPH_CLOSE, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (7, 15)))
    count, labels, stats, _ = cv2.connectedComponentsWithStats(joined, connectivity=8)
    height, width = mask.shape
    blobs = []
    for j in range(1, count):
        x, y, w, h, area = (int(v) for v in stats[j])
        if area < _MIN_AREA:
            continue
        comp = (labels[y : y + h, x : x + w] == j).astype(np.uint8) & pixels[y : y + h, x : x + w]
        comp = _fill_holes(comp)
        rows, cols = np.nonzero(comp.any(axis=1))[0], np.nonzero(comp.any(axis=0))[0]
        if not len(rows):
            continue
        # Tight box of the kept pixels (closing may have grown the blob a little).
        comp = comp[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]
        x, y, w, h = (
            x + int(cols[0]),
            y + int(rows[0]),
            int(cols[-1] - cols[0] + 1),
            int(rows[-1] - rows[0] + 1),
        )
        rgba = np.zeros((h, w, 4), np.uint8)
        rgba[..., :3] = image[y : y + h, x : x + w] * comp[..., None]
        rgba[..., 3] = comp * 255
        aspect, fill = h / w, area / (w * h)
        upright = (
            h >= _MIN_HEIGHT
            and _ASPECT_RANGE[0] <= aspect <= _ASPECT_RANGE[1]
            and _FILL_RANGE[0] <= fill <= _FILL_RANGE[1]
            and x >= _EDGE_MARGIN
            and y >= _EDGE_MARGIN
            and x + w <= width - _EDGE_MARGIN
            and y + h <= height - _EDGE_MARGIN
        )
        blobs.append(_Blob(np.array([x, y, x + w, y + h], np.float64), area, rgba, upright))
    return blobs


def _fill_holes(mask: np.ndarray) -> np.ndarray:
    """Fills small enclosed holes (clothes that match the background), not the large gaps
    between legs that a shadow closes at the feet."""
    count, labels, stats, _ = cv2.connectedComponentsWithStats((1 - mask).astype(np.uint8), connectivity=4)
    h, w = mask.shape
    out = mask.copy()
    for j in range(1, count):
        x, y, cw, ch, area = (int(v) for v in stats[j])
        touches_border = x == 0 or y == 0 or x + cw == w or y + ch == h
        if not touches_border and area < _MAX_HOLE * h * w:
            out[labels == j] = 1
    return out


def _iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(n, m) IoU of xyxy boxes."""
    if len(a) == 0 or len(b) == 0:
        return np.zeros((len(a), len(b)))
    x1 = np.maximum(a[:, None, 0], b[None, :, 0])
    y1 = np.maximum(a[:, None, 1], b[None, :, 1])
    x2 = np.minimum(a[:, None, 2], b[None, :, 2])
    y2 = np.minimum(a[:, None, 3], b[None, :, 3])
    inter = np.clip(x2 - x1, 0, None) * np.clip(y2 - y1, 0, None)
    area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    return inter / (area_a[:, None] + area_b[None, :] - inter)


def _fit_height_model(boxes: np.ndarray) -> tuple[float, float]:
    """Robust fit of height = k * (foot_y - y0) over upright blobs (flat ground, pinhole camera)."""
    foot = boxes[:, 3]
    height = boxes[:, 3] - boxes[:, 1]
    keep = np.ones(len(boxes), bool)
    for _ in range(5):
        slope, intercept = np.polyfit(foot[keep], height[keep], 1)
        predicted = slope * foot + intercept
        keep = np.abs(height - predicted) < 0.15 * predicted
    return float(slope), float(-intercept / slope)


def extract_sprites(video: Path, *, sha: str = "", progress: bool = False) -> SpriteBank:
    n_frames, anchors, medians = _median_backgrounds(video)
    per_frame: list[list[_Blob]] = []
    for i, image in _decode(video):
        background = medians[int(np.argmin([abs(a + 50 - i) for a in anchors]))]
        per_frame.append(_foreground_blobs(image, background))
        if progress and i % 100 == 0:
            print(f"\rextracting sprites: frame {i}/{n_frames}", end="", flush=True)
    if progress:
        print()

    upright = np.array([b.box for blobs in per_frame for b in blobs if b.upright])
    k, y0 = _fit_height_model(upright)

    tracks = _link(per_frame)
    sequences: list[SpriteSequence] = []
    first_frame: dict[int, int] = {}
    for track in tracks:
        runs = _clean_runs(track, per_frame, k, y0)
        previous = None
        for run in runs:
            seq = _make_sequence(len(first_frame), run, per_frame)
            if _median_width(seq) > _MAX_WIDTH_MEDIAN:
                continue  # two people side by side
            signature = _colour_signature(seq)
            if previous is None or np.abs(signature - previous).max() > _SIGNATURE_JUMP:
                # The track jumped to someone else (or this is its first run): a new identity.
                first_frame[len(first_frame)] = track.entries[0][0] if previous is None else run[0][0]
            identity = len(first_frame) - 1
            sequences.append(SpriteSequence(identity, seq.frames, seq.direction, seq.source_frames))
            previous = signature
    used = sorted({s.identity for s in sequences})
    renumber = {old: new for new, old in enumerate(used)}
    sequences = [
        SpriteSequence(renumber[s.identity], s.frames, s.direction, s.source_frames) for s in sequences
    ]
    half = n_frames // 2
    split = {renumber[i]: ("train" if first_frame[i] < half else "test") for i in used}
    bg_all = np.median(np.stack(medians), axis=0).astype(np.uint8)
    return SpriteBank(
        tuple(sequences), split, {renumber[i]: first_frame[i] for i in used}, bg_all, (k, y0), sha
    )


def _clean_runs(
    track: _Track,
    per_frame: list[list[_Blob]],
    k: float,
    y0: float,
) -> list[list[tuple[int, int]]]:
    """Maximal runs of consecutive frames in which the track's blob is clean, >= _MIN_RUN long."""
    runs, current = [], []
    for f, j in track.entries:
        if _is_clean(per_frame, f, j, k, y0) and (not current or current[-1][0] == f - 1):
            current.append((f, j))
            continue
        if len(current) >= _MIN_RUN:
            runs.append(current)
        current = [(f, j)] if _is_clean(per_frame, f, j, k, y0) else []
    if len(current) >= _MIN_RUN:
        runs.append(current)
    return runs


def _median_width(seq: SpriteSequence) -> float:
    return float(np.median([f.rgba.shape[1] / f.body_height for f in seq.frames]))


def _colour_signature(seq: SpriteSequence) -> np.ndarray:
    """Median RGB of the torso band and of the legs band over the run: (6,) float."""
    parts = []
    for lo, hi in ((0.2, 0.5), (0.55, 0.9)):
        pixels = []
        for f in seq.frames:
            h = f.rgba.shape[0]
            band = f.rgba[int(lo * h) : int(hi * h)]
            pixels.append(band[band[..., 3] > 0][:, :3])
        pixels = np.concatenate(pixels)
        parts.append(np.median(pixels, axis=0) if len(pixels) else np.zeros(3))
    return np.concatenate(parts).astype(np.float64)


def _is_clean(per_frame: list[list[_Blob]], f: int, j: int, k: float, y0: float) -> bool:
    blob = per_frame[f][j]
    if not blob.upright:
        return False
    x1, y1, x2, y2 = blob.box
    expected = k * (y2 - y0)
    if abs((y2 - y1) - expected) > _HEIGHT_TOLERANCE * expected or x2 - x1 > _MAX_WIDTH * expected:
        return False
    pad = _CLEARANCE * (y2 - y1)
    grown = np.array([[x1 - pad, y1 - pad, x2 + pad, y2 + pad]])
    others = np.array([b.box for i, b in enumerate(per_frame[f]) if i != j]).reshape(-1, 4)
    return not np.any(_iou(grown, others) > 0)


def _link(per_frame: list[list[_Blob]]) -> list[_Track]:
    """IoU linking with a constant-velocity guess; lost tracks may be found again (bridged)."""
    active: list[_Track] = []
    done: list[_Track] = []
    for f, blobs in enumerate(per_frame):
        boxes = np.array([b.box for b in blobs]).reshape(-1, 4)
        predicted = np.array([t.last_box + t.velocity * (t.lost + 1) for t in active]).reshape(-1, 4)
        iou = _iou(predicted, boxes)
        # A blob that overlaps two tracks' predictions is a merge: neither track takes it (they
        # coast on their velocity and pick their person up again after the merge ends), and it
        # starts no track of its own.
        merged = {c for c in range(len(boxes)) if np.sum(iou[:, c] >= _LINK_IOU) >= 2}
        heights = boxes[:, 3] - boxes[:, 1]
        track_heights = np.array([t.last_box[3] - t.last_box[1] for t in active])
        if iou.size:
            size_ok = np.abs(heights[None, :] - track_heights[:, None]) <= 0.25 * track_heights[:, None]
            iou = np.where(size_ok, iou, 0.0)
            iou[:, sorted(merged)] = 0.0
        rows, cols = linear_sum_assignment(-iou) if iou.size else ([], [])
        matched_blobs = set(merged)
        for r, c in zip(rows, cols, strict=True):
            if iou[r, c] < _LINK_IOU:
                continue
            track = active[r]
            track.velocity = 0.7 * track.velocity + 0.3 * (boxes[c] - track.last_box) / (track.lost + 1)
            track.last_box = boxes[c]
            track.entries.append((f, c))
            track.lost = -1
            matched_blobs.add(c)
        for track in active:
            track.lost += 1
        done += [t for t in active if t.lost > _BRIDGE_FRAMES]
        active = [t for t in active if t.lost <= _BRIDGE_FRAMES]
        for c in range(len(blobs)):
            if c not in matched_blobs:
                active.append(_Track([(f, c)], boxes[c], np.zeros(4)))
    done += active
    done = [t for t in done if len(t.entries) >= _MIN_RUN]
    done.sort(key=lambda t: t.entries[0])
    return done


def _make_sequence(
    identity: int, entries: list[tuple[int, int]], per_frame: list[list[_Blob]]
) -> SpriteSequence:
    blobs = [per_frame[f][j] for f, j in entries]
    heights = np.array([b.box[3] - b.box[1] for b in blobs])
    t = np.arange(len(blobs))
    smooth = np.polyval(np.polyfit(t, heights, 1), t)  # heights change slowly with depth
    frames = []
    for blob, body_h in zip(blobs, smooth, strict=True):
        alpha = blob.rgba[..., 3]
        bottom = alpha[-max(2, alpha.shape[0] // 12) :]
        cols = np.nonzero(bottom.any(axis=0))[0]
        foot_x = float(cols.mean()) if len(cols) else alpha.shape[1] / 2
        frames.append(SpriteFrame(blob.rgba, foot_x, float(body_h)))
    centres = np.array([(b.box[0] + b.box[2]) / 2 for b in blobs])
    dx = (centres[-1] - centres[0]) / max(1.0, float(np.mean(heights)))
    direction = 0 if abs(dx) < 0.5 else int(np.sign(dx))
    return SpriteSequence(identity, tuple(frames), direction, tuple(f for f, _ in entries))
