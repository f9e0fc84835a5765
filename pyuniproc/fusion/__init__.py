"""Cross-camera identity fusion: one global id per person across a site's cameras.

Pure numpy/scipy, no I/O: the runtime (or a Savant pyfunc, or the ZeroMQ fusion process) feeds it each
camera frame's tracked rows and gets the same rows back with global ids.

    >>> import numpy as np
    >>> from pyuniproc.config.cameras import Link, Topology
    >>> from pyuniproc.fusion import Fusion, FusionConfig
    >>> from pyuniproc.types import Detections
    >>> site = Topology(links=(Link("cam1", "cam2", 4.0, 20.0), Link("cam2", "cam1", 4.0, 20.0)))
    >>> fusion = Fusion(site, FusionConfig(min_embeddings=1))
    >>> red = np.array([[1.0, 0.0, 0.0]], np.float32)
    >>> def person(track_id, embedding):
    ...     return Detections(xyxy=[[10, 10, 50, 120]], confidence=[0.9], class_id=[0],
    ...                       tracker_id=[track_id], data={"embedding": embedding})
    >>> [int(fusion.update("cam1", t, person(7, red)).data["global_id"][0]) for t in (0.0, 0.5, 1.0)]
    [1, 1, 1]
    >>> fusion.update("cam2", 10.0, person(3, red)).data["global_id"].tolist()  # 9 s later, next camera
    [1]
    >>> [(e["event"], e["camera_id"], e["global_id"]) for e in fusion.events()]
    [('assigned', 'cam1', 1), ('assigned', 'cam2', 1)]
    >>> fusion.transitions[0].from_camera, fusion.transitions[0].travel_seconds
    ('cam1', 9.0)

Modules, in pipeline order:
    config       `FusionConfig`: thresholds, decision timing, the ablation switches, lifetimes; each
                 field's docstring says what raising or lowering it trades.
    intake       the `Detections.data` contract: reads "embedding" (n, D) float32 (NaN rows = not fresh)
                 and "embedding_quality" (n,) float32; writes "global_id" (n,) int64,
                 "global_id_tentative" (n,) bool and "global_id_confidence" (n,) float32.
    tracks       `LocalTrack` (one camera's track as fusion sees it), `CameraState`, `Transition`.
    identities   `IdentityStore`: descriptors and per-camera whereabouts of live identities, expiry.
    constraints  `Gate`: topology / travel-time / co-occurrence gating tables, vectorised over identities.
    floor        `Floor`: where people are - overlapping cameras compared on the floor (cameras-file
                 calibration, or a foot map learned from the run: `overlap_map`), exit/entry zones of
                 links (`zones`).
    matching     `find_candidates`: reachability filter, one similarity product, exact gating.
    assign       `assign_jointly`: Hungarian assignment with a confidence margin per decision.
    linking      `Linker`: joint assignment rounds, re-evaluation of young tracks, conflict splits;
                 `floor_links` adds the floor's conflicts, merges and joins.
    events       the "assigned" / "corrected" / "retired" event dicts.
    fusion       `Fusion`: the online driver (update, end_track, end_camera, flush, events, transitions,
                 assignment, stats, floor_report).

Time: `pts_seconds` is the site clock shared by all cameras (docs/cameras-file.md); frames should
arrive roughly in time order across cameras (a camera may lag by `max_lateness_seconds`). Topology:
a `Site` from `pyuniproc.config.cameras.load_cameras` (links with min/max seconds, overlap groups).
Fusion-specific settings (`FusionConfig.from_mapping`) come from the module YAML. Events and their
fields: `pyuniproc.fusion.events`; rows already returned keep their id, so replay "corrected" events
(or read `Fusion.assignment` at the end) to relabel them offline.
"""

from pyuniproc.fusion.assign import NEW as NEW_IDENTITY
from pyuniproc.fusion.assign import Decision, assign_jointly
from pyuniproc.fusion.config import ABLATIONS, FusionConfig
from pyuniproc.fusion.constraints import Gate, Gating
from pyuniproc.fusion.fusion import Fusion
from pyuniproc.fusion.identities import IdentityStore
from pyuniproc.fusion.intake import (
    EMBEDDING,
    EMBEDDING_QUALITY,
    GLOBAL_ID,
    GLOBAL_ID_CONFIDENCE,
    GLOBAL_ID_TENTATIVE,
)
from pyuniproc.fusion.tracks import UNASSIGNED, LocalTrack, Transition

__all__ = [
    "ABLATIONS",
    "EMBEDDING",
    "EMBEDDING_QUALITY",
    "GLOBAL_ID",
    "GLOBAL_ID_CONFIDENCE",
    "GLOBAL_ID_TENTATIVE",
    "NEW_IDENTITY",
    "UNASSIGNED",
    "Decision",
    "Fusion",
    "FusionConfig",
    "Gate",
    "Gating",
    "IdentityStore",
    "LocalTrack",
    "Transition",
    "assign_jointly",
]
