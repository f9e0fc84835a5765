"""Fixtures for event tests: librdkafka mock clusters (no broker install needed)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from kafkakit import MockKafka, MockKafkaProcess


@pytest.fixture
def kafka() -> Iterator[MockKafka]:
    cluster = MockKafka()
    try:
        yield cluster
    finally:
        cluster.close()


@pytest.fixture
def kafka_process() -> Iterator[MockKafkaProcess]:
    cluster = MockKafkaProcess()
    try:
        yield cluster
    finally:
        cluster.close()
