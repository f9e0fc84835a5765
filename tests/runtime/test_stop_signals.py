"""SIGINT and SIGTERM stop a run gracefully even when the process started with SIGINT ignored (as a
shell starts background jobs); a second SIGINT interrupts."""

from __future__ import annotations

import os
import signal

import pytest

from pyuniproc.runtime.stop_signals import stop_on_signals


def test_sigint_and_sigterm_call_stop_even_when_sigint_was_ignored():
    before = signal.signal(signal.SIGINT, signal.SIG_IGN)  # what a background job inherits
    stops: list[int] = []
    try:
        with stop_on_signals(lambda: stops.append(1)):
            os.kill(os.getpid(), signal.SIGTERM)
            os.kill(os.getpid(), signal.SIGINT)
            assert len(stops) == 2
            with pytest.raises(KeyboardInterrupt):  # asked twice: interrupt
                os.kill(os.getpid(), signal.SIGINT)
        assert signal.getsignal(signal.SIGINT) is signal.SIG_IGN  # the previous handlers are back
    finally:
        signal.signal(signal.SIGINT, before)
