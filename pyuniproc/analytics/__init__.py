"""Per-camera analytics core: people count, dwell, line crossings, zones. No I/O.

Runs unchanged inside a Savant pyfunc and in the embedded runtime: both turn their metadata
into tracked `Detections` and call `CameraAnalytics.update` once per frame.
"""

from pyuniproc.analytics.camera import CameraAnalytics, FrameAnalyticsResult
from pyuniproc.analytics.config import LineConfig, ZoneConfig, parse_lines, parse_zones
from pyuniproc.analytics.events import (
    EVENT_KINDS,
    LINE_CROSSED,
    TRACK_ENDED,
    TRACK_STARTED,
    ZONE_ENTERED,
    ZONE_EXITED,
    Event,
)

__all__ = [
    "EVENT_KINDS",
    "LINE_CROSSED",
    "TRACK_ENDED",
    "TRACK_STARTED",
    "ZONE_ENTERED",
    "ZONE_EXITED",
    "CameraAnalytics",
    "Event",
    "FrameAnalyticsResult",
    "LineConfig",
    "ZoneConfig",
    "parse_lines",
    "parse_zones",
]
