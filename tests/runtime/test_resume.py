"""A restart into the same --out continues each camera's frame numbers and ids after what is written."""

import json

from pyuniproc.runtime.resume import (
    ResumePoint,
    frame_in_source,
    largest_frame_and_id,
    numbering_summary,
    read_resume,
)


def write(path, text):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def mot_rows(*rows: str) -> str:
    return "".join(f"{row},0,0,5,5,0.9,-1,-1,-1\n" for row in rows)


def test_a_new_folder_starts_every_camera_at_zero(tmp_path):
    resume = read_resume(tmp_path / "never-written")
    assert resume.point("cam1") == ResumePoint() and resume.largest_global_id == 0


def test_the_summary_carries_the_numbering_from_run_to_run(tmp_path):
    points = {"cam1": ResumePoint(120, 9, (1, 61)), "gone": ResumePoint(40, 3, (1,))}
    write(tmp_path / "summary.json", json.dumps({"numbering": numbering_summary(points, 17)}))
    # rows written after that summary (a SIGKILL before the next one): the tail of the MOT file
    write(tmp_path / "mot" / "cam1.txt", mot_rows("119,9", "121,10", "122,10"))
    write(tmp_path / "mtmc" / "cam1.txt", mot_rows("122,18"))
    resume = read_resume(tmp_path)
    assert resume.point("cam1") == ResumePoint(122, 10, (1, 61))
    # a camera missing from the next run's cameras file keeps its place
    assert resume.point("gone") == ResumePoint(40, 3, (1,))
    assert resume.largest_global_id == 18


def test_a_folder_from_before_the_numbering_is_read_whole(tmp_path):
    # an id larger than the last line's: the largest ever written counts, not the last
    write(tmp_path / "mot" / "cam1.txt", mot_rows("1,1", "2,7", "9,2"))
    write(tmp_path / "mot" / "cam2.txt", mot_rows("4,3") + "12,99,0,0")  # cut by a killed run
    write(tmp_path / "mtmc" / "cam1.txt", mot_rows("1,40", "9,41"))
    # the old summary knows of later frames without people (cam1) and of a camera without rows (cam3)
    summary = {"cameras": {"cam1": {"last_frame": 15}, "cam3": {"last_frame": 30}, "cam4": {}}}
    write(tmp_path / "summary.json", json.dumps(summary))
    resume = read_resume(tmp_path)
    assert resume.point("cam1") == ResumePoint(first_frame_index=15, track_id_offset=7)
    assert resume.point("cam2") == ResumePoint(first_frame_index=4, track_id_offset=3)  # cut line ignored
    assert resume.point("cam3") == ResumePoint(first_frame_index=30, track_id_offset=0)
    assert resume.point("cam4") == ResumePoint() and resume.largest_global_id == 41


def test_a_damaged_summary_or_odd_lines_do_not_stop_a_restart(tmp_path):
    write(tmp_path / "summary.json", "{not json")
    write(tmp_path / "mot" / "cam1.txt", "frame,id,x\n3,2,0,0,1,1,1,-1,-1,-1\n\n")
    assert read_resume(tmp_path).point("cam1") == ResumePoint(3, 2)


def test_large_files_are_read_in_chunks_or_by_their_tail(tmp_path, monkeypatch):
    import pyuniproc.runtime.resume as resume

    monkeypatch.setattr(resume, "_CHUNK_BYTES", 7)  # lines split across many chunk boundaries
    path = tmp_path / "cam1.txt"
    path.write_text("".join(f"{f},{f % 5 + 1},0,0,1,1,1,-1,-1,-1\n" for f in range(1, 200)))
    assert largest_frame_and_id(path) == (199, 5)
    # the last 60 bytes start inside a line: that cut line is not read as frame "5" or so
    assert largest_frame_and_id(path, tail_bytes=60) == (199, 5)
    assert largest_frame_and_id(path, tail_bytes=10**6) == (199, 5)


def test_points_never_move_backwards_and_record_where_the_source_began():
    point = ResumePoint(10, 4).after(last_frame=3, largest_track_id=9)
    assert point == ResumePoint(10, 9)
    assert point.started() == ResumePoint(10, 9, (11,))


def test_frame_numbers_map_back_to_the_frame_of_their_runs_source():
    starts = (1, 13, 18)  # runs of 12, 5 and 3 frames
    assert frame_in_source(1, starts) == (0, 0)
    assert frame_in_source(12, starts) == (0, 11)
    assert frame_in_source(13, starts) == (1, 0)
    assert frame_in_source(20, starts) == (2, 2)
    assert frame_in_source(7, ()) == (0, 6)  # one run, numbered from 1
