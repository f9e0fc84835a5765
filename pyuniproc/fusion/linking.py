"""Linking tracks to identities: joint assignment of ready tracks, and corrections of earlier links.

`Linker` holds the decision logic the `Fusion` driver calls once per round (`reevaluate_young`,
`apply_floor`, `assign_ready`) and on every frame (`resolve_conflicts`). It shares the driver's identity
store, track table, transition log, event list and counters; the driver keeps `now` (the site clock)
current.
"""

from __future__ import annotations

import math
from collections import OrderedDict, deque

import numpy as np

from pyuniproc.fusion import events
from pyuniproc.fusion.assign import NEW, assign_jointly
from pyuniproc.fusion.config import FusionConfig
from pyuniproc.fusion.constraints import Gate
from pyuniproc.fusion.floor import Floor
from pyuniproc.fusion.floor_links import FloorLinks
from pyuniproc.fusion.identities import IdentityStore
from pyuniproc.fusion.matching import Candidates, cosine, find_candidates
from pyuniproc.fusion.merging import IdentityMerges
from pyuniproc.fusion.tracks import UNASSIGNED, LocalTrack, Transition

MAX_REVIEWS_PER_ROUND = 64
"""Young tracks re-evaluated per round at most: bounds the cost of one round on a crowded site."""
DELAYS_KEPT = 10_000
"""First decisions whose delay (first row -> id) the latency figures are computed over (the latest)."""


class Linker(FloorLinks, IdentityMerges):
    """Decides which identity each ready track joins, and undoes links that later evidence contradicts.

    Args:
        config: thresholds (the whole `FusionConfig`: most of its fields are decision rules used here).
        gate: the site's space-time gate. store: the identity store. tracks: every track in memory, by uid.
        plane: where people are (`Floor`), or None when positions are not compared.
    """

    def __init__(
        self,
        config: FusionConfig,
        gate: Gate,
        store: IdentityStore,
        tracks: dict[int, LocalTrack],
        plane: Floor | None = None,
    ):
        self.config, self.gate, self.store, self.tracks, self.plane = config, gate, store, tracks, plane
        self.max_bonus = gate.covisibility_bonus + gate.transition_bonus
        self.delays: deque[float] = deque(maxlen=DELAYS_KEPT)  # site seconds from first row to first id
        self.now = -math.inf
        self.transitions: OrderedDict[int, Transition] = OrderedDict()  # by track uid
        self.events: list[dict] = []
        self.counts = dict.fromkeys(
            (
                "identities_created",
                "identities_retired",
                "matches",
                "deferrals",
                "corrections",
                "conflicts",
                "transitions",
                "identity_merges",
            ),
            0,
        )

    def _candidates(
        self,
        tracks: list[LocalTrack],
        floor: float,
        columns: np.ndarray | None = None,
        screen: np.ndarray | None = None,
    ) -> Candidates:
        return find_candidates(
            self.gate, self.store, tracks, floor, self.max_bonus, columns, screen, plane=self.plane
        )

    def assign_ready(self, force: bool) -> None:
        """Step 3: the ready pending tracks, jointly: committed unless the call is close (and they still
        have time). Then the others (not ready, or deferred) jointly, for their tentative ids. A pending
        track with no embedding yet joins the identity standing exactly where it stands in an overlapping
        view (the floor needs no appearance)."""
        cfg, now = self.config, self.now
        for track in list(self.tracks.values()):
            if track.global_id != UNASSIGNED or track.descriptor_sum is not None or track.ended:
                continue
            if self.plane is not None and self.plane.mapped.any():
                self.join_partner(track)
            if track.global_id == UNASSIGNED and (force or track.age(now) >= cfg.max_pending_seconds):
                # The decision delay is bounded: still no embedding, so an identity of its own for now;
                # its first embeddings trigger a review that may move it (a correction event).
                self.store.create(track, gid=None if track.reserved == UNASSIGNED else track.reserved)
                self.counts["identities_created"] += 1
                self._assigned(track, math.inf, math.nan, new=True, announce=True)
        pending = [
            t for t in self.tracks.values() if t.global_id == UNASSIGNED and t.descriptor_sum is not None
        ]
        if not pending:
            return
        ready = {
            t.uid
            for t in pending
            if force or t.ended or t.n_embeddings >= cfg.min_embeddings or t.age(now) >= cfg.decision_seconds
        }
        pending.sort(key=lambda t: (t.first_seen, t.camera_index, t.track_id))
        # A track no identity may take whatever it looks like (gating alone) is a new person, and more
        # embeddings cannot change that (gating only tightens as a track grows): it need not wait.
        # Each track is screened once, on its first round with an embedding.
        screen = np.array([not t.screened for t in pending])
        found = self._candidates(pending, floor=cfg.match_threshold - cfg.appearance_margin, screen=screen)
        for track, anyone, screened, sure in zip(pending, found.anyone, screen, found.sure, strict=True):
            track.screened = True
            if (screened and not anyone) or sure:  # sure: standing where one identity stands in another view
                ready.add(track.uid)
        rows = np.array([t.uid in ready for t in pending])
        decisions = assign_jointly(
            found.score[rows],
            found.feasible[rows],
            new_score=cfg.match_threshold,
            margin=cfg.appearance_margin,
        )
        starts, changed, taken, waiting = [], [], np.zeros(len(found.columns), dtype=bool), ~rows
        for d, i in zip(decisions, np.flatnonzero(rows), strict=True):
            track = pending[i]
            out_of_time = force or track.ended or track.age(now) >= cfg.max_pending_seconds
            if d.margin < cfg.appearance_margin and not out_of_time:
                self.counts["deferrals"] += 1
                waiting[i] = True
            elif d.column == NEW:
                starts.append((track, d.margin))
            else:
                row = int(found.columns[d.column])
                self._attach(
                    track,
                    int(self.store.gid[row]),
                    int(found.predecessor[i, d.column]),
                    d.margin,
                    float(found.similarity[i, d.column]),
                )
                changed.append(row)
                taken[d.column] = True
        if waiting.any():
            self._guess(
                [pending[i] for i in np.flatnonzero(waiting)],
                found.columns,
                found.score[waiting] + np.where(taken, -np.inf, 0.0),
                found.feasible[waiting] & ~taken,
            )
        for track, margin in starts:
            # Someone who looks the same may have joined or started an identity this very round (the same
            # person entering two overlapping views at once): check those before starting a new one.
            gid = self._place(
                track, exclude=None, confidence=margin, columns=np.array(changed, dtype=np.int64)
            )
            changed.append(self.store.row(gid))

    def _guess(self, tracks: list[LocalTrack], columns: np.ndarray, score: np.ndarray, feasible: np.ndarray):
        """Tentative ids for tracks still pending: the joint answer among them, with a reserved new id
        (kept if the track is later decided new) where the answer is "new"."""
        cfg = self.config
        decisions = assign_jointly(
            score, feasible, new_score=cfg.match_threshold, margin=cfg.appearance_margin
        )
        for track, d in zip(tracks, decisions, strict=True):
            if d.column != NEW:
                track.tentative = int(self.store.gid[columns[d.column]])
                continue
            if track.reserved == UNASSIGNED:
                track.reserved = self.store.reserve()
            track.tentative = track.reserved

    def _place(
        self,
        track: LocalTrack,
        exclude: int | None,
        confidence: float,
        announce: bool = True,
        columns: np.ndarray | None = None,
    ) -> int:
        """Join the best feasible identity (other than `exclude`, among `columns`) scoring at least
        threshold + margin, else start a new identity. Returns the global id."""
        store, cfg = self.store, self.config
        threshold = cfg.match_threshold + cfg.appearance_margin
        if columns is not None and len(columns):  # cheap look before the full check
            store.refresh()
            most = self.max_bonus + (self.plane.bonus if self.plane is not None else 0.0)
            if float(cosine(track.descriptor[None], store.unit[columns]).max()) + most < threshold:
                columns = columns[:0]
        if columns is None or len(columns):
            found = self._candidates([track], floor=threshold, columns=columns)
            best = found.best(0, exclude_column=-1 if exclude is None else store.row(exclude))
            if best >= 0 and found.score[0, best] >= threshold:
                gid = int(store.gid[found.columns[best]])
                self._attach(
                    track,
                    gid,
                    int(found.predecessor[0, best]),
                    float(found.score[0, best] - threshold),
                    float(found.similarity[0, best]),
                    announce,
                )
                return gid
        gid = store.create(track, gid=None if track.reserved == UNASSIGNED else track.reserved)
        self.counts["identities_created"] += 1
        self._assigned(track, confidence, math.nan, new=True, announce=announce)
        return gid

    def _attach(
        self,
        track: LocalTrack,
        gid: int,
        predecessor: int,
        confidence: float,
        similarity: float,
        announce: bool = True,
    ) -> None:
        store = self.store
        if predecessor >= 0:
            row = store.row(gid)
            exit_position = store.visit_position[row, predecessor]
            exit_height = float(store.visit_height[row, predecessor])
            self.transitions[track.uid] = Transition(
                gid,
                self.gate.camera_ids[predecessor],
                track.camera_id,
                float(store.visit_last[row, predecessor]),
                track.first_seen,
                (float(exit_position[0]), float(exit_position[1])),
                track.entry_position,
                exit_height,
                track.entry_height,
            )
            if self.plane is not None and predecessor != track.camera_index:
                source = self.gate.camera_ids[predecessor]
                if not self.gate.overlap[predecessor, track.camera_index]:
                    self.plane.zones.record(
                        (source, track.camera_id),
                        (float(exit_position[0]), float(exit_position[1])),
                        exit_height,
                        track.entry_position,
                        track.entry_height,
                    )
            self.counts["transitions"] += 1
            while len(self.transitions) > self.config.max_transitions:
                self.transitions.popitem(last=False)
        store.attach(gid, track)
        self.counts["matches"] += 1
        self._assigned(track, confidence, similarity, new=False, announce=announce)

    def _assigned(
        self, track: LocalTrack, confidence: float, similarity: float, new: bool, announce: bool
    ) -> None:
        if math.isnan(track.assigned_at):
            self.delays.append(self.now - track.first_seen)
        track.confidence, track.assigned_at, track.reviewed_at = confidence, self.now, track.n_embeddings
        track.tentative = UNASSIGNED
        if announce:
            transition = None if new else self.transitions.get(track.uid)
            self.events.append(events.assigned(self.now, track, new, similarity, confidence, transition))

    # ---- corrections ------------------------------------------------------------------------------

    def reevaluate_young(self) -> None:
        """Step 2: young tracks with grown evidence move when another identity fits much better, or split
        off when they no longer look like their own."""
        cfg, now, store = self.config, self.now, self.store
        young = [
            t
            for t in self.tracks.values()
            if t.global_id != UNASSIGNED and t.review_due and t.age(now) < cfg.reevaluate_seconds
        ]
        if not young:
            return
        if len(young) > MAX_REVIEWS_PER_ROUND:  # the most new evidence first; the rest wait a round
            young.sort(key=lambda t: (t.reviewed_at - t.n_embeddings, t.uid))
            young = young[:MAX_REVIEWS_PER_ROUND]
        young.sort(key=lambda t: (-t.global_id, t.uid))  # newest identities first: they merge into older ones
        found = self._candidates(young, floor=cfg.match_threshold)
        own_rows = np.array([store.row(t.global_id) for t in young])
        # Similarity to the own identity without the track itself ("being new" when it is alone there).
        rest = store.descriptor_sum[own_rows] - np.stack([t.descriptor_sum for t in young])
        rest_norm = np.linalg.norm(rest, axis=1)
        alone = (store.weight[own_rows] - np.array([t.weight for t in young]) <= 1e-6) | (rest_norm < 1e-9)
        descriptors = np.stack([t.descriptor for t in young])
        with np.errstate(invalid="ignore", divide="ignore"):
            own_similarity = np.einsum("md,md->m", descriptors, rest / rest_norm[:, None])
        # The own identity is scored like the others (similarity + the same space-time bonus), so that a
        # bonus the others earn (co-visibility, a typical walk) does not by itself pull the track away.
        current = np.where(alone, cfg.match_threshold, own_similarity + self._own_bonus(young))
        others = np.where(found.columns[None, :] == own_rows[:, None], -np.inf, found.score)
        best = others.argmax(axis=1) if len(found.columns) else np.zeros(len(young), dtype=np.int64)
        best_score = (
            others[np.arange(len(young)), best] if len(found.columns) else np.full(len(young), -np.inf)
        )
        relink = (best_score >= cfg.match_threshold) & (best_score - current >= cfg.correction_margin)
        split = ~alone & (own_similarity < cfg.split_threshold)
        for track in young:
            track.reviewed_at = track.n_embeddings
        taken: set[int] = set()
        for i in np.flatnonzero(relink | split):
            track = young[i]
            if track.global_id in taken or store.row(track.global_id) != own_rows[i]:
                continue  # its identity changed earlier in this loop; check again next round
            target = int(store.gid[found.columns[best[i]]]) if relink[i] else UNASSIGNED
            if relink[i] and target not in taken and target in store:
                taken.add(target)
                self._move(
                    track,
                    "appearance_relink",
                    to=target,
                    predecessor=int(found.predecessor[i, best[i]]),
                    confidence=float(best_score[i] - current[i]),
                )
            elif split[i]:
                self._move(track, "appearance_split")

    def _own_bonus(self, tracks: list[LocalTrack]) -> np.ndarray:
        """(m,) the gating bonus each assigned track would earn from its own identity without it
        (0 where that identity is empty without it or would not be feasible)."""
        if not self.max_bonus and self.plane is None:
            return np.zeros(len(tracks))
        tables = [self.store.visits_without(t) for t in tracks]
        gating = self.gate.check(
            np.array([t.camera_index for t in tracks]),
            np.array([t.first_seen for t in tracks]),
            np.array([t.last_seen for t in tracks]),
            np.stack([first for first, _ in tables]),
            np.stack([last for _, last in tables]),
        )
        bonus = np.diagonal(gating.bonus).astype(np.float64)
        if self.plane is not None and self.plane.mapped.any():
            # The floor bonus of its own identity too: otherwise a lookalike elsewhere could pull away a
            # track that stands exactly where its identity stands in the other view.
            for i, track in enumerate(tracks):
                row = self.store.row(track.global_id)
                visit_track = self.store.visit_track[row][None].copy()
                visit_track[0, track.camera_index] = -1
                own = np.zeros((1, 1))
                last = self.store.visit_last[row][None]
                self.plane.adjust([track], visit_track, last, np.ones((1, 1), bool), own)
                bonus[i] += own[0, 0]
        return bonus

    def resolve_conflicts(self, tracks: list[LocalTrack]) -> None:
        """One identity, two exclusive places at once: undo the later assignment of the two.

        Checks each assigned track of this frame against its identity's latest visit in every camera.
        """
        if not tracks:
            return
        store, gate = self.store, self.gate
        rows = np.array([store.row(t.global_id) for t in tracks])
        cameras = np.array([t.camera_index for t in tracks])
        with np.errstate(invalid="ignore"):
            shared = np.minimum(
                store.visit_last[rows], np.array([t.last_seen for t in tracks])[:, None]
            ) - np.maximum(store.visit_first[rows], np.array([t.first_seen for t in tracks])[:, None])
            clash = (
                (shared > gate.shared_allowed[cameras])
                & gate.exclusive[cameras]
                & (store.visit_track[rows] != np.array([t.uid for t in tracks])[:, None])
            )
        for i, camera in zip(*np.nonzero(clash), strict=True):
            track = tracks[i]
            if (
                track.global_id == UNASSIGNED
                or store.row(track.global_id) != rows[i]
                or store.visit_track[rows[i], camera] == track.uid
            ):
                continue  # already moved by an earlier clash in this frame
            other = self.tracks.get(int(store.visit_track[rows[i], camera]))
            later = other is None or (track.assigned_at, track.uid) > (other.assigned_at, other.uid)
            self.counts["conflicts"] += 1
            self._move(track if later else other, "conflict", to=UNASSIGNED)

    def _move(
        self,
        track: LocalTrack,
        reason: str,
        to: int | None = None,
        predecessor: int = -1,
        confidence: float = math.nan,
    ) -> None:
        """Re-link `track` to identity `to`, to a new identity (None) or to the best feasible other (-1)."""
        old = track.global_id
        emptied = self.store.detach(track)
        self.transitions.pop(track.uid, None)
        self.counts["corrections"] += 1
        if to is None or (to == UNASSIGNED and track.descriptor_sum is None):  # (nothing to compare with)
            self.store.create(track)
            self.counts["identities_created"] += 1
            self._assigned(track, math.nan, math.nan, new=True, announce=False)
        elif to == UNASSIGNED:
            self._place(track, exclude=old, confidence=math.nan, announce=False)
        else:
            self._attach(track, to, predecessor, confidence, math.nan, announce=False)
        self.events.append(events.corrected(self.now, track, old, reason))
        if emptied and old in self.store:
            # Nothing is left of it (its only track moved): give the id up now.
            for orphan in self.store.retire(old):  # none expected; re-decided if any
                orphan.global_id = UNASSIGNED
            self.counts["identities_retired"] += 1
            self.events.append(events.retired(self.now, old, math.nan, "emptied"))
