"""The array-state ByteTrack returns bit-identical results to the object-per-track one it replaced.

`reference_bytetrack.ReferenceByteTrack` is ByteTrack as of commit f67fb98, frozen. Both replay the same
random scenes - walkers crossing, crowds (so the assignment solver, not only its fast path, runs),
occlusions, low-score boxes, false positives, empty frames, frames without a detector run - under several
settings, and every output column must be equal, not close.
"""

from __future__ import annotations

import numpy as np
import pytest
from reference_bytetrack import ReferenceByteTrack

from pyuniproc.track import ByteTrack
from pyuniproc.types import Detections

MODULE_SETTINGS = {  # module/module.yml's tracker thresholds
    "track_high_threshold": 0.35,
    "track_low_threshold": 0.15,
    "new_track_threshold": 0.6,
    "match_iou_threshold": 0.9,
    "second_match_iou_threshold": 0.7,
    "fuse_score": False,
    "lost_track_buffer": 90,
    "frame_rate": 10,
    "minimum_consecutive_frames": 2,
}


def scene(seed: int, people: int, frames: int = 150) -> list[Detections | None]:
    """Per frame the detections of `people` walkers in a 640 x 360 band, or None: no detector run."""
    rng = np.random.default_rng(seed)
    size = rng.uniform(20, 90, people)
    x, y = rng.uniform(0, 640, people), rng.uniform(100, 260, people)
    vx, vy = rng.normal(0, 4, people), rng.normal(0, 1, people)
    out: list[Detections | None] = []
    for _ in range(frames):
        x, y = x + vx, y + vy
        vx = np.where((x < 0) | (x > 640), -vx, vx)
        if rng.random() < 0.05:
            out.append(None)
            continue
        seen = rng.random(people) > 0.15
        boxes = np.stack([x - size / 2, y - size, x + size / 2, y + size], axis=1)[seen]
        boxes = boxes + rng.normal(0, 0.05, boxes.shape) * size[seen, None]
        extra = rng.poisson(0.5)
        boxes = np.concatenate([boxes, rng.uniform(0, 600, (extra, 1)) + [0, 0, 40, 90]])
        n = len(boxes)
        out.append(
            Detections(
                xyxy=boxes.astype(np.float32),
                confidence=rng.uniform(0.05, 1.0, n).astype(np.float32),
                class_id=rng.integers(0, 2, n).astype(np.int32),
                data={"row": np.arange(n), "feature": rng.normal(size=(n, 3))},
            )
        )
    return out


def assert_same(ours: Detections, reference: Detections, where: str) -> None:
    for name in ("xyxy", "confidence", "class_id", "tracker_id"):
        a, b = getattr(ours, name), getattr(reference, name)
        assert a.dtype == b.dtype and np.array_equal(a, b), f"{name} differs at {where}"
    assert ours.data.keys() == reference.data.keys(), where
    for key in ours.data:
        assert ours.data[key].dtype == reference.data[key].dtype, f"data[{key!r}] dtype at {where}"
        assert np.array_equal(ours.data[key], reference.data[key]), f"data[{key!r}] differs at {where}"


@pytest.mark.parametrize(
    "options",
    [{}, MODULE_SETTINGS, {"fuse_score": False, "track_low_threshold": 0.6}, {"lost_track_buffer": 5}],
    ids=["defaults", "module", "no-second-stage", "short-buffer"],
)
@pytest.mark.parametrize("people", [3, 12, 30])
def test_identical_to_the_reference_frame_by_frame(options, people):
    for seed in range(4):
        ours, reference = ByteTrack(**options), ReferenceByteTrack(**options)
        for f, detections in enumerate(scene(seed + 100 * people, people)):
            where = f"seed {seed}, frame {f}"
            if detections is None:
                assert_same(ours.predict_only(), reference.predict_only(), where)
            else:
                assert_same(ours.update(detections), reference.update(detections), where)
            assert ours.active_track_count == reference.active_track_count, where
        assert [s.value for s in ours.track_states()] == [t.state.value for t in reference._tracks]


def test_identical_after_reconfigure_and_reset():
    ours, reference = ByteTrack(), ReferenceByteTrack()
    frames = scene(7, 10)
    for f, detections in enumerate(frames):
        if f == 50:
            ours.reconfigure(**MODULE_SETTINGS)
            reference.reconfigure(**MODULE_SETTINGS)
        if f == 100:
            ours.reset()
            reference.reset()
        if detections is not None:
            assert_same(ours.update(detections), reference.update(detections), f"frame {f}")
