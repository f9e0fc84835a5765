"""PyAV decoding of the pictures Savant's adapters send: every codec, B-frame reordering, damage reported."""

import numpy as np
import pytest
from savantkit import encode

from pyuniproc.serve.decode import DecodeError, StreamDecoder

NS = (1, 1_000_000_000)


def pictures(n: int = 6, width: int = 96, height: int = 64) -> list[np.ndarray]:
    """A bright bar moving right over grey: each picture differs, each decodes close to itself."""
    out = []
    for i in range(n):
        image = np.full((height, width, 3), 90, np.uint8)
        image[:, 8 * i:8 * i + 16] = (230, 40, 40)
        out.append(image)
    return out


def decode_all(decoder: StreamDecoder, stream) -> list:
    got = []
    for picture in stream:
        got.extend(decoder.decode(picture.data, picture.pts, picture.keyframe))
    return got + decoder.flush()


@pytest.mark.parametrize("codec", ["h264", "hevc", "jpeg", "png", "raw-rgba"])
def test_every_codec_decodes_to_rgb_pictures_with_their_pts(codec):
    source = pictures()
    stream = encode(source, codec)
    got = decode_all(StreamDecoder(codec, 96, 64, NS), stream)
    assert [p.pts for p in got] == [e.pts for e in sorted(stream, key=lambda e: e.pts)]
    for picture, original in zip(got, source, strict=True):
        assert picture.image.shape == (64, 96, 3) and picture.image.dtype == np.uint8
        assert np.abs(picture.image.astype(int) - original).mean() < 12  # lossy codecs stay close


def test_b_frames_come_out_in_presentation_order_with_the_pts_of_their_frame():
    stream = encode(pictures(10), "h264", bframes=2)
    assert [e.pts for e in stream] != sorted(e.pts for e in stream)  # sent in decode order
    got = decode_all(StreamDecoder("h264", 96, 64, NS), stream)
    assert [p.pts for p in got] == sorted(e.pts for e in stream)


def test_a_truncated_access_unit_is_reported_and_the_stream_goes_on():
    stream = encode(pictures(6), "h264")
    decoder = StreamDecoder("h264", 96, 64, NS)
    outcomes = []
    for i, picture in enumerate(stream):
        data = picture.data[: len(picture.data) // 2] if i == 3 else picture.data
        try:
            outcomes.append(len(decoder.decode(data, picture.pts, picture.keyframe)))
        except DecodeError as error:
            outcomes.append(error.reason)
    assert outcomes == [1, 1, 1, "decode_error", 1, 1]


@pytest.mark.parametrize("codec", ["jpeg", "png"])
def test_a_cut_image_is_truncated(codec):
    picture = encode(pictures(1), codec)[0]
    with pytest.raises(DecodeError) as error:
        StreamDecoder(codec, 96, 64, NS).decode(picture.data[:-40], 0)
    assert error.value.reason == "truncated"


@pytest.mark.parametrize(("size", "reason"), [(96 * 64 * 4 - 1, "truncated"),
                                              (96 * 64 * 4 + 4, "decode_error")])
def test_raw_pictures_must_have_the_size_of_the_frame(size, reason):
    with pytest.raises(DecodeError) as error:
        StreamDecoder("raw-rgba", 96, 64, NS).decode(b"\x00" * size, 0)
    assert error.value.reason == reason and str(size) in str(error.value)


def test_unknown_codecs_and_empty_pictures_are_refused():
    with pytest.raises(DecodeError) as error:
        StreamDecoder("vp9", 96, 64, NS)
    assert error.value.reason == "unsupported_codec"
    with pytest.raises(DecodeError) as error:
        StreamDecoder("h264", 96, 64, NS).decode(b"", 0)
    assert error.value.reason == "no_content"


def test_garbage_is_a_decode_error_not_a_crash():
    decoder = StreamDecoder("h264", 96, 64, NS)
    stream = encode(pictures(2), "h264")
    with pytest.raises(DecodeError):
        decoder.decode(b"\x00\x00\x00\x01" + bytes(range(256)) * 4, 0)
    assert len(decode_all(decoder, stream)) == 2
