"""URI classification and redaction, as tables of examples."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from pyuniproc.sources.uri import (
    RedactingFilter,
    SourceKind,
    is_live_uri,
    list_images,
    parse_uri,
    redact_text,
    redact_uri,
)


@pytest.mark.parametrize(
    ("uri", "kind", "target", "av_format"),
    [
        ("samples/vtest/vtest.avi", SourceKind.FILE, "samples/vtest/vtest.avi", None),
        ("missing/clip.mp4", SourceKind.FILE, "missing/clip.mp4", None),
        ("file:///data/cam%201.mp4", SourceKind.FILE, "/data/cam 1.mp4", None),
        ("rtsp://user:pw@10.0.0.7:554/stream1", SourceKind.RTSP, "rtsp://user:pw@10.0.0.7:554/stream1", None),
        ("RTSPS://cam/live", SourceKind.RTSP, "RTSPS://cam/live", None),
        ("tcp://127.0.0.1:9000", SourceKind.STREAM, "tcp://127.0.0.1:9000", None),
        ("udp://0.0.0.0:5000", SourceKind.STREAM, "udp://0.0.0.0:5000", None),
        ("https://example.com/live.m3u8", SourceKind.STREAM, "https://example.com/live.m3u8", None),
        ("/dev/video0", SourceKind.WEBCAM, "/dev/video0", "v4l2"),
        ("webcam:2", SourceKind.WEBCAM, "/dev/video2", "v4l2"),
    ],
)
def test_parse_uri_classifies(uri: str, kind: SourceKind, target: str, av_format: str | None) -> None:
    parsed = parse_uri(uri)
    assert (parsed.kind, parsed.target, parsed.av_format) == (kind, target, av_format)
    assert parsed.is_live == (kind in (SourceKind.RTSP, SourceKind.STREAM, SourceKind.WEBCAM))


def test_existing_folder_is_an_image_source(tmp_path: Path) -> None:
    assert parse_uri(str(tmp_path)).kind is SourceKind.IMAGES


@pytest.mark.parametrize("uri", ["", "   ", None])
def test_parse_uri_rejects_empty(uri: object) -> None:
    with pytest.raises(ValueError, match="non-empty"):
        parse_uri(uri)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("uri", "redacted"),
    [
        ("rtsp://user:secret@host:554/path", "rtsp://***@host:554/path"),
        ("rtsp://admin:p@ss@cam7/live", "rtsp://***@cam7/live"),  # raw '@' in the password
        ("rtsp://onlyuser@host/path", "rtsp://***@host/path"),
        ("http://host/live?token=abc123&ch=1", "http://host/live?token=***&ch=1"),
        (
            "http://host/x?ch=1&PASSWORD=hunter2&pwd=x&key=k&pass=p",
            "http://host/x?ch=1&PASSWORD=***&pwd=***&key=***&pass=***",
        ),
        ("rtsp://host/path?channel=1", "rtsp://host/path?channel=1"),
        ("samples/vtest/vtest.avi", "samples/vtest/vtest.avi"),
        ("/dev/video0", "/dev/video0"),
    ],
)
def test_redact_uri(uri: str, redacted: str) -> None:
    assert redact_uri(uri) == redacted


def test_repr_of_a_parsed_uri_hides_credentials() -> None:
    parsed = parse_uri("rtsp://user:secret@host/x?token=tok123")
    assert "secret" not in repr(parsed) and "tok123" not in repr(parsed)
    assert parsed.redacted == "rtsp://***@host/x?token=***"


def test_redact_text_scrubs_ffmpeg_messages() -> None:
    uri = "rtsp://admin:s3cr3t%40x@10.0.0.7/live?token=tok123"
    message = f"[Errno 111] Connection refused: '{uri}' (auth s3cr3t@x, other rtsp://u:pw99@h/ ok)"
    text = redact_text(message, uri)
    for secret in ("s3cr3t", "tok123", "pw99", "admin"):
        assert secret not in text
    assert "rtsp://***@10.0.0.7/live?token=***" in text


def test_list_images_sorts_naturally_and_filters_extensions(tmp_path: Path) -> None:
    for name in ["img10.png", "img2.JPG", "img1.bmp", "notes.txt", "img3.jpeg"]:
        (tmp_path / name).write_bytes(b"")
    assert [Path(p).name for p in list_images(str(tmp_path))] == [
        "img1.bmp",
        "img2.JPG",
        "img3.jpeg",
        "img10.png",
    ]


def test_redacting_filter_scrubs_foreign_log_records() -> None:
    record = logging.LogRecord(
        "libav.tcp",
        logging.WARNING,
        __file__,
        1,
        "Connection to %s failed",
        ("tcp://u:pw123@h:1?token=t0k",),
        None,
    )
    assert RedactingFilter().filter(record)
    assert record.getMessage() == "Connection to tcp://***@h:1?token=*** failed"


@pytest.mark.parametrize(("uri", "live"), [
    ("rtsp://user:pw@10.0.0.7:554/stream1", True),
    ("samples/vtest/vtest.avi", False),
    ("", False),  # not a URI: a source would report it, the question has an answer
])
def test_is_live_uri(uri, live):
    assert is_live_uri(uri) is live
