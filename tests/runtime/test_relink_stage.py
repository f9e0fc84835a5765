"""The relink step in the runtime (parameters.relink): it only renames ids, never moves or drops a box."""

from dataclasses import replace
from pathlib import Path

import numpy as np

from pyuniproc.config.cameras import CameraSpec, Site
from pyuniproc.evaluation.mot_io import read_mot
from pyuniproc.runtime.pipeline import Pipeline, RunOptions

VTEST = Path(__file__).resolve().parents[2] / "samples" / "vtest" / "vtest.avi"


def mot_rows(module, out: Path) -> np.ndarray:
    site = Site(name="test", cameras=(CameraSpec(id="cam1", uri=str(VTEST)),))
    quiet = replace(module, fusion=None, pyfuncs=[], runtime=replace(module.runtime, annotated_video=False))
    Pipeline(quiet, site, RunOptions(out_dir=out, progress=False, max_frames=120)).run()
    return read_mot(out / "mot" / "cam1.txt")


def test_relinking_renames_ids_only(tmp_path, module_config):
    plain = mot_rows(replace(module_config, relink=None), tmp_path / "plain")
    # wide gates, so that some track is relinked on this clip
    relink = {"max_gap_frames": 30, "max_distance": 5.0, "min_frames": 1, "edge_margin": None}
    linked = mot_rows(replace(module_config, relink=relink), tmp_path / "linked")
    assert len(plain) > 100
    np.testing.assert_array_equal(linked[:, [0, 2, 3, 4, 5]], plain[:, [0, 2, 3, 4, 5]])
    assert set(linked[:, 1]) <= set(plain[:, 1])
    assert len(set(linked[:, 1])) < len(set(plain[:, 1]))
