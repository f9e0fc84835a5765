"""Which rendering factors cost detector confidence: one factor at a time, on real sprites.

A fixed sample of sprite frames (cut out of vtest.avi) is pasted onto the empty vtest scene and
each condition changes one thing: the canvas (vtest's own 768x576 frame vs a 640x360 crop of it),
the sprite's scale relative to its native pixel size, blur, noise, brightness, contrast, colour
cast, how the mask edge is blended, mirroring, H.264 compression, and the fence of the street
background. Every condition is scored like detector_scores.py: the best detector score on the
pasted person's box (IoU >= 0.5), averaged over the sample, with recall at 0.3 and 0.5.

    python benchmarks/quality/render_factors.py --detector ssdlite --n 120
"""

from __future__ import annotations

import argparse
import io
import json
import sys
from collections.abc import Callable
from pathlib import Path

import av
import cv2
import numpy as np

from pyuniproc.detect import DEFAULT_MODEL_DIR, box_iou, create_detector
from pyuniproc.scenario.render import ALPHA_DRAWN, apply_look, sprite_pixels
from pyuniproc.scenario.sprites import load_sprite_bank
from pyuniproc.scenario.views import Look, load_sources

KINDS = {"ssdlite": "ssdlite_pedestrian", "nanodet": "nanodet_coco"}
NEUTRAL = Look(gain=1.0, cast=(1.0, 1.0, 1.0), gamma=1.0, blur_sigma=0.0, noise_std=0.0)


def paste(canvas: np.ndarray, rgba: np.ndarray, foot_xy: tuple[float, float], scale: float,
          foot_x: float, *, edge: str = "premultiplied", mirror: bool = False) -> np.ndarray | None:
    """Alpha-blends `rgba` resized by `scale` with its feet at `foot_xy`; returns the drawn box
    (x1, y1, x2, y2) of pixels with alpha >= ALPHA_DRAWN, or None if off the canvas.

    edge: "premultiplied" (the renderer's way), "feathered" (the same plus a 0.7 px soft edge) or
    "dark rim" (the first renderer: premultiplied colour multiplied by alpha again)."""
    px = sprite_pixels(rgba, scale, mirror=mirror, feather_sigma=0.7 if edge == "feathered" else 0.0)
    out_h, out_w = px.shape[:2]
    fx = foot_x * out_w / rgba.shape[1]
    if mirror:
        fx = out_w - fx
    left, top = int(round(foot_xy[0] - fx)), int(round(foot_xy[1])) - out_h
    H, W = canvas.shape[:2]
    x1, y1, x2, y2 = max(0, left), max(0, top), min(W, left + out_w), min(H, top + out_h)
    if x1 >= x2 or y1 >= y2:
        return None
    part = px[y1 - top : y2 - top, x1 - left : x2 - left]
    a = part[..., 3:] / 255.0
    roi = canvas[y1:y2, x1:x2]
    colour = part[..., :3] * a if edge == "dark rim" else part[..., :3]
    roi[:] = np.clip(roi * (1 - a) + colour + 0.5, 0, 255).astype(np.uint8)
    ys, xs = np.nonzero(part[..., 3] >= ALPHA_DRAWN)
    if not len(ys):
        return None
    return np.array([x1 + xs.min(), y1 + ys.min(), x1 + xs.max() + 1, y1 + ys.max() + 1], np.float32)


def h264_roundtrip(images: list[np.ndarray], crf: int) -> list[np.ndarray]:
    """Encodes the images as one H.264 clip (as the generator does) and decodes them again."""
    buffer = io.BytesIO()
    h, w = images[0].shape[:2]
    with av.open(buffer, mode="w", format="mp4") as container:
        stream = container.add_stream("libx264", rate=10)
        stream.width, stream.height, stream.pix_fmt = w, h, "yuv420p"
        stream.options = {"crf": str(crf), "preset": "veryfast"}
        for image in images:
            for packet in stream.encode(av.VideoFrame.from_ndarray(image, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    buffer.seek(0)
    with av.open(buffer) as container:
        return [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--detector", choices=sorted(KINDS), default="ssdlite")
    parser.add_argument("--n", type=int, default=120, help="sprite frames in the sample")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--only", default="", help="comma-separated condition name prefixes")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)

    bank = load_sprite_bank()
    sources = load_sources(bank.background, bank.height_model)
    vtest, street = sources["vtest"], sources["street"]
    rng = np.random.default_rng(args.seed)
    frames = [f for s in bank.sequences for f in s.frames]
    sample = [frames[int(i)] for i in rng.choice(len(frames), args.n, replace=False)]
    xs = rng.uniform(0.2, 0.8, args.n)
    detector = create_detector(KINDS[args.detector], model_dir=DEFAULT_MODEL_DIR, confidence_threshold=0.02)

    # A 640x360 window of the vtest scene at scale 1 (no resampling of the background).
    crop_y0 = 576 - 360
    bg640 = np.ascontiguousarray(vtest.image[crop_y0:, 64:704])

    def native_foot_y(body_height: float) -> float:
        """Row (vtest pixels) where the perspective model gives this person their own height."""
        return body_height / vtest.height_k + vtest.height_y0

    Condition = Callable[[int], tuple[np.ndarray, np.ndarray | None]]

    rows = rng.uniform(200, 560, args.n)

    def vtest_native(i: int, *, edge="premultiplied", mirror=False, row=None, perspective=False):
        """At the sprite's own size where the height model puts that size (as recorded), or at
        another `row`, keeping its size or (`perspective`) resized to that row's height."""
        sprite = sample[i]
        canvas = vtest.image.copy()
        scale = 1.0
        if row is None:
            foot_y = min(575.0, native_foot_y(sprite.body_height))
        else:
            foot_y = float(row)
            if perspective:
                scale = float(vtest.person_height(foot_y)) / sprite.body_height
        foot = (xs[i] * 768, foot_y)
        return canvas, paste(canvas, sprite.rgba, foot, scale, sprite.foot_x, edge=edge, mirror=mirror)

    def on640(i: int, *, scale=1.0, edge="premultiplied", look: Look = NEUTRAL, mirror=False,
              on_street=False, fence=False):
        sprite = sample[i]
        if on_street:
            # Street canvas (its 640x272 frame padded to 360 rows by reflection), feet on the road
            # at row 200, optionally with the fence and the bicycle in front.
            canvas = cv2.copyMakeBorder(street.image, 88, 0, 0, 0, cv2.BORDER_REFLECT)
            front = cv2.copyMakeBorder(street.front, 88, 0, 0, 0, cv2.BORDER_CONSTANT, value=0)
            background = canvas.copy()
            foot = (xs[i] * 640, 88 + 200.0)
        else:
            canvas = bg640.copy()
            foot = (xs[i] * 640, min(359.0, native_foot_y(sprite.body_height * scale) - crop_y0))
            foot = (foot[0], max(foot[1], sprite.body_height * scale + 2))
        box = paste(canvas, sprite.rgba, foot, scale, sprite.foot_x, edge=edge, mirror=mirror)
        if fence and box is not None:
            f = front[..., None].astype(np.float32)
            canvas = (canvas * (1 - f) + background * f + 0.5).astype(np.uint8)
        canvas = apply_look(canvas, look)
        if look.noise_std:
            noise = np.random.default_rng(i).standard_normal(canvas.shape) * look.noise_std
            canvas = np.clip(canvas + noise, 0, 255).astype(np.uint8)
        return canvas, box

    def squeeze(canvas: np.ndarray, box):
        top, s = 576 - 432, 640 / 768
        image = cv2.resize(canvas[top:], (640, 360), interpolation=cv2.INTER_AREA)
        if box is None or box[1] < top:
            return image, None
        return image, (box - np.array([0, top, 0, top], np.float32)) * s

    def yuv420(image: np.ndarray, box):
        """Chroma subsampled and converted back, as any H.264 yuv420p video is (no compression)."""
        return cv2.cvtColor(cv2.cvtColor(image, cv2.COLOR_RGB2YUV_I420), cv2.COLOR_YUV2RGB_I420), box

    def pad_to_4_3(canvas: np.ndarray, box):
        return cv2.copyMakeBorder(canvas, 0, 120, 0, 0, cv2.BORDER_CONSTANT, value=(114, 114, 114)), box

    def look(**kw) -> Look:
        return Look(**{**NEUTRAL.__dict__, **kw})

    conditions: dict[str, Condition] = {
        "vtest 768x576 native": lambda i: vtest_native(i),
        "vtest 768x576 native feathered": lambda i: vtest_native(i, edge="feathered"),
        "vtest 768x576 native mirrored": lambda i: vtest_native(i, mirror=True),
        "vtest 768x576 native size, random row": lambda i: vtest_native(i, row=rows[i]),
        "vtest 768x576 random row, perspective size": lambda i: vtest_native(
            i, row=rows[i], perspective=True),
        # As real_reference.py's "crop 640x360 x0.83": the whole width squeezed into 640x360.
        "vtest native squeezed 640x360 x0.83": lambda i: squeeze(*vtest_native(i)),
        "vtest native squeezed x0.83 h264 crf26": lambda i: squeeze(*vtest_native(i)),
        "vtest native squeezed x0.83 h264 crf10": lambda i: squeeze(*vtest_native(i)),
        "vtest native squeezed x0.83 yuv420 only": lambda i: yuv420(*squeeze(*vtest_native(i))),
        "640x360 x1.0": lambda i: on640(i),
        **{f"640x360 x{s}": (lambda i, s=s: on640(i, scale=s)) for s in (0.6, 0.8, 1.25, 1.5, 2.0, 2.5)},
        **{f"640x360 x{s} {e}": (lambda i, s=s, e=e: on640(i, scale=s, edge=e))
           for s in (1.0, 1.5, 2.0) for e in ("feathered", "dark rim")},
        **{f"blur {b}": (lambda i, b=b: on640(i, look=look(blur_sigma=b))) for b in (0.4, 0.6, 1.0, 1.6)},
        **{f"noise {n}": (lambda i, n=n: on640(i, look=look(noise_std=n))) for n in (3.0, 6.0)},
        **{f"gain {g}": (lambda i, g=g: on640(i, look=look(gain=g))) for g in (0.7, 0.85, 1.15, 1.3)},
        **{f"gamma {g}": (lambda i, g=g: on640(i, look=look(gamma=g))) for g in (0.8, 1.25)},
        "cast warm (1.15,1,0.85)": lambda i: on640(i, look=look(cast=(1.15, 1.0, 0.85))),
        "cast cold (0.85,1,1.15)": lambda i: on640(i, look=look(cast=(0.85, 1.0, 1.15))),
        "cast green (0.85,1.15,0.85)": lambda i: on640(i, look=look(cast=(0.85, 1.15, 0.85))),
        "cast green (0.94,1.06,0.94)": lambda i: on640(i, look=look(cast=(0.94, 1.06, 0.94))),
        "old look worst (g0.7,γ1.25,b1.6,n6)": lambda i: on640(
            i, look=look(gain=0.7, gamma=1.25, blur_sigma=1.6, noise_std=6.0)),
        "new look worst (g.85,γ1.15,b.6,n4,c.94)": lambda i: on640(
            i, look=look(gain=0.85, gamma=1.15, blur_sigma=0.6, noise_std=4.0, cast=(0.94, 1.06, 0.94))),
        "mirrored": lambda i: on640(i, mirror=True),
        # The detector squeezes 640x360 into its square input; padded to 4:3 (as vtest), people keep
        # vtest's proportions there.
        "640x360 x1.0 padded to 640x480": lambda i: pad_to_4_3(*on640(i)),
        "street, no fence": lambda i: on640(i, on_street=True),
        "street + fence": lambda i: on640(i, on_street=True, fence=True),
    }
    only = [p.strip() for p in args.only.split(",") if p.strip()]
    results = {}
    print(f"detector {args.detector}, {args.n} sprite frames")
    print(f"{'condition':>38} {'n':>4} {'mean':>6} {'median':>6} {'r@0.3':>6} {'r@0.5':>6}")
    conditions["640x360 x1.0 h264 crf26"] = conditions["640x360 x1.0"]
    conditions["640x360 x2.0 h264 crf26"] = conditions["640x360 x2.0"]
    for name, make in conditions.items():
        if only and not any(name.startswith(p) for p in only):
            continue
        pairs = [make(i) for i in range(args.n)]
        if "h264" in name:
            images = h264_roundtrip([p[0] for p in pairs], int(name.split("crf")[1]))
            pairs = [(im, box) for im, (_, box) in zip(images, pairs, strict=True)]
        scores = []
        for image, box in pairs:
            if box is None:
                continue
            dets = detector.detect([image])[0]
            if len(dets):
                iou = box_iou(box[None], dets.xyxy)[0]
                scores.append(float(np.where(iou >= 0.5, dets.confidence, 0).max()))
            else:
                scores.append(0.0)
        s = np.array(scores)
        results[name] = {"n": len(s), "mean": float(s.mean()), "median": float(np.median(s)),
                         "recall@0.3": float((s >= 0.3).mean()), "recall@0.5": float((s >= 0.5).mean())}
        r = results[name]
        print(f"{name:>38} {r['n']:>4} {r['mean']:>6.3f} {r['median']:>6.3f} "
              f"{r['recall@0.3']:>6.3f} {r['recall@0.5']:>6.3f}", flush=True)
    if args.json:
        doc = {"detector": args.detector, "n": args.n, "results": results}
        args.json.write_text(json.dumps(doc, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
