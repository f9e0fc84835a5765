"""Which cameras are recorded by default, and what a recorder does when its encoder is behind."""

import pytest

from pyuniproc.outputs.record_choice import check_annotated_video, record_by_default, resolve_when_behind


@pytest.mark.parametrize(
    ("annotated_video", "backend", "expected"),
    [
        (True, "cpu", True),
        (True, "gpu", True),  # asked for: recorded on the GPU backend too
        (False, "cpu", False),
        (False, "gpu", False),
        ("auto", "cpu", True),
        ("auto", "gpu", False),  # no video encoder on an H100: only cameras with record: true
    ],
)
def test_record_by_default(annotated_video, backend, expected):
    assert record_by_default(annotated_video, backend) is expected


@pytest.mark.parametrize(
    ("when_behind", "live", "expected"),
    [
        ("auto", False, "wait"),  # a file read as fast as it decodes: waiting loses nothing
        ("auto", True, "drop"),  # RTSP / paced: waiting would drop pipeline frames instead
        ("auto", None, "drop"),  # not known: never hold the pipeline up
        ("wait", True, "wait"),
        ("drop", False, "drop"),
    ],
)
def test_resolve_when_behind(when_behind, live, expected):
    assert resolve_when_behind(when_behind, live=live) == expected


@pytest.mark.parametrize("value", ["yes", 1, None, "Auto"])
def test_annotated_video_rejects_other_values(value):
    with pytest.raises(ValueError, match=f"expected true, false or auto, got {value!r}"):
        check_annotated_video(value)
