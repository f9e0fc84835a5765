"""Cross-camera fusion inside the embedded runtime: global ids on every tracked row, fusion's
decisions as events in the run's event schema, and what the summary reports about identities."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from pyuniproc.config.cameras import Site
from pyuniproc.fusion import Fusion, FusionConfig
from pyuniproc.types import Detections

EVENT_KINDS = {"assigned": "global_id_assigned", "corrected": "global_id_corrected",
               "retired": "identity_retired"}


class FusionStage:
    """Fusion for the pipeline. A camera not in the site (added while running) has no topology
    links: with topology on (`ablation` travel_time or topology) nobody can walk into or out of it,
    so its people get global ids of their own (re-entering the same camera still keeps one); with
    appearance alone it is matched like any other camera."""

    def __init__(self, site: Site, config: FusionConfig):
        self.fusion = Fusion(site, config, accept_unknown_cameras=True)
        self.metrics: FusionMetrics | None = None
        self._fused = False  # a frame went through fusion (a fed run may end before any came)

    def attach_metrics(self, metrics: Any) -> None:
        self.metrics = FusionMetrics(metrics)

    def report(self) -> None:
        if self.metrics is not None:
            self.metrics.update(self.fusion)

    def continue_global_ids_after(self, largest: int) -> None:
        """New identities get ids above `largest` (an earlier run's, read from its outputs)."""
        self.fusion.continue_ids_after(largest)

    def largest_global_id(self) -> int:
        """The largest global id given out so far (or continued after)."""
        return self.fusion.largest_global_id()

    def process(self, camera_id: str, pts_seconds: float, tracks: Detections) -> Detections:
        self._fused = True
        return self.fusion.update(camera_id, pts_seconds, tracks)

    def end_camera(self, camera_id: str) -> None:
        self.fusion.end_camera(camera_id)

    def flush(self) -> None:
        """End every track and decide what is pending. Nothing to do before the first frame (and Fusion
        of a site without cameras cannot decide over zero cameras)."""
        if self._fused:
            self.fusion.flush()

    def events(self) -> list[dict[str, Any]]:
        """Fusion's decisions since the last call, shaped like every other event of the run."""
        return [to_run_event(event) for event in self.fusion.events()]

    def summary(self, recent: int = 20) -> dict[str, Any]:
        """summary.json's `fusion`: counters, decision delays (`decision_delay_*_seconds`: first row to
        global id), recent hand-overs, and `floor`: which overlapping cameras compare positions
        (calibrated, or the foot map learned from the run with its support and matrix)."""
        transitions = self.fusion.transitions
        return {**self.fusion.stats(), "transitions": len(transitions),
                "recent_transitions": [asdict(t) for t in transitions[-recent:]],
                "floor": self.fusion.floor_report()}


def to_run_event(event: dict[str, Any]) -> dict[str, Any]:
    """A fusion event as a run event:
    {"event": "assigned", "pts": ..} -> {"kind": "global_id_assigned", "pts_seconds": .., "details": {..}}."""
    details = {k: v for k, v in event.items()
               if k not in ("event", "pts", "camera_id", "track_id", "global_id")}
    return {
        "kind": EVENT_KINDS.get(event["event"], f"fusion_{event['event']}"),
        "camera_id": event.get("camera_id"),
        "pts_seconds": event.get("pts"),
        "track_id": event.get("track_id"),
        "global_id": event.get("global_id", event.get("to_global_id")),
        "details": details,
    }


class FusionMetrics:
    """Moves fusion's counters into Prometheus: identities, pending tracks, matches, transitions."""

    def __init__(self, metrics: Any):
        self.metrics = metrics
        self._matches = 0
        self._transitions = 0

    def update(self, fusion: Fusion) -> None:
        stats = fusion.stats()
        self.metrics.set_fusion_state(active_identities=int(stats["active_identities"]),
                                      backlog=int(stats["pending_tracks"]))
        matches = int(stats.get("matches", 0))
        if matches > self._matches:
            self.metrics.add_matches(matches - self._matches)
            self._matches = matches
        transitions = int(stats.get("transitions", 0))
        if transitions > self._transitions:
            for transition in fusion.transitions[-(transitions - self._transitions):]:
                self.metrics.add_transition(transition.from_camera, transition.to_camera)
            self._transitions = transitions
