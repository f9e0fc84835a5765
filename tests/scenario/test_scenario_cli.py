"""`pyuniproc scenario` as a subcommand: arguments checked before any work."""

from __future__ import annotations

import argparse

import pytest

from pyuniproc.scenario import cli


def _parse(*argv: str):
    parser = argparse.ArgumentParser()
    cli.register(parser.add_subparsers())
    return parser.parse_args(["scenario", *argv])


@pytest.mark.parametrize(
    ("flag", "value"), [("--cameras", "1"), ("--cameras", "17"), ("--people", "0"), ("--width", "641")]
)
def test_bad_arguments_exit_with_2(flag, value, tmp_path, capsys):
    args = _parse("--out", str(tmp_path), flag, value)
    assert args.func(args) == 2
    assert flag.strip("-") in capsys.readouterr().err
    assert not any(tmp_path.iterdir())  # nothing written


def test_small_scenario_from_the_command_line(tmp_path):
    args = _parse(
        "--out", str(tmp_path / "s"), "--cameras", "2", "--people", "3", "--seconds", "3", "--quiet"
    )
    assert args.func(args) == 0
    assert (tmp_path / "s" / "video" / "cam2.mp4").is_file()
    assert (tmp_path / "s" / "README").read_text().count("\n") == 1
