"""A Savant source adapter and sink made of savant-rs and PyAV only, for testing `pyuniproc serve`.

`AdapterSource` sends what Savant's GStreamer source adapters send (their `zeromq_sink` element, read
in Savant's source): per encoded picture a `VideoFrame` with source id, framerate, size, codec name,
keyframe flag, pts/dts/duration in nanoseconds, time base (1, 10^9), an initial-size transformation and
the `location` attribute in the `default` namespace; content external (`zeromq`) with the picture as
the message's extra part (or internal, as other adapters may); `EndOfStream` at the end of a stream;
`Shutdown` with the module's key. The topic is the source id. `AdapterSink` reads what Savant's sinks
read: frames and ends of stream on a SUB socket, with the extra part.
"""

from __future__ import annotations

import fractions
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import av
import numpy as np
from savant_rs.primitives import (
    AttributeValue,
    EndOfStream,
    Shutdown,
    VideoFrame,
    VideoFrameContent,
    VideoFrameTransformation,
)
from savant_rs.zmq import BlockingReader, BlockingWriter, ReaderConfigBuilder, WriterConfigBuilder

VTEST = Path(__file__).resolve().parents[2] / "samples" / "vtest" / "vtest.avi"
NANOSECONDS = 1_000_000_000


@dataclass
class Encoded:
    """One encoded picture as an adapter gets it from its parser: bytes, pts, dts (ns), keyframe flag."""

    data: bytes
    pts: int
    dts: int | None
    keyframe: bool


def clip_pictures(count: int, *, start: int = 0, step: int = 1,
                  size: tuple[int, int] | None = None) -> list[np.ndarray]:
    """`count` RGB pictures of the sample clip (people walking), every `step`-th from `start`."""
    pictures = []
    with av.open(str(VTEST)) as container:
        for i, frame in enumerate(container.decode(video=0)):
            if i >= start and (i - start) % step == 0:
                image = frame.to_ndarray(format="rgb24")
                if size is not None:
                    image = av.VideoFrame.from_ndarray(image, "rgb24").reformat(
                        width=size[0], height=size[1]).to_ndarray(format="rgb24")
                pictures.append(image)
            if len(pictures) >= count:
                break
    return pictures


def encode(pictures: list[np.ndarray], codec: str = "h264", *, fps: int = 10, gop: int = 30,
           bframes: int = 0) -> list[Encoded]:
    """Pictures -> an Annex B H.264/HEVC stream cut into access units (SPS/PPS before each keyframe,
    as h264parse config-interval does for Savant's adapters), or JPEG/PNG pictures, or raw RGBA."""
    height, width = pictures[0].shape[:2]
    step = NANOSECONDS // fps
    if codec in ("jpeg", "png", "raw-rgba"):
        out = []
        for i, image in enumerate(pictures):
            if codec == "raw-rgba":
                data = np.dstack([image, np.full(image.shape[:2], 255, np.uint8)]).tobytes()
            else:
                ctx = av.CodecContext.create("mjpeg" if codec == "jpeg" else "png", "w")
                ctx.width, ctx.height = width, height
                ctx.pix_fmt = "yuvj420p" if codec == "jpeg" else "rgb24"
                ctx.time_base = fractions.Fraction(1, fps)
                frame = av.VideoFrame.from_ndarray(image, "rgb24").reformat(format=ctx.pix_fmt)
                data = b"".join(bytes(p) for p in [*ctx.encode(frame), *ctx.encode(None)])
            out.append(Encoded(data, i * step, None, True))
        return out
    ctx = av.CodecContext.create("libx264" if codec == "h264" else "libx265", "w")
    ctx.width, ctx.height, ctx.pix_fmt = width, height, "yuv420p"
    ctx.time_base = fractions.Fraction(1, NANOSECONDS)
    ctx.framerate = fractions.Fraction(fps, 1)
    ctx.gop_size = gop
    ctx.max_b_frames = bframes
    if codec == "h264":
        ctx.options = {"preset": "ultrafast",
                       "x264-params": f"bframes={bframes}:repeat-headers=1:keyint={gop}:scenecut=0"}
    else:
        params = f"log-level=none:repeat-headers=1:bframes={bframes}:keyint={gop}:scenecut=0"
        ctx.options = {"preset": "ultrafast", "x265-params": params}
    packets = []
    for i, image in enumerate(pictures):
        frame = av.VideoFrame.from_ndarray(image, "rgb24").reformat(format="yuv420p")
        frame.pts = i * step
        packets.extend(ctx.encode(frame))
    packets.extend(ctx.encode(None))
    return [Encoded(bytes(p), int(p.pts), None if p.dts is None else int(p.dts), bool(p.is_keyframe))
            for p in packets]


class AdapterSource:
    """A source adapter's sender (DEALER by default, as in Savant's compose files)."""

    def __init__(self, endpoint: str, source_id: str, *, width: int, height: int, codec: str,
                 location: str = "/media/test.mp4", timeout_ms: int = 5000, retries: int = 3) -> None:
        builder = WriterConfigBuilder(endpoint)  # Savant's adapters: 5 s, 3 retries (send and receive)
        builder.with_send_timeout(timeout_ms)
        builder.with_receive_timeout(timeout_ms)
        builder.with_send_retries(retries)
        builder.with_receive_retries(retries)
        self.writer = BlockingWriter(builder.build())
        self.writer.start()
        self.source_id, self.width, self.height, self.codec = source_id, width, height, codec
        self.location = location

    def frame(self, picture: Encoded, *, internal: bool = False, codec: str | None = None,
              span_context: Any = None) -> Any:
        """Send one picture; returns what the writer answered."""
        video_frame = VideoFrame(
            source_id=self.source_id, framerate="10/1", width=self.width, height=self.height,
            codec=codec or self.codec,
            content=(VideoFrameContent.internal(picture.data) if internal
                     else VideoFrameContent.external("zeromq", None)),
            keyframe=picture.keyframe, pts=picture.pts, dts=picture.dts, duration=NANOSECONDS // 10,
            time_base=(1, NANOSECONDS))
        video_frame.add_transformation(VideoFrameTransformation.initial_size(self.width, self.height))
        video_frame.set_persistent_attribute(namespace="default", name="location",
                                             values=[AttributeValue.string(self.location)])
        message = video_frame.to_message()
        if span_context is not None:
            message.span_context = span_context
        return self.writer.send_message(self.source_id, message, b"" if internal else picture.data)

    def end(self) -> Any:
        return self.writer.send_message(self.source_id, EndOfStream(self.source_id).to_message(), b"")

    def shutdown(self, auth: str) -> Any:
        return self.writer.send_message(self.source_id, Shutdown(auth).to_message(), b"")

    def close(self) -> None:
        if self.writer.is_started():
            self.writer.shutdown()


@dataclass
class Received:
    """What a sink got: per source, the frames (savant-rs VideoFrame, extra part) and ends, in order."""

    # (kind, source, (frame, span context) or None, extra part)
    items: list[tuple[str, str, Any, bytes]] = field(default_factory=list)

    def frames(self, source_id: str) -> list[tuple[Any, bytes]]:
        return [(f, extra) for kind, s, f, extra in self.items if kind == "frame" and s == source_id]

    def ends(self, source_id: str) -> int:
        return sum(1 for kind, s, _, _ in self.items if kind == "end" and s == source_id)


class AdapterSink:
    """A sink adapter's reader (SUB), collecting into `received`."""

    def __init__(self, endpoint: str) -> None:
        builder = ReaderConfigBuilder(endpoint)
        builder.with_receive_timeout(100)
        self.reader = BlockingReader(builder.build())
        self.reader.start()
        self.received = Received()

    def poll(self, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            self.read_one()

    def read_one(self) -> bool:
        result = self.reader.receive()
        if type(result).__name__ != "ReaderResultMessage":
            return False
        message = result.message
        extra = b"".join(bytes(result.data(i)) for i in range(result.data_len()))
        if message.is_video_frame():
            frame = message.as_video_frame()
            context = message.span_context.as_dict()
            self.received.items.append(("frame", frame.source_id, (frame, context), extra))
        elif message.is_end_of_stream():
            self.received.items.append(("end", message.as_end_of_stream().source_id, None, b""))
        return True

    def close(self) -> None:
        if self.reader.is_started():
            self.reader.shutdown()
