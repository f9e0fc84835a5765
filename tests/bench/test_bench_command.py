"""`pyuniproc bench`: the round reported is the median one, and a short real run prints its figures."""

import json

from pyuniproc.bench.command import _median_pair
from pyuniproc.cli import main


def _round(ours_fps: float, naive_fps: float) -> tuple[dict, dict]:
    return {"throughput_fps": ours_fps}, {"throughput_fps": naive_fps}


def test_the_reported_round_is_the_one_with_the_median_speed_up():
    pairs = [_round(100, 50), _round(90, 60), _round(300, 50)]  # 2.0x, 1.5x, 6.0x
    ours, naive = _median_pair(pairs)
    assert ours["throughput_fps"] / naive["throughput_fps"] == 2.0


def test_a_short_run_without_the_baseline_interpreter_still_measures_pyuniproc(tmp_path):
    figures = tmp_path / "bench.json"
    code = main(
        [
            "bench",
            "--cameras",
            "2",
            "--frames",
            "12",
            "--repeat",
            "1",
            "--realtime-seconds",
            "0",
            "--baseline-python",
            str(tmp_path / "no-python"),
            "--json",
            str(figures),
        ]
    )
    assert code == 0
    result = json.loads(figures.read_text())
    assert result["naive"] is None and result["speedup_median"] is None
    assert result["pyuniproc"]["frames_processed"] == 24
    assert result["cpu_precision"] in ("int8", "fp32")
