"""The view's HTTP side on a real uvicorn server, fed synthetic frames (no pipeline, no browser)."""

import http.client
import json
import threading
import time
import urllib.request

import pytest
from starlette.applications import Starlette
from viewkit import frame, tracks

from pyuniproc.view import LiveView, ViewServer


@pytest.fixture
def served():
    view = LiveView(["cam1", "cam2"], tile_fps=20.0, state_period_seconds=0.1)
    server = ViewServer(view, Starlette(routes=view.routes()), host="127.0.0.1", port=0).start()
    try:
        yield view, server
    finally:
        server.stop()


def get(server, path):
    with urllib.request.urlopen(server.url + path, timeout=5) as response:
        return response.status, response.headers, response.read()


def feed_frames(view, camera_id, stop: threading.Event):
    i = 0
    while not stop.is_set():
        view.on_frame(frame(camera_id, i), tracks((5, 5, 30, 40, 1)), [])
        i += 1
        stop.wait(0.02)


@pytest.fixture
def camera_feeding(served):
    view, _ = served
    stop = threading.Event()
    thread = threading.Thread(target=feed_frames, args=(view, "cam1", stop), daemon=True)
    thread.start()
    yield
    stop.set()
    thread.join()


def test_the_page_its_assets_and_config_are_served(served):
    _, server = served
    status, headers, body = get(server, "/")  # redirected to /view/
    assert status == 200 and b"<title>pyuniproc" in body
    for asset, kind in (("/view/static/view.js", "javascript"), ("/view/static/view.css", "text/css")):
        status, headers, _ = get(server, asset)
        assert status == 200 and kind in headers["content-type"]
    _, _, body = get(server, "/view/api/config")
    config = json.loads(body)
    assert config["cameras"] == ["cam1", "cam2"] and config["tile_fps"] == 20.0
    assert len(config["palette"]) == 20 and config["links"] == {}


def test_state_is_served_as_json_and_as_server_sent_events(served):
    view, server = served
    view.on_summary({"status": "running", "cameras": {"cam1": {"state": "live"}}})
    _, _, body = get(server, "/view/api/state")
    assert json.loads(body)["cameras"]["cam1"]["state"] == "live"
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=5)
    connection.request("GET", "/view/api/events")
    response = connection.getresponse()
    assert response.getheader("content-type").startswith("text/event-stream")
    messages = []
    while len(messages) < 2:
        line = response.fp.readline().decode()
        if line.startswith("data: "):
            messages.append(json.loads(line[6:]))
    assert messages[1]["seq"] > messages[0]["seq"]
    assert messages[0]["cameras"]["cam2"]["state"] == "connecting"
    connection.close()


def read_part(response) -> bytes:
    """One JPEG part of a multipart/x-mixed-replace stream."""
    length = None
    while True:
        line = response.fp.readline()
        if line.lower().startswith(b"content-length:"):
            length = int(line.split(b":")[1])
        elif line in (b"\r\n", b"\n") and length is not None:
            return response.fp.read(length)


def test_an_mjpeg_stream_is_a_viewer_while_open_and_sends_new_jpegs(served, camera_feeding):
    view, server = served
    assert view.hub.viewers() == 0
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=5)
    connection.request("GET", "/view/tiles/cam1.mjpg")
    response = connection.getresponse()
    assert response.getheader("content-type").startswith("multipart/x-mixed-replace; boundary=")
    parts = [read_part(response) for _ in range(3)]
    assert all(p[:2] == b"\xff\xd8" and p[-2:] == b"\xff\xd9" for p in parts)
    assert len(set(parts)) == 3  # the picture changes
    assert view.hub.viewers() == 1
    connection.close()
    deadline = time.monotonic() + 3
    while view.hub.viewers() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert view.hub.viewers() == 0  # a closed page stops the encoding


def test_a_snapshot_is_204_until_a_frame_is_kept_then_a_jpeg(served):
    view, server = served
    status, _, _ = get(server, "/view/tiles/cam2.jpg")
    assert status == 204  # nobody watched cam2 before: nothing was kept
    view.on_frame(frame("cam2", 3), tracks(), [])  # within the lease of that request
    status, headers, body = get(server, "/view/tiles/cam2.jpg")
    assert status == 200 and headers["content-type"] == "image/jpeg" and body[:2] == b"\xff\xd8"
    assert headers["x-frame-index"] == "3"


@pytest.mark.parametrize("path", ["/view/tiles/nope.mjpg", "/view/tiles/nope.jpg"])
def test_unknown_cameras_are_404(served, path):
    _, server = served
    with pytest.raises(urllib.error.HTTPError) as error:
        get(server, path)
    assert error.value.code == 404


def test_stopping_the_server_ends_open_streams_at_once(served, camera_feeding):
    view, server = served
    connections = []
    for path in ("/view/tiles/cam1.mjpg", "/view/tiles/cam2.mjpg", "/view/api/events"):
        connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=5)
        connection.request("GET", path)
        connection.getresponse()
        connections.append(connection)
    started = time.monotonic()
    server.stop()
    assert time.monotonic() - started < 2.0
    for connection in connections:
        connection.close()
