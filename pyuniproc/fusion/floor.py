"""Where people are: comparing where two overlapping cameras see a person on the floor.

Two cameras that see the same floor at the same instant see one person at one place. For a pair of
overlapping cameras fusion can compare positions when both are calibrated (cameras file `ground:`:
image foot point -> site plane in metres) or once it has learned the map between their feet from the
run (`overlap_map`). Distances are in metres: on the plane when calibrated, else the pixel gap in the
second view divided by the person's height there times `PERSON_METRES`.

Three uses, all between tracks seen at the same instants (at least `min_samples` of them):
  - candidates: an identity visible in the other view at the same place earns `bonus` (in full within
    `near` metres, fading to 0 at twice that); one visible there at least `far` metres away is not the
    same person (infeasible);
  - verdicts each decision round: one identity at two places at once (a conflict to undo), or two
    identities at one place (a merge);
  - learning: the correspondences the uncalibrated maps are fitted from.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.optimize import linear_sum_assignment

from pyuniproc.calibration import GroundCalibration, apply_homography
from pyuniproc.fusion.overlap_map import OverlapMap, inside
from pyuniproc.fusion.tracks import UNASSIGNED, LocalTrack
from pyuniproc.fusion.zones import ZoneBook

PERSON_METRES = 1.7
"""Height of a standing person: turns a pixel gap in a view into metres, using the box height there."""
MAX_COMMON = 6
"""Latest common instants compared (about a second at 10 fps): where people are now, not long ago."""
MAX_TIME_GAP = 0.3
"""A sample of one track counts at an instant of the other when one of its own lies this close in time."""
ACTIVE_SECONDS = 0.5
"""Tracks seen within this long of the site clock are "in view now" for verdicts and learning."""
MARGIN = 0.02
"""A mutual best appearance match counts for learning only when it beats the runner-up by this much."""
GROUP_MARGIN = 0.5
"""People walking together: two tracks within `near` of each other are one person when they are paired in
the one-to-one assignment and every rival in either view stands at least this share of `near` further
away (without a rival within `near`, no margin is needed)."""
YOUNG_SECONDS = 2.0
"""Tracks this young are judged on every frame of their camera (older ones once per decision round)."""


@dataclass(frozen=True, slots=True)
class Verdict:
    """kind "conflict": `track` and `other` share a global id but stand `metres` apart at once;
    kind "merge": they have different ids but stand at one place."""

    kind: str
    track: LocalTrack
    other: LocalTrack
    metres: float


class Floor:
    """Position comparisons between overlapping cameras of one site.

    Args:
        ground: per camera id, its calibration (absent: uncalibrated).
        near, far, bonus, min_samples: see `FusionConfig.floor_*`.
        learn: learn the foot map of overlapping pairs that are not both calibrated.
        tracks: the fusion's track table (uid -> track), read to find an identity's track in a camera.
        zones: exit/entry zones of the site's links (hand-overs between non-overlapping cameras).
    """

    def __init__(
        self,
        ground: dict[str, GroundCalibration],
        *,
        near: float,
        far: float,
        bonus: float,
        min_samples: int,
        learn: bool,
        tracks: dict[int, LocalTrack],
        zones: ZoneBook,
    ) -> None:
        self.ground, self.near, self.far, self.bonus = dict(ground), near, far, bonus
        self.zones = zones
        self.min_samples, self.learn_maps, self.tracks = min_samples, learn, tracks
        self.maps: dict[tuple[str, str], OverlapMap] = {}
        self.camera_ids: list[str] = []
        self.mapped = np.zeros((0, 0), dtype=bool)
        self.counts = {"floor_merges": 0, "floor_conflicts": 0, "floor_infeasible": 0, "floor_bonuses": 0}

    def set_cameras(self, camera_ids: list[str], overlap: np.ndarray) -> None:
        """The site's cameras (index order of the gate) and which pairs overlap; learned maps are kept."""
        self.camera_ids = list(camera_ids)
        self.overlap = np.asarray(overlap, dtype=bool)
        for a, b in zip(*np.nonzero(np.triu(self.overlap)), strict=True):
            ids = (self.camera_ids[a], self.camera_ids[b])
            if not (ids[0] in self.ground and ids[1] in self.ground) and self.learn_maps:
                self.maps.setdefault(ids, OverlapMap(*ids))
        self._refresh()

    def _refresh(self) -> None:
        c = len(self.camera_ids)
        self.mapped = np.zeros((c, c), dtype=bool)
        for a, b in zip(*np.nonzero(self.overlap), strict=True):
            self.mapped[a, b] = self._kind(self.camera_ids[a], self.camera_ids[b]) is not None

    @property
    def active(self) -> bool:
        """Whether any camera pair can be compared now (or may become comparable by learning)."""
        return bool(self.mapped.any()) or bool(self.maps)

    def _kind(self, a: str, b: str) -> str | None:
        if a in self.ground and b in self.ground:
            return "calibrated"
        learned = self.maps.get((a, b)) or self.maps.get((b, a))
        return "learned" if learned is not None and learned.stable else None

    # ---- comparing two tracks ---------------------------------------------------------------------

    def distance(self, first: LocalTrack, second: LocalTrack) -> tuple[float, int]:
        """(median metres apart, instants compared) of two tracks of overlapping cameras at their latest
        common instants; (nan, 0) when the cameras cannot be compared or were never in view at once."""
        a, b = first.camera_id, second.camera_id
        kind = self._kind(a, b)
        if kind is None:
            return math.nan, 0
        common = _common(first, second)
        if common is None:
            return math.nan, 0
        feet_a, feet_b, height_b = common
        if kind == "calibrated":
            gap = np.linalg.norm(self.ground[a].to_plane(feet_a) - self.ground[b].to_plane(feet_b), axis=1)
        else:
            learned = self.maps.get((a, b))
            if learned is not None:
                landed = apply_homography(learned.matrix, feet_a)
                known = inside(learned.box_a, feet_a) & inside(learned.box_b, feet_b)
            else:
                learned = self.maps[(b, a)]
                landed = apply_homography(np.linalg.inv(learned.matrix), feet_a)
                known = inside(learned.box_b, feet_a) & inside(learned.box_a, feet_b)
            gap = np.linalg.norm(landed - feet_b, axis=1) / np.maximum(height_b, 1.0) * PERSON_METRES
            gap[~known] = np.nan  # beyond where the map was learned: not compared
        gap = gap[np.isfinite(gap)]
        return (float(np.median(gap)), len(gap)) if len(gap) else (math.nan, 0)

    def closeness(self, metres: float) -> float:
        """1 within `near` metres, fading to 0 at twice that."""
        return float(np.clip((2 * self.near - metres) / self.near, 0.0, 1.0))

    # ---- candidates -------------------------------------------------------------------------------

    def zone_ok(
        self, tracks: list[LocalTrack], visit_position: np.ndarray, visit_height: np.ndarray
    ) -> np.ndarray | None:
        """(m, K, C) bool for `Gate.check`: the hand-over from each identity's visit in camera c into
        each track passes the link's zones; None when no link of these tracks' cameras has a gating zone.
        visit_position (K, C, 2), visit_height (K, C): where each identity was last seen per camera."""
        k, c = visit_height.shape
        result = None
        for i, track in enumerate(tracks):
            for source in range(min(c, len(self.camera_ids))):
                if source == track.camera_index or self.overlap[source, track.camera_index]:
                    continue
                link = (self.camera_ids[source], track.camera_id)
                if not self.zones.gates(link):
                    continue
                if result is None:
                    result = np.ones((len(tracks), k, c), dtype=bool)
                result[i, :, source] = self.zones.allowed(
                    link, visit_position[:, source], visit_height[:, source], track.entry_position,
                    track.entry_height,
                )
        return result

    def others_in_view(self, camera: int, visit_track: np.ndarray, visit_last: np.ndarray, since: float):
        """(K,) bool: identities whose latest visit in a camera comparable with `camera` lasted until
        `since` or later (they may stand where the track is)."""
        cameras = np.flatnonzero(self.mapped[camera]) if camera < len(self.mapped) else []
        if not len(cameras):
            return np.zeros(len(visit_last), dtype=bool)
        with np.errstate(invalid="ignore"):
            return ((visit_last[:, cameras] >= since) & (visit_track[:, cameras] >= 0)).any(axis=1)

    def adjust(
        self,
        tracks: list[LocalTrack],
        visit_track: np.ndarray,
        visit_last: np.ndarray,
        feasible: np.ndarray,
        bonus: np.ndarray,
    ) -> np.ndarray:
        """Apply the floor to m tracks x K identities in place: identities seen elsewhere at the same
        instants become infeasible, those seen at the same place earn a bonus. visit_track, visit_last:
        (K, C) of those identities. Returns (m,) bool: the track stands where exactly one identity
        stands and nowhere near another (a near-certain link: it need not wait for more evidence)."""
        sure = np.zeros(len(tracks), dtype=bool)
        if not self.mapped.any() or not len(visit_last):
            return sure
        for i, track in enumerate(tracks):
            if track.camera_index >= len(self.mapped):
                continue
            cameras = np.flatnonzero(self.mapped[track.camera_index])
            if not len(cameras):
                continue
            seen = self.others_in_view(track.camera_index, visit_track, visit_last, track.first_seen)
            close = []
            for j in np.flatnonzero(seen & feasible[i]):
                best, apart = 0.0, False
                for c in cameras:
                    other = self.tracks.get(int(visit_track[j, c]))
                    if other is None or other is track or other.last_seen < track.first_seen:
                        continue
                    metres, n = self.distance(other, track)
                    if n < self.min_samples:
                        continue
                    apart |= metres >= self.far
                    best = max(best, self.closeness(metres))
                if apart:
                    feasible[i, j] = False
                    bonus[i, j] = 0.0
                    self.counts["floor_infeasible"] += 1
                elif best > 0:
                    bonus[i, j] += self.bonus * best
                    close.append(best)
                    self.counts["floor_bonuses"] += 1
            sure[i] = len(close) == 1 and close[0] >= 1.0
        return sure

    def partner(self, track: LocalTrack, min_samples: int) -> LocalTrack | None:
        """The one assigned track of a comparable camera standing where `track` stands now (within `near`
        over at least `min_samples` common instants, nobody else within `near`), or None."""
        if track.camera_index >= len(self.mapped) or not self.mapped[track.camera_index].any():
            return None
        found: list[tuple[float, LocalTrack]] = []
        for other in self.tracks.values():
            if (
                other.ended
                or other.global_id == UNASSIGNED
                or other.camera_index >= len(self.mapped)
                or not self.mapped[track.camera_index, other.camera_index]
                or other.last_seen < track.last_seen - ACTIVE_SECONDS
            ):
                continue
            metres, n = self.distance(other, track)
            if n and metres <= self.near:
                found.append((metres if n >= min_samples else math.inf, other))
        if len(found) != 1 or not math.isfinite(found[0][0]):
            return None
        return found[0][1]

    # ---- each round -------------------------------------------------------------------------------

    def review(self, now: float) -> list[Verdict]:
        """Verdicts on the tracks in view now in comparable cameras (see `Verdict`), and learning from
        the simultaneous pairs of uncalibrated ones."""
        by_camera: dict[int, list[LocalTrack]] = {}
        for track in self.tracks.values():
            if not track.ended and track.last_seen >= now - ACTIVE_SECONDS and len(track.path):
                by_camera.setdefault(track.camera_index, []).append(track)
        verdicts: list[Verdict] = []
        for a, b in zip(*np.nonzero(np.triu(self.overlap)), strict=True):
            first, second = by_camera.get(int(a), []), by_camera.get(int(b), [])
            if not first or not second:
                continue
            if self.mapped[a, b]:
                verdicts += self._judge(first, second)
            learner = self.maps.get((self.camera_ids[a], self.camera_ids[b]))
            if learner is not None:
                self._learn(learner, first, second, now)
        return verdicts

    def review_new(self, tracks: list[LocalTrack], now: float) -> list[Verdict]:
        """Verdicts for the young tracks (first seen within `YOUNG_SECONDS`) among one camera frame's
        `tracks`, against everyone in view in comparable cameras: between decision rounds, so that a person
        entering a shared area carries the right id after a few frames, not a round later."""
        young = [t for t in tracks if now - t.first_seen <= YOUNG_SECONDS and len(t.path)]
        if not young or young[0].camera_index >= len(self.mapped):
            return []
        partners = self.mapped[young[0].camera_index]
        if not partners.any():
            return []
        others = [
            t
            for t in self.tracks.values()
            if t.camera_index < len(partners)
            and partners[t.camera_index]
            and not t.ended
            and t.last_seen >= now - ACTIVE_SECONDS
            and len(t.path)
        ]
        return self._judge(young, others) if others else []

    def _judge(self, first: list[LocalTrack], second: list[LocalTrack]) -> list[Verdict]:
        metres = np.full((len(first), len(second)), np.nan)
        for i, u in enumerate(first):
            for j, v in enumerate(second):
                d, n = self.distance(u, v)
                if n >= self.min_samples:
                    metres[i, j] = d
        verdicts = []
        with np.errstate(invalid="ignore"):
            for i, j in zip(*np.nonzero(metres >= self.far), strict=True):
                u, v = first[i], second[j]
                if u.global_id != UNASSIGNED and u.global_id == v.global_id:
                    verdicts.append(Verdict("conflict", u, v, float(metres[i, j])))
            near = metres <= self.near
            for i, j in _one_to_one(metres):
                if not near[i, j]:
                    continue
                u, v = first[i], second[j]
                alone = near[i].sum() == 1 and near[:, j].sum() == 1  # nobody else stands there
                if not (alone or _clearly_closest(metres, i, j, GROUP_MARGIN * self.near)):
                    continue
                if UNASSIGNED not in (u.global_id, v.global_id) and u.global_id != v.global_id:
                    verdicts.append(Verdict("merge", u, v, float(metres[i, j])))
        return verdicts

    def _learn(self, learner: OverlapMap, first: list[LocalTrack], second: list[LocalTrack], now: float):
        """Correspondences: pairs given one global id, and mutual best appearance matches."""
        with_descriptor = [t for t in first if t.descriptor_sum is not None], [
            t for t in second if t.descriptor_sum is not None
        ]
        pairs = {
            (u, v) for u in first for v in second if u.global_id != UNASSIGNED and u.global_id == v.global_id
        }
        if all(with_descriptor):
            left, right = with_descriptor
            similarity = np.stack([t.descriptor for t in left]) @ np.stack([t.descriptor for t in right]).T
            for i in range(len(left)):
                j = int(np.argmax(similarity[i]))
                if int(np.argmax(similarity[:, j])) == i and _clear(similarity, i, j):
                    pairs.add((left[i], right[j]))
        for u, v in sorted(pairs, key=lambda pair: (pair[0].uid, pair[1].uid)):  # same input, same map
            common = _common(u, v, latest_only=True)
            if common is not None:
                feet_a, feet_b, height_b = common
                pts = min(u.last_seen, v.last_seen)
                learner.add((u.uid, v.uid), pts, feet_a[-1], feet_b[-1], float(height_b[-1]))
        if learner.maybe_fit(now):
            self._refresh()

    def forget(self) -> None:
        """Drop learning bookkeeping of tracks no longer in memory."""
        alive = set(self.tracks)
        for learner in self.maps.values():
            learner.forget_pairs(alive)

    def report(self) -> dict:
        """JSON-ready: per comparable camera pair, calibrated or learned (with the learned map's state)."""
        pairs = []
        for a, b in zip(*np.nonzero(np.triu(self.overlap)), strict=True):
            ids = (self.camera_ids[a], self.camera_ids[b])
            if ids[0] in self.ground and ids[1] in self.ground:
                pairs.append({"cameras": list(ids), "state": "calibrated"})
            elif ids in self.maps:
                pairs.append(self.maps[ids].describe())
            else:
                pairs.append({"cameras": list(ids), "state": "not compared"})
        return {"calibrated_cameras": sorted(self.ground), "overlaps": pairs, "zones": self.zones.describe(),
                **self.counts}


def _one_to_one(metres: np.ndarray) -> list[tuple[int, int]]:
    """The pairs (row, column) of the one-to-one assignment with the least total distance (nan: not
    comparable, never assigned): each track stands where at most one track of the other view stands."""
    finite = np.isfinite(metres)
    if not finite.any():
        return []
    rows, columns = linear_sum_assignment(np.where(finite, metres, 1e9))
    return [(int(i), int(j)) for i, j in zip(rows, columns, strict=True) if finite[i, j]]


def _clearly_closest(metres: np.ndarray, i: int, j: int, margin: float) -> bool:
    """Every other track of row i and of column j stands at least `margin` further away than j from i."""
    rivals = np.r_[np.delete(metres[i], j), np.delete(metres[:, j], i)]
    rivals = rivals[np.isfinite(rivals)]
    return bool(rivals.min(initial=np.inf) >= metres[i, j] + margin)


def _clear(similarity: np.ndarray, i: int, j: int) -> bool:
    row = np.delete(similarity[i], j)
    column = np.delete(similarity[:, j], i)
    runner_up = max(row.max(initial=-1.0), column.max(initial=-1.0))
    return similarity[i, j] - runner_up >= MARGIN


def _common(
    first: LocalTrack, second: LocalTrack, latest_only: bool = False
) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """First's feet interpolated at second's latest instants within first's span: (n, 2) feet of first,
    (n, 2) feet of second, (n,) second's box heights; None when they were never in view together."""
    ta, fa, _ = first.path.arrays()
    tb, fb, hb = second.path.arrays()
    if not len(ta) or not len(tb):
        return None
    inside = (tb >= ta[0] - MAX_TIME_GAP) & (tb <= ta[-1] + MAX_TIME_GAP)
    tb, fb, hb = tb[inside][-MAX_COMMON:], fb[inside][-MAX_COMMON:], hb[inside][-MAX_COMMON:]
    if latest_only:
        tb, fb, hb = tb[-1:], fb[-1:], hb[-1:]
    if not len(tb):
        return None
    index = np.searchsorted(ta, tb).clip(1, max(len(ta) - 1, 1))
    gap = np.minimum(np.abs(tb - ta[index - 1]), np.abs(ta[np.minimum(index, len(ta) - 1)] - tb))
    near = gap <= MAX_TIME_GAP
    if not near.any():
        return None
    feet = np.column_stack([np.interp(tb, ta, fa[:, 0]), np.interp(tb, ta, fa[:, 1])])
    return feet[near], fb[near], hb[near]
