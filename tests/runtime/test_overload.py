"""OverloadPolicy: per-frame decisions, and a simulated overloaded pipeline whose latency it bounds."""

from collections import Counter, deque
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from pyuniproc.config.module import ConfigError, load_module_config
from pyuniproc.runtime.overload import Action, OverloadPolicy, OverloadSettings

MODULE = Path(__file__).resolve().parents[2] / "module" / "module.yml"

D, P, X = Action.DETECT, Action.PREDICT, Action.DROP


@pytest.mark.parametrize(
    ("mode", "frames", "expected"),
    [
        # (age_ms, newer_frames) per frame of one camera, in order
        ("off", [(900, 3), (900, 0)], [D, D]),
        ("drop_oldest", [(100, 3), (600, 2), (600, 0)], [D, X, D]),  # the newest is never dropped
        ("drop_oldest", [(600, 0), (600, 0)], [D, D]),
        # Overloaded from the 2nd frame: every 3rd frame detected until ages fall below 250 ms.
        (
            "skip_detection",
            [(100, 0), (600, 0), (600, 0), (600, 0), (400, 0), (300, 0), (240, 0), (240, 0)],
            [D, P, P, D, P, P, D, D],
        ),
        ("skip_detection", [(900, 0)], [D]),  # a camera's first frame always runs the detector
    ],
)
def test_decisions(mode, frames, expected):
    policy = OverloadPolicy(mode, detect_every=3, max_latency_ms=500, recover_ratio=0.5)
    assert [policy.decide("cam", age_ms=a, newer_frames=n) for a, n in frames] == expected


def test_skip_detection_drops_what_is_still_too_old():
    # Skipping detections was not enough: frames older than drop_after_ms with a newer one waiting
    # are dropped; the newest is kept (and only predicted while the camera is overloaded).
    policy = OverloadPolicy("skip_detection", detect_every=3, max_latency_ms=500, drop_after_ms=800)
    frames = [(600, 0), (900, 2), (900, 1), (700, 0), (900, 0)]
    assert [policy.decide("cam", age_ms=a, newer_frames=n) for a, n in frames] == [D, X, X, P, P]
    assert policy.snapshot()["cameras"]["cam"]["dropped_stale"] == 2


def test_cameras_are_judged_separately_and_counted():
    policy = OverloadPolicy("skip_detection", detect_every=2, max_latency_ms=100)
    for _ in range(4):
        policy.decide("slow", age_ms=500)
        policy.decide("fast", age_ms=10)
    snapshot = policy.snapshot()
    assert snapshot["cameras"]["slow"] | {"last_age_ms": 0} == {
        "overloaded": True,
        "last_age_ms": 0,
        "detected": 2,
        "predicted": 2,
        "dropped_stale": 0,
        "overload_episodes": 1,
    }
    assert snapshot["cameras"]["fast"]["detected"] == 4
    assert policy.overloaded("slow") and not policy.overloaded("fast")
    policy.forget("slow")
    assert "slow" not in policy.snapshot()["cameras"]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"mode": "fastest"}, "overload mode must be one of"),
        ({"detect_every": 0}, "detect_every must be an int >= 1, got 0"),
        ({"detect_every": 2.5}, "detect_every must be an int >= 1, got 2.5"),
        ({"max_latency_ms": 0}, "max_latency_ms must be a number > 0, got 0"),
        ({"max_latency_ms": float("nan")}, "max_latency_ms must be a number > 0"),
        ({"recover_ratio": 1.5}, r"recover_ratio must be in \(0, 1\], got 1.5"),
        ({"drop_after_ms": 100}, "drop_after_ms must be null or a number >= max_latency_ms, got 100"),
    ],
)
def test_bad_settings_are_rejected_by_name(kwargs, message):
    with pytest.raises(ValueError, match=message):
        OverloadPolicy(**kwargs)


def test_from_mapping_rejects_typos():
    assert OverloadPolicy.from_mapping({"mode": "drop_oldest", "max_latency_ms": 250}).max_latency_ms == 250
    with pytest.raises(ValueError, match=r"unknown overload setting\(s\) \['detect_evry'\]"):
        OverloadPolicy.from_mapping({"detect_evry": 3})


# -- a simulated pipeline: 4 cameras at 10 fps, a detector that manages 25 frames/s ---------------


@dataclass
class Simulation:
    policy: OverloadPolicy
    cameras: int = 4
    fps: float = 10.0
    detect_ms: float = 40.0  # per frame: 25 frames/s, against 40 frames/s arriving
    predict_ms: float = 2.0
    queue_size: int = 8
    batch_size: int = 4
    latencies: list[float] = field(default_factory=list)
    received: Counter = field(default_factory=Counter)
    processed: Counter = field(default_factory=Counter)
    dropped: Counter = field(default_factory=Counter)

    def run(self, seconds: float) -> "Simulation":
        buffers = {c: deque() for c in range(self.cameras)}
        next_frame = {c: c * 0.01 for c in range(self.cameras)}
        now, turn = 0.0, 0
        while now < seconds:
            for camera, buffer in buffers.items():  # frames decoded up to now
                while next_frame[camera] <= now:
                    self.received[camera] += 1
                    if len(buffer) >= self.queue_size:
                        buffer.popleft()
                        self.dropped[camera, "queue_full"] += 1
                    buffer.append(next_frame[camera])
                    next_frame[camera] += 1 / self.fps
            batch = []
            while len(batch) < self.batch_size and any(buffers.values()):
                camera = turn % self.cameras
                turn += 1
                if buffers[camera]:
                    batch.append((camera, buffers[camera].popleft()))
            if not batch:
                now = min(next_frame.values())
                continue
            actions = []
            for i, (camera, decoded_at) in enumerate(batch):
                newer = sum(1 for c, _ in batch[i + 1 :] if c == camera) + len(buffers[camera])
                age_ms = (now - decoded_at) * 1000
                actions.append(self.policy.decide(str(camera), age_ms=age_ms, newer_frames=newer))
            cost = (
                sum(
                    self.detect_ms if a is Action.DETECT else self.predict_ms
                    for a in actions
                    if a is not Action.DROP
                )
                / 1000
            )
            now += cost
            for (camera, decoded_at), action in zip(batch, actions, strict=True):
                if action is Action.DROP:
                    self.dropped[camera, "stale"] += 1
                else:
                    self.processed[camera] += 1
                    self.latencies.append((now - decoded_at) * 1000)
        # what is still buffered at the end is dropped on shutdown, as the pipeline must
        for camera, buffer in buffers.items():
            self.dropped[camera, "shutdown"] += len(buffer)
        return self

    def p95(self) -> float:
        values = sorted(self.latencies[len(self.latencies) // 2 :])  # after warm-up
        return values[int(0.95 * (len(values) - 1))]

    def accounted(self) -> bool:
        return all(
            self.processed[c] + sum(n for (cam, _), n in self.dropped.items() if cam == c) == self.received[c]
            for c in range(self.cameras)
        )


def test_policies_bound_latency_where_bounded_buffers_alone_do_not():
    off = Simulation(OverloadPolicy("off")).run(60)
    drop = Simulation(OverloadPolicy("drop_oldest", max_latency_ms=300)).run(60)
    skip = Simulation(OverloadPolicy("skip_detection", detect_every=2, max_latency_ms=300)).run(60)
    # Without a policy every frame waits for a full buffer: 8 frames at 10 fps.
    assert off.p95() > 700
    assert drop.p95() < 300 + 200 and skip.p95() < 300 + 200
    # skip_detection keeps every frame (predicted ones included); drop_oldest sheds stale ones.
    assert sum(skip.processed.values()) > sum(drop.processed.values()) > sum(off.processed.values()) * 0.9
    assert sum(n for (_, reason), n in skip.dropped.items() if reason != "shutdown") == 0
    for simulation in (off, drop, skip):
        assert simulation.accounted()


def test_reconfigure_keeps_what_each_camera_went_through():
    policy = OverloadPolicy("skip_detection", detect_every=2, max_latency_ms=100)
    policy.decide("cam", age_ms=500)
    policy.decide("cam", age_ms=500)
    policy.reconfigure(OverloadSettings("drop_oldest", max_latency_ms=300))
    assert policy.decide("cam", age_ms=400, newer_frames=1) is X
    assert policy.snapshot()["cameras"]["cam"] | {"last_age_ms": 0} == {
        "overloaded": True,
        "last_age_ms": 0,
        "detected": 1,
        "predicted": 1,
        "dropped_stale": 1,
        "overload_episodes": 1,
    }


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"OVERLOAD_MODE": "fastest"}, "overload mode must be one of"),
        ({"OVERLOAD_DETECT_EVERY": "0"}, "detect_every must be an int >= 1, got 0"),
        ({"OVERLOAD_MAX_LATENCY_MS": "1000"}, "drop_after_ms must be null or a number >= max_latency_ms"),
    ],
)
def test_the_module_yaml_section_is_checked_at_load(monkeypatch, env, message):
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    where = r"module.yml:\d+: field 'parameters.pyuniproc.overload': "
    with pytest.raises(ConfigError, match=where + ".*" + message):
        load_module_config(MODULE)


def test_the_module_yaml_default():
    settings = load_module_config(MODULE).runtime.overload
    assert settings == OverloadSettings(
        "skip_detection", detect_every=2, max_latency_ms=500, recover_ratio=0.5, drop_after_ms=750
    )
