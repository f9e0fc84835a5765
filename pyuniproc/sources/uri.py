"""What kind of camera a URI names, and how to show it without its secrets.

Camera URIs often carry credentials (`rtsp://admin:pw@10.0.0.7/stream1`, `...?token=abc`), and
FFmpeg echoes the URL it was given in its error messages. Everything in this package that logs,
raises or reports a URI therefore goes through `redact_uri` / `redact_text`; `SourceUri` keeps the
raw form for FFmpeg only and shows the redacted form in its `repr`.
"""

from __future__ import annotations

import logging
import os
import re
from dataclasses import dataclass, field
from urllib.parse import unquote

from pyuniproc.compat import StrEnum

REDACTED = "***"

SECRET_QUERY_NAMES = frozenset(
    {
        "password",
        "pass",
        "passwd",
        "pwd",
        "token",
        "key",
        "secret",
        "apikey",
        "api_key",
        "access_token",
        "auth",
    }
)
"""Query parameters whose values are replaced by `***` (matched case-insensitively)."""

IMAGE_EXTENSIONS = frozenset({".jpg", ".jpeg", ".png", ".bmp"})

_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*)://")
# Userinfo is everything up to the *last* '@' before the path: camera passwords often hold a raw '@'.
_USERINFO = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*://)([^/?#\s'\"]*)@")
_SECRET_PARAM = re.compile(
    r"([?&;](?:" + "|".join(sorted(SECRET_QUERY_NAMES, key=len, reverse=True)) + r")=)([^&#\s'\"]*)",
    re.IGNORECASE,
)
_WEBCAM_ALIAS = re.compile(r"^webcam:(\d+)$")
_WEBCAM_DEVICE = re.compile(r"^/dev/video(\d+)$")


class SourceKind(StrEnum):
    """How a source is read; `is_live` sources reconnect instead of finishing."""

    FILE = "file"
    IMAGES = "images"
    RTSP = "rtsp"
    STREAM = "stream"  # tcp://, udp://, http(s)://, rtmp://, srt:// ... (live network streams)
    WEBCAM = "webcam"

    @property
    def is_live(self) -> bool:
        return self in (SourceKind.RTSP, SourceKind.STREAM, SourceKind.WEBCAM)


@dataclass(frozen=True, slots=True)
class SourceUri:
    """A classified camera URI.

    raw: exactly what the user wrote (may hold credentials: hand it to FFmpeg, never print it).
    target: what `av.open` receives (a path, a URL, `/dev/videoN`, or the image folder).
    av_format: the FFmpeg input format to force (`"v4l2"` for webcams), else None (probe).
    redacted: the printable form.
    """

    raw: str = field(repr=False)
    kind: SourceKind
    target: str = field(repr=False)
    av_format: str | None
    redacted: str

    @property
    def is_live(self) -> bool:
        return self.kind.is_live

    def scrub(self, text: str) -> str:
        """`text` with this URI and its secrets redacted (for FFmpeg messages that echo the URL)."""
        return redact_text(text, self.raw)


def parse_uri(uri: str) -> SourceUri:
    """Classify a camera URI.

    - `webcam:N` or `/dev/videoN`: a V4L2 webcam read through FFmpeg's v4l2 input.
    - `rtsp://`, `rtsps://`: RTSP (transport chosen by the source).
    - any other `scheme://` URL (tcp, udp, http(s), rtmp, srt, ...): a live network stream.
      FFmpeg has many protocols; retrying a network URL on loss is safer than declaring it
      finished (an http(s) link to a recorded file is therefore replayed, not finished).
    - `file://path` or a plain path: a video file, unless the path is an existing directory,
      which is read as a folder of images (jpg/png/bmp, natural sort order).

    A path is not checked for existence here (beyond the folder test): the source reports a
    missing file as a camera error with a clear message.
    """
    if not isinstance(uri, str) or not uri.strip():
        raise ValueError(f"camera uri must be a non-empty string, got {uri!r}")
    raw = uri.strip()
    redacted = redact_uri(raw)
    alias = _WEBCAM_ALIAS.match(raw)
    if alias:
        return SourceUri(raw, SourceKind.WEBCAM, f"/dev/video{alias.group(1)}", "v4l2", redacted)
    if _WEBCAM_DEVICE.match(raw):
        return SourceUri(raw, SourceKind.WEBCAM, raw, "v4l2", redacted)
    scheme = _SCHEME.match(raw)
    if scheme:
        name = scheme.group(1).lower()
        if name == "file":
            path = unquote(raw[len("file://") :])
            return _path_uri(raw, path, redacted)
        kind = SourceKind.RTSP if name in ("rtsp", "rtsps", "rtspt") else SourceKind.STREAM
        return SourceUri(raw, kind, raw, None, redacted)
    return _path_uri(raw, raw, redacted)


def _path_uri(raw: str, path: str, redacted: str) -> SourceUri:
    kind = SourceKind.IMAGES if os.path.isdir(path) else SourceKind.FILE
    return SourceUri(raw, kind, path, None, redacted)


def is_live_uri(uri: str) -> bool:
    """Whether `uri` is a live stream (reconnects, drops when behind); False for files and bad URIs."""
    try:
        return parse_uri(uri).is_live
    except ValueError:
        return False


def redact_uri(uri: str) -> str:
    """`uri` with any user:password replaced by `***` and secret query values by `***`.

    >>> redact_uri("rtsp://admin:p@ss@cam7:554/live?token=abc&ch=1")
    'rtsp://***@cam7:554/live?token=***&ch=1'
    """
    text = _USERINFO.sub(lambda m: f"{m.group(1)}{REDACTED}@", uri)
    return _SECRET_PARAM.sub(lambda m: f"{m.group(1)}{REDACTED}", text)


def uri_secrets(uri: str) -> list[str]:
    """The secret pieces of `uri` (userinfo, password, secret query values), raw and URL-decoded.

    Used to scrub text that quotes a URI in a form `redact_uri` cannot recognise (e.g. FFmpeg
    printing only the host part with the decoded password).
    """
    pieces: list[str] = []
    userinfo = _USERINFO.search(uri)
    if userinfo:
        info = userinfo.group(2)
        pieces.append(info)
        if ":" in info:
            pieces.append(info.split(":", 1)[1])
    pieces.extend(m.group(2) for m in _SECRET_PARAM.finditer(uri))
    decoded = [unquote(p) for p in pieces]
    # Very short secrets would shred ordinary words if replaced everywhere; the URL forms above
    # still catch them in context.
    return sorted({p for p in pieces + decoded if len(p) >= 3}, key=len, reverse=True)


def redact_text(text: str, uri: str | None = None) -> str:
    """`text` with every URL's credentials redacted, and `uri` (with its secrets) scrubbed.

    Safe to apply to any message before it is logged, raised or stored.
    """
    if uri:
        text = text.replace(uri, redact_uri(uri))
    text = redact_uri(text)
    if uri:
        for secret in uri_secrets(uri):
            text = text.replace(secret, REDACTED)
    return text


class RedactingFilter(logging.Filter):
    """Redacts URL credentials in every record a handler emits.

    Our own messages are already redacted; this is for text we do not write, e.g. FFmpeg's native
    log once an application turns it on with `av.logging.set_level` (PyAV 18 leaves it off), which
    can print a URL with its password. Attach it to handlers: `handler.addFilter(RedactingFilter())`.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        redacted = redact_uri(message)
        if redacted != message:
            record.msg, record.args = redacted, None
        return True


def natural_key(name: str) -> list[object]:
    """Sort key that orders `img2.png` before `img10.png` (zero-padded names sort the same)."""
    return [int(part) if part.isdigit() else part.lower() for part in re.split(r"(\d+)", name)]


def list_images(folder: str) -> list[str]:
    """Image files (jpg/jpeg/png/bmp, any case) directly in `folder`, in natural order."""
    names = [n for n in os.listdir(folder) if os.path.splitext(n)[1].lower() in IMAGE_EXTENSIONS]
    return [os.path.join(folder, n) for n in sorted(names, key=natural_key)]
