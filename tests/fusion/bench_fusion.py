"""Fusion throughput on a long synthetic run: ms per update and memory over time (not a test; run it).

    .venv/bin/python tests/fusion/bench_fusion.py --cameras 16 --people 12000 --rate 25 --dim 512

Prints one line per `--report-every` seconds of site time (live identities, tracks in memory, store
capacity, ms per update in that span) and a summary with mean / p50 / p99 / max ms per update.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from fusionkit import crowd  # noqa: E402

from pyuniproc.fusion import Fusion, FusionConfig  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cameras", type=int, default=16)
    parser.add_argument("--people", type=int, default=12000)
    parser.add_argument("--rate", type=float, default=25.0, help="arrivals per second")
    parser.add_argument("--fps", type=float, default=10.0)
    parser.add_argument("--dim", type=int, default=512)
    parser.add_argument("--noise", type=float, default=0.05, help="per-embedding noise (per dimension)")
    parser.add_argument("--embed-every", type=int, default=5, help="a fresh embedding every N frames")
    parser.add_argument(
        "--travel", type=float, nargs=2, default=(10.0, 60.0), help="min/max seconds per link"
    )
    parser.add_argument("--hops", type=int, default=3)
    parser.add_argument("--report-every", type=float, default=60.0)
    parser.add_argument(
        "--ablation", default="travel_time", choices=["appearance", "topology", "travel_time"]
    )
    args = parser.parse_args()

    scene = crowd(
        args.people,
        cameras=args.cameras,
        arrivals_per_second=args.rate,
        fps=args.fps,
        dim=args.dim,
        noise=args.noise,
        embed_every=args.embed_every,
        travel=tuple(args.travel),
        hops=args.hops,
    )
    fusion = Fusion(scene.site, FusionConfig().ablation(args.ablation))
    print(
        f"retire after {fusion.retire_after_seconds:.1f} s of absence; {args.cameras} cameras, D={args.dim}"
    )
    times, rows, span, next_report = [], 0, [], args.report_every
    assigned: dict[tuple[str, int], int] = {}
    for camera, pts, detections in scene.frames:
        start = time.perf_counter()
        out = fusion.update(camera, pts, detections)
        elapsed = (time.perf_counter() - start) * 1000
        times.append(elapsed)
        span.append(elapsed)
        rows += len(detections)
        for track_id, gid in zip(detections.tracker_id.tolist(), out.data["global_id"].tolist(), strict=True):
            if gid != -1:
                assigned[(camera, track_id)] = gid
        if pts >= next_report:
            s = fusion.stats()
            print(
                f"t={pts:7.0f}s identities={s['active_identities']:5d} "
                f"tracks_in_memory={s['tracks_in_memory']:5d} capacity={s['store_capacity']:5d} "
                f"ms/update mean={np.mean(span):.3f} max={np.max(span):.2f}"
            )
            span, next_report = [], next_report + args.report_every
    fusion.flush()
    t = np.array(times)
    print(
        f"updates={len(t)} rows={rows} rows/update={rows / len(t):.1f} ms/update mean={t.mean():.3f} "
        f"p50={np.percentile(t, 50):.3f} p99={np.percentile(t, 99):.3f} max={t.max():.2f} "
        f"total={t.sum() / 1000:.1f}s"
    )
    print({k: v for k, v in fusion.stats().items() if k != "clock"})
    # Identity quality over local tracks: hand-overs linked (same person, same id as their previous track)
    # and ids shared by different people.
    by_person: dict[int, list[tuple[str, int]]] = {}
    for key in sorted(assigned, key=lambda k: (scene.truth[k], k)):
        by_person.setdefault(scene.truth[key], []).append(key)
    handovers = linked = 0
    for keys in by_person.values():
        ids = [assigned[k] for k in keys]
        handovers += len(ids) - 1
        linked += sum(len(set(ids[: i + 1])) == 1 for i in range(1, len(ids)))
    people_per_id: dict[int, set[int]] = {}
    for key, gid in assigned.items():
        people_per_id.setdefault(gid, set()).add(scene.truth[key])
    shared = sum(len(p) > 1 for p in people_per_id.values())
    print(
        f"hand-overs kept on one id: {linked}/{handovers} = {linked / max(handovers, 1):.3f}; "
        f"ids shared by 2+ people: {shared}/{len(people_per_id)}"
    )


if __name__ == "__main__":
    main()
