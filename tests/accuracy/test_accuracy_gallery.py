"""The accuracy page's gallery: the largest global ids, a crop per camera (per GT person where several
people were merged), wrong merges counted over every id."""

from __future__ import annotations

import numpy as np

from pyuniproc.ablation.replay import Replay
from pyuniproc.ablation.stream import TrackStream
from pyuniproc.accuracy.gallery import identity_gallery, render_gallery


def stream_of(frames_per_camera: int = 5) -> TrackStream:
    """Two cameras, frames at 10 fps, no rows (the gallery reads only the frames' times)."""
    n = 2 * frames_per_camera
    return TrackStream(
        camera_ids=("cam1", "cam2"),
        frame_camera=np.repeat([0, 1], frames_per_camera).astype(np.int16),
        frame_index=np.tile(np.arange(frames_per_camera), 2).astype(np.int64),
        frame_pts=np.tile(np.arange(frames_per_camera) / 10, 2),
        frame_start=np.zeros(n + 1, np.int64),
        xyxy=np.zeros((0, 4), np.float32),
        confidence=np.zeros(0, np.float32),
        tracker_id=np.zeros(0, np.int64),
        quality=np.zeros(0, np.float32),
        embedding_row=np.zeros(0, np.int64),
        embeddings=np.zeros((0, 4), np.float32),
        meta={},
    )


def rows(gid: int, frames: range, width: float = 10.0) -> np.ndarray:
    """(n, 6) frame (1-based), global id, x, y, w, h; the box is largest at frame 3."""
    sizes = [width + 3 - abs(f - 3) for f in frames]
    return np.array([[f, gid, 10.0 * f, 20.0, w, 2 * w] for f, w in zip(frames, sizes, strict=True)])


def replay_of(online: dict[str, list[tuple[np.ndarray, int]]]) -> Replay:
    """online: camera -> [(rows, local track id)]."""
    tables = {c: np.concatenate([r for r, _ in parts]) for c, parts in online.items()}
    tracks = {c: np.concatenate([np.full(len(r), t) for r, t in parts]).astype(np.int64)
              for c, parts in online.items()}
    return Replay(tables, tables, tracks)


def test_largest_ids_first_with_a_crop_per_camera_and_per_merged_person():
    done = replay_of({
        "cam1": [(rows(7, range(1, 6)), 1), (rows(8, range(1, 3)), 3)],
        "cam2": [(rows(7, range(1, 4)), 2), (rows(7, range(4, 6), width=14.0), 5), (rows(9, range(1, 2)), 6)],
    })
    owners = {("cam1", 1): 100, ("cam2", 2): 100, ("cam2", 5): 200, ("cam1", 3): 300}  # track 6: nobody
    gallery = identity_gallery(stream_of(), done, owners, top=2)
    assert gallery["identities"] == 3 and gallery["wrong_merges"] == 1
    first, second = gallery["ids"]
    assert (first["global_id"], first["rows"], first["wrong_merge"]) == (7, 10, True)
    assert first["people"] == [100, 200]
    shots = [(s["camera"], s["person"], s["track"], s["rows"]) for s in first["cameras"]]
    assert shots == [("cam1", 100, 1, 5), ("cam2", 100, 2, 3), ("cam2", 200, 5, 2)]
    assert first["cameras"][0]["pts"] == 0.2 and first["cameras"][0]["box"] == [30.0, 20.0, 43.0, 46.0]
    assert (second["global_id"], second["wrong_merge"], second["people"]) == (8, False, [300])


def test_the_html_marks_the_merge_and_inlines_each_crop():
    done = replay_of({"cam1": [(rows(7, range(1, 6)), 1)], "cam2": [(rows(7, range(1, 6)), 2)]})
    gallery = identity_gallery(stream_of(), done, {("cam1", 1): 100, ("cam2", 2): 200})
    thumbs = {(7, s["camera"], s["frame"]): "AAAA" for s in gallery["ids"][0]["cameras"]}
    html = render_gallery(301, gallery, thumbs)
    assert '<div class="gid bad">' in html and "wrong merge: GT 100 + GT 200" in html
    assert html.count('src="data:image/jpeg;base64,AAAA"') == 2
    assert "cam1 · 0.2 s · GT 100" in html and "cam2 · 0.2 s · GT 200" in html
    assert "1 of all ids hold rows of more than one GT person's tracks" in html
    assert render_gallery(301, None, {}) == ""
