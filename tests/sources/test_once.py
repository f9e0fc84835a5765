"""OneShotSource: what every camera source shares."""

import pytest

from pyuniproc.sources.once import OneShotSource, check_reading


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


@pytest.mark.parametrize(("arguments", "named"), [
    ((-1.0, None, 0), "start_seconds must be >= 0, got -1.0"),
    ((0.0, 0, 0), "max_frames must be None or an int >= 1, got 0"),
    ((0.0, None, -3), "first_index must be an int >= 0, got -3"),
])
def test_bad_reading_arguments_are_named(arguments, named):
    check_reading(0.0, None, 0)  # the defaults pass
    with pytest.raises(ValueError, match=named):
        check_reading(*arguments)
