"""Events a run reports about the scene, in one versioned envelope, to one or more sinks.

    kinds        the kinds of event and what each carries (`KINDS`)
    schema       `pyuniproc.event/1`: `EventRecord` (checked when built), `make_event`, `validate`,
                 `json_schema()` (docs/event.schema.json); reference: docs/events.md
    convert      runtime/analytics dicts -> envelopes (`to_event`)
    watchers     camera health snapshots -> camera_up/down/stalled; fusion's global_id column ->
                 global_id_assigned/corrected
    config       `EventsConfig.from_mapping` for `parameters.pyuniproc.events`
    sinks        `EventSink` interface, `JsonLinesSink` (default), `FanOutSink`, `build_sink`
    kafka        `KafkaSink` (bounded buffer, delivery callbacks; imports confluent-kafka)
    frame_topic  `KafkaFrameTopic`: opaque frame messages + W3C trace headers across machines

`kafka` and `frame_topic` are not imported here, so the package works without confluent-kafka.
"""

from pyuniproc.events.config import EventsConfig, EventsConfigError, JsonLinesSinkSettings, KafkaSinkSettings
from pyuniproc.events.convert import to_event
from pyuniproc.events.schema import (
    EVENT_KINDS,
    KINDS,
    SCHEMA,
    EventRecord,
    EventSchemaError,
    json_schema,
    make_event,
    validate,
)
from pyuniproc.events.sinks import EventSink, FanOutSink, JsonLinesSink, KindFilter, build_sink
from pyuniproc.events.watchers import CameraStateWatcher, GlobalIdWatcher

__all__ = [
    "EVENT_KINDS",
    "KINDS",
    "SCHEMA",
    "CameraStateWatcher",
    "EventRecord",
    "EventSchemaError",
    "EventSink",
    "EventsConfig",
    "EventsConfigError",
    "FanOutSink",
    "GlobalIdWatcher",
    "JsonLinesSink",
    "JsonLinesSinkSettings",
    "KafkaSinkSettings",
    "KindFilter",
    "build_sink",
    "json_schema",
    "make_event",
    "to_event",
    "validate",
]
