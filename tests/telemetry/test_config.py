"""Telemetry settings: defaults, checks that name the field, OTEL_* environment overrides."""

from __future__ import annotations

import pytest

from pyuniproc.telemetry import TelemetryConfig, TelemetryConfigError


def test_defaults_keep_tracing_off_and_metrics_on_localhost():
    config = TelemetryConfig.from_mapping(None, environ={})
    assert not config.tracing.enabled
    assert config.metrics.enabled and config.metrics.host == "127.0.0.1" and config.metrics.port == 9464
    assert config.tracing.traces_url() == "http://localhost:4318/v1/traces"


def test_full_mapping():
    config = TelemetryConfig.from_mapping(
        {
            "tracing": {
                "enabled": True,
                "sampling_ratio": 0.25,
                "service_name": "site-a",
                "protocol": "grpc",
                "endpoint": "http://jaeger:4317",
                "timeout_seconds": 3,
            },
            "metrics": {"host": "0.0.0.0", "port": 9500, "gpu": "off", "liveness_timeout_seconds": 10},
        },
        environ={},
    )
    assert config.tracing.sampling_ratio == 0.25 and config.tracing.traces_url() == "http://jaeger:4317"
    assert config.tracing.timeout_seconds == 3.0
    assert (config.metrics.host, config.metrics.port, config.metrics.gpu) == ("0.0.0.0", 9500, "off")


@pytest.mark.parametrize(
    "endpoint, url",
    [
        ("http://jaeger:4318", "http://jaeger:4318/v1/traces"),
        ("http://jaeger:4318/", "http://jaeger:4318/v1/traces"),
        ("http://collector/otlp/v1/traces", "http://collector/otlp/v1/traces"),
    ],
)
def test_http_endpoint_gets_the_traces_path_once(endpoint, url):
    config = TelemetryConfig.from_mapping({"tracing": {"endpoint": endpoint}}, environ={})
    assert config.tracing.traces_url() == url


@pytest.mark.parametrize(
    "data, field",
    [
        ({"tracing": {"sampling_ratio": 1.5}}, "telemetry.tracing.sampling_ratio"),
        ({"tracing": {"protocol": "udp"}}, "telemetry.tracing.protocol"),
        ({"tracing": {"enabled": "yes"}}, "telemetry.tracing.enabled"),
        ({"tracing": {"sample": 0.1}}, "telemetry.tracing.sample"),
        ({"metrics": {"port": 70000}}, "telemetry.metrics.port"),
        ({"metrics": {"port": 94.5}}, "telemetry.metrics.port"),
        ({"metrics": {"gpu": "on"}}, "telemetry.metrics.gpu"),
        ({"logs": {}}, "telemetry.logs"),
    ],
)
def test_bad_values_name_the_field(data, field):
    with pytest.raises(TelemetryConfigError) as info:
        TelemetryConfig.from_mapping(data, environ={})
    assert info.value.field == field
    assert field in str(info.value)


def test_otel_environment_wins_over_the_file():
    config = TelemetryConfig.from_mapping(
        {"tracing": {"enabled": True, "endpoint": "http://file:4318", "sampling_ratio": 1.0}},
        environ={
            "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://env:4318/custom",
            "OTEL_EXPORTER_OTLP_ENDPOINT": "http://ignored:4318",
            "OTEL_SERVICE_NAME": "env-name",
            "OTEL_TRACES_SAMPLER": "parentbased_traceidratio",
            "OTEL_TRACES_SAMPLER_ARG": "0.05",
        },
    )
    t = config.tracing
    assert t.traces_url() == "http://env:4318/custom", "the signal-specific URL is used as is"
    assert (t.service_name, t.sampling_ratio) == ("env-name", 0.05)


def test_otel_protocol_and_generic_endpoint():
    config = TelemetryConfig.from_mapping(
        {"tracing": {"enabled": True}},
        environ={"OTEL_EXPORTER_OTLP_PROTOCOL": "grpc", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://jaeger:4317"},
    )
    assert (config.tracing.protocol, config.tracing.traces_url()) == ("grpc", "http://jaeger:4317")


@pytest.mark.parametrize("environ", [{"OTEL_SDK_DISABLED": "true"}, {"OTEL_TRACES_EXPORTER": "none"}])
def test_otel_switches_tracing_off(environ):
    assert not TelemetryConfig.from_mapping({"tracing": {"enabled": True}}, environ=environ).tracing.enabled


@pytest.mark.parametrize(
    "environ, field",
    [
        ({"OTEL_EXPORTER_OTLP_PROTOCOL": "http/json"}, "OTEL_EXPORTER_OTLP_PROTOCOL"),
        (
            {"OTEL_TRACES_SAMPLER": "traceidratio", "OTEL_TRACES_SAMPLER_ARG": "half"},
            "OTEL_TRACES_SAMPLER_ARG",
        ),
    ],
)
def test_bad_environment_is_named(environ, field):
    with pytest.raises(TelemetryConfigError) as info:
        TelemetryConfig.from_mapping({}, environ=environ)
    assert info.value.field == field
