"""A live per-camera table while a run goes on (rich on a terminal, a log line otherwise)."""

from __future__ import annotations

import logging
import sys
from typing import Any

from rich.console import Console
from rich.live import Live
from rich.table import Table

log = logging.getLogger("pyuniproc.progress")


class Progress:
    def __init__(self, *, enabled: bool = True):
        self.console = Console(stderr=True)
        if not self.console.is_terminal:
            self.console.width = 120
        self.enabled = enabled
        self._live: Live | None = None

    def __enter__(self) -> Progress:
        if self.enabled and self.console.is_terminal:
            self._live = Live(Table(), console=self.console, refresh_per_second=4, transient=False)
            self._live.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._live is not None:
            self._live.__exit__(None, None, None)

    def update(self, summary: dict[str, Any]) -> None:
        if not self.enabled:
            return
        if self._live is not None:
            self._live.update(render(summary))
        else:
            cams = " | ".join(f"{cid} {c.get('state')} {c.get('frames_processed', 0)}f "
                              f"{c.get('fps', 0):.1f}fps (avg {c.get('average_fps', 0):.1f})"
                              for cid, c in summary["cameras"].items())
            print(f"[{summary['elapsed_seconds']:7.1f}s] {summary['throughput_fps']:6.1f} fps total | {cams}",
                  file=sys.stderr, flush=True)


def render(summary: dict[str, Any]) -> Table:
    e2e = summary["latency_ms"].get("end_to_end", {})
    table = Table(title=f"pyuniproc — {summary['site']} — {summary['elapsed_seconds']:.0f} s — "
                        f"{summary['throughput_fps']:.1f} frames/s — e2e p95 {e2e.get('p95', 0):.0f} ms")
    # fps: over the last seconds (0 once a camera has finished); avg fps: its first to its last frame
    for column in ("camera", "state", "fps", "avg fps", "received", "processed", "dropped", "errors",
                   "reconnects", "last frame", "tracks"):
        table.add_column(column, justify="left" if column in ("camera", "state") else "right")
    for camera_id, c in summary["cameras"].items():
        dropped = sum((c.get("dropped") or {}).values())
        since = c.get("seconds_since_last_frame")
        table.add_row(camera_id, str(c.get("state")), f"{c.get('fps', 0):.1f}",
                      f"{c.get('average_fps', 0):.1f}",
                      str(c.get("frames_received", 0)),
                      str(c.get("frames_processed", 0)), str(dropped), str(c.get("read_errors", 0)),
                      str(c.get("reconnect_attempts", 0)), "-" if since is None else f"{since:.1f}s",
                      str(c.get("tracks_seen", 0)))
    return table
