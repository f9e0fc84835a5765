"""Frames with tracked people between processes: Savant's ZeroMQ messages via savant-rs.

The module (Savant or pyuniproc), fusion and the sinks exchange savant-rs `VideoFrame` messages; this
package is the only code that builds or reads them, so a savant-rs upgrade touches nothing else.

- `FrameMessage` / `StreamEnd`: what a message means to us (camera, pts, size, `Detections` with
  track ids, embeddings and global ids, frame tags); `encode_frame` / `decode_message` convert.
- `FrameWriter` / `FrameReader`: blocking savant-rs sockets named in Savant's endpoint grammar,
  e.g. `pub+bind:ipc:///tmp/zmq-sockets/fusion-output.ipc`.
- `IncomingFrame` / `read_video_frame` / `annotated_message`: a source adapter's frame with its picture,
  and the same frame sent back with tracked people (`pyuniproc serve`); `Envelope`: topic, message and
  extra part as read (`FrameReader.receive_envelope`).
- `parse_endpoint` / `check_pairing`: that grammar, and whether a set of endpoints fits together.
- `TransportError`: the one error for a message that cannot be sent or read (savant-rs' own errors and
  Rust panics included), naming endpoint, topic, size and what failed; `reason` says which kind.
"""

from pyuniproc.transport.endpoints import Endpoint, check_pairing, parse_endpoint
from pyuniproc.transport.errors import REASONS, TransportError
from pyuniproc.transport.frames import (
    DETECTOR_NAMESPACE,
    EMBEDDING_ATTRIBUTE,
    GLOBAL_ID_ATTRIBUTE,
    FrameMessage,
    StreamEnd,
    decode_message,
    encode_end,
    encode_frame,
    frame_from_bytes,
    frame_to_bytes,
)
from pyuniproc.transport.sockets import Envelope, FrameReader, FrameWriter
from pyuniproc.transport.video import (
    CODECS,
    IncomingFrame,
    annotated_message,
    read_frame_batch,
    read_video_frame,
)

__all__ = [
    "CODECS", "Envelope", "IncomingFrame", "annotated_message", "read_frame_batch", "read_video_frame",
    "DETECTOR_NAMESPACE", "EMBEDDING_ATTRIBUTE", "GLOBAL_ID_ATTRIBUTE", "REASONS", "Endpoint", "FrameMessage",
    "FrameReader", "FrameWriter", "StreamEnd", "TransportError", "check_pairing", "decode_message",
    "encode_end", "encode_frame", "frame_from_bytes", "frame_to_bytes", "parse_endpoint",
]
