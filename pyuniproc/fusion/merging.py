"""Joining a young identity into an older one, as a mixin of `Linker`.

A person who walks into two overlapping views at once gets one identity there from both tracks (the
floor or co-visibility joins them): if that identity was started before appearance could say it is a
person seen earlier in another camera, no single track can move to the older identity any more - each
is held by its partner (`reevaluate_young` moves one track at a time, and its own identity's other
track scores it high). Splits of this kind were the largest share of what fusion lost against ideal
linking on the tuning scenes (benchmarks/accuracy/fusion_errors.py: tracks whose whole-life appearance
matches the person's identity above `match_threshold`, gate open, yet apart).

So each round, every identity made only of young tracks (its first row less than `reevaluate_seconds`
ago, every track still in memory) is compared as a whole with the older identities: it joins the best
one when their descriptors' similarity plus the space-time bonus of its earliest track reaches
`match_threshold + merge_margin`, the gate lets its earliest track follow that identity, and none of
its tracks shares time with any of that identity's visits (a merge across time only: one person at two
places at once is for the floor and the conflict checks to judge). It uses `Linker`'s store, gate,
tracks, counts and `_move`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from pyuniproc.fusion.matching import cosine
from pyuniproc.fusion.tracks import UNASSIGNED, LocalTrack

if TYPE_CHECKING:
    from pyuniproc.fusion.linking import Linker

    _Base = Linker
else:
    _Base = object

MAX_MERGES_CHECKED = 64
"""Young identities compared per round at most (the newest first): bounds a round's cost in crowds."""


class IdentityMerges(_Base):
    """Whole-identity joins (mixed into `Linker`)."""

    def merge_young_identities(self) -> None:
        """Step 2b: young identities join the older identity they continue (see the module docstring)."""
        cfg, store, now = self.config, self.store, self.now
        if cfg.merge_margin is None or not len(store):
            return
        young = self._young_identities(now, cfg.reevaluate_seconds)
        if not young:
            return
        store.refresh()
        threshold = cfg.match_threshold + cfg.merge_margin
        live = np.flatnonzero(store.gid != UNASSIGNED)
        # When each identity began (its first track's first row; -inf once its first tracks were dropped).
        born = np.array([
            min((t.first_seen for t in store.members.get(int(g), [])), default=-np.inf)
            for g in store.gid[live].tolist()
        ])
        changed: set[int] = set()
        for gid, members in young:
            if gid in changed or gid not in store:
                continue
            first = min(members, key=lambda t: (t.first_seen, t.uid))
            similarity = cosine(store.unit[store.row(gid)][None].astype(np.float32), store.unit[live])[0]
            reachable = similarity + self.max_bonus >= threshold
            candidates = np.flatnonzero((born < first.first_seen) & reachable & (store.gid[live] != gid))
            best, best_score = UNASSIGNED, -np.inf
            for i in candidates.tolist():
                target = int(store.gid[live[i]])
                if target in changed:
                    continue
                score = self._merge_score(members, first, int(live[i]), float(similarity[i]))
                if score >= threshold and score > best_score:
                    best, best_score = target, score
            if best == UNASSIGNED:
                continue
            for track in sorted(members, key=lambda t: (t.first_seen, t.uid)):
                self._move(track, "identity_merge", to=best, confidence=best_score - threshold)
            self.counts["identity_merges"] += 1
            changed.update((gid, best))

    def _young_identities(self, now: float, horizon: float) -> list[tuple[int, list[LocalTrack]]]:
        """(gid, its tracks) of identities whose every track is younger than `horizon` and still in
        memory (its descriptor is exactly theirs), newest first, at most `MAX_MERGES_CHECKED`."""
        store, found = self.store, []
        for gid, members in store.members.items():
            if not members or any(t.age(now) >= horizon for t in members):
                continue
            if abs(sum(t.weight for t in members) - float(store.weight[store.row(gid)])) > 1e-6:
                continue  # some track was forgotten: its evidence could not move with the others
            if all(t.descriptor_sum is None for t in members):
                continue
            found.append((gid, members))
        found.sort(key=lambda item: -min(t.first_seen for t in item[1]))
        return found[:MAX_MERGES_CHECKED]

    def _merge_score(
        self, members: list[LocalTrack], first: LocalTrack, row: int, similarity: float
    ) -> float:
        """similarity + the gate's bonus for `first` continuing identity row `row`; -inf when the gate
        refuses that or any of `members` shares time with one of the identity's visits."""
        store, gate = self.store, self.gate
        visit_first, visit_last = store.visit_first[row][None], store.visit_last[row][None]
        with np.errstate(invalid="ignore"):
            for track in members:
                shared = np.minimum(visit_last[0], track.last_seen) - np.maximum(
                    visit_first[0], track.first_seen
                )
                if (shared > gate.tolerance).any():
                    return -np.inf
        gating = gate.check(
            np.array([first.camera_index]), np.array([first.first_seen]), np.array([first.last_seen]),
            visit_first, visit_last,
        )
        if not gating.feasible[0, 0]:
            return -np.inf
        return similarity + float(gating.bonus[0, 0])
