"""The ZeroMQ message decoder never brings a reader down: any bytes decode to a frame, an end of
stream or None, or raise `TransportError` naming the size and what failed; never savant-rs' own
RuntimeError and never a Rust panic (`PanicException` is a `BaseException`, which an `except Exception`
in a reader loop does not catch)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

transport = pytest.importorskip("pyuniproc.transport")
from pyuniproc.transport import (  # noqa: E402
    FrameMessage,
    StreamEnd,
    TransportError,
    frame_from_bytes,
    frame_to_bytes,
)
from pyuniproc.types import Detections  # noqa: E402


def sample_message() -> bytes:
    tracks = Detections(
        xyxy=np.array([[10, 20, 50, 120], [200, 40, 260, 200]], np.float32),
        confidence=np.array([0.9, 0.6], np.float32),
        class_id=np.zeros(2, np.int64),
        tracker_id=np.array([3, 8]),
        data={"embedding": np.eye(2, 16, dtype=np.float32), "global_id": np.array([1, -1])},
    )
    return frame_to_bytes(FrameMessage("cam1", pts=123456789, width=640, height=480, tracks=tracks, index=5))


GOOD = sample_message()
# Inputs on which savant-rs 0.3 panics (a Rust `expect`/`unwrap`): bytes that parse as a protobuf message
# but miss a part it counts on: the empty message, short garbage, a valid message with one byte changed.
PANIC_EXAMPLES = [b"", b"\xe9\x11(QhYZW,\xc0", GOOD[:92] + bytes([GOOD[92] ^ 2]) + GOOD[93:]]


def decode(data: bytes) -> None:
    try:
        result = frame_from_bytes(data, source="fuzz")
    except TransportError as error:
        assert str(error).startswith(f"fuzz ({len(data)} bytes): ") and "\n" not in str(error), str(error)
        return
    except BaseException as error:  # anything else, a panic included, is a bug
        raise AssertionError(f"{type(error).__name__} on {data[:40]!r}: {error}") from error
    assert result is None or isinstance(result, (FrameMessage, StreamEnd))
    if isinstance(result, FrameMessage):
        assert len(result.tracks.xyxy) == len(result.tracks.tracker_id)
        assert np.isfinite(result.tracks.xyxy).all()


@given(st.binary(max_size=300))
def test_any_bytes(data):
    decode(data)


@given(st.data())
def test_valid_message_with_bytes_flipped_cut_or_inserted(data):
    message = bytearray(GOOD)
    for _ in range(data.draw(st.integers(1, 4))):
        where = data.draw(st.integers(0, len(message) - 1))
        edit = data.draw(st.sampled_from(["flip", "cut", "insert"]))
        if edit == "flip":
            message[where] ^= data.draw(st.integers(1, 255))
        elif edit == "cut":
            del message[where:]
            if not message:
                break
        else:
            message[where:where] = data.draw(st.binary(min_size=1, max_size=8))
    decode(bytes(message))


@pytest.mark.parametrize("data", PANIC_EXAMPLES, ids=["empty", "short garbage", "one byte changed"])
def test_inputs_that_panic_savant_rs_are_a_transport_error(data):
    with pytest.raises(TransportError, match=rf"^cam1 \({len(data)} bytes\): ") as error:
        frame_from_bytes(data, source="cam1")
    assert error.value.reason == "undecodable"


def test_interrupts_are_not_swallowed(monkeypatch):
    """Only savant-rs' failures become TransportError: Ctrl-C while decoding still stops the reader."""
    from pyuniproc.transport import errors

    def interrupted(*args):
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        errors.guarded("cam1", "undecodable", interrupted)
