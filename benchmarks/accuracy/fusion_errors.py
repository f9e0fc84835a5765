"""Where fusion loses multi-camera IDF1 against ideal linking, on the TUNING scenes only (--split train).

    python benchmarks/accuracy/fusion_errors.py --work /work/acc-adapted [--seeds 101,102] [--module M]
        [--json out.json]

Replays each scene's cached pipeline recording (`pyuniproc accuracy` made it; nothing is recorded here)
through `pyuniproc.fusion` exactly as the accuracy command does (`pyuniproc.ablation.replay`), then
counts GT frames, the unit of IDF1:

- every tracked row is matched to a GT person (one to one per frame, IoU >= 0.5); only rows whose person
  is their track's owner (the person the track covers most) count: those are what ideal linking scores,
  the rest are lost to the tracker in both;
- each person gets the one global id it is scored under (Hungarian over person x id row counts, as
  IDF1 matches identities); a counted row whose shown id is another is a GT frame fusion lost.

Each lost row is put in one cause, the first that applies:

    pending             the row was shown with no id (-1: tentative ids off, or nothing to show yet)
    late in own id      its track mostly shows the person's id, this row another (the first decision or a
                        correction came late)
    person has no id    the person's rows are all under ids matched to other people
    merged              its track mostly shows an id matched to another person (a wrong merge)
    no embedding        split off and the track never got an embedding (ReID's gate: height, score,
                        overlap, schedule), so appearance could not link it; sub-causes by its best box
    not linked          split off, the track's camera may never follow / see together with the cameras of
                        the person's id (topology)
    gate (time)         linked cameras, but the space-time gate (travel window, co-occurrence) refuses the
                        track against the person's id as it stood when the track started
    below threshold     feasible, but appearance + bonus < match_threshold against the person's id
    above threshold     feasible and appearance + bonus >= match_threshold, yet apart: timing (the id
                        did not exist yet or was retired), competition, floor verdicts, conflicts

Split-off rows are also tagged by whether the person's id already holds a track of the same camera
(a same-camera fragment) and whether the track lasts under 2 s. The descriptor compared is the
track's whole-life quality-weighted mean, so "below threshold" is, if anything, optimistic.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from scipy.optimize import linear_sum_assignment

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from pyuniproc.ablation.capture import fingerprint, scenario_site  # noqa: E402
from pyuniproc.ablation.replay import replay  # noqa: E402
from pyuniproc.ablation.score import Scorer, camera_row_matches  # noqa: E402
from pyuniproc.ablation.stream import TrackStream  # noqa: E402
from pyuniproc.accuracy import protocol  # noqa: E402
from pyuniproc.config.module import load_module_config  # noqa: E402
from pyuniproc.fusion import FusionConfig  # noqa: E402
from pyuniproc.fusion.constraints import Gate  # noqa: E402

CAUSES = (
    "pending", "late in own id", "person has no id", "merged", "no embedding", "not linked", "gate (time)",
    "below threshold", "above threshold",
)
SHORT_SECONDS = 2.0


@dataclass
class Track:
    """One local track's life as the recording has it."""

    camera: int
    first: float
    last: float
    rows: int
    embeddings: int
    descriptor_sum: np.ndarray | None
    weight: float
    max_height: float
    max_confidence: float


def load_stream(scenario: Path, module: Any, cache: Path) -> TrackStream:
    """The cached recording at the module's settings; never records (an error says how to make it)."""
    key = fingerprint(scenario, module, "pipeline")
    path = cache / f"pipeline-{key}.npz"
    if not path.is_file():
        raise SystemExit(f"{path}: no recording at these settings; run `pyuniproc accuracy` on it first")
    return TrackStream.load(path)


def track_table(stream: TrackStream) -> dict[tuple[str, int], Track]:
    """(camera id, tracker id) -> `Track`, from the stream's column arrays."""
    out: dict[tuple[str, int], Track] = {}
    counts = np.diff(stream.frame_start)
    camera = np.repeat(stream.frame_camera.astype(np.int64), counts)
    pts = np.repeat(stream.frame_pts, counts)
    height = (stream.xyxy[:, 3] - stream.xyxy[:, 1]).astype(np.float64)
    for r in range(stream.rows):
        key = (stream.camera_ids[int(camera[r])], int(stream.tracker_id[r]))
        t = out.get(key)
        if t is None:
            t = out[key] = Track(int(camera[r]), float(pts[r]), float(pts[r]), 0, 0, None, 0.0, 0.0, 0.0)
        t.first, t.last, t.rows = min(t.first, pts[r]), max(t.last, pts[r]), t.rows + 1
        t.max_height = max(t.max_height, float(height[r]))
        t.max_confidence = max(t.max_confidence, float(stream.confidence[r]))
        e, q = int(stream.embedding_row[r]), float(stream.quality[r])
        if e >= 0 and q > 0:
            vector = stream.embeddings[e].astype(np.float64) * q
            t.descriptor_sum = vector if t.descriptor_sum is None else t.descriptor_sum + vector
            t.weight += q
            t.embeddings += 1
    return out


def unit(vector: np.ndarray) -> np.ndarray:
    return vector / max(float(np.linalg.norm(vector)), 1e-12)


def no_embedding_cause(track: Track, reid: dict[str, Any]) -> str:
    """Why ReID's gate never embedded the track, judged by its best box."""
    if track.max_height < float(reid.get("min_height", 48.0)):
        return "no embedding: smaller than min_height"
    if track.max_confidence < float(reid.get("min_confidence", 0.5)):
        return "no embedding: score below min_confidence"
    return "no embedding: overlap or schedule"


def split_cause(key, tracks, reference, gate: Gate, config: FusionConfig) -> str:
    """Why track `key` stayed out of the identity made of the `reference` tracks (see module doc)."""
    t = tracks[key]
    if t.descriptor_sum is None:
        return "no embedding"
    refs = [tracks[k] for k in reference]
    if not any(
        r.camera == t.camera or not np.isnan(gate.window_low[r.camera, t.camera])
        or not np.isnan(gate.window_low[t.camera, r.camera]) or gate.overlap[r.camera, t.camera]
        for r in refs
    ):
        return "not linked"
    # The identity as it stood when the track started (its tracks seen by then), else the track as the
    # earlier one and the identity's first track as the newcomer.
    before = [r for r in refs if r.first <= t.first]
    newcomer, visits = (t, before) if before else (min(refs, key=lambda r: r.first), [t])
    c = len(gate.camera_ids)
    visit_first, visit_last = np.full((1, c), np.nan), np.full((1, c), np.nan)
    for v in sorted(visits, key=lambda v: v.first):  # the latest visit per camera wins
        visit_first[0, v.camera], visit_last[0, v.camera] = v.first, min(v.last, newcomer.last)
    gating = gate.check(
        np.array([newcomer.camera]), np.array([newcomer.first]), np.array([newcomer.last]), visit_first,
        visit_last,
    )
    if not gating.feasible[0, 0]:
        return "gate (time)"
    described = [r.descriptor_sum for r in refs if r.descriptor_sum is not None]
    if not described:
        return "no embedding"  # the person's id has no appearance at all: nothing to compare
    ref_sum = np.sum(described, axis=0)
    similarity = float(unit(t.descriptor_sum) @ unit(ref_sum))
    score = similarity + float(gating.bonus[0, 0])
    return "below threshold" if score < config.match_threshold else "above threshold"


def describe(key, person, tracks, reference, cause, shown) -> dict[str, Any]:
    """One split-off track beside the tracks of its person's scored id (for --list)."""
    t = tracks[key]
    refs = [tracks[k] for k in reference]
    described = [r.descriptor_sum for r in refs if r.descriptor_sum is not None]
    similarity = (
        float(unit(t.descriptor_sum) @ unit(np.sum(described, axis=0)))
        if t.descriptor_sum is not None and described else None
    )
    before = [r.last for r in refs if r.last <= t.first]
    after = [r.first for r in refs if r.first >= t.last]
    return {
        "track": f"{key[0]}:{key[1]}", "person": person, "shown": shown, "cause": cause,
        "seconds": [round(t.first, 1), round(t.last, 1)], "rows": t.rows, "embeddings": t.embeddings,
        "similarity": None if similarity is None else round(similarity, 3),
        "gap_after_id": None if not before else round(t.first - max(before), 1),
        "gap_before_id": None if not after else round(min(after) - t.last, 1),
        "id_tracks": [f"{k[0]}:{k[1]}@{tracks[k].first:.0f}-{tracks[k].last:.0f}s" for k in reference],
    }


def diagnose_scene(scenario: Path, stream: TrackStream, module: Any) -> dict[str, Any]:
    """One scene: lost GT frames by cause, and the tracks behind them."""
    config: FusionConfig = module.fusion
    scorer = Scorer(scenario)
    site = scenario_site(scenario)
    done = replay(stream, site, config)
    tracks = track_table(stream)
    gate = Gate.from_config([c.id for c in site.cameras], site.topology, config)
    # Per counted row: person, track, shown id.
    rows: list[tuple[int, tuple[str, int], int]] = []
    for camera in stream.camera_ids:
        local = stream.camera_rows(camera)
        shown = done.every[camera]
        if len(local) != len(shown) or not np.array_equal(local[:, 0], shown[:, 0]):
            raise RuntimeError(f"{camera}: the replay's rows do not line up with the recording's")
        person = camera_row_matches(local, scorer.gt[camera])
        owner: dict[int, Counter] = defaultdict(Counter)
        for track, p in zip(local[:, 1].astype(np.int64).tolist(), person.tolist(), strict=True):
            if p >= 0:
                owner[track][p] += 1
        for track, p, gid in zip(
            local[:, 1].astype(np.int64).tolist(), person.tolist(), shown[:, 1].astype(np.int64).tolist(),
            strict=True,
        ):
            if p >= 0 and owner[track].most_common(1)[0][0] == p:
                rows.append((p, (camera, track), gid))
    people = sorted({p for p, _, _ in rows})
    ids = sorted({g for _, _, g in rows if g >= 0})
    count = np.zeros((len(people), len(ids)))
    pi, ii = {p: i for i, p in enumerate(people)}, {g: i for i, g in enumerate(ids)}
    for p, _, g in rows:
        if g >= 0:
            count[pi[p], ii[g]] += 1
    r, c = linear_sum_assignment(-count)
    id_of = {people[a]: ids[b] for a, b in zip(r, c, strict=True) if count[a, b] > 0}
    person_of_id = {g: p for p, g in id_of.items()}
    majority: dict[tuple[str, int], int] = {}
    by_track: dict[tuple[str, int], Counter] = defaultdict(Counter)
    for _, key, g in rows:
        by_track[key][g] += 1
    majority = {key: counts.most_common(1)[0][0] for key, counts in by_track.items()}
    members: dict[int, list[tuple[str, int]]] = defaultdict(list)  # person -> tracks in its scored id
    owner_of = {key: p for p, key, _ in rows}
    for key, g in majority.items():
        if id_of.get(owner_of[key]) == g:
            members[owner_of[key]].append(key)
    lost, tags, detail = Counter(), Counter(), Counter()
    cause_of: dict[tuple[str, int], str] = {}
    listing: list[dict[str, Any]] = []
    kept = 0
    for p, key, g in rows:
        if g >= 0 and id_of.get(p) == g:
            kept += 1
            continue
        if g < 0:
            cause = "pending"
            tags["pending: track never embedded" if tracks[key].descriptor_sum is None
                 else "pending: track embedded"] += 1
        elif majority[key] == id_of.get(p):
            cause = "late in own id"
        elif p not in id_of:
            cause = "person has no id"
        elif majority[key] in person_of_id:
            cause = "merged"
        else:
            if key not in cause_of:
                cause_of[key] = split_cause(key, tracks, members[p], gate, config)
                listing.append(describe(key, p, tracks, members[p], cause_of[key], majority[key]))
            cause = cause_of[key]
            t = tracks[key]
            same = any(tracks[m].camera == t.camera for m in members[p])
            tags["split: same-camera fragment" if same else "split: other camera"] += 1
            if t.last - t.first < SHORT_SECONDS:
                tags[f"split: track under {SHORT_SECONDS:g} s"] += 1
            if cause == "no embedding":
                detail[no_embedding_cause(t, module.reid.selection if module.reid else {})] += 1
        lost[cause] += 1
    split_tracks = Counter(cause_of.values())
    mc = scorer.multi_camera(done.online)
    return {
        "counted_rows": len(rows), "kept_rows": kept, "lost": dict(lost), "tags": dict(tags),
        "no_embedding": dict(detail), "split_tracks": dict(split_tracks), "MC-IDF1": mc["IDF1"],
        "people": len(people), "split_listing": listing,
    }


def table(total: dict[str, Any]) -> str:
    lost = total["lost"]
    gap = sum(lost.values())
    lines = ["| cause | GT frames lost | share of the loss | split-off tracks |", "|---|---:|---:|---:|"]
    for cause in CAUSES:
        n = lost.get(cause, 0)
        lines.append(f"| {cause} | {n} | {n / max(gap, 1):.1%} | {total['split_tracks'].get(cause, '')} |")
    lines.append(f"| **all** | **{gap}** | of {total['counted_rows']} counted rows "
                 f"({gap / max(total['counted_rows'], 1):.1%}) | {sum(total['split_tracks'].values())} |")
    for name in ("tags", "no_embedding"):
        for key, n in sorted(total[name].items()):
            lines.append(f"| ({key}) | {n} | {n / max(gap, 1):.1%} | |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--work", type=Path, required=True, help="the `pyuniproc accuracy --work` folder")
    parser.add_argument("--seeds", default="101,102,103,104,105", help="tuning (or validation) seeds")
    parser.add_argument("--module", type=Path, default=ROOT / "module" / "module.yml")
    parser.add_argument("--json", type=Path, help="also write the per-scene counts here")
    parser.add_argument("--list", action="store_true", help="print every split-off track")
    args = parser.parse_args(argv)
    seeds = [int(s) for s in args.seeds.split(",")]
    allowed = set(protocol.TUNING_SEEDS) | set(protocol.VALIDATION_SEEDS)
    if not set(seeds) <= allowed:
        raise SystemExit(f"--seeds {args.seeds}: only tuning and validation seeds ({sorted(allowed)})")
    module = load_module_config(args.module)
    if module.fusion is None:
        raise SystemExit(f"{args.module} has no parameters.fusion")
    per_seed = {}
    for scene in protocol.scenes("train", seeds):
        folder = args.work / "scenarios" / scene.name
        stream = load_stream(folder, module, args.work / "streams" / scene.name)
        per_seed[scene.seed] = diagnose_scene(folder, stream, module)
        s = per_seed[scene.seed]
        if args.list:
            for item in s["split_listing"]:
                print(f"  {scene.seed} {json.dumps(item)}")
        print(f"seed {scene.seed}: MC-IDF1 {s['MC-IDF1']:.3f}, lost {sum(s['lost'].values())} of "
              f"{s['counted_rows']} counted rows: {s['lost']}", flush=True)
    total: dict[str, Any] = {"counted_rows": 0, "lost": Counter(), "tags": Counter(),
                             "no_embedding": Counter(), "split_tracks": Counter()}
    for s in per_seed.values():
        total["counted_rows"] += s["counted_rows"]
        for name in ("lost", "tags", "no_embedding", "split_tracks"):
            total[name].update(s[name])
    print(table(total))
    if args.json:
        args.json.write_text(json.dumps({"seeds": seeds, "module": str(args.module), "per_seed": per_seed,
                                         "total": {k: dict(v) if isinstance(v, Counter) else v
                                                   for k, v in total.items()}}, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
