"""The live view in a real headless Chromium, against a running pipeline on the sample footage.

Three cameras, paced in real time: cam1 and cam2 read vtest.avi (looping; cam2 30 s later in the
clip), cam3 is a live MPEG-TS camera on a local TCP server that the last test kills. The tests
share one run and one page, and run in file order: tiles, state panel, then the dead camera.
The first test covers a site with more cameras than MJPEG streams a browser can hold open (fed
synthetic frames, no pipeline): its tiles are polled snapshots.
"""

from __future__ import annotations

import json
import os
import shutil
import threading
import time
import urllib.request
from dataclasses import fields, replace
from pathlib import Path

import cv2
import pytest
from cdpkit import Browser, find_chromium
from starlette.applications import Starlette
from viewkit import VTEST, LiveTsServer, change, frame, is_picture, region, tracks, vtest_mpegts

from pyuniproc.config.cameras import load_cameras
from pyuniproc.config.module import load_module_config
from pyuniproc.runtime.pipeline import Pipeline, RunOptions
from pyuniproc.sources import Backoff
from pyuniproc.view import LiveView, ViewServer, serve_view

CHROMIUM = find_chromium()
pytestmark = pytest.mark.skipif(
    CHROMIUM is None, reason="chromium is not installed (scripts/system-deps.sh installs the Debian package)"
)
MODULE = Path(__file__).resolve().parents[2] / "module" / "module.yml"
CAMERAS = ("cam1", "cam2", "cam3")
SCREENSHOT_ENV = "PYUNIPROC_VIEW_SCREENSHOT"  # also save the last screenshot there (for a person to look at)

TILES_JS = """JSON.stringify(Object.fromEntries([...document.querySelectorAll('.tile')].map(t => {
  const r = t.querySelector('img').getBoundingClientRect();
  return [t.dataset.camera, {state: t.dataset.state, stale: t.classList.contains('stale'),
    picture: !t.querySelector('img').classList.contains('empty'),
    overlay: getComputedStyle(t.querySelector('.overlay')).display !== 'none'
      ? t.querySelector('.overlay').textContent : null,
    stats: t.querySelector('.stats').textContent, frames: Number(t.dataset.framesProcessed || 0),
    rect: {x: r.x, y: r.y, width: r.width, height: r.height}}];
})))"""


def tiles(browser: Browser) -> dict:
    return json.loads(browser.evaluate(TILES_JS))


def cameras_file(folder: Path, live_url: str) -> Path:
    line = "lines: [{name: crossing, points: [[0, 330], [768, 330]]}]"
    path = folder / "cameras.yml"
    path.write_text(
        "site: view-test\ncameras:\n"
        f"  - {{id: cam1, uri: '{VTEST}', realtime: true, loop: true, {line}}}\n"
        f"  - {{id: cam2, uri: '{VTEST}', realtime: true, loop: true, start_seconds: 30, {line}}}\n"
        f"  - {{id: cam3, uri: '{live_url}'}}\n"
    )
    return path


@pytest.fixture(scope="module")
def live(tmp_path_factory):
    """A running pipeline with the view on a free port, its cam3 server, and a page open on it."""
    folder = tmp_path_factory.mktemp("view")
    camera = LiveTsServer(vtest_mpegts(frames=300), duration_seconds=30.0)
    module = load_module_config(MODULE)
    # Spare the CPU (three real-time cameras on a small box): no video recording, and no ReID /
    # fusion, which also keeps the transitions panel in its empty state for the check below.
    appearance = {name: None for name in ("reid", "fusion") if name in {f.name for f in fields(module)}}
    module = replace(module, runtime=replace(module.runtime, annotated_video=False), **appearance)
    site = load_cameras(cameras_file(folder, camera.url))
    pipeline = Pipeline(module, site, RunOptions(out_dir=folder / "out", progress=False, watch_module=False,
                                                 max_seconds=120))
    # The run's cameras reconnect forever by default (a live camera that goes away reads
    # "connecting"); give cam3 up after two refused reconnects so the kill ends in "dead".
    pipeline._cameras["cam3"].worker.source.backoff = Backoff(initial_seconds=0.1, max_seconds=0.2,
                                                              max_attempts=2)
    server = serve_view(pipeline, host="127.0.0.1", port=0, tile_fps=5.0)
    thread = threading.Thread(target=pipeline.run, name="pipeline", daemon=True)
    thread.start()
    browser = Browser(CHROMIUM, width=1600, height=900)
    try:
        browser.goto(server.view_url)
        yield pipeline, server, camera, browser, folder
    finally:
        browser.close()
        pipeline.stop()
        thread.join(20)
        camera.kill()


def feed_frames(view: LiveView, cameras: list[str], stop: threading.Event, *, summaries: bool = False):
    """A thread giving `view` a synthetic frame of every camera in `cameras` (read each round, so a
    camera appended later joins) 20 times a second until `stop`; with `summaries`, a run summary too."""

    def feed() -> None:
        i = 0
        while not stop.wait(0.05):
            for camera_id in list(cameras):
                view.on_frame(frame(camera_id, i, width=160, height=120), tracks((20, 20, 80, 100, 1)), [])
            if summaries:
                states = {c: {"state": "live", "frames_processed": i} for c in list(cameras)}
                view.on_summary({"status": "running", "cameras": states})
            i += 1

    thread = threading.Thread(target=feed, daemon=True)
    thread.start()
    return thread


def test_with_many_cameras_the_page_polls_snapshots_for_every_tile():
    cameras = [f"door{i}" for i in range(6)]  # more than MJPEG_MAX_TILES
    view = LiveView(cameras, tile_fps=5.0)
    server = ViewServer(view, Starlette(routes=view.routes()), host="127.0.0.1", port=0).start()
    stop = threading.Event()
    thread = feed_frames(view, cameras, stop)
    try:
        with Browser(CHROMIUM) as browser:
            browser.goto(server.view_url)
            counts = "[...document.querySelectorAll('.tile')].map(t => Number(t.dataset.pictures || 0))"
            browser.wait_for(f"{counts}.length === 6 && {counts}.every(n => n >= 1)", timeout=15)
            first = browser.evaluate(counts)
            time.sleep(1.5)
            later = browser.evaluate(counts)
            # about 5 pictures a second per tile
            assert all(b >= a + 3 for a, b in zip(first, later, strict=True)), (first, later)
            assert view.hub.viewers() == 0  # no stream held open: the polls lease their cameras
    finally:
        stop.set()
        thread.join()
        server.stop()


def test_a_camera_added_while_the_page_is_open_gets_its_own_tile():
    cameras = ["door1"]  # door2 joins later, as with Pipeline.add_camera
    view = LiveView(["door1"], tile_fps=5.0)
    server = ViewServer(view, Starlette(routes=view.routes()), host="127.0.0.1", port=0).start()
    stop = threading.Event()
    thread = feed_frames(view, cameras, stop, summaries=True)
    try:
        with Browser(CHROMIUM) as browser:
            browser.goto(server.view_url)
            browser.wait_for("document.querySelectorAll('.tile img:not(.empty)').length === 1", timeout=15)
            cameras.append("door2")
            browser.wait_for("document.querySelectorAll('.tile img:not(.empty)').length === 2", timeout=15)
            layout = tiles(browser)
            assert list(layout) == ["door1", "door2"]
            assert layout["door2"]["state"] == "live" and layout["door2"]["picture"]
    finally:
        stop.set()
        thread.join()
        server.stop()


def test_every_tile_renders_live_footage_that_changes(live):
    _, _, _, browser, _ = live
    browser.wait_for("document.querySelectorAll('.tile img:not(.empty)').length === 3", timeout=25)
    browser.wait_for("[...document.querySelectorAll('.tile')].every(t => t.dataset.state === 'live')",
                     timeout=10)
    before, layout = browser.screenshot(), tiles(browser)
    assert list(layout) == list(CAMERAS)
    for camera_id, tile in layout.items():
        assert is_picture(region(before, tile["rect"])), f"{camera_id}: tile is blank"
    time.sleep(2.0)
    after = browser.screenshot()
    for camera_id, tile in layout.items():
        moved = change(region(before, tile["rect"]), region(after, tile["rect"]))
        assert moved > 1.0, f"{camera_id}: tile did not change in 2 s (mean difference {moved:.2f})"


def test_the_state_panel_updates_live(live):
    _, server, _, browser, _ = live
    first = int(browser.evaluate("document.body.dataset.stateSeq"))
    frames = {c: t["frames"] for c, t in tiles(browser).items()}
    time.sleep(1.5)
    assert int(browser.evaluate("document.body.dataset.stateSeq")) >= first + 2  # every 0.5 s
    now = tiles(browser)
    for camera_id in CAMERAS:
        assert now[camera_id]["state"] == "live" and not now[camera_id]["stale"]
        assert now[camera_id]["frames"] > frames[camera_id], f"{camera_id}: frame count did not move"
        assert "fps" in now[camera_id]["stats"] and "last frame" in now[camera_id]["stats"]
    assert browser.wait_for("document.getElementById('run-stats').textContent.includes('frames/s')")
    assert browser.evaluate("document.getElementById('run-status').textContent") == "running"
    # Nothing fuses identities in this run: the transitions panel shows its empty state.
    assert browser.evaluate("!document.getElementById('transitions-empty').hidden")
    # One port: the probes and metrics are served next to the page.
    for path in ("/healthz", "/readyz", "/metrics"):
        with urllib.request.urlopen(server.url + path, timeout=5) as response:
            assert response.status == 200


def test_a_killed_camera_turns_dead_while_the_others_keep_going(live):
    pipeline, server, camera, browser, folder = live
    camera.kill()  # the camera's server goes away: connection lost, reconnects refused
    browser.wait_for("document.querySelector('.tile[data-camera=cam3]').dataset.state === 'dead'", timeout=15)
    drain_deadline = time.monotonic() + 10  # frames buffered before the loss still go through
    while time.monotonic() < drain_deadline:
        with urllib.request.urlopen(server.url + "/view/api/state", timeout=5) as response:
            cam3 = json.load(response)["cameras"]["cam3"]
        if cam3["frames_processed"] + cam3["dropped_total"] >= cam3["frames_received"]:
            break
        time.sleep(0.2)
    time.sleep(0.6)  # the last of them reaches the page
    seq = int(browser.evaluate("document.body.dataset.stateSeq"))
    before = browser.screenshot()
    time.sleep(2.0)
    after, layout = browser.screenshot(), tiles(browser)
    assert layout["cam3"]["stale"] and layout["cam3"]["overlay"].startswith("dead")
    for camera_id in ("cam1", "cam2"):
        tile = layout[camera_id]
        assert tile["state"] == "live" and not tile["stale"], tile
        moved = change(region(before, tile["rect"]), region(after, tile["rect"]))
        assert moved > 1.0, f"{camera_id} froze after cam3 died (mean difference {moved:.2f})"
    still = change(region(before, layout["cam3"]["rect"]), region(after, layout["cam3"]["rect"]))
    assert still < 0.5, f"the dead tile still changes ({still:.2f})"
    assert int(browser.evaluate("document.body.dataset.stateSeq")) > seq  # the page did not freeze
    with urllib.request.urlopen(server.url + "/readyz", timeout=5) as response:
        assert json.load(response)["cameras"]["cam3"]["state"] == "dead"
    shot = folder / "live-view.png"
    cv2.imwrite(str(shot), after)
    if os.environ.get(SCREENSHOT_ENV):
        shutil.copyfile(shot, os.environ[SCREENSHOT_ENV])
