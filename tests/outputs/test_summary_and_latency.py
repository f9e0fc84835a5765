import json
import os
import stat
import threading

import numpy as np
import pytest

from pyuniproc.outputs import LatencyStats, SummaryWriter
from pyuniproc.outputs._files import open_for_append


def test_summary_is_rewritten_whole(tmp_path):
    writer = SummaryWriter(tmp_path / "run" / "summary.json")
    writer.write({"frames": 10, "fps": np.float32(12.5)})
    writer.write({"frames": 20, "cameras": {"cam1": {"people": np.int64(3)}}})
    assert json.loads(writer.path.read_text()) == {"frames": 20, "cameras": {"cam1": {"people": 3}}}
    assert [p.name for p in writer.path.parent.iterdir()] == ["summary.json"]  # no temp files left


@pytest.mark.parametrize("umask", [0o022, 0o077])
def test_summary_gets_the_mode_of_every_other_output(tmp_path, umask):
    previous = os.umask(umask)
    try:
        writer = SummaryWriter(tmp_path / "summary.json")
        writer.write({"frames": 1})
        writer.write({"frames": 2})  # os.replace keeps the new file's mode: check after a rewrite too
        open_for_append(tmp_path / "tracks.csv", header="camera_id").close()
    finally:
        os.umask(previous)
    mode = stat.S_IMODE(writer.path.stat().st_mode)
    assert mode == stat.S_IMODE((tmp_path / "tracks.csv").stat().st_mode) == 0o666 & ~umask


def test_a_failed_summary_write_keeps_the_previous_one(tmp_path):
    writer = SummaryWriter(tmp_path / "summary.json")
    writer.write({"frames": 10})
    with pytest.raises(TypeError):
        writer.write({"frames": 11, "bad": object()})
    with pytest.raises(ValueError):
        writer.write({"fps": float("nan")})
    assert json.loads(writer.path.read_text()) == {"frames": 10}
    assert [p.name for p in tmp_path.iterdir()] == ["summary.json"]


def test_latency_percentiles_on_known_data():
    stats = LatencyStats()
    assert stats.summary() == {"count": 0}
    for ms in range(1, 101):  # 1..100 ms
        stats.add(ms)
    assert stats.summary() == {"count": 100, "mean": 50.5, "p50": 50.5, "p95": 95.05, "max": 100.0}


def test_latency_memory_is_bounded_and_percentiles_follow_recent_samples():
    stats = LatencyStats(window=10)
    for _ in range(1000):
        stats.add(100.0)
    for _ in range(10):
        stats.add(1.0)
    summary = stats.summary()
    assert (summary["count"], summary["p50"], summary["p95"], summary["max"]) == (1010, 1.0, 1.0, 100.0)
    assert summary["mean"] == pytest.approx((1000 * 100 + 10) / 1010, abs=1e-3)
    assert stats._samples.shape == (10,)


def test_latency_timer_threads_and_errors():
    stats = LatencyStats()
    with stats.time():
        pass
    assert stats.count == 1 and stats.summary()["max"] < 100

    def feed():
        for _ in range(500):
            stats.add(1.0)

    threads = [threading.Thread(target=feed) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert stats.count == 2001
    with pytest.raises(ValueError, match="finite"):
        stats.add(float("inf"))
    with pytest.raises(ValueError, match="window"):
        LatencyStats(window=0)


def test_summary_is_one_line_per_key_and_reads_back_as_written(tmp_path):
    summary = {
        "status": "running",
        "cameras": {"cam1": {"fps": 9.5, "dropped": {"stale": 2}}, "cam2": {"fps": np.float32(10.0)}},
        "numbering": {},
        "counts": [1, {"a": None}],
        7: True,
    }
    SummaryWriter(tmp_path / "summary.json").write(summary)
    text = (tmp_path / "summary.json").read_text()
    assert json.loads(text) == json.loads(json.dumps(summary, default=lambda v: v.item()))
    assert text.splitlines() == [
        "{",
        '  "status": "running",',
        '  "cameras": {',
        '    "cam1": {"fps": 9.5, "dropped": {"stale": 2}},',
        '    "cam2": {"fps": 10.0}',
        "  },",
        '  "numbering": {},',
        '  "counts": [1, {"a": null}],',
        '  "7": true',
        "}",
    ]
