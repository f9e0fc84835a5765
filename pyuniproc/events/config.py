"""Typed event-sink settings from the module YAML (`parameters.pyuniproc.events`).

    events:
      sinks:
        - type: jsonl                 # the default when `events` is absent
          path: events.jsonl          # relative to the run's --out folder
        - type: kafka
          bootstrap_servers: ${oc.env:KAFKA_BOOTSTRAP_SERVERS, 'localhost:9092'}
          topic: pyuniproc.events     # one topic, keyed by camera (ordered per camera) ...
          # topic_prefix: pyuniproc.  # ... or one topic per kind: pyuniproc.line_crossed, ...
          key: camera_id              # camera_id | kind | none
          kinds: [line_crossed, camera_down]   # only these (default: every kind)
          buffer_max_events: 10000    # held locally while the broker is away; oldest dropped beyond
          producer: {compression.type: lz4}    # any other librdkafka setting, passed through

Errors raise `EventsConfigError` (a ValueError) whose `field` is the dotted path, so the module
loader can point at the YAML line, as `TelemetryConfigError` does.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any

from pyuniproc.events.kinds import KINDS

KEYS = ("camera_id", "kind", "none")
DEFAULT_TOPIC = "pyuniproc.events"


class EventsConfigError(ValueError):
    """An events setting that cannot be used; `field` is its dotted path."""

    def __init__(self, field: str, message: str) -> None:
        self.field = field
        self.message = message
        super().__init__(f"field '{field}': {message}")


@dataclass(frozen=True)
class JsonLinesSinkSettings:
    """events.jsonl: one envelope per line, on disk within a second, at every summary.json and at
    close (an error or Ctrl-C loses nothing; a SIGKILL at most the last second).

    path: file name, relative to the run's output folder (or absolute).
    kinds: send only these kinds; None sends every kind.
    """

    path: str = "events.jsonl"
    kinds: tuple[str, ...] | None = None


@dataclass(frozen=True)
class KafkaSinkSettings:
    """Kafka producer settings.

    bootstrap_servers: "host:port[,host:port...]".
    topic: one topic for every kind (default "pyuniproc.events" when topic_prefix is unset).
    topic_prefix: a topic per kind, `<prefix><kind>`; consumers subscribe to what they need.
    key: message key: "camera_id" (all events of a camera land in one partition, in order),
        "kind", or "none" (spread evenly, no ordering).
    kinds: send only these kinds; None sends every kind.
    buffer_max_events: events held in memory while the broker is slow or away. Larger rides
        out longer outages (about 0.5 KB each); beyond it the oldest are dropped and counted.
    max_in_flight: events handed to librdkafka at once; the rest wait in the buffer. Bounds
        what librdkafka holds and retries on its own.
    message_timeout_seconds: how long librdkafka retries one event before handing it back to
        the buffer (which keeps it until delivered or pushed out).
    close_timeout_seconds: how long `close()` waits for the last events at the end of a run.
    client_id: shown in the broker's logs and metrics.
    producer: extra librdkafka settings (e.g. compression.type, security.protocol, sasl.*),
        applied last, so they can override anything above.
    """

    bootstrap_servers: str = ""
    topic: str | None = None
    topic_prefix: str | None = None
    key: str = "camera_id"
    kinds: tuple[str, ...] | None = None
    buffer_max_events: int = 10_000
    max_in_flight: int = 1_000
    message_timeout_seconds: float = 30.0
    close_timeout_seconds: float = 10.0
    client_id: str = "pyuniproc"
    producer: Mapping[str, str | int | float | bool] = field(default_factory=dict)

    def topic_for(self, kind: str) -> str:
        return f"{self.topic_prefix}{kind}" if self.topic_prefix else (self.topic or DEFAULT_TOPIC)


SinkSettings = JsonLinesSinkSettings | KafkaSinkSettings
_SINK_TYPES: dict[str, type] = {"jsonl": JsonLinesSinkSettings, "kafka": KafkaSinkSettings}


@dataclass(frozen=True)
class EventsConfig:
    """Where events go: every sink gets every event it accepts (fan-out)."""

    sinks: tuple[SinkSettings, ...] = (JsonLinesSinkSettings(),)

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any] | None, *, where: str = "events") -> EventsConfig:
        """Check `data` ({"sinks": [...]}); None or {} gives the default (events.jsonl only)."""
        data = {} if data is None else data
        if not isinstance(data, Mapping):
            raise EventsConfigError(where, f"must be a mapping, got {type(data).__name__}")
        _reject_unknown(data, {"sinks"}, where)
        raw_sinks = data.get("sinks")
        if raw_sinks is None:
            return cls()
        if not isinstance(raw_sinks, (list, tuple)):
            raise EventsConfigError(f"{where}.sinks", f"must be a list, got {type(raw_sinks).__name__}")
        sinks = tuple(_sink(item, f"{where}.sinks[{i}]") for i, item in enumerate(raw_sinks))
        paths = [s.path for s in sinks if isinstance(s, JsonLinesSinkSettings)]
        if len(paths) != len(set(paths)):
            raise EventsConfigError(f"{where}.sinks", f"two jsonl sinks write the same file: {paths}")
        return cls(sinks=sinks)


def _sink(item: Any, where: str) -> SinkSettings:
    if not isinstance(item, Mapping):
        raise EventsConfigError(where, f"must be a mapping, got {type(item).__name__}")
    kind = item.get("type")
    if not isinstance(kind, str) or kind not in _SINK_TYPES:
        raise EventsConfigError(f"{where}.type", f"expected one of {sorted(_SINK_TYPES)}, got {kind!r}")
    settings_cls = _SINK_TYPES[kind]
    values = {k: v for k, v in item.items() if k != "type"}
    known = {f.name for f in fields(settings_cls)}
    _reject_unknown(values, known, where)
    defaults = settings_cls()
    checked: dict[str, Any] = {}
    for key, value in values.items():
        path = f"{where}.{key}"
        if key == "kinds":
            checked[key] = None if value is None else _kinds(value, path)
        elif key == "producer":
            checked[key] = _producer(value, path)
        else:
            checked[key] = _typed_value(
                getattr(defaults, key), value, path, optional=key in ("topic", "topic_prefix")
            )
    settings = settings_cls(**checked)
    if isinstance(settings, KafkaSinkSettings):
        _check_kafka(settings, where)
    elif not settings.path:
        raise EventsConfigError(f"{where}.path", "must not be empty")
    return settings


def _check_kafka(settings: KafkaSinkSettings, where: str) -> None:
    if not settings.bootstrap_servers:
        raise EventsConfigError(f"{where}.bootstrap_servers", "required for a kafka sink (host:port[,...])")
    if settings.topic and settings.topic_prefix:
        raise EventsConfigError(
            f"{where}.topic_prefix", "give either topic (one topic) or topic_prefix (per kind)"
        )
    if settings.key not in KEYS:
        raise EventsConfigError(f"{where}.key", f"expected one of {list(KEYS)}, got {settings.key!r}")
    for name in ("buffer_max_events", "max_in_flight"):
        if getattr(settings, name) < 1:
            raise EventsConfigError(f"{where}.{name}", f"must be >= 1, got {getattr(settings, name)!r}")
    for name in ("message_timeout_seconds", "close_timeout_seconds"):
        if getattr(settings, name) <= 0:
            raise EventsConfigError(f"{where}.{name}", f"must be > 0, got {getattr(settings, name)!r}")


def _kinds(value: Any, where: str) -> tuple[str, ...]:
    if not isinstance(value, (list, tuple)) or not value:
        raise EventsConfigError(where, f"must be a non-empty list of event kinds, got {value!r}")
    for i, kind in enumerate(value):
        if kind not in KINDS:
            raise EventsConfigError(f"{where}[{i}]", f"{kind!r} is not one of {list(KINDS)}")
    return tuple(value)


def _producer(value: Any, where: str) -> dict[str, Any]:
    if not isinstance(value, Mapping):
        raise EventsConfigError(where, f"must be a mapping of librdkafka settings, got {value!r}")
    for key, setting in value.items():
        if not isinstance(setting, (str, int, float, bool)):
            raise EventsConfigError(
                f"{where}.{key}", f"expected a string, number or boolean, got {setting!r}"
            )
    return {str(k): v for k, v in value.items()}


def _typed_value(default: Any, value: Any, where: str, *, optional: bool = False) -> Any:
    if value is None and optional:
        return None
    if isinstance(default, bool):
        if not isinstance(value, bool):
            raise EventsConfigError(where, f"expected true or false, got {value!r}")
    elif isinstance(default, (int, float)):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise EventsConfigError(where, f"expected a number, got {value!r}")
        if isinstance(default, int) and int(value) != value:
            raise EventsConfigError(where, f"expected a whole number, got {value!r}")
        return type(default)(value)
    elif not isinstance(value, str):
        raise EventsConfigError(where, f"expected a string, got {value!r}")
    return value


def _reject_unknown(data: Mapping[str, Any], known: set[str], where: str) -> None:
    for key in data:
        if key not in known:
            raise EventsConfigError(f"{where}.{key}", f"unknown setting; known: {sorted(known)}")
