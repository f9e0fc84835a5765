"""EventsConfig.from_mapping: defaults, both sink types, errors naming the dotted field."""

from __future__ import annotations

import pytest

from pyuniproc.events import EventsConfig, EventsConfigError, JsonLinesSinkSettings, KafkaSinkSettings


def test_absent_or_empty_means_events_jsonl_only():
    for data in (None, {}, {"sinks": None}):
        assert EventsConfig.from_mapping(data).sinks == (JsonLinesSinkSettings(path="events.jsonl"),)


def test_jsonl_and_kafka_sinks():
    config = EventsConfig.from_mapping(
        {
            "sinks": [
                {"type": "jsonl"},
                {
                    "type": "kafka",
                    "bootstrap_servers": "k1:9092,k2:9092",
                    "topic_prefix": "shop.",
                    "key": "kind",
                    "kinds": ["line_crossed", "camera_down"],
                    "buffer_max_events": 500,
                    "message_timeout_seconds": 5,
                    "producer": {"compression.type": "lz4", "linger.ms": 20},
                },
            ]
        }
    )
    jsonl, kafka = config.sinks
    assert jsonl == JsonLinesSinkSettings()
    assert isinstance(kafka, KafkaSinkSettings)
    assert kafka.topic_for("line_crossed") == "shop.line_crossed" and kafka.key == "kind"
    assert kafka.kinds == ("line_crossed", "camera_down") and kafka.buffer_max_events == 500
    assert kafka.message_timeout_seconds == 5.0 and kafka.producer == {
        "compression.type": "lz4",
        "linger.ms": 20,
    }


def test_one_topic_keyed_by_camera_is_the_kafka_default():
    [kafka] = EventsConfig.from_mapping({"sinks": [{"type": "kafka", "bootstrap_servers": "k:9092"}]}).sinks
    assert kafka.topic_for("track_ended") == kafka.topic_for("camera_up") == "pyuniproc.events"
    assert kafka.key == "camera_id"


W = "parameters.pyuniproc.events"


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ([], W),
        ({"sink": []}, f"{W}.sink"),
        ({"sinks": {"type": "jsonl"}}, f"{W}.sinks"),
        ({"sinks": [{"type": "mqtt"}]}, f"{W}.sinks[0].type"),
        ({"sinks": [{"type": "jsonl", "path": ""}]}, f"{W}.sinks[0].path"),
        ({"sinks": [{"type": "jsonl"}, {"type": "jsonl", "path": "events.jsonl"}]}, f"{W}.sinks"),
        (
            {"sinks": [{"type": "jsonl", "kinds": ["line_crossed", "tracks_counted"]}]},
            f"{W}.sinks[0].kinds[1]",
        ),
        ({"sinks": [{"type": "kafka"}]}, f"{W}.sinks[0].bootstrap_servers"),
        ({"sinks": [{"type": "kafka", "bootstrap_servers": 9092}]}, f"{W}.sinks[0].bootstrap_servers"),
        (
            {"sinks": [{"type": "kafka", "bootstrap_servers": "k:9092", "topic": "a", "topic_prefix": "b."}]},
            f"{W}.sinks[0].topic_prefix",
        ),
        (
            {"sinks": [{"type": "kafka", "bootstrap_servers": "k:9092", "key": "track_id"}]},
            f"{W}.sinks[0].key",
        ),
        (
            {"sinks": [{"type": "kafka", "bootstrap_servers": "k:9092", "buffer_max_events": 0}]},
            f"{W}.sinks[0].buffer_max_events",
        ),
        (
            {"sinks": [{"type": "kafka", "bootstrap_servers": "k:9092", "buffer_max_events": 1.5}]},
            f"{W}.sinks[0].buffer_max_events",
        ),
        (
            {"sinks": [{"type": "kafka", "bootstrap_servers": "k:9092", "producer": {"acks": None}}]},
            f"{W}.sinks[0].producer.acks",
        ),
        (
            {"sinks": [{"type": "kafka", "bootstrap_servers": "k:9092", "brokers": 3}]},
            f"{W}.sinks[0].brokers",
        ),
    ],
)
def test_errors_name_the_field(data, field):
    with pytest.raises(EventsConfigError) as caught:
        EventsConfig.from_mapping(data, where=W)
    assert caught.value.field == field and isinstance(caught.value, ValueError)
    assert str(caught.value).startswith(f"field '{field}': ")
