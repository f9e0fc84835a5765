"""`pyuniproc bench`: the round reported is the median one, and a short real run prints its figures."""

import json

from pyuniproc.bench.command import _median_pair
from pyuniproc.bench.machine import int8_dot_product, machine_info
from pyuniproc.cli import main


def _round(ours_fps: float, naive_fps: float) -> tuple[dict, dict]:
    return {"throughput_fps": ours_fps}, {"throughput_fps": naive_fps}


def test_the_reported_round_is_the_one_with_the_median_speed_up():
    pairs = [_round(100, 50), _round(90, 60), _round(300, 50)]  # 2.0x, 1.5x, 6.0x
    ours, naive = _median_pair(pairs)
    assert ours["throughput_fps"] / naive["throughput_fps"] == 2.0


def test_a_short_run_without_the_baseline_interpreter_still_measures_pyuniproc(tmp_path):
    figures = tmp_path / "out" / "bench.json"  # a folder that does not exist yet, as on a fresh clone
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
    assert result["pyuniproc"]["cpu_ms_per_frame"] > 0 and result["cpu_speedup_median"] is None
    assert result["cpu_precision"] in ("int8", "fp32")
    # Which kernels ran depends on the CPU: the figures say which CPU it was.
    assert result["machine"]["cpu_model"] and result["machine"]["cpus"] >= 1
    assert "int8_dot_product" in result["machine"] and isinstance(result["machine"]["isa"], list)


def test_machine_info_names_the_int8_kernel_the_cpu_gets(tmp_path):
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text("processor\t: 0\nmodel name\t: Some CPU\nflags\t\t: fpu sse4_2 avx avx2 fma\n")
    info = machine_info(cpuinfo)
    assert info["cpu_model"] == "Some CPU" and info["isa"] == ["sse4_2", "avx", "avx2", "fma"]
    assert "saturating" in info["int8_dot_product"]
    assert int8_dot_product({"avx2", "avx512f", "avx512_vnni"}).startswith("VNNI")
