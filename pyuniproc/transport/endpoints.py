"""Savant's ZeroMQ socket grammar: `<type>+<bind|connect>:<address>`, parsed and paired.

Every stage of the deployment names its sockets this way (adapters: `ZMQ_ENDPOINT`; the module:
`ZMQ_SRC_ENDPOINT`, `ZMQ_SINK_ENDPOINT`; fusion: `--in`, `--out`), for example

    dealer+connect:ipc:///tmp/zmq-sockets/input-video.ipc     a source adapter sending to the module
    router+bind:ipc:///tmp/zmq-sockets/input-video.ipc        the module receiving from all sources

One side of an address binds, the others connect, and the socket types must pair: PUB with SUB,
DEALER with ROUTER, REQ with REP. `check_pairing` says what is wrong with a set of endpoints.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import PurePosixPath

WRITER_TYPES = ("pub", "dealer", "req")
"""Socket types that send frames (a source adapter, the module's sink, fusion's output)."""
READER_TYPES = ("sub", "router", "rep")
"""Socket types that receive frames."""
PEER = {"pub": "sub", "sub": "pub", "dealer": "router", "router": "dealer", "req": "rep", "rep": "req"}

_GRAMMAR = re.compile(r"^(?P<type>[a-z]+)\+(?P<mode>bind|connect):(?P<address>(ipc|tcp)://.+)$")


@dataclass(frozen=True)
class Endpoint:
    """One socket: its type (pub, sub, dealer, router, req, rep), bind or connect, and address."""

    socket_type: str
    bind: bool
    address: str  # ipc:///path or tcp://host:port

    @property
    def url(self) -> str:
        return f"{self.socket_type}+{'bind' if self.bind else 'connect'}:{self.address}"

    @property
    def is_writer(self) -> bool:
        return self.socket_type in WRITER_TYPES

    @property
    def ipc_path(self) -> PurePosixPath | None:
        """The socket file of an ipc address (what must sit on a volume shared by both sides)."""
        return PurePosixPath(self.address[len("ipc://"):]) if self.address.startswith("ipc://") else None

    def __str__(self) -> str:
        return self.url


def parse_endpoint(text: str) -> Endpoint:
    """`pub+bind:ipc:///tmp/zmq-sockets/x.ipc` -> Endpoint; a ValueError quotes anything else."""
    match = _GRAMMAR.match(str(text).strip())
    if match is None:
        raise ValueError(f"bad ZeroMQ endpoint {text!r}: expected <type>+<bind|connect>:<ipc:///path|tcp://host:port>,"
                         f" e.g. 'pub+bind:ipc:///tmp/zmq-sockets/output-video.ipc'")
    socket_type = match["type"]
    if socket_type not in PEER:
        raise ValueError(f"bad ZeroMQ endpoint {text!r}: socket type {socket_type!r} is not one of "
                         f"{', '.join(sorted(PEER))}")
    return Endpoint(socket_type=socket_type, bind=match["mode"] == "bind", address=match["address"])


def check_pairing(endpoints: Iterable[tuple[str, Endpoint]]) -> list[str]:
    """Problems in a set of `(owner, endpoint)` pairs, e.g. `("module", Endpoint(...))`; [] when sound.

    Per address: exactly one owner binds; at least one other connects; every connecting socket is the
    peer type of the bound one (PUB-SUB, DEALER-ROUTER, REQ-REP).
    """
    by_address: dict[str, list[tuple[str, Endpoint]]] = defaultdict(list)
    for owner, endpoint in endpoints:
        by_address[endpoint.address].append((owner, endpoint))
    problems = []
    for address, users in sorted(by_address.items()):
        binders = [(o, e) for o, e in users if e.bind]
        connectors = [(o, e) for o, e in users if not e.bind]
        if len(binders) != 1:
            names = ", ".join(f"{o} ({e})" for o, e in binders) or "none"
            problems.append(f"{address}: exactly one side must bind, found {names}")
            continue
        bound_owner, bound = binders[0]
        if not connectors:
            problems.append(f"{address}: {bound_owner} binds {bound.socket_type.upper()} but nobody connects")
        for owner, endpoint in connectors:
            if endpoint.socket_type != PEER[bound.socket_type]:
                problems.append(f"{address}: {owner} connects {endpoint.socket_type.upper()} to "
                                f"{bound_owner}'s {bound.socket_type.upper()}; expected "
                                f"{PEER[bound.socket_type].upper()}")
    return problems


__all__ = ["Endpoint", "PEER", "READER_TYPES", "WRITER_TYPES", "check_pairing", "parse_endpoint"]
