"""A source adapter's frame read, and sent back annotated as the Savant module sends it."""

import numpy as np
import pytest
from savant_rs.primitives import AttributeValue, VideoFrame, VideoFrameContent

from pyuniproc.transport import FrameMessage, annotated_message, decode_message, read_video_frame
from pyuniproc.types import Detections


def adapter_message(content, codec="h264", time_base=(1, 1_000_000_000), width=640):
    frame = VideoFrame(source_id="cam1", framerate="25/1", width=width, height=480, codec=codec,
                       content=content, keyframe=True, pts=40_000_000, time_base=time_base)
    frame.set_persistent_attribute(namespace="default", name="location",
                                   values=[AttributeValue.string("/a.mp4")])
    return frame.to_message()


def test_external_content_is_the_extra_part():
    frame = read_video_frame(adapter_message(VideoFrameContent.external("zeromq", None)), b"\x00\x00\x01")
    assert (frame.source_id, frame.codec, frame.keyframe) == ("cam1", "h264", True)
    assert frame.params == ("h264", 640, 480)
    assert frame.content == b"\x00\x00\x01" and frame.external and frame.pts_seconds == pytest.approx(0.04)
    assert frame.trace_carrier == {} and frame.span_context is None


@pytest.mark.parametrize(("content", "extra", "problem"), [
    (VideoFrameContent.external("zeromq", None), b"", "no_content"),
    (VideoFrameContent.external("redis", "host:6379/key"), b"", "unsupported_content"),
    (VideoFrameContent.none(), b"", "no_content"),
])
def test_frames_without_a_picture_say_why(content, extra, problem):
    frame = read_video_frame(adapter_message(content), extra)
    assert frame.content is None and frame.content_problem == problem


def test_nonsense_sizes_and_time_bases_are_refused():
    with pytest.raises(ValueError, match="time base"):
        read_video_frame(adapter_message(VideoFrameContent.internal(b"x"), time_base=(1, 0)))


def test_the_annotated_frame_keeps_the_adapters_frame_and_adds_the_modules_objects():
    incoming = read_video_frame(adapter_message(VideoFrameContent.internal(b"picture")))
    tracks = Detections(xyxy=[[10, 20, 50, 120], [100, 100, 140, 220]], confidence=[0.9, 0.6],
                        class_id=[0, 0], tracker_id=[3, 4], data={"embedding": np.eye(2, 4, dtype=np.float32),
                                                 "global_id": np.array([7, -1]),
                                                 "analytics.dwell_seconds": np.array([1.5, np.nan])})
    message = annotated_message(incoming, tracks, {"people_count": 2, "analytics.events": "[]"})
    frame = message.as_video_frame()
    assert frame.content.get_data() == b"picture" and frame.codec == "h264" and frame.pts == 40_000_000
    assert frame.get_attribute("default", "location").values[0].as_string() == "/a.mp4"
    assert frame.get_attribute("default", "people_count").values[0].as_integer() == 2
    objects = sorted(frame.get_all_objects(), key=lambda o: o.track_id)
    assert [(o.namespace, o.label, o.track_id) for o in objects] == [("person_detector", "person", 3),
                                                                     ("person_detector", "person", 4)]
    assert set(objects[0].attributes) == {("person_reid", "embedding"), ("mtmc", "global_id"),
                                          ("analytics", "dwell_seconds")}
    assert set(objects[1].attributes) == {("person_reid", "embedding")}  # no id yet, no dwell
    decoded = decode_message(message)  # what `pyuniproc fusion` makes of it
    assert isinstance(decoded, FrameMessage)
    np.testing.assert_array_equal(decoded.tracks.tracker_id, [3, 4])
    np.testing.assert_array_equal(decoded.tracks.data["global_id"], [7, -1])
