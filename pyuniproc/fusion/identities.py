"""The global identity store: one row per live identity in numpy tables, rows recycled on retirement.

Per identity:
  - descriptor: quality-weighted sum of every embedding of its tracks (float64) and its unit vector
    (float32, what matching multiplies against);
  - whereabouts: the latest visit per camera - first/last seen (site seconds), which local track, feet
    position and box height at its latest row - as (capacity, C) tables that `Gate.check` reads directly;
  - how many of its tracks are active, and which tracks the fusion still holds in memory (members).

Memory is bounded by retiring identities (`expired`, `over_capacity`); the tables then never grow past
the peak number of live identities.
"""

from __future__ import annotations

import numpy as np

from pyuniproc.fusion.tracks import UNASSIGNED, LocalTrack


class IdentityStore:
    """Global identities of one site with `n_cameras` cameras; global ids count up from 1, never reused."""

    def __init__(self, n_cameras: int, capacity: int = 64) -> None:
        self.n_cameras = n_cameras
        self.dim: int | None = None
        self.gid = np.full(capacity, UNASSIGNED, dtype=np.int64)
        self.weight = np.zeros(capacity)
        self.active = np.zeros(capacity, dtype=np.int32)
        self.visit_first = np.full((capacity, n_cameras), np.nan)
        self.visit_last = np.full((capacity, n_cameras), np.nan)
        self.visit_track = np.full((capacity, n_cameras), -1, dtype=np.int64)
        self.visit_position = np.zeros((capacity, n_cameras, 2), dtype=np.float32)
        self.visit_height = np.zeros((capacity, n_cameras), dtype=np.float32)
        self.descriptor_sum = np.zeros((capacity, 0))
        self.unit = np.zeros((capacity, 0), dtype=np.float32)
        self.members: dict[int, list[LocalTrack]] = {}
        self._row: dict[int, int] = {}
        self._free = list(range(capacity - 1, -1, -1))
        self._stale: set[int] = set()  # rows whose `unit` lags `descriptor_sum`
        self._next_gid = 1

    def __len__(self) -> int:
        return len(self._row)

    def __contains__(self, gid: int) -> bool:
        return gid in self._row

    @property
    def capacity(self) -> int:
        return len(self.gid)

    def row(self, gid: int) -> int:
        return self._row[gid]

    def set_dim(self, dim: int) -> None:
        """Fix the embedding width on the first embedding; later embeddings must match it."""
        if self.dim is None:
            self.dim = dim
            self.descriptor_sum = np.zeros((self.capacity, dim))
            self.unit = np.zeros((self.capacity, dim), dtype=np.float32)
        elif dim != self.dim:
            raise ValueError(
                f"embedding width changed from {self.dim} to {dim}; all cameras must use one embedder"
            )

    def continue_after(self, largest: int) -> None:
        """Ids from now on are above `largest` (ids given out so far stay as they are)."""
        self._next_gid = max(self._next_gid, int(largest) + 1)

    @property
    def largest_id(self) -> int:
        return self._next_gid - 1

    def reserve(self) -> int:
        """A global id no identity has or will have, for `create` to use later (a tentative new id)."""
        self._next_gid += 1
        return self._next_gid - 1

    def create(self, track: LocalTrack, gid: int | None = None) -> int:
        """A new identity made of `track` alone, under a `reserve`d id or the next one; returns its id."""
        if not self._free:
            self._grow()
        row = self._free.pop()
        if gid is None:
            gid = self.reserve()
        self._row[gid] = row
        self.gid[row] = gid
        self.members[gid] = []
        self.attach(gid, track)
        return gid

    def attach(self, gid: int, track: LocalTrack) -> None:
        """Add `track` (and its embeddings so far) to identity `gid`."""
        row = self._row[gid]
        track.global_id = gid
        self.members[gid].append(track)
        if track.descriptor_sum is not None:
            self.descriptor_sum[row] += track.descriptor_sum
            self.weight[row] += track.weight
            self._normalise(row)
        self.active[row] += not track.ended
        c = track.camera_index
        if np.isnan(self.visit_first[row, c]) or track.first_seen >= self.visit_first[row, c]:
            self._set_visit(row, track)

    def detach(self, track: LocalTrack) -> bool:
        """Take `track` out of its identity; True when the identity is left with no visit at all."""
        gid = track.global_id
        row = self._row[gid]
        self.members[gid] = [t for t in self.members[gid] if t is not track]
        if track.descriptor_sum is not None:
            self.descriptor_sum[row] -= track.descriptor_sum
            self.weight[row] = max(self.weight[row] - track.weight, 0.0)
            self._normalise(row)
        self.active[row] -= not track.ended
        c = track.camera_index
        if self.visit_track[row, c] == track.uid:
            others = [t for t in self.members[gid] if t.camera_index == c]
            if others:
                self._set_visit(row, max(others, key=lambda t: (t.first_seen, t.uid)))
            else:
                self.visit_first[row, c] = self.visit_last[row, c] = np.nan
                self.visit_track[row, c] = -1
        track.global_id = UNASSIGNED
        return bool(np.isnan(self.visit_first[row]).all())

    def add_embedding(self, gid: int, weighted: np.ndarray, quality: float) -> None:
        """One more embedding of one of its tracks; `unit` catches up at the next `refresh`."""
        row = self._row[gid]
        self.descriptor_sum[row] += weighted
        self.weight[row] += quality
        self._stale.add(row)

    def refresh(self) -> None:
        """Renormalise the descriptors changed since the last call (one vectorised step per round)."""
        if self._stale:
            rows = np.fromiter(self._stale, dtype=np.int64)
            self._stale.clear()
            norms = np.linalg.norm(self.descriptor_sum[rows], axis=1, keepdims=True)
            self.unit[rows] = np.where(
                norms > 1e-12, self.descriptor_sum[rows] / np.maximum(norms, 1e-12), 0.0
            )

    def observe(self, track: LocalTrack) -> None:
        """A new row of an assigned track: extend its visit (if it is its identity's latest there)."""
        row = self._row[track.global_id]
        c = track.camera_index
        if self.visit_track[row, c] == track.uid:
            self.visit_last[row, c] = track.last_seen
            self.visit_position[row, c] = track.position
            self.visit_height[row, c] = track.height

    def set_active(self, track: LocalTrack, active: bool) -> None:
        """An assigned track ended (False) or came back (True)."""
        self.active[self._row[track.global_id]] += 1 if active else -1

    def forget(self, track: LocalTrack) -> None:
        """The fusion drops an ended track from memory; its visit stays in the tables."""
        members = self.members.get(track.global_id)
        if members is not None:
            self.members[track.global_id] = [t for t in members if t is not track]

    def descriptor_without(self, track: LocalTrack) -> np.ndarray | None:
        """(D,) unit descriptor of the track's identity without the track; None if nothing else is left."""
        row = self._row[track.global_id]
        rest = self.descriptor_sum[row] - (track.descriptor_sum if track.descriptor_sum is not None else 0.0)
        if self.weight[row] - track.weight <= 1e-6:
            return None
        norm = float(np.linalg.norm(rest))
        return None if norm < 1e-9 else (rest / norm).astype(np.float32)

    def visits_without(self, track: LocalTrack) -> tuple[np.ndarray, np.ndarray]:
        """(C,) first and last seen per camera of the track's identity as if the track were not in it
        (its visit replaced by the identity's previous one in that camera, NaN if none is held)."""
        row = self._row[track.global_id]
        first, last = self.visit_first[row].copy(), self.visit_last[row].copy()
        c = track.camera_index
        if self.visit_track[row, c] == track.uid:
            others = [t for t in self.members[track.global_id] if t.camera_index == c and t is not track]
            previous = max(others, key=lambda t: (t.first_seen, t.uid), default=None)
            first[c] = np.nan if previous is None else previous.first_seen
            last[c] = np.nan if previous is None else previous.last_seen
        return first, last

    def last_seen(self, gid: int) -> float:
        return float(np.nanmax(self.visit_last[self._row[gid]], initial=-np.inf))

    def expired(self, now: float, horizon: float) -> list[int]:
        """Global ids with no active track, unseen for more than `horizon` seconds, oldest first."""
        with np.errstate(invalid="ignore"):
            last = np.nanmax(np.where(np.isnan(self.visit_last), -np.inf, self.visit_last), axis=1)
        rows = np.flatnonzero((self.gid != UNASSIGNED) & (self.active <= 0) & (last < now - horizon))
        return [int(self.gid[r]) for r in rows[np.lexsort((self.gid[rows], last[rows]))]]

    def over_capacity(self, limit: int) -> list[int]:
        """Inactive global ids to retire, longest unseen first, to bring the count down to `limit`."""
        excess = len(self._row) - limit
        if excess <= 0:
            return []
        last = np.nanmax(np.where(np.isnan(self.visit_last), -np.inf, self.visit_last), axis=1)
        rows = np.flatnonzero((self.gid != UNASSIGNED) & (self.active <= 0))
        rows = rows[np.lexsort((self.gid[rows], last[rows]))][:excess]
        return [int(self.gid[r]) for r in rows]

    def retire(self, gid: int) -> list[LocalTrack]:
        """Free the identity's row; returns the tracks still held for it (the caller drops them)."""
        row = self._row.pop(gid)
        self.gid[row] = UNASSIGNED
        self.weight[row] = 0.0
        self.active[row] = 0
        self.visit_first[row] = self.visit_last[row] = np.nan
        self.visit_track[row] = -1
        self.descriptor_sum[row] = 0.0
        self.unit[row] = 0.0
        self._stale.discard(row)
        self._free.append(row)
        return self.members.pop(gid, [])

    def add_camera(self) -> None:
        """One more camera column in the whereabouts tables (a camera first seen after start)."""
        self.n_cameras += 1
        self.visit_first = np.pad(self.visit_first, ((0, 0), (0, 1)), constant_values=np.nan)
        self.visit_last = np.pad(self.visit_last, ((0, 0), (0, 1)), constant_values=np.nan)
        self.visit_track = np.pad(self.visit_track, ((0, 0), (0, 1)), constant_values=-1)
        self.visit_position = np.pad(self.visit_position, ((0, 0), (0, 1), (0, 0)))
        self.visit_height = np.pad(self.visit_height, ((0, 0), (0, 1)))

    def _set_visit(self, row: int, track: LocalTrack) -> None:
        c = track.camera_index
        self.visit_first[row, c] = track.first_seen
        self.visit_last[row, c] = track.last_seen
        self.visit_track[row, c] = track.uid
        self.visit_position[row, c] = track.position
        self.visit_height[row, c] = track.height

    def _normalise(self, row: int) -> None:
        norm = float(np.linalg.norm(self.descriptor_sum[row]))
        self.unit[row] = self.descriptor_sum[row] / norm if norm > 1e-12 else 0.0

    def _grow(self) -> None:
        old = self.capacity
        new = old * 2

        def grow(array: np.ndarray, fill: float) -> np.ndarray:
            extra = np.full((new - old, *array.shape[1:]), fill, dtype=array.dtype)
            return np.concatenate([array, extra])

        self.gid = grow(self.gid, UNASSIGNED)
        self.weight, self.active = grow(self.weight, 0), grow(self.active, 0)
        self.visit_first, self.visit_last = grow(self.visit_first, np.nan), grow(self.visit_last, np.nan)
        self.visit_track, self.visit_position = grow(self.visit_track, -1), grow(self.visit_position, 0)
        self.visit_height = grow(self.visit_height, 0)
        self.descriptor_sum, self.unit = grow(self.descriptor_sum, 0), grow(self.unit, 0)
        self._free.extend(range(new - 1, old - 1, -1))
