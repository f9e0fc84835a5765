"""Optional parts: a missing extra is reported with the pip command that brings it."""

from __future__ import annotations

import sys

import pytest

from pyuniproc.cli import main
from pyuniproc.events import EventsConfig, build_sink
from pyuniproc.extras import MissingExtraError, explain, require


@pytest.mark.parametrize("module, extra", [("trackeval", "eval"), ("confluent_kafka", "kafka"),
                                           ("torch.cuda", "gpu"), ("pynvml", "gpu")])
def test_a_missing_optional_module_names_its_extra(monkeypatch, module, extra):
    monkeypatch.setitem(sys.modules, module.partition(".")[0], None)  # makes its import fail
    with pytest.raises(MissingExtraError, match=rf"pip install 'pyuniproc\[{extra}\]'"):
        require(module)
    assert f"pip install 'pyuniproc[{extra}]'" in explain(ModuleNotFoundError(name=module))


def test_a_module_no_extra_brings_is_left_alone():
    assert explain(ModuleNotFoundError(name="numpy")) is None
    with pytest.raises(ModuleNotFoundError) as error:
        require("no_such_module_anywhere")
    assert not isinstance(error.value, MissingExtraError)


def test_a_kafka_sink_without_confluent_kafka_says_which_extra(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "confluent_kafka", None)
    config = EventsConfig.from_mapping({"sinks": [{"type": "kafka", "bootstrap_servers": "localhost:9092"}]})
    with pytest.raises(MissingExtraError, match=r"Kafka event sink .* pip install 'pyuniproc\[kafka\]'"):
        build_sink(config, tmp_path)


def test_the_command_turns_a_missing_extra_into_one_line(monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "torch", None)
    monkeypatch.setattr("pyuniproc.cli.run_command", lambda args: __import__("torch"))
    assert main(["run", "--source", "a=x.mp4", "--out", "out"]) == 2
    assert capsys.readouterr().err == (
        "pyuniproc: the GPU path needs torch, which is not installed: pip install 'pyuniproc[gpu]'\n")
