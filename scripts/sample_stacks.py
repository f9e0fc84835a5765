"""Where a `pyuniproc` process's threads spend their time: a sampling profiler in the process itself.

    python scripts/sample_stacks.py OUT.txt [--every-ms 5] -- run --cameras cams.yml --workers 1 ...
    python scripts/sample_stacks.py OUT.txt --report [--thread MainThread] [--within pipeline.py:run]

Runs `python -m pyuniproc <args after -->` in the main thread while a sampler thread records every other
thread's Python stack every `--every-ms` (wall time: a thread blocked in a wait is sampled in that wait) and
writes them folded, one line per distinct stack: `thread;file:function:line;... count` (the format flame
graph tools read). `--report` prints samples per thread and each function's inclusive share of its thread.
cProfile sees only the thread it started in and py-spy needs ptrace and a binary the GPU machine lacks;
this needs neither. Native time shows in the Python frame that called it. One process only: worker
processes (`--workers` > 1) start by re-importing `__main__`, so profile a worker's load with `--workers 1`.
"""

from __future__ import annotations

import argparse
import collections
import runpy
import sys
import threading
from pathlib import Path


def sample(counts: collections.Counter[str], stop: threading.Event, every: float) -> None:
    """Fold each other thread's stack into `counts` every `every` seconds until `stop` (at least once)."""
    me = threading.get_ident()
    while True:
        names = {thread.ident: thread.name for thread in threading.enumerate()}
        for ident, frame in sys._current_frames().items():
            if ident == me:
                continue
            stack = []
            while frame is not None:
                code = frame.f_code
                stack.append(f"{Path(code.co_filename).name}:{code.co_name}:{frame.f_lineno}")
                frame = frame.f_back
            # "decode-cam7" and "decode-cam9" fold into one "decode" thread
            thread = names.get(ident, str(ident)).split("-")[0]
            counts[";".join([thread, *reversed(stack)])] += 1
        if stop.wait(every):
            return


def profile(out: Path, every_ms: float, args: list[str]) -> None:
    counts: collections.Counter[str] = collections.Counter()
    stop = threading.Event()
    sampler = threading.Thread(target=sample, args=(counts, stop, every_ms / 1000), daemon=True,
                               name="sampler")
    sys.argv = ["pyuniproc", *args]
    sampler.start()
    try:
        runpy.run_module("pyuniproc", run_name="__main__")
    except SystemExit:
        pass
    finally:
        stop.set()
        sampler.join()
        out.write_text("".join(f"{stack} {n}\n" for stack, n in counts.most_common()))


def report(path: Path, thread: str | None, top: int, within: str | None = None) -> str:
    """Samples per thread, then per function (file:function) its inclusive share of its thread's samples.
    within: only stacks passing through this file:function (e.g. pipeline.py:run, the run loop without
    start-up), shares then of those."""
    per_thread: collections.Counter[str] = collections.Counter()
    inclusive: collections.Counter[tuple[str, str]] = collections.Counter()
    for line in path.read_text().splitlines():
        stack, count = line.rsplit(" ", 1)
        name, *frames = stack.split(";")
        if (thread is not None and name != thread) or (
                within is not None and not any(frame.startswith(within + ":") for frame in frames)):
            continue
        per_thread[name] += int(count)
        for function in dict.fromkeys(frame.rsplit(":", 1)[0] for frame in frames):  # once per stack
            inclusive[(name, function)] += int(count)
    lines = [f"{name}: {n} samples" for name, n in per_thread.most_common()]
    for (name, function), n in inclusive.most_common(top):
        lines.append(f"{n:8d} {100 * n / per_thread[name]:5.1f}%  {name:12s} {function}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    args, rest = (argv[: argv.index("--")], argv[argv.index("--") + 1:]) if "--" in argv else (argv, [])
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out", type=Path, help="folded stacks (written), or the file to --report on")
    parser.add_argument("--every-ms", type=float, default=5.0, help="sampling period")
    parser.add_argument("--report", action="store_true", help="summarise OUT instead of profiling")
    parser.add_argument("--thread", help="--report: only this thread (e.g. MainThread, decode, detect)")
    parser.add_argument("--within", help="--report: only stacks through this file:function (pipeline.py:run)")
    parser.add_argument("--top", type=int, default=40)
    options = parser.parse_args(args)
    if options.report:
        print(report(options.out, options.thread, options.top, options.within))
        return 0
    if not rest:
        parser.error("give pyuniproc's arguments after --, e.g. -- run --cameras cams.yml --workers 1")
    profile(options.out, options.every_ms, rest)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
