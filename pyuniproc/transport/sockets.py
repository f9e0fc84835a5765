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

A message a reader cannot read (garbage, another protocol version, a topic without a body, a malformed
frame) raises `TransportError` from `receive` naming the endpoint, the topic when savant-rs gave it and
what failed; the reader counts it (`FrameReader.stats()`) and the next `receive` reads the next message:
nothing received before or after it is lost.

PUB/SUB drops what is sent before a subscriber has joined (ZeroMQ's "slow joiner") and when a reader
falls behind; DEALER/ROUTER blocks the writer instead. The module's output to fusion and the sinks is
PUB/SUB (several readers); sources to the module are DEALER/ROUTER.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from pyuniproc.transport.endpoints import Endpoint, parse_endpoint
from pyuniproc.transport.errors import TransportError, guarded
from pyuniproc.transport.frames import (
    EMBEDDING_ATTRIBUTE,
    FrameMessage,
    StreamEnd,
    decode_message,
    encode_end,
    encode_frame,
)


@dataclass(frozen=True)
class Envelope:
    """One ZeroMQ message as savant-rs read it: topic (Savant: the source id), the savant-rs `Message`,
    and its extra part joined (the picture of a frame whose content is external, method `zeromq`)."""

    topic: str
    message: Any
    extra: bytes = b""


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

    def send_message(self, topic: str, message: Any, extra: bytes = b"") -> None:
        """Send a savant-rs `Message` as is (e.g. to pass a module frame through unchanged); `extra`:
        the message's extra part, where Savant carries a frame's picture (external content `zeromq`)."""
        result = guarded(f"sending to {self.endpoint} (topic {topic!r})", "send_failed",
                         self._writer.send_message, topic, message, bytes(extra))
        name = type(result).__name__
        if "Timeout" in name:  # DEALER/REQ: no reader, or (end of stream) no reader acknowledging it
            raise TransportError(f"sending to {self.endpoint} timed out ({name}): is the reader running?",
                                 reason="send_failed")

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
    receive_hwm: ZeroMQ's receive high-water mark (savant-rs' default when None); with a ROUTER, a
        sender's messages beyond it wait in the sender (backpressure) while this reader does not read.
    label / namespace / embedding: which objects are people and where their embedding is
        (see `decode_message`).

    Counters (`stats()`): messages read, frames and ends returned, messages ignored (kinds fusion does
    not use, other topics) and rejected, the latter by `TransportError.reason`, plus the last error.
    """

    def __init__(self, endpoint: str, *, receive_timeout_ms: int = 100, label: str | None = None,
                 namespace: str | None = None, embedding: tuple[str, str] = EMBEDDING_ATTRIBUTE,
                 receive_hwm: int | None = None) -> None:
        self.endpoint: Endpoint = parse_endpoint(endpoint)
        if self.endpoint.is_writer:
            raise ValueError(f"{endpoint!r} is a {self.endpoint.socket_type.upper()} socket; a reader needs "
                             "sub, router or rep")
        from savant_rs.zmq import BlockingReader, ReaderConfigBuilder

        builder = ReaderConfigBuilder(self.endpoint.url)
        builder.with_receive_timeout(int(receive_timeout_ms))
        if receive_hwm is not None:  # messages ZeroMQ queues before senders block (DEALER) or lose (PUB)
            builder.with_receive_hwm(int(receive_hwm))
        self._reader = BlockingReader(builder.build())
        self._reader.start()
        self._decode_options: dict[str, Any] = {"namespace": namespace, "embedding": embedding}
        if label:
            self._decode_options["label"] = label
        self.counts: Counter[str] = Counter({"messages": 0, "frames": 0, "ends": 0, "ignored": 0,
                                             "rejected": 0})
        self.rejected: Counter[str] = Counter()  # by TransportError.reason
        self.last_error: str | None = None
        self._checked_topics: set[str] = set()  # topics whose sender speaks our protocol version

    def receive(self) -> FrameMessage | StreamEnd | None:
        """The next frame or end of stream; None when nothing arrived within the receive timeout
        (or the message was of a kind fusion ignores). A message that cannot be read raises
        `TransportError` (counted); call again for the next one."""
        received = self._receive()
        if received is None:
            return None
        topic, message, _ = received
        try:
            item = decode_message(message, source=f"{self.endpoint}: message on topic {topic!r}",
                                  **self._decode_options)
        except TransportError as error:
            raise self._rejected(error) from error.__cause__
        if item is None:
            self.counts["ignored"] += 1
        else:
            self.counts["ends" if isinstance(item, StreamEnd) else "frames"] += 1
        return item

    def receive_message(self) -> Any:
        """The next savant-rs `Message` as is, or None on timeout; `TransportError` (counted) for one
        savant-rs cannot read."""
        received = self._receive()
        return None if received is None else received[1]

    def receive_envelope(self) -> Envelope | None:
        """The next message with its topic and extra part (a source adapter's picture travels there),
        or None on timeout; `TransportError` (counted) for one savant-rs cannot read. Counts messages
        only: what they mean is the caller's to count."""
        received = self._receive()
        if received is None:
            return None
        topic, message, extra = received
        return Envelope(topic, message, extra)

    def stats(self) -> dict[str, Any]:
        """Counters for logs, summaries and metrics (JSON-ready)."""
        return {**self.counts, "rejected_by_reason": dict(self.rejected), "last_error": self.last_error}

    def _rejected(self, error: TransportError) -> TransportError:
        self.counts["rejected"] += 1
        self.rejected[error.reason] += 1
        self.last_error = str(error)
        return error

    def _receive(self) -> tuple[str, Any, bytes] | None:
        """(topic, Message, extra part) of the next message, None on timeout or for a message not for us."""
        try:
            result = guarded(f"{self.endpoint}: undecodable message (topic and size unknown: savant-rs "
                             "decodes inside the socket read)", "undecodable", self._reader.receive)
        except TransportError as error:
            self.counts["messages"] += 1
            raise self._rejected(error) from error.__cause__
        name = type(result).__name__
        if name == "ReaderResultTimeout":
            return None
        self.counts["messages"] += 1
        topic = _topic(getattr(result, "topic", b""))
        if name == "ReaderResultMessage":
            self._check_version(topic, result.message)
            # Savant's module joins every extra part into the frame's content; so do we.
            extra = b"".join(bytes(result.data(i)) for i in range(result.data_len()))
            return topic, result.message, extra
        if name == "ReaderResultEndOfStream":  # savant-rs versions that report EOS separately
            return topic, encode_end(topic), b""
        if name == "ReaderResultMessageVersionMismatch":
            raise self._rejected(TransportError(
                f"{self.endpoint}: message on topic {topic!r}: sender speaks message protocol "
                f"{result.sender_version}, this reader {result.expected_version}: use one savant-rs on "
                "both sides", reason="protocol_version"))
        if name in ("ReaderResultPrefixMismatch", "ReaderResultBlacklisted"):
            self.counts["ignored"] += 1
            return None
        if isinstance(result, list):  # savant-rs 0.3: the parts of a ZeroMQ message too short to read
            sizes = [len(part) for part in result]
            first = _topic(result[0]) if result else ""
            raise self._rejected(TransportError(
                f"{self.endpoint}: incomplete message: {len(result)} part(s) of {sizes} bytes (topic "
                f"{first!r}), expected a topic and a savant-rs message", reason="incomplete"))
        raise self._rejected(TransportError(f"{self.endpoint}: unexpected reader result {name}",
                                            reason="unexpected"))

    def _check_version(self, topic: str, message: Any) -> None:
        """Refuse a message of another protocol version, as newer savant-rs readers do themselves.

        savant-rs 0.3's reader accepts any version and shows it only in the message's repr, which costs
        about twice a decode; so the first message of each topic (Savant: of each camera's sender) is
        checked, and every message of a topic that failed, until one passes. An end of stream forgets
        the topic (a restarted sender is checked again).
        """
        if topic in self._checked_topics:
            if message.is_end_of_stream():
                self._checked_topics.discard(topic)
            return
        version = _protocol_version(repr(message)[:200])
        if version is not None and version != _our_protocol_version():
            raise self._rejected(TransportError(
                f"{self.endpoint}: message on topic {topic!r}: sender speaks message protocol {version}, "
                f"this reader {_our_protocol_version()}: use one savant-rs on both sides",
                reason="protocol_version"))
        if len(self._checked_topics) >= 4096:  # garbage topics must not grow it without bound
            self._checked_topics.clear()
        if not message.is_end_of_stream():
            self._checked_topics.add(topic)

    def close(self) -> None:
        if self._reader.is_started():
            self._reader.shutdown()

    def __enter__(self) -> FrameReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


_VERSION = re.compile(r'protocol_version: "([^"]*)"')


def _protocol_version(message_repr: str) -> str | None:
    match = _VERSION.search(message_repr)
    return match[1] if match else None


@lru_cache(maxsize=1)
def _our_protocol_version() -> str | None:
    """The message protocol version of the savant-rs installed here (not its package version)."""
    return _protocol_version(repr(encode_end("version-probe")))


def _topic(raw: Any) -> str:
    """A ZeroMQ topic as text (Savant: the camera id); bytes that are not UTF-8 are shown escaped."""
    try:
        return bytes(raw).decode("utf-8", "backslashreplace")
    except (TypeError, ValueError):
        return repr(raw)


__all__ = ["Envelope", "FrameReader", "FrameWriter", "TransportError"]
