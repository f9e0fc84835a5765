"""The online fusion driver: per-camera tracked rows in, the same rows with global ids out.

Each `update` records the rows of one camera frame, then - once per `window_seconds` of site clock -
runs one decision round, in this order:
  1. end tracks not seen for `track_timeout_seconds` (their last row becomes an exit);
  2. re-evaluate young assigned tracks that received new embeddings (corrections), and join identities
     made only of young tracks into an older identity they continue (`merge_margin`);
  3. where overlapping cameras can compare positions (calibrated, or a foot map learned from the run:
     `floor`), undo one identity at two places at once and join two identities at one place, and
     learn the uncalibrated maps from this round's simultaneous pairs;
  4. assign every ready pending track jointly (Hungarian with space-time gating, floor bonus and
     floor gating), deferring close calls - up to `max_pending_seconds`;
  5. retire identities unseen for longer than the longest travel window (bounded memory).
Conflicts (one identity in two exclusive places at once) are checked on every row and resolved at once:
the later of the two assignments is undone and that track re-decided without the identity.
"""

from __future__ import annotations

import math

import numpy as np

from pyuniproc.config.cameras import Site, Topology
from pyuniproc.fusion import events
from pyuniproc.fusion.config import FLOOR_FIELDS, FusionConfig
from pyuniproc.fusion.constraints import Gate
from pyuniproc.fusion.floor import Floor
from pyuniproc.fusion.identities import IdentityStore
from pyuniproc.fusion.intake import fresh_embeddings, with_global_ids
from pyuniproc.fusion.linking import Linker
from pyuniproc.fusion.tracks import UNASSIGNED, CameraState, LocalTrack, Transition
from pyuniproc.fusion.zones import ZoneBook
from pyuniproc.types import Detections


class Fusion:
    """Online multi-camera identity fusion for one site (see the package docstring for the data contract).

    Args:
        site: the cameras file's `Site` (its cameras and topology; a camera not in it is an error unless
            `accept_unknown_cameras`), or a bare `Topology` (cameras named in its links and overlaps; any
            other camera is added when it first sends a frame, with no links: only re-entry into itself).
        config: thresholds and switches; defaults to `FusionConfig()`.
        accept_unknown_cameras: with a `Site`, a camera not in it (added at runtime) is taken as a camera
            with no topology links, as with a bare `Topology`, instead of an error.
    """

    def __init__(
        self,
        site: Site | Topology,
        config: FusionConfig | None = None,
        *,
        accept_unknown_cameras: bool = False,
    ) -> None:
        self.config = config = config or FusionConfig()
        topology = site.topology if isinstance(site, Site) else site
        if isinstance(site, Site):
            camera_ids = [camera.id for camera in site.cameras]
        else:
            named = {c for link in topology.links for c in (link.source, link.target)}
            camera_ids = sorted(named.union(*topology.overlaps))
        self._topology, self._fixed_cameras = topology, isinstance(site, Site) and not accept_unknown_cameras
        self._gate = self._make_gate(camera_ids)
        self.retire_after_seconds = self._retire_after(config)
        self._store = IdentityStore(len(camera_ids))
        self._cameras = {camera: CameraState(camera, i) for i, camera in enumerate(camera_ids)}
        self._tracks: dict[int, LocalTrack] = {}  # by uid, every track in memory
        self._plane = self._make_floor(site.ground if isinstance(site, Site) else {}, camera_ids)
        self._linker = Linker(config, self._gate, self._store, self._tracks, self._plane)
        self._clock = -math.inf
        self._next_round = -math.inf
        self._next_uid = 1
        self._counts = {"updates": 0, "rows": 0, "embeddings_rejected_not_finite": 0,
                        "embeddings_rejected_zero": 0}

    # ---- public API -------------------------------------------------------------------------------

    def update(self, camera_id: str, pts_seconds: float, tracks: Detections) -> Detections:
        """Record one camera frame's tracked rows; return them with `data["global_id"]` (n,) int64,
        `data["global_id_tentative"]` (n,) bool and `data["global_id_confidence"]` (n,) float32
        (see `pyuniproc.fusion.intake` for what each value means)."""
        camera = self._camera(camera_id)
        pts = float(pts_seconds)
        if not math.isfinite(pts):
            raise ValueError(f"pts_seconds must be finite, got {pts_seconds!r}")
        embeddings, quality = fresh_embeddings(tracks, rejected=self._counts)
        if embeddings is not None:
            self._store.set_dim(embeddings.shape[1])
        camera.last_pts = max(camera.last_pts, pts)
        self._advance(pts)
        feet = tracks.bottom_center.astype(np.float64)
        heights = (tracks.xyxy[:, 3] - tracks.xyxy[:, 1]).astype(np.float64)
        cut = camera.cut(np.asarray(tracks.xyxy, dtype=np.float64)) if self._plane is not None else None
        rows: list[tuple[int, LocalTrack]] = []
        for row, track_id in enumerate(tracks.tracker_id.tolist()):
            if track_id < 0:
                continue
            foot = (float(feet[row, 0]), float(feet[row, 1]))
            track = self._observe(camera, track_id, pts, foot, float(heights[row]))
            if cut is not None and not cut[row]:  # where the feet are seen: compared on the floor
                track.path.add(pts, foot[0], foot[1], float(heights[row]))
            if quality[row] > 0:
                self._add_embedding(track, embeddings[row] * quality[row], float(quality[row]))
            rows.append((row, track))
        self._linker.resolve_conflicts([track for _, track in rows if track.global_id != UNASSIGNED])
        if self._plane is not None and self._plane.mapped.any():
            self._floor_now([track for _, track in rows])
        self._counts["updates"] += 1
        self._counts["rows"] += len(rows)
        if self._clock >= self._next_round:
            self._decide(force=False)
        return with_global_ids(tracks, rows, self.config.tentative_ids)

    def end_track(self, camera_id: str, track_id: int, pts_seconds: float | None = None) -> None:
        """The camera's tracker dropped `track_id` (optional: when, to advance the site clock)."""
        camera = self._camera(camera_id)
        if pts_seconds is not None:
            self._advance(float(pts_seconds))
        track = camera.tracks.get(int(track_id))
        if track is not None and not track.ended:
            self._end(track)

    def continue_ids_after(self, largest: int) -> None:
        """New global ids are above `largest`: a restart into the same outputs keeps them unique."""
        self._store.continue_after(largest)

    def largest_global_id(self) -> int:
        """The largest global id given out (or reserved, or continued after) so far; 0 before any."""
        return self._store.largest_id

    def end_camera(self, camera_id: str) -> None:
        """End of stream for one camera: end all its tracks (identities live on until they expire)."""
        for track in list(self._camera(camera_id).tracks.values()):
            if not track.ended:
                self._end(track)

    def flush(self) -> None:
        """End of input: end every track and decide every pending one now, without waiting or deferring."""
        for camera in self._cameras.values():
            self.end_camera(camera.camera_id)
        self._decide(force=True)

    def events(self) -> list[dict]:
        """Drain the events since the last call: "assigned", "corrected" and "retired" (see `events`)."""
        events, self._linker.events = self._linker.events, []
        return events

    @property
    def transitions(self) -> list[Transition]:
        """Recent hand-overs between cameras (at most `max_transitions`), in the order they were decided."""
        return list(self._linker.transitions.values())

    def assignment(self, camera_id: str, track_id: int) -> int:
        """Current global id of a local track still in memory; -1 if pending or unknown."""
        track = self._camera(camera_id).tracks.get(int(track_id))
        return UNASSIGNED if track is None else track.global_id

    def stats(self) -> dict[str, int | float]:
        """Counters for dashboards: live identities, tracks in memory, matches, corrections, and so on;
        `decision_delay_*_seconds`: site seconds from a track's first row to its first global id (the
        latest `linking.DELAYS_KEPT` decisions; None before any)."""
        tracks = self._tracks.values()
        delays = np.array(self._linker.delays)
        return {
            **self._counts,
            **self._linker.counts,
            **(self._plane.counts if self._plane is not None else {}),
            "decision_delay_p50_seconds": float(np.percentile(delays, 50)) if len(delays) else None,
            "decision_delay_p95_seconds": float(np.percentile(delays, 95)) if len(delays) else None,
            "decision_delay_max_seconds": float(delays.max()) if len(delays) else None,
            "active_identities": len(self._store),
            "identities_with_active_tracks": int((self._store.active > 0).sum()),
            "active_tracks": sum(not t.ended for t in tracks),
            "pending_tracks": sum(t.global_id == UNASSIGNED for t in tracks),
            "tracks_in_memory": len(self._tracks),
            "gallery_size": len(self._store),
            "store_capacity": self._store.capacity,
            "clock": self._clock if math.isfinite(self._clock) else None,  # None before the first frame
        }

    def floor_report(self) -> dict | None:
        """Where people are: calibrated cameras, and per overlapping pair whether positions are compared
        (calibrated, or the learned foot map's state, support and matrix) and the verdict counts; None
        when the floor is off (no calibration and no overlap, `use_floor` or `use_topology` off)."""
        return self._plane.report() if self._plane is not None else None

    # ---- rows in ----------------------------------------------------------------------------------

    def _advance(self, pts: float) -> None:
        self._clock = max(self._clock, pts)
        self._linker.now = self._clock

    def _camera(self, camera_id: str) -> CameraState:
        camera = self._cameras.get(camera_id)
        if camera is not None:
            return camera
        if self._fixed_cameras:
            raise ValueError(f"unknown camera {camera_id!r}; the site has {sorted(self._cameras)}")
        camera = self._cameras[camera_id] = CameraState(camera_id, len(self._cameras))
        self._gate = self._linker.gate = self._make_gate(list(self._cameras))
        self._store.add_camera()
        if self._plane is not None:
            self._plane.set_cameras(list(self._cameras), self._gate.overlap)
        return camera

    def reconfigure(self, config: FusionConfig) -> None:
        """Apply edited thresholds between two updates (a live edit of `parameters.fusion`): identities,
        tracks and what the floor learned are kept; the new gate, linker thresholds and retirement
        apply from the next decision round. ValueError, and nothing changed, for an edit of a field the
        floor was built from (`FLOOR_FIELDS`: those take a restart)."""
        floor_edits = sorted(
            name for name in FLOOR_FIELDS if getattr(config, name) != getattr(self.config, name)
        )
        if floor_edits:
            raise ValueError(f"fusion settings {', '.join(floor_edits)} are fixed at start (restart)")
        self.config = config
        self._gate = self._make_gate(list(self._cameras))
        self.retire_after_seconds = self._retire_after(config)
        self._linker.config, self._linker.gate = config, self._gate
        self._linker.max_bonus = self._gate.covisibility_bonus + self._gate.transition_bonus
        if self._plane is not None:
            self._plane.set_cameras(list(self._cameras), self._gate.overlap)

    def _retire_after(self, config: FusionConfig) -> float:
        longest = max(
            [config.reentry_max_seconds + config.travel_time_slack_seconds, config.overlap_handoff_seconds]
            + [link.max_seconds + config.travel_time_slack_seconds for link in self._topology.links]
        )
        return config.retire_after_seconds or longest + config.expiry_slack_seconds

    def _make_gate(self, camera_ids: list[str]) -> Gate:
        return Gate.from_config(camera_ids, self._topology, self.config)

    def _make_floor(self, ground: dict, camera_ids: list[str]) -> Floor | None:
        """The floor comparisons, when positions can be compared or learned (else None: as without)."""
        cfg = self.config
        declared = {
            (link.source, link.target): (
                None if link.exit_zone is None else np.array(link.exit_zone),
                None if link.entry_zone is None else np.array(link.entry_zone),
            )
            for link in self._topology.links
            if link.exit_zone is not None or link.entry_zone is not None
        }
        if not (cfg.use_floor and cfg.use_topology) or not (
            ground or self._topology.overlaps or declared or (cfg.learn_zones and self._topology.links)
        ):
            return None
        zones = ZoneBook(
            declared,
            learn=cfg.learn_zones,
            min_handovers=cfg.zone_min_handovers,
            radius=cfg.zone_radius_heights,
        )
        plane = Floor(
            {camera: calibration for camera, calibration in ground.items() if camera in camera_ids},
            near=cfg.floor_near_metres,
            far=cfg.floor_far_metres,
            bonus=cfg.floor_bonus,
            min_samples=cfg.floor_min_samples,
            learn=cfg.learn_overlap_maps,
            tracks=self._tracks,
            zones=zones,
        )
        plane.set_cameras(camera_ids, self._gate.overlap)
        return plane

    def _observe(
        self, camera: CameraState, track_id: int, pts: float, feet: tuple[float, float], height: float
    ) -> LocalTrack:
        track = camera.tracks.get(track_id)
        if track is None:
            track = LocalTrack(
                uid=self._next_uid,
                camera_id=camera.camera_id,
                camera_index=camera.index,
                track_id=track_id,
                first_seen=pts,
                last_seen=pts,
                entry_position=feet,
                position=feet,
                entry_height=height,
                height=height,
            )
            self._next_uid += 1
            camera.tracks[track_id] = track
            self._tracks[track.uid] = track
        elif track.ended:  # the tracker found it again
            track.ended = False
            if track.global_id != UNASSIGNED:
                self._store.set_active(track, True)
        if pts >= track.last_seen:
            track.last_seen, track.position, track.height = pts, feet, height
        track.first_seen = min(track.first_seen, pts)
        if track.global_id != UNASSIGNED:
            self._store.observe(track)
        return track

    def _add_embedding(self, track: LocalTrack, weighted: np.ndarray, quality: float) -> None:
        if track.descriptor_sum is None:
            track.descriptor_sum = np.zeros_like(weighted)
        track.descriptor_sum += weighted
        track.unit = None
        track.weight += quality
        track.n_embeddings += 1
        if track.global_id != UNASSIGNED:
            self._store.add_embedding(track.global_id, weighted, quality)

    def _end(self, track: LocalTrack) -> None:
        track.ended = True
        if track.global_id != UNASSIGNED:
            self._store.set_active(track, False)
        elif track.descriptor_sum is None:
            self._drop(track)  # nothing to decide with

    def _drop(self, track: LocalTrack) -> None:
        camera = self._cameras[track.camera_id]
        if camera.tracks.get(track.track_id) is track:
            del camera.tracks[track.track_id]
        self._tracks.pop(track.uid, None)
        if track.global_id != UNASSIGNED and track.global_id in self._store:
            self._store.forget(track)

    # ---- decisions --------------------------------------------------------------------------------

    def _decide(self, force: bool) -> None:
        self._next_round = self._clock + self.config.window_seconds
        self._end_stale_tracks()
        self._linker.reevaluate_young()
        self._linker.merge_young_identities()
        if self._plane is not None:
            self._linker.apply_floor(self._plane.review(self._clock))
        self._linker.assign_ready(force)
        self._expire()

    def _floor_now(self, tracks: list[LocalTrack]) -> None:
        """Between rounds, for one frame's tracks in a camera whose overlap can be compared: a pending
        track standing where exactly one known person stands in the other view joins that identity once
        `floor_min_samples` instants agree, and shows it as tentative before; young tracks get their
        conflict/merge verdicts now rather than at the next round."""
        plane = self._plane
        assert plane is not None
        for track in tracks:
            if track.global_id == UNASSIGNED:
                self._linker.join_partner(track)
            if track.global_id == UNASSIGNED and self.config.tentative_ids:
                partner = plane.partner(track, 1)
                if partner is not None:
                    track.tentative = partner.global_id
        verdicts = plane.review_new(tracks, self._clock)
        if verdicts:
            self._linker.apply_floor(verdicts)

    def _end_stale_tracks(self) -> None:
        cfg = self.config
        for camera in self._cameras.values():
            now = max(camera.last_pts, self._clock - cfg.max_lateness_seconds)
            for track in list(camera.tracks.values()):
                if not track.ended and now - track.last_seen > cfg.track_timeout_seconds:
                    self._end(track)
                if (
                    track.ended
                    and track.global_id != UNASSIGNED
                    and self._clock - track.last_seen > max(cfg.reevaluate_seconds, cfg.track_timeout_seconds)
                ):
                    self._drop(track)

    def _expire(self) -> None:
        store = self._store
        for gid in store.expired(self._clock, self.retire_after_seconds):
            self._retire(gid, reason="expired")
        for gid in store.over_capacity(self.config.max_identities):
            self._retire(gid, reason="capacity")
        if self._plane is not None:
            self._plane.forget()

    def _retire(self, gid: int, reason: str) -> None:
        last_seen = self._store.last_seen(gid)
        for track in self._store.retire(gid):
            track.global_id = UNASSIGNED
            self._drop(track)
        self._linker.counts["identities_retired"] += 1
        self._linker.events.append(events.retired(self._clock, gid, last_seen, reason))
