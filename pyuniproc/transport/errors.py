"""`TransportError`, and turning whatever savant-rs raises on a bad message into one.

savant-rs reports a message it cannot read in three ways: a `RuntimeError` ("Failed to decode protobuf
message ..."), an "unknown" message holding the reason (wrong protocol version, undecodable bytes), or a
Rust panic. pyo3 turns a panic into `pyo3_runtime.PanicException`, which derives from `BaseException`,
not `Exception`, so a reader loop's `except Exception` does not catch it and one bad message would end
the process. `guarded` catches all of these (and nothing else that derives from `BaseException` only:
KeyboardInterrupt, SystemExit and GeneratorExit pass through) and raises a `TransportError` that says
where the message came from and what failed.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")

REASONS = ("undecodable", "protocol_version", "malformed_frame", "incomplete", "unexpected", "send_failed")
"""`TransportError.reason` values, the keys of `FrameReader.rejected`:
undecodable       bytes that are not a savant-rs message (savant-rs error or panic)
protocol_version  a savant-rs message of another protocol version than this reader's
malformed_frame   a savant-rs message whose frame or objects make no sense (size, time base, embeddings)
incomplete        a ZeroMQ message without the body part (topic only)
unexpected        a reader result this code does not know (a newer savant-rs)
send_failed       sending failed or timed out
"""


class TransportError(RuntimeError):
    """A message could not be sent, or one that arrived could not be read; the text names where (endpoint,
    topic, size when known) and what failed. `reason` is one of `REASONS`."""

    def __init__(self, message: str, *, reason: str = "undecodable") -> None:
        super().__init__(message)
        self.reason = reason


def is_rust_panic(error: BaseException) -> bool:
    """A Rust panic inside savant-rs. pyo3 creates `PanicException` at runtime in a module that cannot
    be imported (`pyo3_runtime`), so it is recognised by module and name."""
    kind = type(error)
    return kind.__name__ == "PanicException" and kind.__module__ == "pyo3_runtime"


def describe(error: BaseException) -> str:
    """`Type: first line` (savant-rs appends a multi-line Rust backtrace to its messages)."""
    lines = str(error).strip().splitlines()
    return f"{type(error).__name__}: {lines[0] if lines else '(no message)'}"


def guarded(where: str, reason: str, call: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """`call(*args, **kwargs)`; any failure of it but a TransportError becomes
    `TransportError(f"{where}: ...", reason=reason)`. Interrupts and exits pass through untouched."""
    try:
        return call(*args, **kwargs)
    except TransportError:
        raise
    except Exception as error:  # noqa: BLE001 (savant-rs raises RuntimeError, our checks ValueError)
        raise TransportError(f"{where}: {describe(error)}", reason=reason) from error
    except BaseException as error:
        if not is_rust_panic(error):
            raise  # KeyboardInterrupt, SystemExit, GeneratorExit
        raise TransportError(f"{where}: savant-rs panicked: {describe(error)}", reason=reason) from error


__all__ = ["REASONS", "TransportError", "describe", "guarded", "is_rust_panic"]
