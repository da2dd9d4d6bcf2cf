"""The spool's record line: an event's JSON plus its CRC, readable as an event, damage caught."""

from __future__ import annotations

import binascii
import json

import pytest
from hypothesis import given
from hypothesis import strategies as st
from strategies import PROPERTY_SETTINGS, sample_event_kwargs, valid_events

from mosaic_telemetry import TaskCompletionEvent
from mosaic_telemetry._encode import encode_event
from mosaic_telemetry._spool_record import (
    CRC_KEY,
    decode_line,
    encode_line,
    event_id_of,
    valid_event_bytes,
)

SAMPLE = encode_event(TaskCompletionEvent(**sample_event_kwargs()))


@PROPERTY_SETTINGS
@given(valid_events())
def test_a_record_gives_back_the_exact_event_bytes(event: TaskCompletionEvent) -> None:
    data = encode_event(event)
    line = encode_line(data)
    assert line.endswith(b"\n") and line.count(b"\n") == 1
    assert decode_line(line) == data
    assert event_id_of(data) == str(event.event_id)


@PROPERTY_SETTINGS
@given(valid_events())
def test_a_record_line_is_an_event_the_models_read(event: TaskCompletionEvent) -> None:
    document = json.loads(encode_line(encode_event(event)))
    assert document[CRC_KEY] == f"{binascii.crc32(encode_event(event)):08x}"
    assert TaskCompletionEvent.from_dict(document) == event


@pytest.mark.parametrize("data", [b"{}", b'{"a":1}', b'{"a":"}"}', b'{"x":"\\u2028"}'])
def test_small_objects_round_trip(data: bytes) -> None:
    line = encode_line(data)
    assert json.loads(line)[CRC_KEY]
    assert decode_line(line) == data


def _flip(line: bytes, index: int) -> bytes:
    return line[:index] + bytes([line[index] ^ 0x01]) + line[index + 1 :]


GOOD = encode_line(SAMPLE)
DAMAGED = [
    ("a flipped bit in the event", _flip(GOOD, 40)),
    ("a flipped bit in the checksum", _flip(GOOD, len(GOOD) - 5)),
    ("a torn end", GOOD[:-10] + b"\n"),
    ("no newline", GOOD[:-1]),
    ("upper-case checksum digits", GOOD[:-11] + GOOD[-11:-3].upper() + GOOD[-3:]),
    ("another key name", GOOD.replace(b'"_spool_crc32"', b'"_spool_crc31"')),
    ("a blank line", b"\n"),
    ("zero bytes from a power loss", b"\x00" * 40 + b"\n"),
    ("two records run together", GOOD[:-1] + GOOD),
]


@pytest.mark.parametrize(("label", "line"), DAMAGED, ids=[label for label, _ in DAMAGED])
def test_a_damaged_line_is_refused(label: str, line: bytes) -> None:
    assert decode_line(line) is None, label


@given(st.integers(min_value=0, max_value=len(GOOD) - 2), st.integers(1, 255))
def test_any_single_byte_change_is_caught(index: int, mask: int) -> None:
    changed = GOOD[:index] + bytes([GOOD[index] ^ mask]) + GOOD[index + 1 :]
    assert decode_line(changed) is None


@pytest.mark.parametrize(
    ("data", "problem"),
    [
        ("{}", "must be bytes, got str"),
        (b"", "must be one JSON object"),
        (b"[1]", "must be one JSON object"),
        (b'{"a":\n1}', "no CR or LF"),
        (b'{"a":\r1}', "no CR or LF"),
    ],
)
def test_event_bytes_rules(data: object, problem: str) -> None:
    found = valid_event_bytes(data)
    assert found is not None and problem in found
    assert valid_event_bytes(SAMPLE) is None


def test_the_event_id_is_the_top_level_key_not_text_inside_a_value() -> None:
    data = b'{"model":"x\\"event_id\\":\\"evil\\"","event_id":"real-id"}'
    assert event_id_of(data) == "real-id"
    assert event_id_of(b'{"model":"no id"}') is None
