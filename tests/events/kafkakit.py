"""Kafka without a broker install: librdkafka's built-in mock cluster, and ways to take it away.

`MockKafka` hosts a mock cluster (`test.mock.num.brokers`) in an idle producer of this process;
any client bootstraps to its address. `MockKafkaProcess` hosts one in a child process, so a test
can freeze the broker (SIGSTOP: connections hang, requests time out, as with a dead host) and
thaw it (SIGCONT). `TcpGate` is a port that refuses connections until opened, then forwards to
the mock broker: a broker that is not there yet when the producer starts.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import time

from confluent_kafka import Consumer, Message, Producer, TopicPartition

QUIET = logging.getLogger("kafkakit.librdkafka")
QUIET.setLevel(logging.CRITICAL)

_HOST_SCRIPT = """
import logging, sys
from confluent_kafka import Producer
logging.getLogger("host").setLevel(logging.CRITICAL)
host = Producer({"test.mock.num.brokers": 1, "logger": logging.getLogger("host")})
brokers = host.list_topics(timeout=10).brokers.values()
print(",".join(f"{b.host}:{b.port}" for b in brokers), flush=True)
sys.stdin.read()  # live until the test closes stdin
"""


class MockKafka:
    """A mock cluster hosted by this process."""

    def __init__(self, brokers: int = 1) -> None:
        self._host = Producer({"test.mock.num.brokers": brokers, "logger": QUIET})
        metadata = self._host.list_topics(timeout=10)
        self.bootstrap_servers = ",".join(f"{b.host}:{b.port}" for b in metadata.brokers.values())

    def close(self) -> None:
        self._host.flush(0)
        del self._host


class MockKafkaProcess:
    """A mock cluster in a child process that the test can freeze and thaw."""

    def __init__(self) -> None:
        self._process = subprocess.Popen(
            [sys.executable, "-c", _HOST_SCRIPT], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
        )
        assert self._process.stdout is not None
        self.bootstrap_servers = self._process.stdout.readline().strip()
        assert self.bootstrap_servers, "mock cluster host did not start"

    def freeze(self) -> None:
        os.kill(self._process.pid, signal.SIGSTOP)

    def thaw(self) -> None:
        os.kill(self._process.pid, signal.SIGCONT)

    def close(self) -> None:
        self.thaw()
        assert self._process.stdin is not None
        self._process.stdin.close()
        try:
            self._process.wait(10)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()


class TcpGate:
    """127.0.0.1:<port> that refuses connections until `open()`, then forwards to `target`."""

    def __init__(self, target: str) -> None:
        host, port = target.split(",")[0].rsplit(":", 1)
        self.target = (host, int(port))
        probe = socket.socket()
        probe.bind(("127.0.0.1", 0))
        self.port = probe.getsockname()[1]
        probe.close()  # nothing listens there until open(): connections are refused
        self._listener: socket.socket | None = None
        self._sockets: list[socket.socket] = []

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def open(self) -> None:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen()
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def close(self) -> None:
        if self._listener is not None:
            try:
                self._listener.shutdown(socket.SHUT_RDWR)  # wakes the thread blocked in accept()
            except OSError:
                pass
            self._listener.close()
            self._listener = None
        for sock in self._sockets:
            sock.close()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(self.target)
            except OSError:
                client.close()
                continue
            self._sockets += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=_pipe, args=(a, b), daemon=True).start()


def _pipe(source: socket.socket, sink: socket.socket) -> None:
    try:
        while data := source.recv(65536):
            sink.sendall(data)
    except OSError:
        pass
    finally:
        for sock in (source, sink):
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


def read_topic(
    bootstrap_servers: str, topics: list[str], *, expect: int, timeout: float = 15.0
) -> list[Message]:
    """Every message of `topics` from the beginning (all partitions), waiting for `expect` of them."""
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap_servers,
            "group.id": "kafkakit",
            "logger": QUIET,
            "enable.auto.commit": False,
        }
    )
    try:
        partitions = []
        for topic in topics:
            metadata = consumer.list_topics(topic, timeout=10).topics[topic]
            partitions += [TopicPartition(topic, p, 0) for p in metadata.partitions]
        consumer.assign(partitions)
        messages: list[Message] = []
        deadline = time.monotonic() + timeout
        while len(messages) < expect and time.monotonic() < deadline:
            messages += [m for m in consumer.consume(1000, 0.2) if m.error() is None]
        return messages
    finally:
        consumer.close()
