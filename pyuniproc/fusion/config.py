"""Fusion settings: typed, validated once, then trusted.

Every field has a default that suits a walk-through site filmed at 5-30 fps with a generic appearance
embedder. Each docstring line says what raising or lowering the value trades. Bad values raise a
`ValueError` that quotes them; `FusionConfig.from_mapping` reads the `fusion:` block of a module YAML and
rejects unknown keys by name.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from typing import Any

ABLATIONS = {
    "appearance": {"use_topology": False, "use_travel_time": False},
    "topology": {"use_topology": True, "use_travel_time": False},
    "travel_time": {"use_topology": True, "use_travel_time": True},
}
"""The three ablation settings of the benchmark: `FusionConfig().ablation("topology")`."""


FLOOR_FIELDS = frozenset({
    "use_floor", "learn_overlap_maps", "floor_near_metres", "floor_far_metres", "floor_bonus",
    "floor_min_samples", "learn_zones", "zone_min_handovers", "zone_radius_heights",
})
"""Fields the floor comparisons (`pyuniproc.fusion.floor`) are built from when `Fusion` starts: what it
has learned (foot maps, zones) depends on them, so an edit of one takes a restart; every other field
applies live (`Fusion.reconfigure`)."""


@dataclass(frozen=True, slots=True)
class FusionConfig:
    """How the fusion stage links local tracks into global identities.

    Appearance:
        match_threshold: least cosine similarity (plus bonuses) for a track to join an existing identity;
            below it the track starts a new identity. Raising it means fewer wrong merges but more people
            split into several ids; lowering it the opposite.
        appearance_margin: how much better the chosen answer must be than the best alternative (in the
            joint assignment, "a new identity" counts as an alternative scoring `match_threshold`) before it
            is committed; a closer call is deferred until more embeddings arrive or the track reaches
            `max_pending_seconds`. Raising it waits longer on lookalikes (later ids, fewer wrong ones);
            lowering it decides sooner.
    Decision timing:
        min_embeddings: a track is ready for matching after this many fresh embeddings...
        decision_seconds: ...or once it is this old with at least one. Raising either gives a steadier
            descriptor before the first decision; lowering them gives ids sooner (rows of a pending
            track carry global id -1). A track that no identity may take (topology, travel time,
            co-occurrence) gets a new id at its first embedding without waiting.
        max_pending_seconds: a deferred (ambiguous) track is decided anyway, by the joint optimum, once it
            is this old. Must be >= decision_seconds.
        tentative_ids: while a track is pending, its rows show the joint assignment's current answer (an
            existing id, or the new id it will keep if decided new) flagged as tentative, instead of -1.
            On: fewer unlabelled rows (better IDF1 when guesses are mostly right); off: an id once shown
            never changes except by a correction.
        window_seconds: ready tracks are collected for this long (site clock) and assigned jointly.
            Raising it lets more tracks compete in one Hungarian problem (better swaps, later ids);
            lowering it answers sooner.
    Corrections:
        reevaluate_seconds: while a track is younger than this its assignment is checked again whenever
            new embeddings arrive. Raising it catches late evidence on longer tracks at a small CPU cost.
        correction_margin: a young track moves to another identity only when that one beats its current
            identity by this much (hysteresis against flip-flopping). Raising it corrects less often.
        split_threshold: a young track whose similarity to the rest of its identity falls below this is
            split off to a new identity. Must be <= match_threshold. Raising it splits more eagerly.
        merge_margin: an identity made only of tracks younger than `reevaluate_seconds` (e.g. one person's
            two overlapping views, joined to each other before appearance recognised someone seen
            earlier) joins, all its tracks at once, the older identity whose descriptor it matches with
            similarity + bonus >= match_threshold + merge_margin, when the gate lets its earliest track
            follow that identity and no track of it shares time with that identity's visits. Lowering it
            joins more split people (and more lookalikes); null: off, no whole-identity joins.
    Constraints (the ablation switches):
        use_topology: only cameras linked in the cameras file (or overlapping, or the same camera) can
            hand a person over, and non-overlapping cameras cannot see one person at once. Off: appearance
            only (one person still cannot have two tracks in one camera at once).
        use_travel_time: a hand-over must also take between the link's min and max seconds (re-entry into
            the same camera: `reentry_min_seconds`..`reentry_max_seconds`). Needs use_topology.
        travel_time_slack_seconds: widens every travel window on both sides. Raising it forgives slow or
            fast walkers and clock skew; lowering it rejects more lookalikes.
        reentry_min_seconds, reentry_max_seconds: window for leaving a camera (or a group of overlapping
            views, which count as one place) and coming back into it; widened by the slack too.
        overlap_handoff_seconds: how far apart in time two overlapping views pick one person up: the
            largest gap between leaving one view and appearing in the other (when longer than the
            re-entry window), and the entry-time difference over which the co-visibility bonus fades out.
        cooccurrence_tolerance_seconds: two visits must share more than this much time to count as
            simultaneous (absorbs detector lag at view edges). Raising it tolerates sloppier edges but
            lets through more impossible merges.
        covisibility_bonus: added to the similarity of an identity visible at the same time in an
            overlapping camera, in full when its visit there began at the same moment as the track and
            fading to 0 at `overlap_handoff_seconds` apart (anyone standing in the other view is
            co-visible: being there alone says nothing about who the newcomer is). Raising it trusts
            the timing of the two views more than appearance.
        transition_bonus: added to an identity the track continues through a hand-over the cameras file
            allows (a link, a re-entry, an overlapping view) - in full inside the link's own window,
            fading to 0 across the slack. Appearance only: never paid. It is the prior the constraints
            buy: with few candidates left a lower similarity is enough. Raising it links more readily
            wherever the site explains the move; lowering it leans on appearance alone.
    Where people are (overlapping cameras; `pyuniproc.fusion.floor`):
        use_floor: compare where two overlapping cameras see people on the floor - through the cameras
            file's ground calibration, or a foot map learned from the run - and link, refuse and correct
            by position. Off (or use_topology off): appearance and timing only, as without calibration.
        learn_overlap_maps: learn the foot map of overlapping cameras that are not both calibrated from
            confident simultaneous matches (robust fit, used once stable). Off: uncalibrated overlaps are
            linked by appearance and timing only.
        floor_near_metres: two views put one person within this distance (full bonus; fading to none at
            twice it). Raising it tolerates sloppier feet (occluded, cut boxes) but gives the bonus to a
            neighbour walking alongside.
        floor_far_metres: at least this far apart at the same instants, two tracks are not one person
            (infeasible link, or a conflict to undo). Raising it refuses fewer links on bad feet; lowering
            it separates people walking close together sooner but may split one person whose box is off.
        floor_bonus: added to the similarity of an identity seen at the same place in the other view.
            Large on purpose: position at one instant says more than appearance across two exposures.
        floor_min_samples: common instants needed before any of that is concluded (a person's first
            frames in a view are often cut by the edge). Raising it waits longer for surer verdicts.
        learn_zones: learn where people leave a camera for a linked (non-overlapping) one and where they
            enter it, from the hand-overs fusion commits; once a link has `zone_min_handovers` of them, a
            hand-over leaving or entering farther than `zone_radius_heights` box heights from every one
            seen is refused. Zones declared in the cameras file (`exit:` / `entry:` of a link) always gate.
            Raising the radius or the count refuses less; off: only declared zones gate.
    Lifetimes and memory:
        track_timeout_seconds: a local track not seen for this long (its camera's clock) is ended and its
            last position becomes an exit. Raising it bridges tracker gaps but delays hand-overs whose
            min travel time is short.
        max_lateness_seconds: how far one camera's frames may lag the most advanced camera; a silent
            camera's tracks end once the site clock is this much past their timeout.
        expiry_slack_seconds: identities with no active track are retired once unseen for the longest
            travel window plus this. Raising it keeps more identities (memory, CPU) for slow walkers.
        retire_after_seconds: set it to override that derived horizon.
        max_identities: hard cap on live identities; beyond it the longest-unseen inactive ones retire.
        max_transitions: how many recent transitions `Fusion.transitions` keeps for the report.
    """

    match_threshold: float = 0.6
    appearance_margin: float = 0.05
    min_embeddings: int = 3
    decision_seconds: float = 1.0
    max_pending_seconds: float = 2.0
    tentative_ids: bool = True
    window_seconds: float = 0.5
    reevaluate_seconds: float = 10.0
    correction_margin: float = 0.1
    split_threshold: float = 0.4
    merge_margin: float | None = None
    use_topology: bool = True
    use_travel_time: bool = True
    travel_time_slack_seconds: float = 1.0
    reentry_min_seconds: float = 0.0
    reentry_max_seconds: float = 12.0
    overlap_handoff_seconds: float = 2.0
    cooccurrence_tolerance_seconds: float = 0.3
    covisibility_bonus: float = 0.05
    transition_bonus: float = 0.05
    use_floor: bool = True
    learn_overlap_maps: bool = True
    floor_near_metres: float = 0.5
    floor_far_metres: float = 1.5
    floor_bonus: float = 0.3
    floor_min_samples: int = 3
    learn_zones: bool = True
    zone_min_handovers: int = 10
    zone_radius_heights: float = 1.5
    track_timeout_seconds: float = 2.0
    max_lateness_seconds: float = 1.0
    expiry_slack_seconds: float = 5.0
    retire_after_seconds: float | None = None
    max_identities: int = 20_000
    max_transitions: int = 10_000

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if f.type in ("bool",):
                if not isinstance(value, bool):
                    raise ValueError(f"fusion.{f.name} must be true or false, got {value!r}")
            elif f.type == "int":
                if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                    raise ValueError(f"fusion.{f.name} must be an integer >= 1, got {value!r}")
            elif value is not None or f.type == "float":
                _number(f.name, value)
        _in_range("match_threshold", self.match_threshold, -1.0, 1.0)
        _in_range(
            "split_threshold", self.split_threshold, -1.0, self.match_threshold, "at most match_threshold"
        )
        for name in (
            "appearance_margin", "correction_margin", "covisibility_bonus", "transition_bonus", "floor_bonus"
        ):
            _in_range(name, getattr(self, name), 0.0, 1.0)
        _in_range(
            "max_pending_seconds",
            self.max_pending_seconds,
            self.decision_seconds,
            math.inf,
            "at least decision_seconds",
        )
        _in_range(
            "reentry_max_seconds",
            self.reentry_max_seconds,
            self.reentry_min_seconds,
            math.inf,
            "at least reentry_min_seconds",
        )
        if self.floor_near_metres <= 0:
            raise ValueError(f"fusion.floor_near_metres must be > 0, got {self.floor_near_metres!r}")
        _in_range(
            "floor_far_metres", self.floor_far_metres, self.floor_near_metres, math.inf,
            "at least floor_near_metres",
        )
        if self.window_seconds <= 0:
            raise ValueError(f"fusion.window_seconds must be > 0, got {self.window_seconds!r}")
        if self.track_timeout_seconds <= 0:
            raise ValueError(f"fusion.track_timeout_seconds must be > 0, got {self.track_timeout_seconds!r}")
        if self.retire_after_seconds is not None and self.retire_after_seconds <= 0:
            raise ValueError(
                f"fusion.retire_after_seconds must be > 0 or null, got {self.retire_after_seconds!r}"
            )
        if self.use_travel_time and not self.use_topology:
            raise ValueError(
                "fusion.use_travel_time=true needs use_topology=true (travel times belong to links); "
                "got use_topology=false"
            )

    @classmethod
    def from_mapping(cls, raw: Mapping[str, Any] | None) -> FusionConfig:
        """A config from a YAML mapping; unknown keys raise ValueError listing the known ones.

        `ablation: appearance|topology|travel_time` may stand in for the two switches.
        """
        if raw is None:
            return cls()
        if not isinstance(raw, Mapping):
            raise ValueError(f"fusion settings must be a mapping, got {type(raw).__name__}")
        values = dict(raw)
        ablation = values.pop("ablation", None)
        known = [f.name for f in fields(cls)]
        unknown = sorted(set(values) - set(known))
        if unknown:
            raise ValueError(f"unknown fusion setting(s) {unknown}; known: {known + ['ablation']}")
        config = cls(**values)
        return config if ablation is None else config.ablation(ablation)

    def ablation(self, name: str) -> FusionConfig:
        """This config with the constraint switches of one ablation step (see `ABLATIONS`)."""
        if name not in ABLATIONS:
            raise ValueError(f"unknown fusion ablation {name!r}; known: {sorted(ABLATIONS)}")
        return replace(self, **ABLATIONS[name])


def _number(name: str, value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ValueError(f"fusion.{name} must be a finite number, got {value!r}")
    if value < 0 and name not in ("match_threshold", "split_threshold", "merge_margin"):
        raise ValueError(f"fusion.{name} must be >= 0, got {value!r}")


def _in_range(name: str, value: float, low: float, high: float, why: str = "") -> None:
    if not low <= value <= high:
        bounds = why or f"in [{low}, {high}]"
        raise ValueError(f"fusion.{name} must be {bounds}, got {value!r}")
