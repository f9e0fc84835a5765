"""Backoff: capped exponential ceilings, full jitter, reproducible with a seed."""

from __future__ import annotations

import pytest

from pyuniproc.sources.backoff import Backoff


def test_ceiling_grows_by_factor_and_is_capped() -> None:
    policy = Backoff(initial_seconds=0.1, factor=2.0, max_seconds=1.0)
    assert [policy.ceiling(k) for k in range(6)] == pytest.approx([0.1, 0.2, 0.4, 0.8, 1.0, 1.0])
    assert policy.ceiling(10_000) == 1.0  # no overflow


def test_delays_are_jittered_below_the_ceiling_and_seedable() -> None:
    policy = Backoff(initial_seconds=0.1, factor=2.0, max_seconds=1.0, seed=7)
    first = policy.schedule()
    second = policy.schedule()
    a = [first.delay(k) for k in range(30)]
    b = [second.delay(k) for k in range(30)]
    assert a == b  # same seed, same draws
    assert all(0.0 <= d <= policy.ceiling(k) for k, d in enumerate(a))
    assert max(a) <= 1.0
    assert len({round(d, 6) for d in a[5:]}) > 20  # full jitter: capped ceilings, spread delays
    other = [Backoff(initial_seconds=0.1, max_seconds=1.0, seed=8).schedule().delay(k) for k in range(30)]
    assert other != a


def test_exhausted_after_max_attempts() -> None:
    assert not Backoff().exhausted(10**6)
    policy = Backoff(max_attempts=3)
    assert [policy.exhausted(n) for n in range(5)] == [False, False, False, True, True]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"initial_seconds": 0}, "initial_seconds must be > 0, got 0"),
        ({"factor": 0.5}, "factor must be >= 1, got 0.5"),
        ({"initial_seconds": 2.0, "max_seconds": 1.0}, "max_seconds must be >= initial_seconds"),
        ({"max_attempts": 0}, "max_attempts must be None or an int >= 1, got 0"),
    ],
)
def test_bad_arguments_are_rejected_with_the_value(kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Backoff(**kwargs)
