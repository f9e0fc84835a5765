"""Linking by where people are: the decisions the floor (`floor.Floor`) drives, as a mixin of `Linker`.

Kept apart from `linking` so each module stays one job: `Linker` decides by appearance, gating and the
joint assignment; `FloorLinks` adds what position on the floor decides on its own - one identity seen at
two places at once (undo the later assignment), two identities at one place (merge), and a pending track
standing exactly where a known person stands in an overlapping view (join, no appearance needed).
It uses `Linker`'s store, gate, plane, counts, `_attach`, `_candidates` and `_move`.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

from pyuniproc.fusion.floor import Verdict
from pyuniproc.fusion.tracks import UNASSIGNED, LocalTrack

if TYPE_CHECKING:
    from pyuniproc.fusion.linking import Linker

    _Base = Linker
else:
    _Base = object


class FloorLinks(_Base):
    """The floor's corrections and joins (mixed into `Linker`)."""

    def apply_floor(self, verdicts: list[Verdict]) -> None:
        """One identity at two places at once: the later assignment is undone and re-decided. Two
        identities at one place: one track joins the other's identity - preferably the track whose
        identity holds less (a relabel), else the one assigned later; the other way round when gating
        forbids that; and when both ways are forbidden because the identity already has another track
        in the mover's camera at the same time, that track is the wrong one (the floor says who stands
        here) and is re-decided first."""
        assert self.plane is not None
        for verdict in verdicts:
            one, two = verdict.track, verdict.other
            if verdict.kind == "conflict":
                if one.global_id == UNASSIGNED or one.global_id != two.global_id:
                    continue  # changed by an earlier verdict this round
                self.plane.counts["floor_conflicts"] += 1
                later = max((one, two), key=lambda t: (t.assigned_at, t.uid))
                self._move(later, "floor_conflict", to=UNASSIGNED)
                continue
            if UNASSIGNED in (one.global_id, two.global_id) or one.global_id == two.global_id:
                continue
            mover, keeper = sorted(
                (one, two), key=lambda t: (-len(self.store.members[t.global_id]), t.assigned_at, t.uid)
            )[::-1]
            if self._join(mover, keeper) or self._join(keeper, mover):
                continue
            row = self.store.row(keeper.global_id)
            blocker = self.tracks.get(int(self.store.visit_track[row, mover.camera_index]))
            if blocker is not None and blocker is not mover and blocker.global_id == keeper.global_id:
                self.plane.counts["floor_conflicts"] += 1
                self._move(blocker, "floor_conflict", to=UNASSIGNED)
                if mover.global_id != keeper.global_id:
                    self._join(mover, keeper)

    def join_partner(self, track: LocalTrack) -> None:
        """Attach a pending track to its floor partner's identity, if gating allows."""
        assert self.plane is not None
        partner = self.plane.partner(track, self.plane.min_samples)
        if partner is None:
            return
        predecessor = self._may_join(track, partner.global_id)
        if predecessor is not None:
            self._attach(track, partner.global_id, predecessor, math.inf, math.nan)

    def _may_join(self, track: LocalTrack, gid: int) -> int | None:
        """The camera index `track` would continue if it joined identity `gid` (-1: co-visible, no
        hand-over), or None when gating or the floor forbid it. Appearance plays no part: the floor
        already said who stands there (and a track may have no embedding yet)."""
        assert self.plane is not None
        row = self.store.row(gid)
        gating = self.gate.check(
            np.array([track.camera_index]),
            np.array([track.first_seen]),
            np.array([track.last_seen]),
            self.store.visit_first[row][None],
            self.store.visit_last[row][None],
        )
        feasible = gating.feasible.copy()
        if feasible[0, 0]:
            bonus = np.zeros((1, 1))
            self.plane.adjust([track], self.store.visit_track[row][None], self.store.visit_last[row][None],
                              feasible, bonus)
        return int(gating.predecessor[0, 0]) if feasible[0, 0] else None

    def _join(self, mover: LocalTrack, keeper: LocalTrack) -> bool:
        """Move `mover` into `keeper`'s identity if gating allows (a floor merge); True when done."""
        predecessor = self._may_join(mover, keeper.global_id)
        if predecessor is None:
            return False
        assert self.plane is not None
        self.plane.counts["floor_merges"] += 1
        self._move(mover, "floor_merge", to=keeper.global_id, predecessor=predecessor)
        return True
