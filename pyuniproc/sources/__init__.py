"""Camera sources: files, image folders, RTSP / network streams and webcams decoded with PyAV.

Each `CameraSource` yields `pyuniproc.types.Frame`s from a blocking `frames()` iterator (the
runtime runs it in its own thread), reconnects live cameras with `Backoff`, and keeps its health in
a thread-safe `CameraStats`. URIs are reported only in redacted form (`redact_uri`).
"""

from pyuniproc.sources.av_open import SourceError, probe
from pyuniproc.sources.backoff import Backoff
from pyuniproc.sources.source import CameraSource
from pyuniproc.sources.stats import CameraState, CameraStats
from pyuniproc.sources.uri import RedactingFilter, SourceKind, SourceUri, parse_uri, redact_text, redact_uri

__all__ = [
    "Backoff",
    "CameraSource",
    "CameraState",
    "CameraStats",
    "RedactingFilter",
    "SourceError",
    "SourceKind",
    "SourceUri",
    "parse_uri",
    "probe",
    "redact_text",
    "redact_uri",
]
