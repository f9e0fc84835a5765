"""Our TrackEval-based scoring reproduces motmetrics' published numbers on its shipped files.

Expected values: motmetrics 1.4.0, motmetrics/tests/test_metrics.py::test_motchallenge_files
(metrics idf1, idp, idr, recall, precision, num_unique_objects, mostly_tracked, partially_tracked,
mostly_lost, num_false_positives, num_misses, num_switches, num_fragmentations, mota, motp), e.g.
TUD-Campus "0.557659, 0.729730, 0.451253, 0.582173, 0.941441, 8.0, 1, 6, 1, 13, 150, 7, 7, 0.526462,
0.277201", asserted there with atol=1e-3. Its README shows the same, next to the MOTChallenge
devkit's "TUD-Campus IDF1 55.8 ... MOTA 52.6 MOTP 72.3". motmetrics' MOTP is a mean distance
(1 - IoU); TrackEval's is a mean IoU, so MOTP here = 1 - motmetrics' value.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from pyuniproc.evaluation.metrics import Sequence, score_sequences
from pyuniproc.evaluation.mot_io import read_mot

DATA = Path(__file__).parent / "data"
KEYS = (
    "IDF1",
    "IDP",
    "IDR",
    "Recall",
    "Precision",
    "gt_tracks",
    "MT",
    "PT",
    "ML",
    "FP",
    "FN",
    "IDSW",
    "Frag",
    "MOTA",
    "MOTP",
)
EXPECTED = {
    "TUD-Campus": (
        0.557659,
        0.729730,
        0.451253,
        0.582173,
        0.941441,
        8,
        1,
        6,
        1,
        13,
        150,
        7,
        7,
        0.526462,
        1 - 0.277201,
    ),
    "TUD-Stadtmitte": (
        0.644619,
        0.819760,
        0.531142,
        0.608997,
        0.939920,
        10,
        5,
        4,
        1,
        45,
        452,
        7,
        6,
        0.564014,
        1 - 0.345904,
    ),
    "OVERALL": (
        0.624296,
        0.799176,
        0.512211,
        0.602640,
        0.940268,
        18,
        6,
        10,
        2,
        58,
        602,
        14,
        13,
        0.555116,
        1 - 0.330177,
    ),
}


def _sequences():
    return {
        name: Sequence(
            read_mot(DATA / name / "gt.txt", drop_ignored=True), read_mot(DATA / name / "test.txt"), 0
        )
        for name in ("TUD-Campus", "TUD-Stadtmitte")
    }


@pytest.mark.parametrize("name", ["TUD-Campus", "TUD-Stadtmitte", "OVERALL"])
def test_reproduces_motmetrics_reference(name):
    per, combined = score_sequences(_sequences())
    scores = combined if name == "OVERALL" else per[name]
    for key, expected in zip(KEYS, EXPECTED[name], strict=True):
        assert scores[key] == pytest.approx(expected, abs=1e-3), key
