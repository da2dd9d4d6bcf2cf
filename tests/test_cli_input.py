"""The reader of ``send``: values as they arrive, in any layout and any chunking; the filler."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator
from datetime import datetime, timezone
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from strategies import PROPERTY_SETTINGS, wire_events

from mosaic_telemetry import EventBuilder, ValidationError
from mosaic_telemetry.cli import _input
from mosaic_telemetry.cli._input import CHUNK_BYTES, EventFiller, InputError, Item, read_items

INSTANCE = "2f1e8c4a-5b6d-4e7f-8a9b-0c1d2e3f4a5b"


def reader_of(*pieces: bytes) -> Callable[[int], bytes]:
    """A ``read1`` that hands out ``pieces`` one per call (cut to ``n``), then ``b""``."""
    queue = list(pieces)

    def read(n: int) -> bytes:
        assert n >= 1
        if not queue:
            return b""
        piece = queue.pop(0)
        if len(piece) > n:
            queue.insert(0, piece[n:])
            piece = piece[:n]
        return piece

    return read


def items_of(text: str | bytes, *, label: str = "in") -> list[Item]:
    data = text.encode("utf-8") if isinstance(text, str) else text
    return list(read_items(label, reader_of(data)))


LAYOUTS = [
    ('{"a": 1}\n{"a": 2}\n', [("in line 1", {"a": 1}), ("in line 2", {"a": 2})]),
    ('{"a": 1}\r\n\r\n{"a": 2}', [("in line 1", {"a": 1}), ("in line 3", {"a": 2})]),
    ('{\n  "a": 1\n}\n{\n  "a": 2\n}\n', [("in line 1", {"a": 1}), ("in line 4", {"a": 2})]),
    ('{"a": 1}{"a": 2}', [("in line 1", {"a": 1}), ("in line 1", {"a": 2})]),
    ('[{"a": 1}, {"a": 2}]', [("in index 0", {"a": 1}), ("in index 1", {"a": 2})]),
    ('[\n  {"a": 1},\n  {"a": 2}\n]\n', [("in index 0", {"a": 1}), ("in index 1", {"a": 2})]),
    ("[]", []),
    ("", []),
    ("  \n\n", []),
    ("\ufeff" + '{"a": 1}\n', [("in line 1", {"a": 1})]),
    ("\ufeff" + '[{"a": 1}]', [("in index 0", {"a": 1})]),
    ("42\n", [("in line 1", 42)]),
]


@pytest.mark.parametrize(("text", "expected"), LAYOUTS, ids=repr)
def test_every_layout_gives_each_value_with_its_place(
    text: str, expected: list[tuple[str, Any]]
) -> None:
    assert [(item.where, item.value) for item in items_of(text)] == expected
    assert all(item.problem is None for item in items_of(text))


def test_a_broken_json_line_costs_that_line_only() -> None:
    found = items_of('{"a": 1}\n{broken\n{"a": 3}\n{"a": tru}\n{"a": 5}')
    assert [(i.where, i.value, i.problem) for i in found] == [
        ("in line 1", {"a": 1}, None),
        ("in line 2", None, "not valid JSON (Expecting property name enclosed in double quotes)"),
        ("in line 3", {"a": 3}, None),
        ("in line 4", None, "not valid JSON (Expecting value)"),
        ("in line 5", {"a": 5}, None),
    ]


def test_a_broken_last_line_without_newline_is_reported() -> None:
    found = items_of('{"a": 1}\n{"a": ')
    assert [i.problem for i in found] == [None, "not valid JSON (Expecting value)"]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('[{"a": 1}, {broken}, {"a": 3}]', "in index 1 is broken"),
        ('[{"a": 1} {"a": 2}]', "in index 0: expected , or ] after it, found '{'"),
        ('[{"a": 1},', "the JSON array is not closed with ]"),
        ('[{"a": 1}] {"a": 2}', "in line 1: text after the JSON array"),
    ],
)
def test_a_broken_array_stops_the_reading_after_the_good_items(text: str, message: str) -> None:
    reader = read_items("in", reader_of(text.encode()))
    first = next(reader)
    assert (first.where, first.value) == ("in index 0", {"a": 1})
    with pytest.raises(InputError, match=message):
        list(reader)


@pytest.mark.parametrize("chunk", [1, 5, 1000])
def test_text_that_is_not_utf8_names_the_byte_after_the_good_items(chunk: int) -> None:
    data = '\ufeff{"a": 1}\n{"é": "'.encode() + b"\xff" + b'"}\n'
    pieces = [data[i : i + chunk] for i in range(0, len(data), chunk)]
    reader = read_items("in", reader_of(*pieces))
    assert next(reader).value == {"a": 1}
    with pytest.raises(InputError, match=r"in is not UTF-8 text \(byte offset 20\)"):
        list(reader)


def test_a_value_past_the_size_limit_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_input, "MAX_VALUE_CHARS", 1000)
    huge = '{"a": "' + "x" * 5000 + '"}\n'
    with pytest.raises(InputError, match="longer than"):
        list(
            read_items("in", reader_of(*[huge.encode()[i : i + 100] for i in range(0, 5100, 100)]))
        )


def test_a_value_is_handed_on_before_the_rest_of_the_input_is_read() -> None:
    """What makes ``harness | send -`` send while the harness still runs."""
    calls = []

    def read(n: int) -> bytes:
        calls.append(n)
        if len(calls) == 1:
            return b'{"a": 1}\n'
        raise AssertionError("read on before the first value was handed on")

    assert next(read_items("in", read)).value == {"a": 1}
    assert calls == [CHUNK_BYTES]


def test_reading_a_long_input_holds_one_chunk_not_the_input() -> None:
    line = (json.dumps({"pad": "x" * 200}) + "\n").encode()
    total = 20_000

    def chunks() -> Iterator[bytes]:
        for _ in range(total // 100):
            yield line * 100

    source = chunks()
    reader = _input._Reader("in", lambda n: next(source, b""))
    count = 0
    largest = 0
    for _ in reader.items():
        count += 1
        largest = max(largest, len(reader._buf))
    assert count == total
    assert largest <= 2 * len(line) * 100  # never more than about one chunk


@PROPERTY_SETTINGS
@given(
    values=st.lists(wire_events(), min_size=1, max_size=4),
    layout=st.sampled_from(["lines", "pretty", "array", "pretty-array"]),
    cuts=st.lists(st.integers(min_value=1, max_value=97), min_size=1, max_size=40),
)
def test_any_chunking_gives_the_same_items(
    values: list[dict[str, Any]], layout: str, cuts: list[int]
) -> None:
    if layout == "lines":
        text = "".join(json.dumps(v, ensure_ascii=False) + "\n" for v in values)
    elif layout == "pretty":
        text = "".join(json.dumps(v, indent=2, ensure_ascii=False) + "\n" for v in values)
    elif layout == "array":
        text = json.dumps(values, ensure_ascii=False)
    else:
        text = json.dumps(values, indent=2, ensure_ascii=False)
    data = text.encode("utf-8")
    pieces = []
    position = 0
    for cut in cuts * (len(data) // sum(cuts) + 1):
        if position >= len(data):
            break
        pieces.append(data[position : position + cut])
        position += cut
    whole = [(i.where, i.value, i.problem) for i in read_items("in", reader_of(data))]
    chunked = [(i.where, i.value, i.problem) for i in read_items("in", reader_of(*pieces))]
    assert chunked == whole
    assert [value for _, value, _ in whole] == values


# -- the filler -----------------------------------------------------------------------------------


def test_a_minimal_event_gets_the_builders_defaults() -> None:
    event_id = uuid.uuid4()
    stamp = datetime(2026, 11, 24, 22, 0, tzinfo=timezone.utc)
    filled = EventFiller().event(
        {
            "instance_id": INSTANCE,
            "event_id": str(event_id),
            "timestamp": "2026-11-24T22:00:00Z",
            "model": "gpt-4o",
        }
    )
    built = EventBuilder(INSTANCE).event_id(event_id).timestamp(stamp).model("gpt-4o").build()
    assert filled == built


def test_a_missing_event_id_and_timestamp_are_new_for_each_event() -> None:
    filler = EventFiller(INSTANCE)
    before = datetime.now(timezone.utc)
    first, second = filler.event({}), filler.event({})
    assert first.event_id != second.event_id
    assert first.event_id.version == 4
    assert before <= first.timestamp <= datetime.now(timezone.utc)
    assert str(first.instance_id) == INSTANCE


def test_the_events_own_instance_id_wins_over_the_flag() -> None:
    other = "0b0f6f5e-3c1e-4a53-9d2b-6a0f3a3b8c11"
    assert str(EventFiller(INSTANCE).event({"instance_id": other}).instance_id) == other


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"model": "gpt-4o"}, "instance_id"),
        ({"instance_id": INSTANCE, "model": ""}, "model"),
        ({"instance_id": INSTANCE, "retry_count": None}, "retry_count"),
    ],
)
def test_what_the_builder_cannot_fill_is_still_refused(data: dict[str, Any], field: str) -> None:
    with pytest.raises(ValidationError) as caught:
        EventFiller().event(data)
    assert [error["field"] for error in caught.value.errors] == [field]
