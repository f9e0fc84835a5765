"""`pyuniproc bench-gpu --variants`: each comma-separated case is measured on its own; settings
joined by + change together (e.g. fewer decoder threads on high-priority streams)."""

import pytest

from pyuniproc.bench.gpu import parse_variants


def test_cases_are_comma_separated_and_settings_joined_by_plus():
    fewer_threads = "sessions_per_decoder=4+decode_priority=high"
    assert parse_variants(f"reid=off, {fewer_threads}") == [
        ("reid=off", {"reid": "off"}),
        (fewer_threads, {"sessions_per_decoder": 4, "decode_priority": "high"}),
    ]


@pytest.mark.parametrize("text", ["bogus=1", "reid=", "reid=off+nope=2"])
def test_an_unknown_or_empty_setting_names_the_case(text):
    with pytest.raises(ValueError, match="expected KEY=VALUE"):
        parse_variants(text)
