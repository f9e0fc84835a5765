"""`pyuniproc run --view`: the options reach the server, bad ones are refused clearly."""

import json
import logging
import socket

from viewkit import VTEST

from pyuniproc.cli import main


def run(tmp_path, *extra):
    return main(["run", "--source", f"cam1={VTEST}", "--max-frames", "5", "--no-progress",
                 "--out", str(tmp_path / "out"), *extra])


def test_view_serves_on_the_asked_address_with_the_telemetry_endpoints(tmp_path, caplog):
    caplog.set_level(logging.INFO, logger="pyuniproc.view")
    assert run(tmp_path, "--view", "--view-host", "127.0.0.1", "--view-port", "0") == 0
    [line] = [r.getMessage() for r in caplog.records if r.getMessage().startswith("live view:")]
    url = line.split()[2]
    assert url.startswith("http://127.0.0.1:") and url.endswith("/view/")
    assert "(with /metrics, /healthz, /readyz)" in line
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert summary["telemetry"]["metrics_url"] + "/view/" == url  # one server, one port


def test_a_taken_port_or_a_bad_rate_is_a_clear_error(tmp_path, capsys):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        assert run(tmp_path, "--view", "--view-port", str(port)) == 2
    assert f"live view cannot listen on 127.0.0.1:{port}" in capsys.readouterr().err
    assert run(tmp_path, "--view", "--view-port", "0", "--view-fps", "0") == 2
    assert "live view: max_fps must be > 0, got 0.0" in capsys.readouterr().err
