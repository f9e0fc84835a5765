"""Decode one source's pictures with PyAV, as they arrive from a Savant source adapter.

A `StreamDecoder` is opened for one (codec, width, height) and fed one encoded picture at a time with its
pts; it returns the RGB pictures the decoder completes, each with the pts of the picture it came from
(H.264 and HEVC streams with B-frames come out in presentation order, some frames later, the rest at
`flush`). A picture that cannot be decoded raises `DecodeError` naming why, and the decoder stays usable:
the caller counts it and goes on with the next one.

FFmpeg's H.264 and HEVC decoders hide damage by default (a truncated access unit decodes into a picture
with grey or smeared blocks, or into nothing). Here they are asked to report it instead
(`err_detect=explode`): a damaged picture is counted as such rather than tracked as if it were whole.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

import av
import numpy as np

DECODER_NAMES = {"h264": "h264", "hevc": "hevc", "jpeg": "mjpeg", "png": "png"}
RAW_CHANNELS = {"raw-rgba": 4, "raw-rgb24": 3}
JPEG_END = b"\xff\xd9"
PNG_END = b"IEND\xaeB`\x82"


class DecodeError(ValueError):
    """A picture that did not decode; `reason` is a short counter key (e.g. "truncated")."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True)
class Picture:
    """A decoded picture: (H, W, 3) uint8 RGB and the pts (time base units) of the frame it came from."""

    image: np.ndarray
    pts: int


class StreamDecoder:
    """One source's decoder for `codec` (a name of `pyuniproc.transport.CODECS`) at width x height.

    time_base: the frames' pts unit, (numerator, denominator).
    """

    def __init__(self, codec: str, width: int, height: int, time_base: tuple[int, int]) -> None:
        if codec not in DECODER_NAMES and codec not in RAW_CHANNELS:
            raise DecodeError("unsupported_codec", f"codec {codec!r} is not decoded here")
        self.codec, self.width, self.height = codec, int(width), int(height)
        self.time_base = Fraction(int(time_base[0]), int(time_base[1]))
        self._context: av.CodecContext | None = None
        if codec in DECODER_NAMES:
            context = av.CodecContext.create(DECODER_NAMES[codec], "r")
            if codec in ("h264", "hevc"):
                context.options = {"err_detect": "explode"}
                context.thread_count = 1  # no frame threading: a picture comes out as soon as it can
            self._context = context

    def decode(self, data: bytes, pts: int, keyframe: bool | None = None) -> list[Picture]:
        """The pictures completed by this encoded picture (none, one, or with B-frames, an earlier one).
        `keyframe`: the sender's flag; every picture of an image codec is one (FFmpeg's PNG decoder
        blends a picture not marked so into the previous one, as for animated PNG)."""
        if not data:
            raise DecodeError("no_content", "empty picture")
        if self.codec in RAW_CHANNELS:
            return [Picture(self._raw(data), pts)]
        self._check_complete(data)
        packet = av.Packet(data)
        packet.pts = pts  # the decoder hands it to the picture it completes (reordered with B-frames)
        packet.is_keyframe = bool(keyframe) or self.codec in ("jpeg", "png")
        packet.time_base = self.time_base
        try:
            frames = self._context.decode(packet)
        except av.error.FFmpegError as error:  # InvalidDataError and kin
            raise DecodeError("decode_error", f"{self.codec} decoder: {error}") from None
        return [self._picture(frame, pts) for frame in frames]

    def flush(self) -> list[Picture]:
        """The pictures the decoder still holds (end of stream, reset); the decoder is done after it."""
        if self._context is None:
            return []
        try:
            frames = self._context.decode(None)
        except av.error.FFmpegError:
            frames = []
        self._context = None
        return [self._picture(frame, None) for frame in frames]

    def _picture(self, frame: av.VideoFrame, fallback_pts: int | None) -> Picture:
        pts = frame.pts if frame.pts is not None else fallback_pts
        return Picture(frame.to_ndarray(format="rgb24"), -1 if pts is None else int(pts))

    def _raw(self, data: bytes) -> np.ndarray:
        channels = RAW_CHANNELS[self.codec]
        expected = self.width * self.height * channels
        if len(data) != expected:
            reason = "truncated" if len(data) < expected else "decode_error"
            raise DecodeError(reason, f"{self.codec} picture of {len(data)} bytes; "
                                      f"{self.width}x{self.height} needs {expected}")
        pixels = np.frombuffer(data, np.uint8).reshape(self.height, self.width, channels)
        return np.ascontiguousarray(pixels[:, :, :3])

    def _check_complete(self, data: bytes) -> None:
        """Image codecs end with a marker: a picture without it was cut (FFmpeg would decode part of it)."""
        tail = data[-32:]
        if self.codec == "jpeg" and JPEG_END not in tail:
            raise DecodeError("truncated", f"JPEG of {len(data)} bytes without its end marker")
        if self.codec == "png" and PNG_END not in tail:
            raise DecodeError("truncated", f"PNG of {len(data)} bytes without its IEND chunk")


__all__ = ["DecodeError", "Picture", "StreamDecoder"]
