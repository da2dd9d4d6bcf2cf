"""The collector's pure request checks: bearer auth, Content-Length, gzip, strict JSON."""

from __future__ import annotations

import gzip
import json
import zlib

import pytest
from collector_fixtures import API_KEY, OTHER_KEY
from hypothesis import given
from hypothesis import strategies as st
from strategies import PROPERTY_SETTINGS

from mosaic_telemetry.collector._wire import (
    MAX_BODY_BYTES,
    RequestError,
    check_bearer,
    decode_body,
    parse_content_length,
    parse_json,
)

KEY = API_KEY.encode()


@pytest.mark.parametrize(
    "header",
    [f"Bearer {API_KEY}", f"bearer {API_KEY}", f"BEARER   {API_KEY}  ", f" Bearer {API_KEY}"],
)
def test_bearer_accepts_the_key_in_any_scheme_case(header: str) -> None:
    check_bearer(header, KEY)


@pytest.mark.parametrize(
    ("header", "message"),
    [
        (None, "missing Authorization header"),
        ("", "missing Authorization header"),
        (API_KEY, "must be: Bearer <api key>"),
        (f"Basic {API_KEY}", "must be: Bearer <api key>"),
        ("Bearer ", "must be: Bearer <api key>"),
        (f"Bearer {OTHER_KEY}", "invalid API key"),
        (f"Bearer {API_KEY[:-1]}", "invalid API key"),
        (f"Bearer {API_KEY}0", "invalid API key"),
        ("Bearer caf\xe9", "invalid API key"),
    ],
)
def test_bearer_refuses_with_401_and_never_repeats_what_was_sent(
    header: str | None, message: str
) -> None:
    with pytest.raises(RequestError) as caught:
        check_bearer(header, KEY)
    assert caught.value.status == 401
    assert message in caught.value.message
    assert API_KEY[:16] not in caught.value.message
    assert OTHER_KEY[:16] not in caught.value.message


@pytest.mark.parametrize(("values", "expected"), [(["0"], 0), (["42"], 42), ([" 7 ", "7"], 7)])
def test_content_length_reads_one_non_negative_integer(values: list[str], expected: int) -> None:
    assert parse_content_length(values) == expected


@pytest.mark.parametrize(
    ("values", "status", "message"),
    [
        ([], 411, "Content-Length header is required"),
        (["abc"], 400, "non-negative integer"),
        (["-1"], 400, "non-negative integer"),
        (["1.5"], 400, "non-negative integer"),
        (["\u0662"], 400, "non-negative integer"),  # an Arabic-Indic digit is not ASCII
        (["1", "2"], 400, "disagree"),
        ([str(MAX_BODY_BYTES + 1)], 413, f"the limit is {MAX_BODY_BYTES} bytes"),
        (["9" * 40], 400, "non-negative integer"),
    ],
)
def test_content_length_refusals(values: list[str], status: int, message: str) -> None:
    with pytest.raises(RequestError) as caught:
        parse_content_length(values)
    assert caught.value.status == status
    assert message in caught.value.message


def test_content_length_at_the_limit_is_accepted() -> None:
    assert parse_content_length([str(MAX_BODY_BYTES)]) == MAX_BODY_BYTES


@pytest.mark.parametrize("encoding", [None, "identity", "IDENTITY"])
def test_an_unencoded_body_passes_through(encoding: str | None) -> None:
    assert decode_body(b'{"a": 1}', encoding) == b'{"a": 1}'


@pytest.mark.parametrize("encoding", ["gzip", "GZIP", " gzip "])
def test_a_gzip_body_is_decompressed(encoding: str) -> None:
    assert decode_body(gzip.compress(b'{"a": 1}'), encoding) == b'{"a": 1}'


def test_a_gzip_bomb_stops_at_the_limit_with_413() -> None:
    bomb = gzip.compress(b"\0" * (8 * MAX_BODY_BYTES))
    assert len(bomb) < MAX_BODY_BYTES // 10
    with pytest.raises(RequestError) as caught:
        decode_body(bomb, "gzip")
    assert (caught.value.status, caught.value.message) == (
        413,
        f"decompressed body exceeds the limit of {MAX_BODY_BYTES} bytes",
    )


def test_a_gzip_body_exactly_at_the_limit_is_accepted() -> None:
    data = b"x" * MAX_BODY_BYTES
    assert decode_body(gzip.compress(data), "gzip") == data


@pytest.mark.parametrize(
    ("body", "encoding", "status", "message"),
    [
        (b"not gzip at all", "gzip", 400, "not valid gzip"),
        (gzip.compress(b"x" * 1000)[:-12], "gzip", 400, "truncated"),
        (gzip.compress(b"{}") + b"junk", "gzip", 400, "after the gzip stream"),
        (zlib.compress(b"{}"), "deflate", 415, "gzip or identity"),
        (b"{}", "br", 415, "gzip or identity"),
    ],
)
def test_broken_or_unknown_encodings_are_refused(
    body: bytes, encoding: str, status: int, message: str
) -> None:
    with pytest.raises(RequestError) as caught:
        decode_body(body, encoding)
    assert caught.value.status == status
    assert message in caught.value.message


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "Expecting value at position 0"),
        (b"{", "Expecting property name"),
        (b'{"a": NaN}', "NaN is not valid JSON"),
        (b'{"a": -Infinity}', "-Infinity is not valid JSON"),
        (b"\xff\xfe\xfa", "not valid JSON"),
        (b"[" * 100_000 + b"]" * 100_000, "not valid JSON"),
    ],
)
def test_bad_json_is_refused_with_400(data: bytes, message: str) -> None:
    with pytest.raises(RequestError) as caught:
        parse_json(data)
    assert caught.value.status == 400
    assert message in caught.value.message


@PROPERTY_SETTINGS
@given(st.recursive(st.none() | st.booleans() | st.integers() | st.text(), st.lists, max_leaves=20))
def test_any_json_value_parses_back(value: object) -> None:
    assert parse_json(json.dumps(value).encode()) == value
