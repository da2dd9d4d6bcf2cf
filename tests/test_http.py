"""The pure HTTP helpers: status policy, Retry-After, backoff, error text, headers, endpoints."""

from __future__ import annotations

import random
from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mosaic_telemetry import ConfigurationError
from mosaic_telemetry._http import (
    MAX_RETRY_AFTER_S,
    Verdict,
    build_headers,
    check_endpoint,
    classify_status,
    encode_json,
    error_message,
    parse_retry_after,
)
from mosaic_telemetry._retry import BACKOFF_CAP_S, backoff_delay

KEY = "ab" * 32
UA = "mosaicstack-telemetry-python/0.1.0"


# -- classify_status ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "verdict"),
    [
        (200, Verdict.SUCCESS),
        (201, Verdict.SUCCESS),
        (202, Verdict.SUCCESS),
        (204, Verdict.SUCCESS),
        (299, Verdict.SUCCESS),
        (413, Verdict.SPLIT),
        (408, Verdict.RETRY),
        (429, Verdict.RETRY),
        (500, Verdict.RETRY),
        (502, Verdict.RETRY),
        (503, Verdict.RETRY),
        (504, Verdict.RETRY),
        (400, Verdict.DROP),
        (401, Verdict.DROP),
        (403, Verdict.DROP),
        (404, Verdict.DROP),
        (422, Verdict.DROP),
        (301, Verdict.DROP),
        (302, Verdict.DROP),
        (307, Verdict.DROP),
        (308, Verdict.DROP),
        (100, Verdict.DROP),
        (418, Verdict.DROP),
        (501, Verdict.DROP),
        (505, Verdict.DROP),
    ],
)
def test_classify_status_follows_the_protocol_table(status: int, verdict: Verdict) -> None:
    assert classify_status(status) is verdict


# -- parse_retry_after -----------------------------------------------------------------

NOW = datetime(2026, 11, 24, 22, 0, 0, tzinfo=timezone.utc)


@pytest.mark.parametrize(
    ("header", "seconds"),
    [
        (None, None),
        ("", None),
        ("7", 7.0),
        (" 7 ", 7.0),
        ("0", 0.0),
        ("120", 120.0),
        ("99999", MAX_RETRY_AFTER_S),
        ("Tue, 24 Nov 2026 22:00:30 GMT", 30.0),
        ("Tue, 24 Nov 2026 22:01:00 +0000", 60.0),
        ("Tue, 24 Nov 2026 23:00:10 +0100", 10.0),
        ("Tue, 24 Nov 2026 22:00:30", 30.0),  # no zone: taken as UTC
        ("Tue, 24 Nov 2026 21:59:00 GMT", 0.0),  # in the past: no wait, never negative
        ("Tue, 24 Nov 2036 22:00:00 GMT", MAX_RETRY_AFTER_S),
        ("-5", None),
        ("1.5", None),
        ("soon", None),
        ("Tue, 99 Foo 2026", None),
        ("\u00b2", None),  # byte 0xB2 of a latin-1 header: str.isdigit() calls it a digit
        ("\u00b9", None),
    ],
)
def test_parse_retry_after_reads_seconds_and_http_dates(
    header: str | None, seconds: float | None
) -> None:
    assert parse_retry_after(header, now=NOW) == seconds


@given(st.text(max_size=40))
def test_parse_retry_after_never_raises_and_is_bounded(header: str) -> None:
    result = parse_retry_after(header, now=NOW)
    assert result is None or 0.0 <= result <= MAX_RETRY_AFTER_S


def test_parse_retry_after_uses_the_current_time_by_default() -> None:
    soon = datetime.now(timezone.utc) + timedelta(seconds=90)
    header = soon.strftime("%a, %d %b %Y %H:%M:%S GMT")
    result = parse_retry_after(header)
    assert result is not None
    assert 85.0 <= result <= 90.0


# -- backoff_delay -------------------------------------------------------------------


@pytest.mark.parametrize("attempt", [0, 1, 2, 3, 4, 5, 6, 10, 32, 33, 1000, 10**9])
def test_backoff_delay_is_full_jitter_within_the_capped_exponential(attempt: int) -> None:
    rng = random.Random(attempt)
    ceiling = min(BACKOFF_CAP_S, 2.0 ** min(attempt, 64))
    delays = [backoff_delay(attempt, rng=rng) for _ in range(500)]
    assert all(0.0 <= d <= ceiling for d in delays)
    # Full jitter spreads over the whole range: some waits near 0, some near the ceiling.
    assert min(delays) < ceiling * 0.1
    assert max(delays) > ceiling * 0.9


def test_backoff_delay_honours_base_and_cap_arguments() -> None:
    rng = random.Random(7)
    assert all(0.0 <= backoff_delay(3, base_s=0.5, rng=rng) <= 4.0 for _ in range(200))
    assert all(0.0 <= backoff_delay(9, cap_s=2.0, rng=rng) <= 2.0 for _ in range(200))


def test_backoff_delay_is_reproducible_with_a_seeded_random() -> None:
    first = [backoff_delay(a, rng=random.Random(42)) for a in range(8)]
    second = [backoff_delay(a, rng=random.Random(42)) for a in range(8)]
    assert first == second


def test_backoff_delay_works_without_an_rng() -> None:
    assert 0.0 <= backoff_delay(2) <= 4.0


@given(st.integers(min_value=0, max_value=10**6), st.integers(min_value=0, max_value=2**32))
def test_backoff_delay_never_leaves_its_bounds(attempt: int, seed: int) -> None:
    delay = backoff_delay(attempt, rng=random.Random(seed))
    assert 0.0 <= delay <= min(BACKOFF_CAP_S, 2.0 ** min(attempt, 64))


# -- error_message ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b'{"error": "unknown api key"}', "unknown api key"),
        (b'{"error": "model: must be 1 to 100 characters"}', "model: must be 1 to 100 characters"),
        (b'{"error": "line1\\r\\nline2"}', "line1 line2"),
        (b'{"error": "forged\\u001b[31m\\u2028line\\u202e"}', "forged [31m line"),
        (b'{"error": ""}', "(empty body)"),
        (b"", "(empty body)"),
        (b"   ", "(empty body)"),
        (b"Bad Gateway", "Bad Gateway"),
        (b'{"error": 5}', '{"error": 5}'),
        (b'{"detail": "x"}', '{"detail": "x"}'),
        (b"[1, 2]", "[1, 2]"),
        (b"<html>\r\n<b>oops</b>\r\n</html>", "an HTML page (oops)"),
        (
            b"<!DOCTYPE html><html><head><title>502 Bad Gateway</title></head>"
            b"<body><h1>Bad Gateway</h1>" + b"<p>filler</p>" * 5000 + b"</body></html>",
            "an HTML page (502 Bad Gateway)",
        ),
        (
            b"  <html><body><h1>Oops:\n  it broke</h1></body></html>",
            "an HTML page (Oops: it broke)",
        ),
        (b"\xff\xfe bad utf-8", "\ufffd\ufffd bad utf-8"),
        (b"x" * 500, "x" * 200),
        (b'{"error": "' + b"y" * 500 + b'"}', "y" * 200),
    ],
)
def test_error_message_prefers_the_servers_error_field(body: bytes, message: str) -> None:
    assert error_message(body) == message


def test_error_message_survives_deeply_nested_json() -> None:
    assert error_message(b"[" * 100_000) == "[" * 200


@given(st.binary(max_size=300))
def test_error_message_is_one_short_line_for_any_body(body: bytes) -> None:
    text = error_message(body)
    assert 0 < len(text) <= 200
    assert "\n" not in text
    assert "\r" not in text


# -- build_headers / encode_json ------------------------------------------------------


def test_build_headers_are_the_protocols_headers() -> None:
    assert build_headers(KEY, UA, gzipped=False) == {
        "Authorization": f"Bearer {KEY}",
        "Content-Type": "application/json",
        "Accept": "application/json",
        "User-Agent": UA,
    }


def test_build_headers_announce_gzip_only_when_compressing() -> None:
    headers = build_headers(KEY, UA, gzipped=True)
    assert headers["Content-Encoding"] == "gzip"
    assert "Content-Encoding" not in build_headers(KEY, UA, gzipped=False)


def test_encode_json_is_compact_utf8() -> None:
    assert encode_json({"a": [1, 2], "b": "é"}) == '{"a":[1,2],"b":"é"}'.encode()


# -- check_endpoint ------------------------------------------------------------------


@pytest.mark.parametrize(
    "url", ["http://127.0.0.1:8080", "https://telemetry.example.com", "https://t.example/api"]
)
def test_check_endpoint_accepts_http_and_https(url: str) -> None:
    check_endpoint(url, KEY, UA)


@pytest.mark.parametrize(
    ("url", "scheme"),
    [
        ("file:///etc/passwd", "file"),
        ("ftp://example.com/x", "ftp"),
        ("data:text/plain,hello", "data"),
        ("gopher://example.com", "gopher"),
        ("example.com", "example.com"),
        ("", ""),
    ],
)
def test_check_endpoint_refuses_other_schemes(url: str, scheme: str) -> None:
    with pytest.raises(ConfigurationError, match="http:// or https://") as info:
        check_endpoint(url, KEY, UA)
    assert repr(scheme) in str(info.value)


@pytest.mark.parametrize(
    ("url", "key", "agent", "field"),
    [
        ("http://x/\r\nX-Evil: 1", KEY, UA, "server_url"),
        ("http://x/\n", KEY, UA, "server_url"),
        ("http://x/a b", KEY, UA, "server_url"),
        ("http://x", KEY + "\r\nX-Evil: 1", UA, "api_key"),
        ("http://x", "\n" + KEY, UA, "api_key"),
        ("http://x", KEY, UA + "\r\nX-Evil: 1", "user_agent"),
        ("http://x", KEY, "agent\x00", "user_agent"),
        ("http://x", KEY, "agent\x7f", "user_agent"),
    ],
)
def test_check_endpoint_refuses_header_injection(
    url: str, key: str, agent: str, field: str
) -> None:
    with pytest.raises(ConfigurationError, match=field) as info:
        check_endpoint(url, key, agent)
    assert KEY not in str(info.value)


@pytest.mark.parametrize("value", [None, 42, b"http://x"])
def test_check_endpoint_refuses_non_string_settings(value: object) -> None:
    with pytest.raises(ConfigurationError):
        check_endpoint(value, KEY, UA)  # type: ignore[arg-type]  # the wrong type on purpose
    with pytest.raises(ConfigurationError):
        check_endpoint("http://x", value, UA)  # type: ignore[arg-type]  # the wrong type on purpose
    with pytest.raises(ConfigurationError):
        check_endpoint("http://x", KEY, value)  # type: ignore[arg-type]  # the wrong type on purpose
