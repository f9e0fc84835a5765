"""SIGTERM and SIGINT stop a long-running command gracefully (outputs flushed), whoever started it.

Python turns SIGINT into KeyboardInterrupt only when SIGINT was not ignored at start-up, and a shell
starts background jobs with SIGINT ignored: installing the handler here makes Ctrl+C / `kill -INT` behave
the same in a terminal, under nohup or from a supervisor. A second SIGINT interrupts at once."""

from __future__ import annotations

import contextlib
import signal
from collections.abc import Callable, Iterator


@contextlib.contextmanager
def stop_on_signals(stop: Callable[[], None]) -> Iterator[None]:
    """Within the block, SIGTERM and a first SIGINT call `stop()`; the previous handlers come back after."""
    interrupts = 0

    def on_interrupt(signum: int, frame: object) -> None:
        nonlocal interrupts
        interrupts += 1
        if interrupts > 1:  # asked twice: stop waiting for the flush
            raise KeyboardInterrupt
        stop()

    previous = {
        signal.SIGTERM: signal.signal(signal.SIGTERM, lambda *_: stop()),
        signal.SIGINT: signal.signal(signal.SIGINT, on_interrupt),
    }
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
