"""H.264 MPEG-TS clips cut from the sample footage, for the RTSP server of the chaos tests.

Encoded once per test session with PyAV (libx264, no B-frames, a keyframe every second so a
reconnecting client decodes within a second). Small frames keep the server and the decoders cheap
on a 2-core CI machine; the detector resizes to its own input anyway.
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av

VTEST = Path(__file__).resolve().parents[2] / "samples" / "vtest" / "vtest.avi"


def make_ts(
    path: Path, segments: list[tuple[int, int, int]], *, fps: int = 10, repeat: int = 1, source: Path = VTEST
) -> Path:
    """Write `path`: for each (frames, width, height) segment the next frames of `source` at that size.

    A later segment of another size is a resolution switch mid-stream (new SPS/PPS at its first
    keyframe, as a camera sends after its resolution was changed). `repeat` plays the encoded
    packets that many times back to back (long clips for the soak, encoded only once).
    """
    packets: list[tuple[bytes, int, bool]] = []  # (data, pts in frames, keyframe)
    with av.open(str(source)) as src:
        decoded = src.decode(video=0)
        start = 0
        for count, width, height in segments:
            codec = av.CodecContext.create("libx264", "w")
            codec.width, codec.height, codec.pix_fmt = width, height, "yuv420p"
            codec.time_base = Fraction(1, fps)
            codec.framerate = Fraction(fps, 1)
            # One slice per picture: PyAV's default slice threading cuts each picture in two, and a
            # camera client then decodes each half of a keyframe as a frame of its own.
            codec.thread_type, codec.thread_count = "NONE", 1
            codec.options = {"preset": "veryfast", "g": str(fps), "bf": "0", "crf": "26"}
            for i in range(count):
                frame = next(decoded).reformat(width=width, height=height, format="yuv420p")
                frame.pts, frame.time_base = i, codec.time_base
                for packet in codec.encode(frame):
                    packets.append((bytes(packet), start + packet.pts, packet.is_keyframe))
            for packet in codec.encode(None):
                packets.append((bytes(packet), start + packet.pts, packet.is_keyframe))
            start += count
    first_width, first_height = segments[0][1], segments[0][2]
    with av.open(str(path), "w", format="mpegts") as out:
        stream = out.add_stream("h264", rate=fps)
        stream.width, stream.height = first_width, first_height
        stream.time_base = Fraction(1, 90000)
        step = 90000 // fps
        for loop in range(repeat):
            for data, pts, key in packets:
                packet = av.Packet(data)
                packet.stream = stream
                packet.pts = packet.dts = (loop * start + pts) * step + 90000  # start at 1 s, as cameras do
                packet.time_base = stream.time_base
                packet.is_keyframe = key
                out.mux(packet)
    return path
