"""Opening inputs with PyAV, turning FFmpeg errors into clear redacted messages, and `probe`.

FFmpeg error strings quote the URL they were given (`[Errno 111] Connection refused:
'rtsp://admin:pw@...'`), so messages are built here from the error's reason alone plus the
redacted URI, and scrubbed once more in case the reason itself echoes a secret.
"""

from __future__ import annotations

import logging
import time
from fractions import Fraction
from typing import Any

import av
import av.container
import av.error
import numpy as np

from pyuniproc.sources.uri import SourceKind, SourceUri, list_images, parse_uri

logger = logging.getLogger("pyuniproc.sources")


class SourceError(Exception):
    """A camera source cannot be used; the message names the camera and the redacted URI.

    camera_id: the camera (None when probing a bare URI).
    uri: the redacted URI.
    reason: why, without the camera/URI prefix.
    """

    def __init__(self, message: str, *, camera_id: str | None, uri: str, reason: str) -> None:
        super().__init__(message)
        self.camera_id = camera_id
        self.uri = uri
        self.reason = reason


class SourceDead(Exception):
    """Raised inside the package when a source must end as dead; the message is final and redacted."""


def error_reason(
    exc: BaseException,
    uri: SourceUri,
    *,
    timeout_seconds: float | None = None,
    elapsed_seconds: float | None = None,
) -> str:
    """The cause of `exc` as a short redacted phrase (no URL prefix, no errno noise).

    elapsed_seconds: how long the failed call ran. When it reached `timeout_seconds` the cause is
    the timeout, whatever FFmpeg says: its RTSP client answers an interrupted wait for a server
    that accepted the connection but never replied with "Invalid data found when processing input".
    """
    timed_out = (
        timeout_seconds is not None and elapsed_seconds is not None and elapsed_seconds >= timeout_seconds
    )
    if isinstance(exc, av.error.ExitError) or timed_out:
        # AVERROR_EXIT only comes from PyAV's interrupt callback, i.e. our timeout expired.
        return f"timed out after {timeout_seconds:g} s" if timeout_seconds else "timed out"
    if isinstance(exc, (av.error.FFmpegError, OSError)) and getattr(exc, "strerror", None):
        text = str(exc.strerror)
    else:
        text = str(exc) or type(exc).__name__
    return uri.scrub(text)


def describe(camera_id: str | None, uri: SourceUri, what: str, reason: str) -> str:
    """`camera cam2: cannot open 'samples/x.mp4': No such file or directory`.

    what: the failed action ("cannot open"), followed by the redacted URI and the reason.
    """
    prefix = f"camera {camera_id}: " if camera_id else ""
    return uri.scrub(f"{prefix}{what} {uri.redacted!r}: {reason}")


def open_input(
    uri: SourceUri,
    *,
    rtsp_transport: str = "tcp",
    open_timeout_seconds: float | None = None,
    read_timeout_seconds: float | None = None,
    av_options: dict[str, str] | None = None,
) -> av.container.InputContainer:
    """`av.open` for a classified URI (raises av/OS errors; callers turn them into messages).

    The (open, read) timeouts install PyAV's interrupt callback: a blocking connect or read gives up
    with `av.error.ExitError` after that many seconds. An interrupted FFmpeg input cannot be read
    again, so callers treat a read timeout as a lost connection and reopen.
    """
    options: dict[str, str] = {}
    if uri.kind is SourceKind.RTSP:
        options["rtsp_transport"] = rtsp_transport
    options.update(av_options or {})
    timeout = None  # None for both: no interrupt callback at all (local files)
    if open_timeout_seconds is not None or read_timeout_seconds is not None:
        timeout = (open_timeout_seconds, read_timeout_seconds)
    return av.open(uri.target, mode="r", format=uri.av_format, options=options, timeout=timeout)


def video_stream(container: av.container.InputContainer) -> av.VideoStream:
    """The first video stream with a decoder; ValueError with the reason otherwise."""
    streams = list(container.streams.video)
    if not streams:
        kinds = ", ".join(sorted({s.type for s in container.streams})) or "none"
        raise ValueError(f"no video stream (streams: {kinds})")
    stream = streams[0]
    if stream.codec_context is None:
        raise ValueError("no FFmpeg decoder for the video codec")
    return stream


def stream_fps(stream: av.VideoStream) -> float | None:
    """Nominal frame rate, or None when the container does not say."""
    for rate in (stream.average_rate, stream.guessed_rate, stream.base_rate):
        if rate and 0 < float(rate) < 1000:
            return float(rate)
    return None


def stream_start_seconds(stream: av.VideoStream) -> float:
    """Time of the stream's first frame on its own clock (mpegts often starts at 1.4 s)."""
    if stream.start_time is None or stream.time_base is None:
        return 0.0
    return float(stream.start_time * stream.time_base)


def stream_duration_seconds(stream: av.VideoStream, container: av.container.InputContainer) -> float | None:
    """Declared length of the video: the longer of the stream duration and frames / fps.

    Both are read because FFmpeg shortens the duration of an index-less (truncated) AVI to what
    it finds, while the header's frame count still tells the intended length.
    """
    candidates = []
    if stream.duration and stream.time_base:
        candidates.append(float(stream.duration * stream.time_base))
    fps = stream_fps(stream)
    if stream.frames and fps:
        candidates.append(stream.frames / fps)
    if not candidates and container.duration:
        candidates.append(container.duration / av.time_base)
    return max(candidates) if candidates else None


def decode_image(path: str) -> np.ndarray:
    """One still image as (H, W, 3) uint8 RGB; raises on an unreadable file."""
    with av.open(path) as container:
        for frame in container.decode(video=0):
            return frame.to_ndarray(format="rgb24")
    raise ValueError("no picture in the file")


def probe(
    uri: str,
    *,
    camera_id: str | None = None,
    rtsp_transport: str = "tcp",
    timeout_seconds: float = 5.0,
    images_fps: float = 10.0,
    av_options: dict[str, str] | None = None,
) -> dict[str, Any]:
    """Open `uri` once and describe it, so a CLI can fail early with a clear message.

    Returns {"kind", "uri" (redacted), "width", "height", "fps", "frames" (None if unknown),
    "codec", "duration_seconds" (None if unknown)}. Raises `SourceError` naming the camera,
    the redacted URI and the reason.
    """
    parsed = parse_uri(uri)
    info: dict[str, Any] = {"kind": parsed.kind.value, "uri": parsed.redacted}
    if parsed.kind is SourceKind.IMAGES:
        return info | _probe_images(parsed, camera_id, images_fps)
    started = time.monotonic()
    try:
        container = open_input(
            parsed,
            rtsp_transport=rtsp_transport,
            open_timeout_seconds=timeout_seconds,
            read_timeout_seconds=timeout_seconds,
            av_options=av_options,
        )
    except (av.error.FFmpegError, OSError) as exc:
        elapsed = time.monotonic() - started if parsed.is_live else None
        reason = error_reason(exc, parsed, timeout_seconds=timeout_seconds, elapsed_seconds=elapsed)
        raise _error(camera_id, parsed, "cannot open", reason) from None
    with container:
        try:
            stream = video_stream(container)
        except ValueError as exc:
            raise _error(camera_id, parsed, "cannot use", str(exc)) from None
        fps = stream_fps(stream)
        live = parsed.is_live
        return info | {
            "width": stream.codec_context.width,
            "height": stream.codec_context.height,
            "fps": fps,
            "frames": None if live or not stream.frames else int(stream.frames),
            "codec": stream.codec_context.name,
            "duration_seconds": None if live else stream_duration_seconds(stream, container),
        }


def _probe_images(parsed: SourceUri, camera_id: str | None, images_fps: float) -> dict[str, Any]:
    paths = list_images(parsed.target)
    if not paths:
        reason = "no jpg/png/bmp images in the folder"
        raise _error(camera_id, parsed, "cannot use", reason)
    try:
        with av.open(paths[0]) as container:
            stream = video_stream(container)
            codec = stream.codec_context.name
        height, width = decode_image(paths[0]).shape[:2]
    except (av.error.FFmpegError, OSError, ValueError) as exc:
        reason = f"cannot read first image {paths[0]!r}: {error_reason(exc, parsed)}"
        raise _error(camera_id, parsed, "cannot use", reason) from None
    return {
        "width": width,
        "height": height,
        "fps": float(images_fps),
        "frames": len(paths),
        "codec": codec,
        "duration_seconds": float(Fraction(len(paths)) / Fraction(images_fps)),
    }


def _error(camera_id: str | None, uri: SourceUri, what: str, reason: str) -> SourceError:
    message = describe(camera_id, uri, what, reason)
    return SourceError(message, camera_id=camera_id, uri=uri.redacted, reason=uri.scrub(reason))
