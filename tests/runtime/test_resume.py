"""A restart into the same --out continues each camera's frame numbers and ids after what is written."""

import json

from pyuniproc.runtime.resume import ResumePoint, largest_frame_and_id, read_resume


def write(path, text):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def test_a_new_folder_starts_every_camera_at_zero(tmp_path):
    resume = read_resume(tmp_path / "never-written")
    assert resume.point("cam1") == ResumePoint(0, 0) and resume.largest_global_id == 0


def test_frames_and_ids_continue_after_the_largest_written(tmp_path):
    # an id larger than the last line's: the largest ever written counts, not the last
    rows = ("1,1", "2,7", "9,2")
    write(tmp_path / "mot" / "cam1.txt", "".join(f"{row},0,0,5,5,0.9,-1,-1,-1\n" for row in rows))
    write(tmp_path / "mot" / "cam2.txt", "4,3,0,0,5,5,0.9,-1,-1,-1\n12,99,0,0")  # cut by a killed run
    write(tmp_path / "mtmc" / "cam1.txt", "1,40,0,0,5,5,0.9,-1,-1,-1\n9,41,0,0,5,5,0.9,-1,-1,-1\n")
    # the summary knows of later frames without people (cam1) and of a camera without rows (cam3)
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


def test_large_files_are_read_in_chunks(tmp_path, monkeypatch):
    import pyuniproc.runtime.resume as resume

    monkeypatch.setattr(resume, "_CHUNK_BYTES", 7)  # lines split across many chunk boundaries
    path = tmp_path / "cam1.txt"
    path.write_text("".join(f"{f},{f % 5 + 1},0,0,1,1,1,-1,-1,-1\n" for f in range(1, 200)))
    assert largest_frame_and_id(path) == (199, 5)


def test_a_point_never_moves_backwards():
    assert ResumePoint(10, 4).after(last_frame=3, largest_track_id=9) == ResumePoint(10, 9)
