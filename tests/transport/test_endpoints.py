"""Savant's socket grammar and the pairing rules between the ends of one address."""

from __future__ import annotations

from pathlib import PurePosixPath

import pytest

from pyuniproc.transport import Endpoint, check_pairing, parse_endpoint


def test_parse_the_forms_savant_uses():
    endpoint = parse_endpoint("dealer+connect:ipc:///tmp/zmq-sockets/input-video.ipc")
    assert endpoint == Endpoint("dealer", False, "ipc:///tmp/zmq-sockets/input-video.ipc")
    assert endpoint.is_writer and endpoint.ipc_path == PurePosixPath("/tmp/zmq-sockets/input-video.ipc")
    tcp = parse_endpoint("sub+bind:tcp://0.0.0.0:3331")
    assert not tcp.is_writer and tcp.bind and tcp.ipc_path is None
    assert str(tcp) == "sub+bind:tcp://0.0.0.0:3331"


@pytest.mark.parametrize("text", ["ipc:///tmp/x.ipc", "pub:ipc:///tmp/x.ipc", "push+bind:ipc:///tmp/x.ipc",
                                  "pub+bind:/tmp/x.ipc", "pub+listen:tcp://h:1", ""])
def test_malformed_endpoints_are_refused_with_the_text(text):
    with pytest.raises(ValueError, match="bad ZeroMQ endpoint"):
        parse_endpoint(text)


def owners(*pairs: tuple[str, str]) -> list[tuple[str, Endpoint]]:
    return [(owner, parse_endpoint(text)) for owner, text in pairs]


A = "ipc:///tmp/zmq-sockets/a.ipc"


@pytest.mark.parametrize("pairs", [
    [("module", f"router+bind:{A}"), ("cam1", f"dealer+connect:{A}"), ("cam2", f"dealer+connect:{A}")],
    [("module", f"pub+bind:{A}"), ("fusion", f"sub+connect:{A}"), ("sink", f"sub+connect:{A}")],
    [("source", f"pub+bind:{A}"), ("module", f"sub+connect:{A}")],
    [("module", f"rep+bind:{A}"), ("client", f"req+connect:{A}")],
])
def test_sound_topologies(pairs):
    assert check_pairing(owners(*pairs)) == []


@pytest.mark.parametrize("pairs, problem", [
    ([("a", f"pub+bind:{A}"), ("b", f"pub+bind:{A}")], "exactly one side must bind"),
    ([("a", f"dealer+connect:{A}")], "exactly one side must bind, found none"),
    ([("a", f"router+bind:{A}")], "nobody connects"),
    ([("a", f"router+bind:{A}"), ("b", f"pub+connect:{A}")], "b connects PUB to a's ROUTER; expected DEALER"),
])
def test_broken_topologies_name_the_address_and_sides(pairs, problem):
    problems = check_pairing(owners(*pairs))
    assert any(problem in p and A in p for p in problems), problems
