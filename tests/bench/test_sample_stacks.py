"""scripts/sample_stacks.py: the in-process stack sampler behind benchmarks/gpu's worker profile."""

from __future__ import annotations

import collections
import importlib.util
import threading
import time
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "sample_stacks.py"
spec = importlib.util.spec_from_file_location("sample_stacks", SCRIPT)
sample_stacks = importlib.util.module_from_spec(spec)
spec.loader.exec_module(sample_stacks)


def test_a_profiled_command_leaves_folded_stacks(tmp_path):
    out = tmp_path / "stacks.txt"
    assert sample_stacks.main([str(out), "--every-ms", "1", "--", "--version"]) == 0
    lines = out.read_text().splitlines()
    assert lines and all(line.startswith("MainThread;") for line in lines)
    assert all(line.rsplit(" ", 1)[1].isdigit() for line in lines)


def test_the_sampler_finds_a_thread_where_it_waits():
    def waiting_here(release: threading.Event) -> None:
        release.wait(5)

    release, stop = threading.Event(), threading.Event()
    worker = threading.Thread(target=waiting_here, args=(release,), name="decode-cam1")
    worker.start()
    counts: collections.Counter[str] = collections.Counter()
    sampler = threading.Thread(target=sample_stacks.sample, args=(counts, stop, 0.001))
    sampler.start()
    time.sleep(0.05)
    stop.set()
    sampler.join()
    release.set()
    worker.join()
    waits = [stack for stack in counts if "test_sample_stacks.py:waiting_here:" in stack]
    assert waits and all(stack.startswith("decode;") for stack in waits)  # "decode-cam1" folds to "decode"


def test_the_report_gives_each_functions_share_of_its_thread(tmp_path):
    folded = tmp_path / "stacks.txt"
    folded.write_text("MainThread;a.py:run:1;a.py:track:5 3\n"
                      "MainThread;a.py:run:1;a.py:fuse:9 1\n"
                      "decode;b.py:read:2 4\n")
    text = sample_stacks.report(folded, thread="MainThread", top=5)
    assert "MainThread: 4 samples" in text and "decode" not in text
    rows = text.splitlines()
    assert any(row.split()[:2] == ["3", "75.0%"] and row.endswith("a.py:track") for row in rows)
    within = sample_stacks.report(folded, thread=None, top=5, within="a.py:fuse")
    assert within.splitlines()[0] == "MainThread: 1 samples"
