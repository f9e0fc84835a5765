"""`pyuniproc report`: one self-contained HTML page from a real run; the mosaic of the same run."""

from __future__ import annotations

import argparse
import base64
import csv
import json
import re
import xml.etree.ElementTree as ET
from dataclasses import replace
from html.parser import HTMLParser
from pathlib import Path

import av
import numpy as np
import pytest

from pyuniproc.config.cameras import load_cameras
from pyuniproc.config.module import load_module_config
from pyuniproc.outputs import MosaicRecorder
from pyuniproc.outputs.draw import color_for_id
from pyuniproc.report import command, load_run, write_report
from pyuniproc.runtime.pipeline import Pipeline, RunOptions
from pyuniproc.types import Detections, Frame

MODULE = Path(__file__).resolve().parents[2] / "module" / "module.yml"

VOID = {"meta", "img", "br", "hr", "input", "link", "col", "area", "base", "source", "wbr"}
SVG_LEAVES = {"rect", "line", "circle", "path", "polyline", "polygon", "ellipse", "stop", "use"}


class TagChecker(HTMLParser):
    """Every opened element is closed, in order (outside void elements and self-closed SVG shapes)."""

    def __init__(self) -> None:
        super().__init__()
        self.stack: list[str] = []
        self.errors: list[str] = []

    def handle_starttag(self, tag, attrs):
        if tag not in VOID:
            self.stack.append(tag)

    def handle_startendtag(self, tag, attrs):
        pass

    def handle_endtag(self, tag):
        if not self.stack or self.stack[-1] != tag:
            self.errors.append(f"</{tag}> closes <{self.stack[-1] if self.stack else None}>")
        else:
            self.stack.pop()


def global_ids(run) -> set[int]:
    with open(run / "tracks.csv", newline="") as f:
        return {int(row["global_id"]) for row in csv.DictReader(f) if row["global_id"]}


@pytest.fixture(scope="module")
def page(small_run, small_scenario):
    path = write_report(small_run, gt=small_scenario)
    return path, path.read_text()


def test_report_is_valid_self_contained_html(page):
    path, html = page
    assert path.name == "report.html" and html.startswith("<!doctype html>")
    checker = TagChecker()
    checker.feed(html)
    assert checker.errors == [] and checker.stack == []
    assert "<script" not in html
    # Nothing fetched: the only URL is the SVG namespace; every image is inline.
    assert set(re.findall(r"https?://[^\"' )]+", html)) <= {"http://www.w3.org/2000/svg"}
    assert all(src.startswith("data:image/jpeg;base64,") for src in re.findall(r'src="([^"]+)"', html))


def test_report_shows_every_identity_and_camera_with_svg_and_thumbnails(page, small_run):
    _, html = page
    ids = global_ids(small_run)
    assert ids, "the run gave no global ids"
    for gid in ids:
        assert f'id="id-{gid}"' in html and f">g{gid}<" in html
    for camera in ("cam1", "cam2"):
        assert f">{camera}<" in html
    svgs = re.findall(r"<svg.*?</svg>", html, flags=re.S)
    assert len(svgs) == 2
    for svg in svgs:
        ET.fromstring(svg)  # well-formed XML
    thumbnails = re.findall(r"data:image/jpeg;base64,([A-Za-z0-9+/=]+)", html)
    assert len(thumbnails) >= len(ids)
    assert all(base64.b64decode(t)[:2] == b"\xff\xd8" for t in thumbnails)
    assert "multi-camera IDF1" in html and "HOTA" in html


def test_visits_handovers_and_covisibility_from_tracks_csv(tmp_path):
    (tmp_path / "cameras.yml").write_text(
        "cameras:\n  - {id: a, uri: a.mp4}\n  - {id: b, uri: b.mp4}\n  - {id: c, uri: c.mp4}\n"
        "topology:\n  links:\n    - {from: a, to: b, min_seconds: 2, max_seconds: 9}\n"
        "  overlaps:\n    - [b, c]\n"
    )
    rows = ["camera_id,frame,pts_seconds,track_id,global_id,x1,y1,x2,y2,confidence"]
    rows += [f"a,{i},{i / 10:.1f},1,7,0,0,10,30,0.9" for i in range(1, 11)]  # 0.1-1.0 s in a
    rows += [f"b,{i},{i / 10:.1f},2,7,0,0,10,30,0.9" for i in range(50, 71)]  # 5.0-7.0 s in b
    rows += [f"c,{i},{i / 10:.1f},3,7,0,0,10,30,0.9" for i in range(60, 81)]  # 6.0-8.0 s in c, seen in b too
    rows += [f"a,{i},{i / 10:.1f},9,,0,0,10,30,0.9" for i in range(1, 4)]  # no global id
    (tmp_path / "tracks.csv").write_text("\n".join(rows) + "\n")
    data = load_run(tmp_path, tmp_path / "cameras.yml")
    assert data.camera_ids == ["a", "b", "c"] and data.unassigned_rows == 3
    [identity] = data.identities
    assert [(v.camera_id, v.start, v.end) for v in identity.visits] == [
        ("a", 0.1, 1.0),
        ("b", 5.0, 7.0),
        ("c", 6.0, 8.0),
    ]
    [handover] = data.handovers
    assert (handover.from_camera, handover.to_camera, handover.travel_seconds) == (
        "a",
        "b",
        pytest.approx(4.0),
    )
    assert data.edge("a", "b").median == pytest.approx(4.0) and data.covisible == {("b", "c"): 1}


def test_cli_writes_where_asked_and_reports_a_missing_run(small_run, tmp_path, capsys):
    parser = argparse.ArgumentParser(prog="pyuniproc")
    command.register(parser.add_subparsers())
    args = parser.parse_args(
        ["report", "--run", str(small_run), "--out", str(tmp_path / "r.html"), "--thumbnails", "0"]
    )
    assert args.func(args) == 0 and (tmp_path / "r.html").is_file()
    assert "Not scored" in (tmp_path / "r.html").read_text()  # no --gt: no metrics table
    missing = parser.parse_args(["report", "--run", str(tmp_path / "nope")])
    assert missing.func(missing) == 2 and "tracks.csv" in capsys.readouterr().err


def test_the_report_shows_the_scores_it_is_given_and_lists_every_result(small_run, small_scenario, tmp_path,
                                                                         capsys):
    """What `make demo` does: `pyuniproc eval --json eval.json`, then `report --metrics eval.json`."""
    scores = tmp_path / "eval.json"
    scores.write_text(json.dumps(command.score(small_run, small_scenario)))
    parser = argparse.ArgumentParser(prog="pyuniproc")
    command.register(parser.add_subparsers())
    args = parser.parse_args(["report", "--run", str(small_run), "--out", str(tmp_path / "report.html"),
                              "--metrics", str(scores), "--thumbnails", "0"])
    assert args.func(args) == 0
    html = (tmp_path / "report.html").read_text()
    assert "Not scored" not in html and "multi-camera IDF1" in html
    results = capsys.readouterr().out.split("results:\n")[1]
    for name, path in (("tracks", small_run / "tracks.csv"), ("mosaic", small_run / "video" / "mosaic.mp4"),
                       ("eval", scores), ("report", tmp_path / "report.html")):
        assert f"  {name:<10} {path}\n" in results


def test_the_run_recorded_a_mosaic_of_both_cameras(small_run):
    with av.open(str(small_run / "video" / "mosaic.mp4")) as container:
        frames = [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]
    assert len(frames) == 100  # the scene's 10 s at 10 pictures/s, however fast the run went
    assert frames and frames[-1].shape == (180, 640, 3)  # two 320x180 tiles side by side
    assert frames[-1][:, :320].any() and frames[-1][:, 320:].any()


def test_mosaic_boxes_take_the_colour_of_their_global_id_in_every_tile(tmp_path):
    mosaic = MosaicRecorder(tmp_path, ["cam1", "cam2"], width=640, start=False)
    image = np.full((180, 320, 3), 40, np.uint8)
    for camera, track_id in (("cam1", 3), ("cam2", 11)):  # one person, two local ids, one global id 5
        tracks = Detections([[100, 40, 160, 160]], [0.9], [0], [track_id], data={"global_id": np.array([5])})
        mosaic.on_frame(Frame(camera, 0, 0.0, image), tracks)
    grid = mosaic.render()
    mosaic.close()
    for left in (0, 320):  # the box's left edge, away from its tag, in each tile
        assert tuple(grid[120, left + 100]) == color_for_id(5)
    assert color_for_id(5) != color_for_id(3) and color_for_id(5) != color_for_id(11)


def test_thumbnails_of_a_folder_two_runs_appended_to_come_from_each_runs_own_frames(
    small_scenario, tmp_path
):
    """The second run numbers its frames 61-120 but reads the clip from its start again: its
    thumbnails must be cut from source frames 0-59, as the numbering in summary.json says."""
    from pyuniproc.report.thumbs import crop_box, encode_jpeg, make_thumbnails
    from pyuniproc.sources import CameraSource

    module = load_module_config(MODULE)
    runtime = module.runtime
    telemetry = replace(runtime.telemetry, metrics=replace(runtime.telemetry.metrics, enabled=False))
    module = replace(
        module,
        runtime=replace(runtime, telemetry=telemetry, annotated_video=False),
        fusion=replace(module.fusion, min_embeddings=1, decision_seconds=0.5),
    )
    site = load_cameras(small_scenario / "cameras.yml")
    for _ in range(2):
        options = RunOptions(out_dir=tmp_path, progress=False, watch_module=False, max_frames=60)
        Pipeline(module, site, options).run()
    data = load_run(tmp_path, small_scenario / "cameras.yml")
    thumbs = [t for items in make_thumbnails(data, per_identity=12).values() for t in items]
    second_run = [t for t in thumbs if t.frame > 60]
    assert second_run and all(t.frame <= 120 for t in thumbs)
    rows = list(csv.DictReader((tmp_path / "tracks.csv").open()))
    specs = {camera.id: camera for camera in site.cameras}
    for thumb in second_run[:4]:
        key = (thumb.camera_id, thumb.frame, str(thumb.global_id))
        row = next(r for r in rows if (r["camera_id"], int(r["frame"]), r["global_id"]) == key)
        box = tuple(float(row[k]) for k in ("x1", "y1", "x2", "y2"))
        spec = specs[thumb.camera_id]
        source = CameraSource(
            spec.id, spec.uri, start_seconds=spec.start_seconds, max_frames=thumb.frame - 60
        )
        image = list(source.frames())[-1].image  # source frame thumb.frame - 61 (0-based)
        assert thumb.jpeg_base64 == encode_jpeg(crop_box(image, box), 96, 80)
