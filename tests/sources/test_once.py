"""OneShotSource: what every camera source shares."""

import pytest

from pyuniproc.sources.once import OneShotSource


class Counting(OneShotSource):
    camera_id = "door"

    def _frames(self):
        n = 0
        while not self.stopped and n < 3:
            n += 1
            yield n


def test_frames_are_handed_out_once_and_stop_ends_them():
    source = Counting()
    frames = source.frames()
    assert next(frames) == 1
    with pytest.raises(RuntimeError, match="camera door: frames\\(\\) can be iterated only once"):
        source.frames()
    source.stop()
    source.stop()  # idempotent
    assert source.stopped and list(frames) == []
