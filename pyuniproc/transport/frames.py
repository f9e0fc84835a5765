"""`FrameMessage`: one camera frame's tracked people, to and from a Savant (savant-rs) message.

The Savant module's ZeroMQ sink emits a savant-rs `VideoFrame` per frame: objects in the namespace of
the detector element (`person_detector`, label `person`) with their track id and box, object attributes
written by later elements (the ReID model's `("person_reid", "embedding")`, the analytics pyfunc's
`("analytics", "dwell_seconds")`, fusion's `("mtmc", "global_id")`), and frame tags in Savant's
`default` namespace. Fusion reads that stream, and writes the same kind of message back with global ids.
This module is the only place that knows that layout; the rest of pyuniproc sees our value types:

    message = encode_frame(FrameMessage("cam1", pts=..., width=768, height=576, tracks=detections))
    frame = decode_message(message)        # FrameMessage, StreamEnd, or None (other message kinds)

A message that cannot be read (bytes that are not a savant-rs message, another protocol version, a frame
whose size, time base or embeddings make no sense) raises `TransportError` naming its source, size and
what failed; never savant-rs' own RuntimeError or Rust panic (see `errors`).

`tracks` is a `Detections` with `tracker_id` (-1: untracked) and these `data` columns when present:
    "embedding": (n, D) float32 (NaN rows for objects without one);
    "global_id": (n,) int64 (-1 where fusion has not decided);
    "<namespace>.<name>": (n,) float64 for any other numeric scalar object attribute (NaN where absent).
Encoding writes those columns back; other columns are not sent.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from pyuniproc.transport.errors import TransportError, guarded
from pyuniproc.types import NO_TRACK, Detections

DETECTOR_NAMESPACE = "person_detector"
"""Namespace of the people objects: the `nvinfer@detector` element's name in module/module.yml."""
PERSON_LABEL = "person"
EMBEDDING_ATTRIBUTE = ("person_reid", "embedding")
"""(namespace, name) of the ReID vector: the attribute model's element name and attribute name."""
GLOBAL_ID_ATTRIBUTE = ("mtmc", "global_id")
"""(namespace, name) of the cross-camera identity fusion assigns."""
TAG_NAMESPACE = "default"
"""Savant keeps `frame_meta.set_tag(name, value)` as frame attributes in this namespace."""
FRAME_INDEX_TAG = "frame_index"
NANOSECONDS = (1, 1_000_000_000)


@dataclass(frozen=True)
class StreamEnd:
    """End of one camera's stream (Savant's EndOfStream message): drop that camera's state."""

    camera_id: str


@dataclass
class FrameMessage:
    """One frame's metadata as it travels between the module, fusion and the sinks (no pixels).

    pts: presentation time in `time_base` units (Savant: nanoseconds); `pts_seconds` converts.
    index: frame number in the camera's stream when the sender knows it (tag `frame_index`), else -1.
    tags: frame tags (bool, int, float, str or lists of them), e.g. `people_count`.
    """

    camera_id: str
    pts: int
    width: int
    height: int
    tracks: Detections = field(default_factory=Detections.empty)
    time_base: tuple[int, int] = NANOSECONDS
    index: int = -1
    framerate: str = "30/1"
    tags: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.camera_id:
            raise ValueError("FrameMessage.camera_id must be a non-empty string")
        if self.width <= 0 or self.height <= 0:
            raise ValueError(f"FrameMessage size must be positive, got {self.width}x{self.height}")
        if self.time_base[0] <= 0 or self.time_base[1] <= 0:
            raise ValueError(f"FrameMessage.time_base must be positive, got {self.time_base}")

    @property
    def pts_seconds(self) -> float:
        return self.pts * self.time_base[0] / self.time_base[1]


def encode_frame(frame: FrameMessage, *, namespace: str = DETECTOR_NAMESPACE,
                 label: str = PERSON_LABEL) -> Any:
    """FrameMessage -> savant-rs `Message` holding a `VideoFrame` without pixels."""
    from savant_rs.primitives import VideoFrame, VideoFrameContent

    video_frame = VideoFrame(source_id=frame.camera_id, framerate=frame.framerate, width=int(frame.width),
                             height=int(frame.height), content=VideoFrameContent.none(),
                             time_base=tuple(frame.time_base), pts=int(frame.pts))
    tags = dict(frame.tags)
    if frame.index >= 0:
        tags[FRAME_INDEX_TAG] = int(frame.index)
    set_tags(video_frame, tags)
    add_tracks(video_frame, frame.tracks, namespace=namespace, label=label)
    return video_frame.to_message()


def set_tags(video_frame: Any, tags: dict[str, Any]) -> None:
    """Frame tags as Savant's `frame_meta.set_tag` writes them (namespace `default`), onto a savant-rs
    `VideoFrame` (a new one, or one received from a source adapter)."""
    for name, value in tags.items():
        video_frame.set_persistent_attribute(TAG_NAMESPACE, name, False, None, [_attribute_value(value)])


def add_tracks(video_frame: Any, tracks: Detections, *, namespace: str = DETECTOR_NAMESPACE,
               label: str = PERSON_LABEL) -> None:
    """Tracked people as objects of a savant-rs `VideoFrame`, named like the Savant module's: the
    detector's namespace and label, track id and box, and the attributes of `tracks.data` (see the
    module docstring). The frame's other objects and its content stay as they are."""
    from savant_rs.primitives import Attribute
    from savant_rs.primitives.geometry import RBBox

    for row in range(len(tracks)):
        x1, y1, x2, y2 = (float(v) for v in tracks.xyxy[row])
        box = RBBox((x1 + x2) / 2, (y1 + y2) / 2, x2 - x1, y2 - y1)
        track_id = int(tracks.tracker_id[row])
        attributes = [Attribute(namespace=ns, name=name, values=[value])
                      for (ns, name), value in _row_attributes(tracks, row).items()]
        video_frame.create_object(namespace, label, confidence=float(tracks.confidence[row]),
                                  detection_box=box, track_id=None if track_id == NO_TRACK else track_id,
                                  track_box=None if track_id == NO_TRACK else box, attributes=attributes)


def encode_end(camera_id: str) -> Any:
    """End of a camera's stream as a savant-rs `Message`."""
    from savant_rs.primitives import EndOfStream

    return EndOfStream(camera_id).to_message()


def decode_message(message: Any, *, label: str = PERSON_LABEL, namespace: str | None = None,
                   embedding: tuple[str, str] = EMBEDDING_ATTRIBUTE,
                   source: str = "message") -> FrameMessage | StreamEnd | None:
    """savant-rs `Message` -> FrameMessage (objects with `label`, of `namespace` if given), StreamEnd,
    or None for message kinds fusion does not use (shutdown, user data, batches).

    Raises `TransportError` for a message savant-rs could not read (its "unknown" message: wrong protocol
    version, undecodable bytes) and for a malformed frame; `source` (e.g. endpoint and topic) starts the
    error message."""
    return guarded(source, "malformed_frame", _decode, message, label, namespace, embedding, source)


def _decode(message: Any, label: str, namespace: str | None, embedding: tuple[str, str],
            source: str) -> FrameMessage | StreamEnd | None:
    if message.is_unknown():  # savant-rs' answer to bytes it cannot read
        problem = str(message.as_unknown())
        reason = "protocol_version" if "version mismatch" in problem.lower() else "undecodable"
        raise TransportError(f"{source}: not a readable savant-rs message: {problem}", reason=reason)
    if message.is_end_of_stream():
        return StreamEnd(message.as_end_of_stream().source_id)
    if not message.is_video_frame():
        return None
    video_frame = message.as_video_frame()
    tags = {name: _python_value(video_frame.get_attribute(ns, name))
            for ns, name in video_frame.attributes if ns == TAG_NAMESPACE}
    index = tags.pop(FRAME_INDEX_TAG, -1)
    objects = sorted((obj for obj in video_frame.get_all_objects()
                      if obj.label == label and (namespace is None or obj.namespace == namespace)),
                     key=lambda obj: obj.id)  # creation order
    return FrameMessage(
        camera_id=video_frame.source_id, pts=int(video_frame.pts), width=int(video_frame.width),
        height=int(video_frame.height), tracks=_objects_to_detections(objects, embedding),
        time_base=tuple(video_frame.time_base), index=int(index) if isinstance(index, int) else -1,
        framerate=str(video_frame.framerate), tags=tags,
    )


def frame_to_bytes(frame: FrameMessage | StreamEnd, **encode_options: Any) -> bytes:
    """Serialized savant-rs message (what Savant's Kafka sink stores), e.g. for files or tests."""
    from savant_rs.utils.serialization import save_message_to_bytes

    if isinstance(frame, StreamEnd):
        message = encode_end(frame.camera_id)
    else:
        message = encode_frame(frame, **encode_options)
    return bytes(save_message_to_bytes(message))


def frame_from_bytes(data: bytes, *, source: str = "message",
                     **decode_options: Any) -> FrameMessage | StreamEnd | None:
    """A serialized savant-rs message -> what `decode_message` returns; `TransportError` for bytes that
    are not one, naming `source`, the size and what failed."""
    from savant_rs.utils.serialization import load_message_from_bytes

    data = bytes(data)
    where = f"{source} ({len(data)} bytes)"
    if not data:  # savant-rs panics on it (and prints a Rust backtrace): refuse it first
        raise TransportError(f"{where}: empty message", reason="undecodable")
    message = guarded(where, "undecodable", load_message_from_bytes, data)
    return decode_message(message, source=where, **decode_options)


# --- objects <-> Detections -------------------------------------------------------------------------


def _objects_to_detections(objects: list[Any], embedding: tuple[str, str]) -> Detections:
    n = len(objects)
    xyxy = np.zeros((n, 4), np.float32)
    confidence = np.ones(n, np.float32)
    tracker_id = np.full(n, NO_TRACK, np.int64)
    vectors: list[list[float] | None] = [None] * n
    global_ids = np.full(n, NO_TRACK, np.int64)
    has_global_id = False
    scalars: dict[str, np.ndarray] = {}
    for row, obj in enumerate(objects):
        box = obj.track_box if obj.track_box is not None else obj.detection_box
        left, top, width, height = box.as_ltwh()
        if not all(math.isfinite(v) for v in (left, top, width, height)):
            raise ValueError(f"object {obj.id} has a box that is not finite: {(left, top, width, height)}")
        xyxy[row] = (left, top, left + width, top + height)
        if obj.confidence is not None:
            if not math.isfinite(obj.confidence):
                raise ValueError(f"object {obj.id} has a confidence that is not finite: {obj.confidence}")
            confidence[row] = obj.confidence
        if obj.track_id is not None:
            tracker_id[row] = int(obj.track_id)
        for ns, name in obj.attributes:
            value = _python_value(obj.get_attribute(ns, name))
            if (ns, name) == embedding:  # an empty list is no embedding (a width of 0 would poison fusion)
                vectors[row] = [float(v) for v in value] if isinstance(value, list) and value else None
            elif (ns, name) == GLOBAL_ID_ATTRIBUTE:
                if isinstance(value, (int, float)) and not isinstance(value, bool):
                    global_ids[row] = int(value)
                    has_global_id = True
            elif isinstance(value, (int, float)) and not isinstance(value, bool):
                scalars.setdefault(f"{ns}.{name}", np.full(n, np.nan))[row] = float(value)
    data: dict[str, np.ndarray] = dict(scalars)
    if has_global_id:
        data["global_id"] = global_ids
    lengths = {len(v) for v in vectors if v is not None}
    if len(lengths) > 1:
        raise ValueError(f"embeddings of one frame differ in length: {sorted(lengths)}")
    if lengths:
        dim = lengths.pop()
        rows = [v if v is not None else [np.nan] * dim for v in vectors]
        with np.errstate(over="ignore"):  # values beyond float32 become inf: fusion's intake refuses that row
            data["embedding"] = np.array(rows, np.float32)
    return Detections(xyxy=xyxy, confidence=confidence, class_id=np.zeros(n, np.int32),
                      tracker_id=tracker_id, data=data)


def _row_attributes(tracks: Detections, row: int) -> dict[tuple[str, str], Any]:
    from savant_rs.primitives import AttributeValue

    attributes: dict[tuple[str, str], Any] = {}
    for key, column in tracks.data.items():
        value = column[row]
        if key == "embedding":
            vector = np.asarray(value, dtype=np.float32).reshape(-1)
            if vector.size and np.all(np.isfinite(vector)):
                attributes[EMBEDDING_ATTRIBUTE] = AttributeValue.floats(vector.tolist(), None)
        elif key == "global_id":
            if int(value) != NO_TRACK:
                attributes[GLOBAL_ID_ATTRIBUTE] = AttributeValue.integer(int(value), None)
        elif "." in key and np.ndim(value) == 0 and np.issubdtype(np.asarray(value).dtype, np.number):
            if math.isfinite(float(value)):
                ns, name = key.split(".", 1)
                attributes[(ns, name)] = AttributeValue.float(float(value), None)
    return attributes


def _attribute_value(value: Any) -> Any:
    """A Python tag value -> savant-rs AttributeValue (Savant's own mapping of bool/int/float/str)."""
    from savant_rs.primitives import AttributeValue

    scalar = {bool: AttributeValue.boolean, int: AttributeValue.integer, float: AttributeValue.float,
              str: AttributeValue.string}
    vector = {bool: AttributeValue.booleans, int: AttributeValue.integers, float: AttributeValue.floats,
              str: AttributeValue.strings}
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, (list, tuple)):
        items = [v.item() if isinstance(v, np.generic) else v for v in value]
        kind = type(items[0]) if items else float
        if kind not in vector or any(type(v) is not kind for v in items):
            raise ValueError(f"tag lists must hold one of bool, int, float, str; got {value!r}")
        return vector[kind](items, None)
    if type(value) not in scalar:
        raise ValueError(f"tag values must be bool, int, float or str, got {type(value).__name__}: {value!r}")
    return scalar[type(value)](value, None)


_READERS = {
    "Boolean": "as_boolean", "Integer": "as_integer", "Float": "as_float", "String": "as_string",
    "BooleanList": "as_booleans", "IntegerList": "as_integers", "FloatList": "as_floats",
    "StringList": "as_strings",
}


def _python_value(attribute: Any) -> Any:
    """First value of a savant-rs Attribute as a Python value (None for kinds we do not read)."""
    if attribute is None or not attribute.values:
        return None
    value = attribute.values[0]
    kind = str(value.value_type).rsplit(".", 1)[-1]
    reader = _READERS.get(kind)
    return getattr(value, reader)() if reader else None


__all__ = ["DETECTOR_NAMESPACE", "EMBEDDING_ATTRIBUTE", "GLOBAL_ID_ATTRIBUTE", "FrameMessage", "PERSON_LABEL",
           "StreamEnd", "TAG_NAMESPACE", "TransportError", "add_tracks", "decode_message", "encode_end",
           "encode_frame", "frame_from_bytes", "frame_to_bytes", "set_tags"]
