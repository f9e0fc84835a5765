"""FrameMessage <-> savant-rs messages, including the layout Savant's module sink produces."""

from __future__ import annotations

import numpy as np
import pytest
from savant_rs.primitives import Attribute, AttributeValue, VideoFrame, VideoFrameContent
from savant_rs.primitives.geometry import RBBox

from pyuniproc.transport import (
    FrameMessage,
    StreamEnd,
    TransportError,
    decode_message,
    encode_frame,
    frame_from_bytes,
    frame_to_bytes,
)
from pyuniproc.types import Detections


def people(n_embedded: int = 2) -> Detections:
    embedding = np.array([[0.6, 0.8, 0.0], [0.0, 0.6, 0.8], [np.nan] * 3], np.float32)[:3]
    embedding[n_embedded:] = np.nan
    return Detections(xyxy=[[10, 20, 50, 120], [200, 40, 260, 200], [400, 300, 430, 380]],
                      confidence=[0.9, 0.7, 0.4], class_id=[0, 0, 0], tracker_id=[5, 9, -1],
                      data={"embedding": embedding, "global_id": np.array([101, -1, -1]),
                            "analytics.dwell_seconds": np.array([1.5, np.nan, 0.0])})


def test_round_trip_keeps_tracks_embeddings_global_ids_and_tags():
    frame = FrameMessage("cam1", pts=2_500_000_000, width=768, height=576, tracks=people(), index=25,
                         framerate="10/1", tags={"people_count": 2, "analytics.events": "[]", "busy": True})
    back = frame_from_bytes(frame_to_bytes(frame))
    assert (back.camera_id, back.pts, back.pts_seconds, back.index) == ("cam1", 2_500_000_000, 2.5, 25)
    assert (back.width, back.height, back.framerate) == (768, 576, "10/1")
    assert back.tags == {"people_count": 2, "analytics.events": "[]", "busy": True}
    np.testing.assert_allclose(back.tracks.xyxy, frame.tracks.xyxy)
    np.testing.assert_allclose(back.tracks.confidence, frame.tracks.confidence)
    np.testing.assert_array_equal(back.tracks.tracker_id, [5, 9, -1])
    np.testing.assert_array_equal(back.tracks.data["global_id"], [101, -1, -1])
    np.testing.assert_allclose(back.tracks.data["embedding"], frame.tracks.data["embedding"], equal_nan=True)
    dwell = back.tracks.data["analytics.dwell_seconds"]
    np.testing.assert_allclose(dwell, [1.5, np.nan, 0.0], equal_nan=True)


def test_frame_without_people_and_end_of_stream():
    empty = frame_from_bytes(frame_to_bytes(FrameMessage("cam2", pts=0, width=640, height=360)))
    assert len(empty.tracks) == 0 and empty.tracks.data == {} and empty.index == -1
    assert frame_from_bytes(frame_to_bytes(StreamEnd("cam2"))) == StreamEnd("cam2")


def savant_module_output() -> object:
    """A message as Savant's ZeroMQ sink emits it after detector, nvtracker, ReID model and analytics."""
    frame = VideoFrame(source_id="lobby", framerate="25/1", width=1280, height=720,
                       content=VideoFrameContent.none(), time_base=(1, 1_000_000_000), pts=40_000_000)
    frame.create_object("auto", "frame", confidence=1.0, detection_box=RBBox(640, 360, 1280, 720),
                        track_id=None, track_box=None, attributes=[])  # not a person: ignored
    box = RBBox(100, 200, 40, 120)
    frame.create_object("person_detector", "person", confidence=0.8, detection_box=RBBox(101, 201, 42, 118),
                        track_id=17, track_box=box, attributes=[
                            Attribute(namespace="person_reid", name="embedding",
                                      values=[AttributeValue.floats([0.1] * 8, None)]),
                            Attribute(namespace="analytics", name="dwell_seconds",
                                      values=[AttributeValue.float(3.25, 1.0)])])
    frame.set_persistent_attribute("default", "people_count", False, None, [AttributeValue.integer(1, None)])
    return frame.to_message()


def test_decodes_what_savants_sink_sends():
    frame = decode_message(savant_module_output())
    assert frame.camera_id == "lobby" and frame.pts_seconds == pytest.approx(0.04)
    assert frame.tags == {"people_count": 1}
    tracks = frame.tracks
    assert len(tracks) == 1 and tracks.tracker_id[0] == 17
    np.testing.assert_allclose(tracks.xyxy[0], [80, 140, 120, 260])  # the tracker's box, not the detector's
    assert tracks.data["embedding"].shape == (1, 8) and tracks.data["embedding"].dtype == np.float32
    assert tracks.data["analytics.dwell_seconds"][0] == pytest.approx(3.25)
    assert "global_id" not in tracks.data


def test_other_namespaces_and_labels_can_be_selected():
    assert len(decode_message(savant_module_output(), namespace="other_detector").tracks) == 0
    assert len(decode_message(savant_module_output(), label="frame").tracks) == 1


def test_encoding_names_objects_like_the_savant_module():
    message = encode_frame(FrameMessage("cam1", pts=1, width=10, height=10, tracks=people(1)))
    objects = sorted(message.as_video_frame().get_all_objects(), key=lambda o: o.id)
    assert {(o.namespace, o.label) for o in objects} == {("person_detector", "person")}
    assert objects[0].get_attribute("person_reid", "embedding") is not None
    assert objects[1].get_attribute("person_reid", "embedding") is None  # NaN row: no embedding sent
    assert objects[2].track_id is None


@pytest.mark.parametrize("kwargs, message", [
    ({"camera_id": ""}, "camera_id"),
    ({"width": 0}, "size must be positive"),
    ({"time_base": (1, 0)}, "time_base"),
])
def test_bad_frames_are_refused(kwargs, message):
    with pytest.raises(ValueError, match=message):
        FrameMessage(**{"camera_id": "c", "pts": 0, "width": 4, "height": 4, **kwargs})


def test_bad_tags_are_refused():
    with pytest.raises(ValueError, match="tag values"):
        encode_frame(FrameMessage("c", pts=0, width=4, height=4, tags={"bad": {"nested": 1}}))


# -- messages that cannot be read: TransportError naming source, size and what failed --------------


def frame_with_objects(*objects: tuple[RBBox, list], confidence: float = 0.9) -> bytes:
    from savant_rs.utils.serialization import save_message_to_bytes

    frame = VideoFrame(source_id="cam1", framerate="10/1", width=640, height=480,
                       content=VideoFrameContent.none(), time_base=(1, 1_000_000_000), pts=0)
    for i, (box, values) in enumerate(objects):
        attributes = [Attribute(namespace="person_reid", name="embedding", values=values)] if values else []
        frame.create_object("person_detector", "person", confidence=confidence, detection_box=box,
                            track_id=i + 1, track_box=None, attributes=attributes)
    return bytes(save_message_to_bytes(frame.to_message()))


def test_bytes_that_are_not_a_message_name_their_size_and_what_failed():
    with pytest.raises(TransportError, match=r"^in \(31 bytes\): not a readable savant-rs message: .*Decode"):
        frame_from_bytes(b"definitely not a savant message", source="in")
    with pytest.raises(TransportError, match=r"empty message") as error:
        frame_from_bytes(b"")
    assert error.value.reason == "undecodable"


def test_another_protocol_version_is_refused():
    good = frame_to_bytes(FrameMessage("cam1", pts=1, width=640, height=480))
    version_at = good.index(b"\n") + 2  # field 1 (protocol version): tag, length, text
    length = good[version_at - 1]
    other = good[:version_at] + b"9" * length + good[version_at + length:]
    with pytest.raises(TransportError, match="version mismatch") as error:
        frame_from_bytes(other)
    assert error.value.reason == "protocol_version"


def test_malformed_frames_are_refused_with_the_problem():
    vector, longer = [AttributeValue.floats([0.5] * 4, None)], [AttributeValue.floats([0.5] * 8, None)]
    with pytest.raises(TransportError, match=r"embeddings of one frame differ in length: \[4, 8\]") as error:
        frame_from_bytes(frame_with_objects((RBBox(50, 50, 20, 40), vector), (RBBox(90, 50, 20, 40), longer)))
    assert error.value.reason == "malformed_frame"
    with pytest.raises(TransportError, match="box that is not finite"):
        frame_from_bytes(frame_with_objects((RBBox(float("nan"), 50, 20, 40), vector)))
    with pytest.raises(TransportError, match="confidence that is not finite"):
        frame_from_bytes(frame_with_objects((RBBox(50, 50, 20, 40), vector), confidence=float("nan")))


def test_an_empty_embedding_is_no_embedding():
    """A zero-width embedding would fix fusion's embedding width at 0 and refuse every real one after."""
    frame = frame_from_bytes(frame_with_objects((RBBox(50, 50, 20, 40), [AttributeValue.floats([], None)])))
    assert len(frame.tracks) == 1 and "embedding" not in frame.tracks.data
