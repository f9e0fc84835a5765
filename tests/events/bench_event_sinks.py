"""What events cost the pipeline thread, and how fast the Kafka sink drains (mock cluster).

    python tests/events/bench_event_sinks.py [events]

Prints, per sink, the pipeline-thread cost of `publish` (mean and p99 µs) and, for Kafka, the
time until librdkafka confirmed every event (events/s end to end). The mock cluster runs in this
process, so absolute numbers are a lower bound for a real broker's latency but show the sink's
own overhead. Not collected by pytest (no test_ prefix).
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from kafkakit import MockKafka  # noqa: E402

from pyuniproc.events import JsonLinesSink, KafkaSinkSettings, make_event, to_event  # noqa: E402
from pyuniproc.events.kafka import KafkaSink  # noqa: E402


def crossing(i: int) -> dict:
    return {
        "kind": "line_crossed",
        "camera_id": f"cam{i % 8}",
        "pts_seconds": i / 10,
        "frame_index": i,
        "track_id": i % 50,
        "details": {"line": "door", "direction": "in", "x": 1.5, "y": 2.5, "count_in": i, "count_out": 0},
    }


def timed_publish(sink, events) -> list[float]:
    costs = []
    for event in events:
        started = time.perf_counter()
        sink.publish(event)
        costs.append(time.perf_counter() - started)
    return costs


def report(name: str, costs: list[float]) -> None:
    micros = sorted(c * 1e6 for c in costs)
    print(
        f"{name:28s} publish mean {statistics.fmean(micros):6.1f} µs  "
        f"p99 {micros[int(len(micros) * 0.99)]:7.1f} µs"
    )


def main(n: int) -> None:
    raw = [crossing(i) for i in range(n)]
    started = time.perf_counter()
    events = [to_event(r, site="bench") for r in raw]
    print(
        f"{'to_event (dict -> envelope)':28s} {(time.perf_counter() - started) / n * 1e6:6.1f} µs per event"
    )
    make_event("config_rejected", details={"error": "warm-up"})

    with tempfile.TemporaryDirectory() as folder:
        sink = JsonLinesSink(Path(folder) / "events.jsonl")
        report("jsonl", timed_publish(sink, events))
        sink.close()

    kafka = MockKafka()
    sink = KafkaSink(
        KafkaSinkSettings(bootstrap_servers=kafka.bootstrap_servers, topic="bench", buffer_max_events=n)
    )
    started = time.perf_counter()
    costs = timed_publish(sink, events)
    left = sink.flush(60)
    elapsed = time.perf_counter() - started
    report("kafka (mock cluster)", costs)
    stats = sink.stats()
    print(
        f"{'kafka delivered':28s} {stats['delivered']} of {n} in {elapsed:.2f} s = "
        f"{stats['delivered'] / elapsed:,.0f} events/s (left {left}, dropped {stats['dropped']})"
    )
    sink.close()
    kafka.close()


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 50_000)
