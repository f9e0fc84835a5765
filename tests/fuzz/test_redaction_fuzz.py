"""Camera credentials never survive redaction, whatever the URI looks like.

Passwords may hold any printable character a camera's web UI accepts except the ones that end the
userinfo part of a URL (`/ ? #`, whitespace, quotes); '@' and ':' included, raw or percent-encoded.
Everything that reports a URI (logs, summary, metrics, events, errors) goes through `redact_uri` /
`redact_text` / `SourceUri` / `CameraStats`, so these are fuzzed directly.
"""

from __future__ import annotations

from urllib.parse import quote, unquote

from hypothesis import assume, example, given
from hypothesis import strategies as st

from pyuniproc.sources import CameraStats, parse_uri, redact_text, redact_uri

PASSWORD_CHARS = st.characters(
    min_codepoint=33,
    max_codepoint=0x2FFF,
    blacklist_characters="/?#'\"",
    blacklist_categories=("Cs", "Cc", "Z"),
)
passwords = st.text(PASSWORD_CHARS, min_size=3, max_size=24)
users = st.text(st.sampled_from("abcdefghijklmnopqrstuvwxyz0123456789._-"), min_size=1, max_size=10)
hosts = st.sampled_from(["10.0.0.7", "cam7.local", "[fe80::1]", "nvr"])
ports = st.sampled_from(["", ":554", ":8554"])
paths = st.sampled_from(["", "/", "/stream1", "/Streaming/Channels/101", "/live.sdp"])
schemes = st.sampled_from(["rtsp", "rtsps", "http", "https", "rtmp", "tcp", "srt"])
secret_names = st.sampled_from(
    ["password", "PASSWORD", "pwd", "token", "access_token", "key", "auth", "apikey"]
)


@st.composite
def camera_uris(draw: st.DrawFn) -> tuple[str, list[str]]:
    """(uri, its secrets as they appear in the URI and decoded)."""
    password = draw(passwords)
    encoded = draw(st.booleans())
    written = quote(password, safe="") if encoded else password
    user = draw(users)
    uri = f"{draw(schemes)}://{user}:{written}@{draw(hosts)}{draw(ports)}{draw(paths)}"
    secrets = [written, password]
    if draw(st.booleans()):
        token = draw(st.text(PASSWORD_CHARS.filter(lambda c: c not in "&;="), min_size=3, max_size=16))
        uri += f"?channel=1&{draw(secret_names)}={token}"
        secrets.append(token)
    for secret in secrets:
        # A "secret" that is also part of the host or path (or the "***" mark) cannot be told apart.
        assume(secret == written or uri.count(secret) == 1)
        assume(uri.count(written) == 1 and "***" not in secret)
    return uri, sorted(set(secrets))


def leaked(text: str, secrets: list[str]) -> list[str]:
    return [s for s in secrets if s in text]


@given(camera_uris())
@example(("rtsp://admin:p@ss@cam7:554/live?token=abc&ch=1", ["abc", "p@ss"]))
@example(("rtsp://admin:p%40ss%3Aw0rd@cam7/live", ["p%40ss%3Aw0rd", "p@ss:w0rd"]))
def test_redact_uri_hides_every_secret(case):
    uri, secrets = case
    assert not leaked(redact_uri(uri), [s for s in secrets if s in uri])


@given(
    camera_uris(),
    st.sampled_from(
        [
            "[rtsp @ 0x55d1] method DESCRIBE failed: 401 Unauthorized for {uri}",
            "Connection refused: '{uri}'",
            "could not open {host_only} as user admin with password {decoded}",
            "{uri}\n{uri}",
        ]
    ),
)
def test_redact_text_hides_secrets_in_messages_that_quote_the_uri(case, template):
    uri, secrets = case
    decoded = unquote(uri.split("://", 1)[1].rsplit("@", 1)[0].split(":", 1)[1])
    message = template.format(uri=uri, host_only=uri.rsplit("@", 1)[1], decoded=decoded)
    assert not leaked(redact_text(message, uri), secrets)


@given(camera_uris())
def test_parsed_uris_and_camera_stats_show_only_the_redacted_form(case):
    uri, secrets = case
    parsed = parse_uri(uri)
    assert not leaked(parsed.redacted, secrets)
    assert "raw=" not in repr(parsed) and "target=" not in repr(parsed) and parsed.redacted in repr(parsed)
    stats = CameraStats("cam", uri)
    stats.record_error(f"camera cam: cannot open '{uri}': Connection refused")
    stats.record_read_error(f"bad packet from {uri}")
    snapshot = stats.snapshot()
    assert not leaked(snapshot["uri"] + "\n" + snapshot["last_error"], secrets)


@given(st.text(max_size=80))
def test_parse_uri_accepts_or_rejects_cleanly(text):
    try:
        parsed = parse_uri(text)
    except ValueError:
        assert not text.strip()
    else:
        assert parsed.redacted == redact_uri(text.strip())
