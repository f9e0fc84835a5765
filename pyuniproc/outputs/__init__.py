"""Run outputs: files written while frames are processed, buffered and flushed every second, before
each summary.json and at close (`_files.py`).

Frame numbers are 1-based (`Frame.index + 1`) in every output, as in MOTChallenge.
"""

from pyuniproc.outputs.draw import PALETTE, color_for_id, draw_tracks
from pyuniproc.outputs.events import EventsWriter
from pyuniproc.outputs.latency import LatencyStats
from pyuniproc.outputs.mosaic import MosaicRecorder
from pyuniproc.outputs.mot import MotWriter
from pyuniproc.outputs.recording import RecordingConfig, RecordingConfigError, SegmentedVideoWriter
from pyuniproc.outputs.summary import SummaryWriter
from pyuniproc.outputs.tracks_csv import TRACKS_CSV_HEADER, TracksCsvWriter
from pyuniproc.outputs.video import AnnotatedVideoWriter

__all__ = [
    "PALETTE",
    "TRACKS_CSV_HEADER",
    "AnnotatedVideoWriter",
    "EventsWriter",
    "LatencyStats",
    "MosaicRecorder",
    "MotWriter",
    "RecordingConfig",
    "RecordingConfigError",
    "SegmentedVideoWriter",
    "SummaryWriter",
    "TracksCsvWriter",
    "color_for_id",
    "draw_tracks",
]
