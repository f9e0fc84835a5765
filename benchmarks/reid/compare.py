#!/usr/bin/env python3
"""Base vs person-adapted embedder, side by side, on people neither was trained on.

Held-out crops (people whose vtest sprite is in the "test" half, which scripts/adapt_reid.py never
sees), each with GT boxes and with the boxes the runtime would crop (SSDLite at confidence 0.5,
matched to GT by IoU >= 0.5):

- `default_test`: samples/scenario_default restricted to its test-split people (it was made with
  `--split all`: its other people are train-split sprites, so they are left out here);
- `seed201_test`: a scenario of test-split people only, rendered into --work-dir
  (`pyuniproc scenario --seed 201 --cameras 4 --people 30 --seconds 60 --overlaps 1 --split test`).
- `default_all` (GT boxes) is reported for information only: about half its people are training
  sprites, so the adapted model's numbers there are optimistic.
- `vtest_real`: real footage, not rendered: SSDLite + ByteTrack tracks of vtest.avi itself
  (`pyuniproc.reid.measure`, no identity GT: one track = one person), restricted to tracks first seen
  in the second half of the video (the people of the test sprites). Scored as measure.py does: crop
  pairs of one track >= 20 frames apart vs different tracks, and each track's first half querying
  all second halves.

Both embedders run through `pyuniproc.reid.create_embedder`, i.e. the runtime's own preprocessing
and checksum checks. Writes benchmarks/reid/results.json and results.md.

    python benchmarks/reid/compare.py [--work-dir /tmp/adapt-reid]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
sys.path.insert(0, str(REPO))

from pyuniproc.reid import DEFAULT_MODEL_DIR, create_embedder, measure  # noqa: E402
from pyuniproc.reid.identity_eval import embed_all, identity_scores  # noqa: E402
from pyuniproc.reid.scenario_crops import ScenarioCrops, collect_scenario_crops  # noqa: E402
from pyuniproc.scenario import ScenarioSpec, generate  # noqa: E402

KINDS = ("mobilenetv2_imagenet", "mobilenetv2_person_adapted")
DEFAULT_SCENARIO = REPO / "samples" / "scenario_default"
HELD_OUT_SPEC = ScenarioSpec(seed=201, cameras=4, people=30, seconds=60.0, overlaps=1, split="test")
ROWS = [  # (label, path in the scores, format)
    ("crop pairs: same-person cosine (mean)", ("pairs", "same_cosine"), "{:.3f}"),
    ("crop pairs: different-person cosine (mean)", ("pairs", "different_cosine"), "{:.3f}"),
    ("crop pairs: different-person cosine (99th pct)", ("pairs", "different_cosine_p99"), "{:.3f}"),
    ("crop pairs: d'", ("pairs", "d_prime"), "{:.2f}"),
    ("crop pairs: ROC AUC", ("pairs", "auc"), "{:.3f}"),
    ("crop pairs: EER", ("pairs", "eer"), "{:.3f}"),
    ("crop pairs: EER threshold", ("pairs", "eer_threshold"), "{:.3f}"),
    ("crops, other cameras: rank-1", ("crop_retrieval", "rank1"), "{:.3f}"),
    ("crops, other cameras: mAP", ("crop_retrieval", "mAP"), "{:.3f}"),
    ("tracklets, other cameras: rank-1", ("tracklet_retrieval", "rank1"), "{:.3f}"),
    ("tracklets, other cameras: mAP", ("tracklet_retrieval", "mAP"), "{:.3f}"),
    ("tracklets: true-match cosine (mean)", ("tracklet_retrieval", "true_match_cosine"), "{:.3f}"),
    ("tracklets: other-person cosine (mean)", ("tracklet_retrieval", "other_person_cosine"), "{:.3f}"),
    ("tracklets: EER", ("tracklet_retrieval", "eer"), "{:.3f}"),
    ("tracklets: EER threshold", ("tracklet_retrieval", "eer_threshold"), "{:.3f}"),
    ("lookalike tracklets: cosine (mean)", ("lookalike_tracklet_cosine",), "{:.3f}"),
]


def held_out_scenario(work_dir: Path) -> Path:
    out = work_dir / f"test_{HELD_OUT_SPEC.seed}"
    if not (out / "identities.json").exists():
        generate(HELD_OUT_SPEC, out, show_progress=False)
    return out


def crop_sets(work_dir: Path, frame_step: int) -> Iterator[tuple[str, str, ScenarioCrops]]:
    """(name, description, crops), one set at a time (crops are large; none is kept after its turn)."""
    held_out = held_out_scenario(work_dir)
    for boxes in ("gt", "detector"):
        default = collect_scenario_crops(DEFAULT_SCENARIO, frame_step=frame_step, boxes=boxes)
        yield (f"default_test/{boxes}", f"samples/scenario_default, test-split people only, {boxes} boxes",
               default.select(default.split == "test"))
        if boxes == "gt":
            yield ("default_all/gt", "samples/scenario_default, ALL people (half are training sprites: "
                   "optimistic for the adapted model), gt boxes", default)
        del default
        seed = collect_scenario_crops(held_out, frame_step=frame_step, boxes=boxes)
        assert set(seed.split) == {"test"}
        yield f"seed201_test/{boxes}", f"{HELD_OUT_SPEC.command(held_out)}, {boxes} boxes", seed
        del seed


def vtest_real(embedders: dict) -> dict:
    """Real vtest tracks first seen in the second half: pair separation and track-halves retrieval."""
    data = measure.collect_track_crops(measure.VTEST, frame_step=2)
    held_out = data.select(~measure.split_first_seen(data))
    block = {"description": "vtest.avi itself (real footage), SSDLite + ByteTrack tracks first seen in the "
                            "second half, every 2nd frame, QualityGate defaults",
             "crops": len(held_out.crops), "tracks": int(len(np.unique(held_out.track_ids))), "scores": {}}
    for kind, embedder in embedders.items():
        e = embed_all(embedder, held_out.crops).astype(np.float64)
        _, first, second = measure.half_descriptors(e, held_out.frames, held_out.track_ids, held_out.quality)
        block["scores"][kind] = {"pairs": measure.pair_stats(e, held_out.frames, held_out.track_ids),
                                 "track_halves": measure.retrieval(first, second)}
    return block


VTEST_ROWS = [
    ("crop pairs: same-track cosine (mean)", ("pairs", "same_track_cosine"), "{:.3f}"),
    ("crop pairs: different-track cosine (mean)", ("pairs", "different_track_cosine"), "{:.3f}"),
    ("crop pairs: d'", ("pairs", "d_prime"), "{:.2f}"),
    ("crop pairs: ROC AUC", ("pairs", "auc"), "{:.3f}"),
    ("track halves: rank-1", ("track_halves", "rank1"), "{:.3f}"),
    ("track halves: mAP", ("track_halves", "mAP"), "{:.3f}"),
    ("track halves: ROC AUC", ("track_halves", "auc"), "{:.3f}"),
]


def pick(scores: dict, path: tuple[str, ...]) -> float:
    for key in path:
        scores = scores[key]
    return float(scores)


def markdown(results: dict) -> str:
    lines = []
    for name, block in results["sets"].items():
        counts = f"{block['crops']} crops, {block['people']} people, {block['tracklets']} tracklets"
        lines += [f"### {name}", "", f"{block['description']} ({counts})", "",
                  "| metric | " + " | ".join(KINDS) + " |", "|---|" + "---:|" * len(KINDS)]
        for label, path, fmt in ROWS:
            values = [fmt.format(pick(block["scores"][k], path)) for k in KINDS]
            lines.append(f"| {label} | " + " | ".join(values) + " |")
        lines.append("")
    block = results["vtest_real"]
    counts = f"{block['crops']} crops, {block['tracks']} tracks"
    lines += ["### vtest_real", "", f"{block['description']} ({counts})", "",
              "| metric | " + " | ".join(KINDS) + " |", "|---|" + "---:|" * len(KINDS)]
    for label, path, fmt in VTEST_ROWS:
        values = [fmt.format(pick(block["scores"][k], path)) for k in KINDS]
        lines.append(f"| {label} | " + " | ".join(values) + " |")
    lines += ["", "### speed (ms per crop, preprocessing included, this machine)", "",
              "| batch | " + " | ".join(KINDS) + " |", "|---|" + "---:|" * len(KINDS)]
    for batch in results["ms_per_crop"][KINDS[0]]:
        times = [results["ms_per_crop"][k][batch] for k in KINDS]
        cells = [f"{t['best']:.2f} (median {t['median']:.2f})" for t in times]
        lines.append(f"| {batch} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--work-dir", type=Path, default=Path("/tmp/adapt-reid"))
    parser.add_argument("--model-dir", type=Path, default=DEFAULT_MODEL_DIR)
    parser.add_argument("--frame-step", type=int, default=2)
    parser.add_argument("--out", type=Path, default=HERE, help="where results.json and results.md go")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    embedders = {kind: create_embedder(kind, model_dir=args.model_dir) for kind in KINDS}
    results: dict = {"models": {k: {"file": e.model_path.name, "dimension": e.dimension,
                                    "sha256": e.entry["sha256"]} for k, e in embedders.items()},
                     "frame_step": args.frame_step, "sets": {}}
    for name, description, data in crop_sets(args.work_dir, args.frame_step):
        block = {"description": description, "crops": len(data),
                 "people": int(len(np.unique(data.person_ids))), "scores": {}}
        for kind, embedder in embedders.items():
            scores = identity_scores(embed_all(embedder, data.crops), data.person_ids, data.cameras,
                                     data.frames, data.quality, data.sprite)
            block["scores"][kind] = scores
            block["tracklets"] = scores["tracklets"]
        results["sets"][name] = block
        print(f"{name}: {len(data)} crops", flush=True)
    results["vtest_real"] = vtest_real(embedders)
    print("vtest_real done", flush=True)
    sample = collect_scenario_crops(DEFAULT_SCENARIO, frame_step=20).crops
    results["ms_per_crop"] = {k: {f"batch_{b}": measure.time_embedder(e, sample, b, repeats)
                                  for b, repeats in ((1, 100), (16, 20))} for k, e in embedders.items()}
    results["load_average_1min"] = os.getloadavg()[0]
    results["cpu_count"] = os.cpu_count()
    results["seconds"] = round(time.perf_counter() - started, 1)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "results.json").write_text(json.dumps(results, indent=2) + "\n")
    table = markdown(results)
    (args.out / "results.md").write_text(table)
    print(table)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
