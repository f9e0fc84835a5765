"""Which cameras get annotated video, and whether their recorder may hold the pipeline up.

Annotated video costs a host CPU encode (draw + x264) per recorded frame. On the CPU backend the
cameras are few and recording them all is the habit; on the GPU backend a run serves a hundred
cameras or more and the H100 has no video encoder (NVENC), so x264 for every camera would take the
host from the pipeline. Hence `annotated_video` (module YAML, `parameters.pyuniproc`) is the default
per camera, and each camera may say otherwise with `record: true|false` in the cameras file:

    annotated_video  true   every camera, except those with `record: false`
                     false  no camera, except those with `record: true`
                     auto   (default) true on the CPU backend, false on the GPU backend

`recording.when_behind` says what a recorder does when its encoder falls behind: "drop" skips
frames for the video only (counted), "wait" holds the pipeline until the encoder catches up (every
frame recorded), and "auto" (default) waits for offline cameras (files read as fast as they
decode: waiting only slows the run, no frame is lost anywhere) and drops for live ones (RTSP,
paced files: waiting would make the camera drop frames from the pipeline instead).
"""

from __future__ import annotations

from typing import Any

ANNOTATED_VIDEO_CHOICES = (True, False, "auto")


def check_annotated_video(value: Any) -> bool | str:
    """`value` if it is true, false or "auto", else ValueError quoting it."""
    if not (isinstance(value, bool) or value == "auto"):
        raise ValueError(f"expected true, false or auto, got {value!r}")
    return value


def record_by_default(annotated_video: bool | str, backend: str) -> bool:
    """Whether a camera without its own `record` setting is recorded, on a resolved backend ("cpu"/"gpu")."""
    check_annotated_video(annotated_video)
    if annotated_video == "auto":
        return backend != "gpu"
    return bool(annotated_video)


def resolve_when_behind(when_behind: str, *, live: bool | None) -> str:
    """"drop" or "wait" for one camera. `live`: the camera drops frames itself when the pipeline is
    behind (RTSP, a paced file); None (not known) counts as live, so the pipeline is never held up."""
    if when_behind == "auto":
        return "wait" if live is False else "drop"
    return when_behind
