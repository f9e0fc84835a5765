"""Send and receive `FrameMessage`s over ZeroMQ with savant-rs, as Savant's adapters and module do.

    with FrameWriter("pub+bind:ipc:///tmp/zmq-sockets/fusion-output.ipc") as out:
        out.send(frame)                  # a FrameMessage
        out.send_end("cam1")             # end of cam1's stream
    with FrameReader("sub+connect:ipc:///tmp/zmq-sockets/output-video.ipc") as source:
        item = source.receive()          # FrameMessage, StreamEnd, or None after the receive timeout

Socket type and bind/connect come from the endpoint string only (Savant's grammar, see `endpoints`),
which is also the only way savant-rs 1.x accepts them, so this file works with the savant-rs on PyPI
here and with the one inside Savant's images. The sending and receiving sides must use savant-rs
releases with the same message protocol: a mismatch raises `TransportError` naming both versions.

PUB/SUB drops what is sent before a subscriber has joined (ZeroMQ's "slow joiner") and when a reader
falls behind; DEALER/ROUTER blocks the writer instead. The module's output to fusion and the sinks is
PUB/SUB (several readers); sources to the module are DEALER/ROUTER.
"""

from __future__ import annotations

from typing import Any

from pyuniproc.transport.endpoints import Endpoint, parse_endpoint
from pyuniproc.transport.frames import (
    EMBEDDING_ATTRIBUTE,
    FrameMessage,
    StreamEnd,
    decode_message,
    encode_end,
    encode_frame,
)


class TransportError(RuntimeError):
    """A message could not be sent or was refused on receipt (timeout, protocol version mismatch)."""


class FrameWriter:
    """A savant-rs blocking writer on a PUB, DEALER or REQ endpoint.

    send_timeout_ms: how long one send may block (DEALER/REQ when the reader is away) before
        `TransportError`; PUB never blocks (a message nobody listens to is dropped).
    namespace / label: how people objects are named in the message (Savant's detector element).
    """

    def __init__(self, endpoint: str, *, send_timeout_ms: int = 5000, namespace: str | None = None,
                 label: str | None = None) -> None:
        self.endpoint: Endpoint = parse_endpoint(endpoint)
        if not self.endpoint.is_writer:
            raise ValueError(f"{endpoint!r} is a {self.endpoint.socket_type.upper()} socket; a writer needs "
                             "pub, dealer or req")
        from savant_rs.zmq import BlockingWriter, WriterConfigBuilder

        builder = WriterConfigBuilder(self.endpoint.url)
        builder.with_send_timeout(int(send_timeout_ms))  # builder methods mutate and return None
        self._writer = BlockingWriter(builder.build())
        self._writer.start()
        self._encode_options = {k: v for k, v in (("namespace", namespace), ("label", label)) if v}

    def send(self, frame: FrameMessage) -> None:
        """Send one frame's metadata; the topic is the camera id (Savant's convention)."""
        self.send_message(frame.camera_id, encode_frame(frame, **self._encode_options))

    def send_end(self, camera_id: str) -> None:
        """Tell readers that `camera_id`'s stream ended (they drop its state)."""
        self.send_message(camera_id, encode_end(camera_id))

    def send_message(self, topic: str, message: Any) -> None:
        """Send a savant-rs `Message` as is (e.g. to pass a module frame through unchanged)."""
        result = self._writer.send_message(topic, message, b"")
        name = type(result).__name__
        if "Timeout" in name:  # DEALER/REQ: no reader, or (end of stream) no reader acknowledging it
            raise TransportError(f"sending to {self.endpoint} timed out ({name}): is the reader running?")

    def close(self) -> None:
        if self._writer.is_started():
            self._writer.shutdown()

    def __enter__(self) -> FrameWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class FrameReader:
    """A savant-rs blocking reader on a SUB, ROUTER or REP endpoint.

    receive_timeout_ms: how long `receive` waits before returning None, so a loop can check for
        shutdown; lower answers stop requests sooner, higher wakes less often.
    label / namespace / embedding: which objects are people and where their embedding is
        (see `decode_message`).
    """

    def __init__(self, endpoint: str, *, receive_timeout_ms: int = 100, label: str | None = None,
                 namespace: str | None = None, embedding: tuple[str, str] = EMBEDDING_ATTRIBUTE) -> None:
        self.endpoint: Endpoint = parse_endpoint(endpoint)
        if self.endpoint.is_writer:
            raise ValueError(f"{endpoint!r} is a {self.endpoint.socket_type.upper()} socket; a reader needs "
                             "sub, router or rep")
        from savant_rs.zmq import BlockingReader, ReaderConfigBuilder

        builder = ReaderConfigBuilder(self.endpoint.url)
        builder.with_receive_timeout(int(receive_timeout_ms))
        self._reader = BlockingReader(builder.build())
        self._reader.start()
        self._decode_options: dict[str, Any] = {"namespace": namespace, "embedding": embedding}
        if label:
            self._decode_options["label"] = label

    def receive(self) -> FrameMessage | StreamEnd | None:
        """The next frame or end of stream; None when nothing arrived within the receive timeout
        (or the message was of a kind fusion ignores)."""
        message = self.receive_message()
        return None if message is None else decode_message(message, **self._decode_options)

    def receive_message(self) -> Any:
        """The next savant-rs `Message` as is, or None on timeout."""
        result = self._reader.receive()
        name = type(result).__name__
        if name == "ReaderResultMessage":
            return result.message
        if name == "ReaderResultEndOfStream":  # savant-rs versions that report EOS separately
            return encode_end(bytes(result.topic).decode())
        if name == "ReaderResultMessageVersionMismatch":
            raise TransportError(f"{self.endpoint}: sender speaks message protocol {result.sender_version}, "
                                 f"this reader {result.expected_version}: use one savant-rs on both sides")
        return None  # timeout, topic prefix mismatch, blacklisted source

    def close(self) -> None:
        if self._reader.is_started():
            self._reader.shutdown()

    def __enter__(self) -> FrameReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


__all__ = ["FrameReader", "FrameWriter", "TransportError"]
