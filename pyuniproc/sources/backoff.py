"""Capped exponential backoff with full jitter, for reconnecting cameras.

Full jitter (a uniform draw between 0 and the exponential ceiling) spreads the reconnects of many
cameras that lost the same switch or NVR, so they do not hammer it in lock-step when it returns.
The ceiling is capped so a camera that comes back after an hour is picked up within `max_seconds`.
"""

from __future__ import annotations

import random
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Backoff:
    """Reconnect policy: the delay before retry k of a failure streak (k = 0, 1, ...) is
    uniform(0, min(max_seconds, initial_seconds * factor**k)).

    initial_seconds: ceiling of the first delay. Lower reconnects faster after a short glitch;
        higher is gentler on a server that drops clients when loaded.
    factor: growth of the ceiling per consecutive failure (>= 1).
    max_seconds: cap of the ceiling; bounds how long a recovered camera waits to be picked up.
    max_attempts: consecutive failed connection attempts (the first connect included) after which
        the camera is declared dead and its source ends; None retries forever.
    seed: seeds the jitter (tests); None draws from the OS.
    """

    initial_seconds: float = 0.5
    factor: float = 2.0
    max_seconds: float = 30.0
    max_attempts: int | None = None
    seed: int | None = None

    def __post_init__(self) -> None:
        if not self.initial_seconds > 0:
            raise ValueError(f"Backoff.initial_seconds must be > 0, got {self.initial_seconds!r}")
        if not self.factor >= 1:
            raise ValueError(f"Backoff.factor must be >= 1, got {self.factor!r}")
        if not self.max_seconds >= self.initial_seconds:
            raise ValueError(
                f"Backoff.max_seconds must be >= initial_seconds ({self.initial_seconds!r}), "
                f"got {self.max_seconds!r}"
            )
        if self.max_attempts is not None and (
            not isinstance(self.max_attempts, int) or self.max_attempts < 1
        ):
            raise ValueError(f"Backoff.max_attempts must be None or an int >= 1, got {self.max_attempts!r}")

    def ceiling(self, retry: int) -> float:
        """Largest delay before retry `retry` (0-based) of a streak: 0 -> initial_seconds."""
        if retry < 0:
            raise ValueError(f"retry must be >= 0, got {retry!r}")
        # Cap the exponent so huge retry counts cannot overflow a float.
        return min(self.max_seconds, self.initial_seconds * self.factor ** min(retry, 256))

    def exhausted(self, failures: int) -> bool:
        """True when `failures` consecutive failures reach `max_attempts`."""
        return self.max_attempts is not None and failures >= self.max_attempts

    def schedule(self) -> BackoffSchedule:
        """A fresh jitter stream (one per camera, so cameras do not share random state)."""
        return BackoffSchedule(self)


class BackoffSchedule:
    """Draws jittered delays for one camera; not thread-safe (used by that camera's reader)."""

    def __init__(self, policy: Backoff) -> None:
        self.policy = policy
        self._rng = random.Random(policy.seed)

    def delay(self, retry: int) -> float:
        """Seconds to wait before retry `retry` (0-based) of the current failure streak."""
        return self._rng.uniform(0.0, self.policy.ceiling(retry))
