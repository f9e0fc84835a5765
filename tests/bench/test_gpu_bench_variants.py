"""`pyuniproc bench-gpu --variants`: each comma-separated case is measured on its own; settings
joined by + change together (e.g. fewer decoder threads on high-priority streams)."""

import pytest

from pyuniproc.bench.gpu import parse_variants


def test_cases_are_comma_separated_and_settings_joined_by_plus():
    fewer_threads = "sessions_per_decoder=4+decode_priority=high"
    assert parse_variants(f"reid=off, {fewer_threads}") == [
        ("reid=off", {"reid": "off"}),
        (fewer_threads, {"sessions_per_decoder": 4, "decode_priority": "high"}),
    ]


@pytest.mark.parametrize("text", ["bogus=1", "reid=", "reid=off+nope=2"])
def test_an_unknown_or_empty_setting_names_the_case(text):
    with pytest.raises(ValueError, match="expected KEY=VALUE"):
        parse_variants(text)


def test_auto_decodes_natively_up_to_the_per_gpu_limit_and_paced_runs_use_python():
    from argparse import Namespace
    from types import SimpleNamespace

    from pyuniproc.bench.gpu import decode_loop_for

    auto = Namespace(decode_loop="auto", native_max_streams=64, processes=16, streams_per_process=4)
    one_gpu, two_gpus = SimpleNamespace(gpus=[0]), SimpleNamespace(gpus=[0, 1])
    assert decode_loop_for(auto, 32, 0.0, one_gpu) == "native"
    assert decode_loop_for(auto, 64, 0.0, one_gpu) == "native"  # the limit is an argument (default 32)
    assert decode_loop_for(auto, 96, 0.0, one_gpu) == "python"
    assert decode_loop_for(auto, 96, 0.0, two_gpus) == "native"  # 48 per GPU
    assert decode_loop_for(auto, 96, 0.0, two_gpus, processes=1) == "python"  # one worker: one GPU
    assert decode_loop_for(auto, 8, 30.0, one_gpu) == "python"  # a live camera: no native paced mode
    assert (
        decode_loop_for(Namespace(decode_loop="native", native_max_streams=64), 96, 0.0, one_gpu) == "native"
    )


def test_a_variant_with_more_processes_gets_its_workers_built():
    from argparse import Namespace

    from pyuniproc.bench.gpu import pool_processes

    args = Namespace(processes=8, variant_streams="32", variants="decode_loop=native+processes=16,reid=off")
    assert pool_processes(args) == 16
    assert pool_processes(Namespace(processes=8, variant_streams="0", variants="processes=16")) == 8
