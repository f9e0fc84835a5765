"""Frames with pictures, as Savant's source adapters send them, and the module's annotated frames back.

A source adapter (Savant's `zeromq_sink` GStreamer element) sends one savant-rs `VideoFrame` message per
encoded picture, with the ZeroMQ topic set to its source id:

    codec      h264 / hevc (Annex B byte stream, one access unit per frame), jpeg, png, raw-rgba,
               raw-rgb24 (Savant's codec names)
    keyframe   True for a frame a decoder can start from (pictures of image codecs are all keyframes)
    pts        in `time_base` units (adapters: nanoseconds); dts and duration may be set
    content    internal: the picture inside the message; external, method `zeromq`: the picture is the
               message's extra ZeroMQ part (what the GStreamer adapters do); none: no picture
    span_context  an OpenTelemetry context to continue (Savant's adapters set it when they trace)

`read_video_frame` turns such a message into an `IncomingFrame` (our view: codec, size, timing, the
picture's bytes, the trace carrier) that keeps the savant-rs frame itself, so `annotated_message` can send
it back as the Savant module does: the same frame and content, plus the tracked people as objects and
the pyfuncs' tags. This and `frames` are the only modules that know savant-rs' layout.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pyuniproc.transport.frames import DETECTOR_NAMESPACE, PERSON_LABEL, add_tracks, set_tags
from pyuniproc.types import Detections

CODECS = ("h264", "hevc", "jpeg", "png", "raw-rgba", "raw-rgb24")
"""Codecs `pyuniproc serve` decodes (Savant's codec names). Savant also names vp8 and vp9."""
ZEROMQ_CONTENT = "zeromq"
"""Savant's external content method for a picture that travels in the message's extra part."""


@dataclass
class IncomingFrame:
    """One frame of a source adapter, read (not decoded).

    content: the encoded picture; None when the frame has none (`content_problem` says why).
    external: the picture came in the extra part (it goes back out the same way).
    trace_carrier: the message's OpenTelemetry context as text headers ({} when it has none).
    video_frame / span_context: savant-rs objects, kept to send the frame back (`annotated_message`).
    """

    source_id: str
    codec: str | None
    width: int
    height: int
    keyframe: bool | None
    pts: int
    time_base: tuple[int, int]
    content: bytes | None
    dts: int | None = None
    external: bool = False
    content_problem: str | None = None
    trace_carrier: dict[str, str] = field(default_factory=dict)
    video_frame: Any = None
    span_context: Any = None

    @property
    def pts_seconds(self) -> float:
        return self.pts * self.time_base[0] / self.time_base[1]

    @property
    def decode_time(self) -> int:
        """dts, or pts when the sender gave none: what must not go back within a stream."""
        return self.pts if self.dts is None else self.dts

    @property
    def params(self) -> tuple[str | None, int, int]:
        """What a decoder is opened for: a change of any of these resets the source (as Savant's demuxer
        does on a change of frame parameters)."""
        return self.codec, self.width, self.height


def read_video_frame(message: Any, extra: bytes = b"") -> IncomingFrame:
    """A savant-rs `Message` holding a `VideoFrame` (and its extra part) -> `IncomingFrame`.

    Raises ValueError for a frame whose size or time base make no sense."""
    video_frame = message.as_video_frame()
    numerator, denominator = (int(v) for v in video_frame.time_base)
    width, height = int(video_frame.width), int(video_frame.height)
    if numerator <= 0 or denominator <= 0:
        raise ValueError(f"time base must be positive, got {numerator}/{denominator}")
    if width <= 0 or height <= 0:
        raise ValueError(f"frame size must be positive, got {width}x{height}")
    content, external, problem = _content(video_frame.content, extra)
    span_context = message.span_context
    carrier = {k: v for k, v in dict(span_context.as_dict()).items() if v}
    codec = video_frame.codec
    return IncomingFrame(
        source_id=str(video_frame.source_id), codec=str(codec).lower() if codec else None, width=width,
        height=height, keyframe=video_frame.keyframe, pts=int(video_frame.pts),
        dts=None if video_frame.dts is None else int(video_frame.dts),
        time_base=(numerator, denominator), content=content, external=external, content_problem=problem,
        trace_carrier=carrier, video_frame=video_frame, span_context=span_context if carrier else None)


def read_frame_batch(message: Any) -> list[IncomingFrame]:
    """The frames of a savant-rs `VideoFrameBatch` message (their content is internal, as Savant's module
    requires of batches), sharing the message's trace context."""
    batch = message.as_video_frame_batch()
    frames = []
    for video_frame in batch.frames:
        frames.append(read_video_frame(video_frame.to_message()))
    carrier = {k: v for k, v in dict(message.span_context.as_dict()).items() if v}
    for frame in frames:
        frame.trace_carrier = carrier
        frame.span_context = message.span_context if carrier else None
    return frames


def _content(content: Any, extra: bytes) -> tuple[bytes | None, bool, str | None]:
    """(picture bytes, came in the extra part, problem) of a frame's content descriptor."""
    if content.is_internal():
        data = bytes(content.get_data())
        return (data, False, None) if data else (None, False, "no_content")
    if content.is_external():
        method = content.get_method()
        if method != ZEROMQ_CONTENT:
            return None, True, "unsupported_content"  # e.g. Savant's `redis` method: not fetched here
        return (bytes(extra), True, None) if extra else (None, True, "no_content")
    return None, False, "no_content"


def annotated_message(frame: IncomingFrame, tracks: Detections, tags: dict[str, Any], *,
                      namespace: str = DETECTOR_NAMESPACE, label: str = PERSON_LABEL) -> Any:
    """The source's frame as the Savant module publishes it: the same savant-rs frame (content, codec,
    keyframe flag, timing, the adapter's attributes and objects) with the tracked people added as objects
    (`frames.add_tracks`), the tags set, and the incoming trace context carried on. Send it with
    `frame.content` as the extra part when `frame.external`."""
    video_frame = frame.video_frame
    set_tags(video_frame, tags)
    add_tracks(video_frame, tracks, namespace=namespace, label=label)
    message = video_frame.to_message()
    if frame.span_context is not None:
        message.span_context = frame.span_context
    return message


__all__ = ["CODECS", "ZEROMQ_CONTENT", "IncomingFrame", "annotated_message", "read_frame_batch",
           "read_video_frame"]
