"""Candidate identities for a set of tracks: cheap filters first, exact gating last.

For each camera's group of tracks: (1) `Gate.reachable` keeps identities seen recently enough in a camera
that leads there (one comparison per identity and camera); (2) one matrix product gives appearance
similarity with those; (3) only identities within reach of `floor` (counting the largest possible bonus)
go through the exact (m, K, C) gating - and so do identities standing in a view that overlaps the
track's where fusion can compare positions (`Floor`): their bonus may outweigh appearance. With 16
cameras and thousands of live identities, (1) and (3) leave a small fraction, so a decision round costs
milliseconds, not the size of the gallery.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from pyuniproc.fusion.constraints import Gate
from pyuniproc.fusion.floor import Floor
from pyuniproc.fusion.identities import IdentityStore
from pyuniproc.fusion.tracks import UNASSIGNED, LocalTrack

SMALL_PRODUCT = 1 << 22
"""Products with fewer multiply-adds than this skip BLAS (see `cosine`)."""


def cosine(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(m, K) dot products of unit rows a (m, D) and b (K, D).

    Small products run in numpy's own loop: a multi-threaded BLAS wakes its threads for anything above a
    few hundred thousand multiply-adds, which on a busy 2-core host costs milliseconds per call (measured:
    4-6x slower fusion overall). Large products, where threads pay off, go to BLAS.
    """
    if a.shape[0] * b.shape[0] * a.shape[1] < SMALL_PRODUCT:
        return np.einsum("md,kd->mk", a, b)
    return a @ b.T


@dataclass(frozen=True, slots=True)
class Candidates:
    """m tracks against the identity rows in `columns` (store rows, ascending; others were filtered out).

    similarity: (m, K') float32 cosine of descriptors (NaN where not computed).
    anyone: (m,) bool, some identity may take the track; for rows not checked `exhaustive`ly only the
        examined identities count.
    score: (m, K') similarity + gating bonus; -inf where infeasible or not examined.
    feasible: (m, K') bool. predecessor: (m, K') int32 camera index of the exit the track continues
        (-1: none / co-visibility only).
    sure: (m,) bool, the track stands where exactly one identity stands in an overlapping view
        (`Floor.adjust`): a near-certain link that need not wait.
    """

    columns: np.ndarray
    similarity: np.ndarray
    score: np.ndarray
    feasible: np.ndarray
    predecessor: np.ndarray
    anyone: np.ndarray
    sure: np.ndarray

    def best(self, row: int, exclude_column: int = -1) -> int:
        """Index (into `columns`) of the best feasible identity for `row`, skipping store row
        `exclude_column`; -1 if none."""
        if not len(self.columns):
            return -1
        score = np.where(self.columns == exclude_column, -np.inf, self.score[row])
        best = int(np.argmax(score))
        return best if np.isfinite(score[best]) else -1


def find_candidates(
    gate: Gate,
    store: IdentityStore,
    tracks: list[LocalTrack],
    floor: float,
    max_bonus: float,
    columns: np.ndarray | None = None,
    exhaustive: np.ndarray | None = None,
    plane: Floor | None = None,
) -> Candidates:
    """Score and gate `tracks` as if each were unassigned (callers skip a track's own identity).

    floor: smallest score the caller can use; identities no track can reach (even with `max_bonus`) are
        not gated. columns: consider only these store rows (e.g. the identities changed this round).
    exhaustive: (m,) bool, rows to check against every reachable identity whatever its appearance:
        `anyone[row]` then says whether any identity at all could take that track.
    plane: where people are (`Floor`), or None: positions are not compared.
    """
    store.refresh()
    live = store.gid != UNASSIGNED
    if columns is not None:
        only = np.zeros(store.capacity, dtype=bool)
        only[columns] = True
        live &= only
    cameras = np.array([t.camera_index for t in tracks])
    first = np.array([t.first_seen for t in tracks])
    # (1) reachability per camera group, (2) one matrix product over the union, (3) appearance floor.
    reach = np.zeros((len(tracks), store.capacity), dtype=bool)
    for camera in np.unique(cameras):
        rows = cameras == camera
        reach[rows] = live & gate.reachable(int(camera), store.visit_last, float(first[rows].min()))
    union = np.flatnonzero(reach.any(axis=0))
    similarity = cosine(np.stack([t.descriptor for t in tracks]), store.unit[union])  # (m, |union|)
    similarity[~reach[:, union]] = np.nan
    with np.errstate(invalid="ignore"):
        keep = (similarity + max_bonus >= floor).any(axis=0)
    if plane is not None and plane.mapped.any():
        for camera in np.unique(cameras):
            rows = cameras == camera
            keep |= reach[np.ix_(rows, union)].any(axis=0) & plane.others_in_view(
                int(camera), store.visit_track[union], store.visit_last[union], float(first[rows].min())
            )
    kept, similarity = union[keep], similarity[:, keep]
    m, k = len(tracks), len(kept)
    score = np.full((m, k), -np.inf, dtype=np.float32)
    feasible = np.zeros((m, k), dtype=bool)
    predecessor = np.full((m, k), -1, dtype=np.int32)
    sure = np.zeros(m, dtype=bool)
    if k:
        zone_ok = None
        if plane is not None:
            zone_ok = plane.zone_ok(tracks, store.visit_position[kept], store.visit_height[kept])
        gating = gate.check(
            cameras,
            first,
            np.array([t.last_seen for t in tracks]),
            store.visit_first[kept],
            store.visit_last[kept],
            zone_ok,
        )
        feasible = gating.feasible & ~np.isnan(similarity)
        bonus = gating.bonus.astype(np.float64)
        if plane is not None:
            sure = plane.adjust(tracks, store.visit_track[kept], store.visit_last[kept], feasible, bonus)
        score = np.where(feasible, similarity + bonus, -np.inf).astype(np.float32)
        predecessor = np.where(feasible, gating.predecessor, -1).astype(np.int32)
    anyone = feasible.any(axis=1)
    if exhaustive is not None:
        # Rows with nothing feasible among the look-alikes: gate them against everyone else reachable.
        rows = np.flatnonzero(exhaustive & ~anyone)
        others = union[~keep]
        if len(rows) and len(others):
            gating = gate.check(
                cameras[rows],
                first[rows],
                np.array([tracks[i].last_seen for i in rows]),
                store.visit_first[others],
                store.visit_last[others],
            )
            anyone[rows] = (gating.feasible & reach[np.ix_(rows, others)]).any(axis=1)
    return Candidates(
        columns=kept,
        similarity=similarity,
        score=score,
        feasible=feasible,
        predecessor=predecessor,
        anyone=anyone,
        sure=sure,
    )
