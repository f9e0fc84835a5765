"""Processed frames out, as the Savant module's ZeroMQ sink sends them: the `FrameEgress` of `serve`.

Each frame goes out as the very savant-rs frame its source adapter sent (content, codec, keyframe flag,
timing, the adapter's attributes and objects unchanged; a picture that came in the message's extra part
goes out in it again), with the tracked people added as objects of the detector element's namespace
(track id, box, `person_reid.embedding`, `mtmc.global_id`, the analytics pyfunc's attributes) and the
pyfuncs' frame tags, on the topic of its source id. So Savant's sinks (video files, Always-On RTSP,
metadata JSON) and `pyuniproc fusion` read it as they read the Savant module's output. A source's end
of stream follows its last frame.
"""

from __future__ import annotations

import logging
from collections import Counter
from typing import Any

from pyuniproc.transport import TransportError, annotated_message
from pyuniproc.transport.frames import encode_end
from pyuniproc.types import Detections, Frame

log = logging.getLogger("pyuniproc.serve")


class SavantEgress:
    """Publishes on `writer` (a `FrameWriter`, PUB in Savant's deployment: never blocks the pipeline).

    originals: the ingress (`take_original(camera_id, index)` gives the frame as received).
    namespace / label: the detector element's name and its object label in the module YAML.
    """

    def __init__(self, writer: Any, originals: Any, *, namespace: str, label: str) -> None:
        self.writer, self.originals = writer, originals
        self.namespace, self.label = namespace, label
        self.counts: Counter[str] = Counter()  # frames, ends, unmatched, send_failed

    def on_frame(self, frame: Frame, tracks: Detections, tags: dict[str, Any], trace: Any) -> None:
        incoming = self.originals.take_original(frame.camera_id, frame.index)
        if incoming is None:  # cannot happen unless a stage invents frames: say so, publish nothing
            self.counts["unmatched"] += 1
            log.error("serve: frame %d of %r has no received frame to publish", frame.index, frame.camera_id)
            return
        message = annotated_message(incoming, tracks, tags, namespace=self.namespace, label=self.label)
        extra = incoming.content if incoming.external and incoming.content else b""
        if self._send(frame.camera_id, message, extra):
            self.counts["frames"] += 1

    def on_camera_end(self, camera_id: str) -> None:
        if self._send(camera_id, encode_end(camera_id), b""):
            self.counts["ends"] += 1

    def _send(self, topic: str, message: Any, extra: bytes) -> bool:
        try:
            self.writer.send_message(topic, message, extra)
            return True
        except TransportError as error:  # a sink that is away must not stop the module
            self.counts["send_failed"] += 1
            if self.counts["send_failed"] == 1:
                log.warning("serve: %s (further send failures are counted)", error)
            return False


__all__ = ["SavantEgress"]
