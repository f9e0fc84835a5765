"""FrameHub: nothing kept or encoded while nobody watches; encoding capped per camera; tiles drawn."""

import cv2
import numpy as np
import pytest
from viewkit import frame, tracks

from pyuniproc.outputs.draw import color_for_id
from pyuniproc.view import FrameHub, encode_tile


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock():
    return FakeClock()


def test_without_viewers_frames_are_neither_kept_nor_encoded(clock):
    hub = FrameHub(["cam1"], clock=clock)
    for i in range(200):
        hub.on_frame(frame("cam1", i), tracks())
        clock.now += 0.1
    assert hub.tile("cam1") is None
    assert hub.encodes("cam1") == 0
    assert not hub.watched("cam1")


def test_frames_of_unknown_cameras_are_ignored(clock):
    hub = FrameHub(["cam1"], clock=clock)
    hub.on_frame(frame("elsewhere", 0), None)
    assert "elsewhere" not in hub


def test_a_stream_keeps_the_newest_frame_of_its_camera_only(clock):
    hub = FrameHub(["cam1", "cam2"], clock=clock)
    with hub.watching("cam1"):
        assert hub.viewers() == 1
        hub.on_frame(frame("cam1", 7), tracks())
        hub.on_frame(frame("cam2", 7), tracks())
        tile = hub.tile("cam1")
        assert tile is not None and tile.frame_index == 7 and tile.jpeg[:2] == b"\xff\xd8"
        assert hub.tile("cam2") is None
    assert hub.viewers() == 0
    clock.now += 10
    hub.on_frame(frame("cam1", 8), tracks())  # nobody watches any more: not kept
    assert hub.tile("cam1").frame_index == 7
    assert hub.encodes("cam1") == 1


@pytest.mark.parametrize("max_fps, viewers", [(5.0, 1), (5.0, 3), (2.0, 2), (10.0, 1)])
def test_encoding_is_capped_per_camera_however_many_viewers(clock, max_fps, viewers):
    hub = FrameHub(["cam1"], max_fps=max_fps, clock=clock)
    seconds, camera_fps = 4.0, 25
    with hub.watching("cam1"):
        for i in range(int(seconds * camera_fps)):
            hub.on_frame(frame("cam1", i), tracks())
            for _ in range(viewers):  # every viewer asks after every frame: the worst case
                hub.tile("cam1")
            clock.now += 1 / camera_fps
    assert hub.encodes("cam1") <= seconds * max_fps + 1
    assert hub.encodes("cam1") >= seconds * min(max_fps, camera_fps) - 1  # capped, not starved


def test_polls_that_fall_just_before_a_slot_still_get_nearly_max_fps(clock):
    hub = FrameHub(["cam1"], max_fps=5.0, clock=clock)
    with hub.watching("cam1"):
        for i in range(200):  # 20 s of 10 fps frames, a poll after each, 0-30 ms late
            hub.on_frame(frame("cam1", i), tracks())
            clock.now += (i * 7919 % 31) / 1000
            hub.tile("cam1")
            clock.now += 0.1 - (i * 7919 % 31) / 1000
    assert 5 * 20 - 2 <= hub.encodes("cam1") <= 5 * 20 + 1


def test_viewers_share_one_encode_and_nothing_new_means_no_encode(clock):
    hub = FrameHub(["cam1"], clock=clock)
    with hub.watching("cam1"), hub.watching("cam1"):
        hub.on_frame(frame("cam1", 1), tracks())
        first, second = hub.tile("cam1"), hub.tile("cam1")
        assert first is second
        clock.now += 60  # a dead camera: time passes, no frame comes
        assert hub.tile("cam1") is first
    assert hub.encodes("cam1") == 1


def test_a_snapshot_poll_keeps_frames_for_the_lease_only(clock):
    hub = FrameHub(["cam1"], lease_seconds=2.0, clock=clock)
    hub.touch("cam1")
    hub.on_frame(frame("cam1", 1), tracks())
    assert hub.tile("cam1").frame_index == 1
    clock.now += 2.5
    hub.on_frame(frame("cam1", 2), tracks())
    assert hub.tile("cam1").frame_index == 1


def test_closing_tells_streams_to_end():
    hub = FrameHub(["cam1"])
    assert not hub.closed
    hub.close()
    assert hub.closed


@pytest.mark.parametrize("option, value", [("max_fps", 0), ("max_width", 8), ("jpeg_quality", 101),
                                           ("lease_seconds", -1)])
def test_bad_options_are_rejected_with_their_value(option, value):
    with pytest.raises(ValueError, match=f"{option}.*{value}"):
        FrameHub(["cam1"], **{option: value})


def decode(jpeg: bytes) -> np.ndarray:
    return cv2.cvtColor(cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)


def test_tiles_are_scaled_down_to_max_width():
    big = frame("cam1", 0, width=768, height=576)
    image = decode(encode_tile(big, tracks(), max_width=320))
    assert image.shape == (240, 320, 3)


@pytest.mark.parametrize("global_ids, colour_id", [(None, 5), ([3], 3), ([-1], 5)])
def test_boxes_take_the_colour_of_the_global_id_when_there_is_one(global_ids, colour_id):
    picture = frame("cam1", 0, width=720, height=720)  # lines 2 px wide at this size
    picture.image[:] = 0
    image = decode(encode_tile(picture, tracks((100, 100, 400, 600, 5), global_ids=global_ids),
                               max_width=720, quality=95))
    edge = image[300:500, 99:102].reshape(-1, 3).astype(int)  # the box's left edge, below its label
    expected = np.array(color_for_id(colour_id))
    assert np.abs(np.median(edge, axis=0) - expected).max() < 60, (np.median(edge, axis=0), expected)


def test_a_camera_added_while_running_gets_a_tile_slot_with_its_first_frame():
    from pyuniproc.view import LiveView

    view = LiveView(["door1"], tile_fps=5.0)
    assert "door2" not in view.hub
    view.on_frame(frame("door2", 0, width=160, height=120), tracks((20, 20, 80, 100, 1)), [])
    assert view.hub.camera_ids == ["door1", "door2"]
    with view.hub.watching("door2"):
        view.on_frame(frame("door2", 1, width=160, height=120), tracks((20, 20, 80, 100, 1)), [])
        assert view.hub.tile("door2") is not None
