"""GT boxes are exactly where sprites were drawn, and the video shows people inside them."""

from __future__ import annotations

import av
import numpy as np

from pyuniproc.scenario.generate import plan
from pyuniproc.scenario.render import apply_look, render_camera
from pyuniproc.scenario.site import MIN_VISIBLE


def test_gt_boxes_are_the_visible_extent_of_drawn_masks(short_scenario, short_spec, tmp_path):
    bank, sources, site, people = plan(short_spec)
    checked = 0
    for index, camera in enumerate(site.cameras):
        gt_file = np.loadtxt(short_scenario / "gt" / f"{camera.id}.txt", delimiter=",", ndmin=2)
        busy = np.bincount(gt_file[:, 0].astype(int) - 1, minlength=short_spec.n_frames)
        frames = set(np.argsort(-busy, kind="stable")[:3].tolist())  # the three most crowded frames
        video = tmp_path / f"{camera.id}.mp4"
        gt, _, captured = render_camera(
            index,
            site,
            people,
            sources,
            bank,
            n_frames=short_spec.n_frames,
            fps=short_spec.fps,
            video_path=video,
            seed=short_spec.seed,
            capture=frames,
        )
        # Rendering again gives the generated scenario's GT exactly.
        np.testing.assert_array_equal(gt[np.lexsort((gt[:, 1], gt[:, 0]))][:, :6], gt_file[:, :6])

        decoded = {
            i: f.to_ndarray(format="rgb24")
            for i, f in enumerate(av.open(str(video)).decode(video=0))
            if i in frames
        }
        view = camera.view
        empty = apply_look(view.render_background(sources[view.source]), camera.look).astype(np.int16)
        for f in frames:
            labels, ids = captured[f]
            rows = {int(r[1]): r for r in gt_file[gt_file[:, 0] == f + 1]}
            assert set(rows) <= set(ids.values())  # every GT row belongs to someone drawn in that frame
            for label, pid in ids.items():
                mask = labels == label
                if pid not in rows:
                    assert not mask.any()  # drawn but wholly hidden: no row
                    continue
                ys, xs = np.nonzero(mask)
                x, y, w, h = rows[pid][2:6].astype(int)
                assert (xs.min(), ys.min(), xs.max() - xs.min() + 1, ys.max() - ys.min() + 1) == (x, y, w, h)
                # Scored when at least MIN_VISIBLE of them is visible, else a distractor row.
                assert (rows[pid][6] == 1) == (rows[pid][8] >= MIN_VISIBLE)
                if rows[pid][6] == 0:
                    continue
                # The decoded picture differs from the empty scene where the person was drawn.
                diff = np.abs(decoded[f].astype(np.int16) - empty).max(axis=2)
                assert diff[mask].mean() > 2 * np.median(diff[~mask]) + 5
                checked += 1
    assert checked >= 6
