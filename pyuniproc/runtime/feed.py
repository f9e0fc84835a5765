"""The two seams through which a `Pipeline` is fed from outside instead of from its cameras file.

`pyuniproc run` opens the cameras it is given; `pyuniproc serve` gets its cameras from Savant's source
adapters over ZeroMQ, where a camera appears with its first frame and leaves with its end of stream.
Both run the same pipeline (batching, detection, tracking, ReID, fusion, pyfuncs, outputs): a `Feed`
supplies each camera's frame source and hears when a camera's stream has been fully processed, and a
`FrameEgress` receives every processed frame with all that the stages wrote, to publish it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

from pyuniproc.config.cameras import CameraSpec
from pyuniproc.types import Detections, Frame


class Feed(Protocol):
    """Where a fed pipeline's cameras come from. With a feed, the pipeline opens no camera of its
    cameras file (the file still gives topology, lines and zones), takes cameras from `add_camera`, and
    runs until stopped, with or without cameras."""

    def open_source(self, spec: CameraSpec, first_index: int) -> Any:
        """The frame source of a camera being added (or, after its stream ended, restarted before its
        removal): an object with `CameraSource`'s surface (`camera_id`, `uri`, `first_index`, `is_live`,
        `realtime`, `stats`, `frames()`, `stop()`, `stopped`). Its frames are numbered from `first_index`."""
        ...

    def trace_parent(self, frame: Frame) -> Mapping[str, str] | None:
        """The trace context `frame` arrived with (its trace continues), or None (a trace of its own)."""
        ...

    def camera_ended(self, camera_id: str) -> None:
        """Every frame of the camera's stream is processed and its end handled (pipeline thread)."""
        ...


class FrameEgress(Protocol):
    """Where processed frames leave the process, called on the pipeline thread in each camera's
    frame order; it must not block for long (publish, or hand over to a thread of its own)."""

    def on_frame(self, frame: Frame, tracks: Detections, tags: dict[str, Any], trace: Any) -> None:
        """A frame after every stage: its tracks (with ReID, fusion and pyfunc columns), the pyfuncs'
        frame tags, and its trace (`carrier()` gives its context)."""
        ...

    def on_camera_end(self, camera_id: str) -> None:
        """The camera's stream ended; its last frame was passed to `on_frame` before."""
        ...


__all__ = ["Feed", "FrameEgress"]
