"""`ServeService`: the embedded runtime's pipeline between Savant's input and output sockets.

    adapters --ROUTER--> SavantIngress --> Pipeline (as in `pyuniproc run`) --> SavantEgress --PUB--> sinks

Nothing of the pipeline is copied: the ingress is its `Feed` (cameras appear and leave with the
sources' streams) and the egress its `FrameEgress` (each processed frame published). The run folder
still gets what `pyuniproc run` writes there (tracks, MOT files, events, summary), except annotated
video: Savant's video-files and Always-On RTSP sinks make that from the published frames.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from pyuniproc.config.cameras import Site
from pyuniproc.config.module import ModuleConfig
from pyuniproc.runtime.pipeline import Pipeline, RunOptions
from pyuniproc.serve.accounting import ServeCollector
from pyuniproc.serve.command import DEFAULT_IN, DEFAULT_OUT
from pyuniproc.serve.egress import SavantEgress
from pyuniproc.serve.ingress import SavantIngress
from pyuniproc.transport import FrameReader, FrameWriter

log = logging.getLogger("pyuniproc.serve")
DRAIN_SECONDS = 0.5


@dataclass(frozen=True)
class ServeOptions:
    """inbound / outbound: endpoints in Savant's grammar (the module binds both, as Savant's does).
    run_dir: the run's files (summary.json, tracks, events).
    source_timeout: see `SavantIngress`. receive_hwm: ZeroMQ messages queued per sender before it blocks
    (Savant's module: 50). queue_frames: encoded frames queued per source stream.
    shutdown_auth: key of the Shutdown message that stops the service (None: Shutdown is ignored).
    max_seconds: stop after this long (tests, quick looks)."""

    inbound: str = DEFAULT_IN
    outbound: str = DEFAULT_OUT
    run_dir: Path = Path("out/serve")
    source_timeout: float = 10.0
    receive_hwm: int = 50
    queue_frames: int = 4
    shutdown_auth: str | None = None
    max_seconds: float | None = None


class ServeService:
    """Opens both sockets and builds the pipeline; `run()` serves until stopped (signal, Shutdown
    message, `stop()`, `max_seconds`) and returns the run summary with a `serve` section."""

    def __init__(self, module: ModuleConfig, site: Site, options: ServeOptions) -> None:
        self.options = options
        # The sinks draw and record the published frames; no annotated video in the run folder.
        module = replace(module, runtime=replace(module.runtime, annotated_video=False))
        self.reader = FrameReader(options.inbound, receive_timeout_ms=100, receive_hwm=options.receive_hwm)
        try:
            self.writer = FrameWriter(options.outbound)
        except BaseException:
            self.reader.close()
            raise
        self.ingress = SavantIngress(self.reader, site=site, source_timeout=options.source_timeout,
                                     queue_frames=options.queue_frames, shutdown_auth=options.shutdown_auth)
        self.egress = SavantEgress(self.writer, self.ingress, namespace=module.detector.name,
                                   label=module.detector.label)
        run = RunOptions(out_dir=Path(options.run_dir), max_seconds=options.max_seconds, progress=False)
        try:
            self.pipeline = Pipeline(module, site, run, feed=self.ingress, egress=self.egress)
        except BaseException:
            self.close()
            raise
        self.ingress.attach(self.pipeline)
        events = self.ingress.events
        self.pipeline.telemetry.metrics.registry.register(ServeCollector(self.ingress.accounting,
                                                                         lambda: dict(events)))

    def stop(self) -> None:
        """Stop serving (thread- and signal-safe): frames taken in are finished and published."""
        self.pipeline.stop()

    def run(self) -> dict[str, Any]:
        self.ingress.start()
        log.info("serve: reading %s, publishing %s", self.options.inbound, self.options.outbound)
        try:
            summary = self.pipeline.run()
        finally:
            self.close()
        summary["serve"] = {**self.ingress.summary(), "published": dict(self.egress.counts)}
        return summary

    def close(self) -> None:
        self.ingress.close()
        self.reader.close()
        if self.egress.counts:
            # PUB has no acknowledgement and savant-rs closes with a 100 ms linger: on a loaded machine
            # the last frames and ends of stream would not reach the sinks. Let the I/O thread send them.
            time.sleep(DRAIN_SECONDS)
        self.writer.close()


__all__ = ["DEFAULT_IN", "DEFAULT_OUT", "ServeOptions", "ServeService"]
