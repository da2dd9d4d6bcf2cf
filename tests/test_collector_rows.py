"""An event's row: the fast path agrees with the models, and what the store can't take is named."""

from __future__ import annotations

import json
import re
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from collector_fixtures import event_dict
from hypothesis import given
from hypothesis import strategies as st
from strategies import PROPERTY_SETTINGS, wire_events

from mosaic_telemetry import TaskCompletionEvent, ValidationError
from mosaic_telemetry.collector._schema import (
    COLUMNS,
    INSERT_COLUMNS,
    event_row,
    utc_text,
    wire_of_row,
    wire_row,
)

RECEIVED = "2026-11-24T22:00:00.000000Z"


def _reference(item: Any) -> tuple[Any, ...] | None:
    """The row by the models, or None when the event is refused."""
    try:
        return event_row(TaskCompletionEvent.from_dict(item), RECEIVED)
    except ValidationError:
        return None


_JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**70), 2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=40)
    | st.sampled_from(["low", "implementation", "anthropic", "build", "2026-11-24T22:00:00Z"]),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner),
    max_leaves=5,
)


@PROPERTY_SETTINGS
@given(wire_events())
def test_the_fast_row_of_a_valid_wire_event_is_the_models_row(wire: dict[str, Any]) -> None:
    data = json.loads(json.dumps(wire))  # exactly what the collector parses
    fast = wire_row(data, RECEIVED)
    assert fast is None or fast == _reference(data)
    texts = [v for v in data.values() if isinstance(v, str)]
    if all(v.isascii() for v in texts) and data["timestamp"].endswith("Z"):
        assert fast is not None  # a canonical ASCII event in UTC takes the fast path


@pytest.mark.parametrize("micros", [0, 123456])
def test_a_realistic_event_takes_the_fast_path(micros: int) -> None:
    stamp = datetime(2026, 11, 24, 22, 0, 0, micros, tzinfo=timezone.utc)
    data = json.loads(TaskCompletionEvent.from_dict(event_dict(1, timestamp=stamp)).to_json())
    assert wire_row(data, RECEIVED) == _reference(data) != None  # noqa: E711


@PROPERTY_SETTINGS
@given(
    wire_events(), st.sampled_from([c for c in INSERT_COLUMNS if c != "received_at"]), _JSON_VALUES
)
def test_the_fast_row_never_accepts_what_the_models_refuse_or_changes_a_value(
    wire: dict[str, Any], name: str, value: Any
) -> None:
    data = json.loads(json.dumps(wire))
    data[name] = value
    fast = wire_row(data, RECEIVED)
    assert fast is None or fast == _reference(data)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("event_id", "0B0F6F5E-3C1E-4A53-9D2B-6A0F3A3B8C11"),  # upper case: models make it lower
        ("timestamp", "2026-11-24T23:00:00+01:00"),  # an offset: converted to UTC
        ("timestamp", "2026-11-24T22:00:00"),  # no offset: UTC
        ("context_utilization_final", 1),  # an int where a float belongs
        ("language", "français"),  # not ASCII: checked for UTF-8
    ],
)
def test_values_off_the_fast_path_still_get_the_models_row(name: str, value: Any) -> None:
    data = event_dict(1, **{name: value})
    assert wire_row(data, RECEIVED) is None
    row = _reference(data)
    assert row is not None
    assert row[INSERT_COLUMNS.index("timestamp")].endswith("Z")


def test_a_missing_optional_field_is_stored_as_null() -> None:
    data = event_dict(1)
    del data["language"]
    row = _reference(data)
    assert row is not None
    assert row[INSERT_COLUMNS.index("language")] is None
    assert wire_row(data, RECEIVED) in (None, row)


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("timestamp", "0001-01-01T00:00:00+00:01", "timestamp: must stay within years 1 to 9999"),
        ("timestamp", "9999-12-31T23:59:59-00:01", "timestamp: must stay within years 1 to 9999"),
        ("model", "\ud800", "model: must be valid Unicode text (no lone surrogates)"),
        ("language", "py\udfff", "language: must be valid Unicode text"),
        ("schema_version", "1.\ud83d", "schema_version: must be valid Unicode text"),
    ],
)
def test_an_event_changed_after_construction_into_one_the_store_cannot_take_is_refused_by_name(
    name: str, value: str, message: str
) -> None:
    # The models refuse these values on construction; an event changed afterwards
    # still meets the store's own check, which names the field.
    event = TaskCompletionEvent.from_dict(event_dict(1))
    bad: Any = _parse_timestamp(value) if name == "timestamp" else value
    setattr(event, name, bad)
    assert wire_row(event_dict(1, **{name: value}), RECEIVED) is None
    with pytest.raises(ValidationError, match=re.escape(message)):
        event_row(event, RECEIVED)


def _parse_timestamp(text: str) -> datetime:
    return datetime.fromisoformat(text)


def test_a_datetime_that_overflows_in_utc_is_refused_too() -> None:
    event = TaskCompletionEvent.from_dict(event_dict(1))
    event.timestamp = datetime(1, 1, 1, 0, 30, tzinfo=timezone(timedelta(hours=1)))
    with pytest.raises(ValidationError, match="timestamp: must stay within years 1 to 9999"):
        event_row(event, RECEIVED)


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (datetime(2026, 11, 24, 22, 0, tzinfo=timezone.utc), "2026-11-24T22:00:00.000000Z"),
        (datetime(5, 1, 1, 0, 0, 0, 7, tzinfo=timezone.utc), "0005-01-01T00:00:00.000007Z"),
        (
            datetime(2026, 11, 24, 23, 0, tzinfo=timezone(timedelta(hours=1))),
            "2026-11-24T22:00:00.000000Z",
        ),
    ],
)
def test_timestamps_are_stored_in_utc_in_one_width_so_text_order_is_time_order(
    value: datetime, text: str
) -> None:
    assert utc_text(value) == text
    assert len(text) == 27


@PROPERTY_SETTINGS
@given(wire_events())
def test_a_stored_row_reads_back_as_the_events_wire_form(wire: dict[str, Any]) -> None:
    row = event_row(TaskCompletionEvent.from_dict(wire), RECEIVED)
    stored = (1, *row)
    assert len(stored) == len(COLUMNS)
    back = wire_of_row(stored)
    assert back["timestamp"].endswith("Z")  # the instant, in UTC
    assert TaskCompletionEvent.from_dict(back) == TaskCompletionEvent.from_dict(wire)
    assert list(back) == list(wire)


def test_the_collector_guide_documents_every_column_in_table_order() -> None:
    from pathlib import Path

    guide = Path(__file__).resolve().parent.parent / "docs" / "collector.md"
    rows = [
        line.split("|")[1:3]
        for line in guide.read_text(encoding="utf-8").splitlines()
        if line.startswith("| `") and line.count("|") == 4
    ]
    documented = [(name.strip().strip("`"), decl.strip()) for name, decl in rows]
    assert [d for d in documented if d[0] in dict(COLUMNS)] == list(COLUMNS)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("timestamp", "2026-W47-2T22:00:00Z"),  # an ISO week date: fromisoformat reads it
        ("timestamp", "2026-02-30T00:00:00Z"),
        ("timestamp", "2026-11-24T22:00:00.12345xZ"),
        ("timestamp", "2026-11-24T22:00:60Z"),
        ("timestamp", "2026-11-24t22:00:00z"),
        ("timestamp", "\u0662026-11-24T22:00:00Z"),
        ("timestamp", "2026-11-24 22:00:00.000000Z"),
        ("timestamp", "+2026-11-24T22:00:00Z"[:20]),
        ("event_id", "0b0f6f5e-3c1e-4a53-9d2b-6a0f3a3b8c1-"),
        ("event_id", "0b0f6f5e-3c1e-4a53-9d2b6-a0f3a3b8c11"),
        ("event_id", "0b0f6f5e3c1e4a539d2b6a0f3a3b8c11----"),
        ("instance_id", "0B0F6F5E-3C1E-4A53-9D2B-6A0F3A3B8C11"),
        ("instance_id", "{0b0f6f5e-3c1e-4a53-9d2b-6a0f3a3b8c1}"),
    ],
)
def test_near_misses_of_the_canonical_forms_get_the_models_verdict(name: str, value: str) -> None:
    data = event_dict(1, **{name: value})
    fast = wire_row(data, RECEIVED)
    assert fast is None or fast == _reference(data)


# -- one table: the columns and the fast path come from the event's field table ----------------


def test_the_generated_row_module_is_what_rowgen_writes_from_the_table() -> None:
    from pathlib import Path

    from mosaic_telemetry.collector import _generated_rows, _rowgen

    written = Path(_generated_rows.__file__).read_text(encoding="utf-8")
    assert written == _rowgen.render(), "run: python -m mosaic_telemetry.collector._rowgen"


def test_the_columns_are_the_field_tables_between_seq_and_received_at() -> None:
    from mosaic_telemetry._fields import columns
    from mosaic_telemetry.models import event_fields

    derived = [
        (name, kind + ("" if null else " NOT NULL") + (" UNIQUE" if name == "event_id" else ""))
        for name, kind, null in columns(event_fields())
    ]
    assert list(COLUMNS) == [
        ("seq", "INTEGER PRIMARY KEY"),
        *derived,
        ("received_at", "TEXT NOT NULL"),
    ]
    assert tuple(name for name, _ in COLUMNS[1:]) == INSERT_COLUMNS


def _edges() -> list[tuple[str, Any, bool]]:
    """(field, value, valid) at the bounds of every bounded field of the table."""
    from mosaic_telemetry._kinds import FloatKind, IntKind, NullableKind, TextKind
    from mosaic_telemetry.models import event_fields

    cases: list[tuple[str, Any, bool]] = []
    for spec in event_fields():
        kind = spec.kind.inner if isinstance(spec.kind, NullableKind) else spec.kind
        if isinstance(kind, IntKind):
            cases += [(spec.name, kind.lo, True), (spec.name, kind.lo - 1, False)]
            if kind.hi is not None:
                cases += [(spec.name, kind.hi, True), (spec.name, kind.hi + 1, False)]
        elif isinstance(kind, FloatKind):
            cases += [(spec.name, float(kind.lo), True), (spec.name, kind.lo - 1e-9, False)]
            if kind.hi is not None:
                cases += [(spec.name, float(kind.hi), True), (spec.name, kind.hi + 1e-9, False)]
        elif isinstance(kind, TextKind) and kind.hi is not None:
            cases += [(spec.name, "x" * kind.hi, True), (spec.name, "x" * (kind.hi + 1), False)]
            cases.append((spec.name, "x" * kind.lo, True))
            if kind.lo:
                cases.append((spec.name, "x" * (kind.lo - 1), False))
    return cases


@pytest.mark.parametrize(("name", "value", "valid"), _edges())
def test_the_fast_path_takes_each_bound_of_the_table_as_the_models_do(
    name: str, value: Any, valid: bool
) -> None:
    data = event_dict(1, **{name: value})
    fast = wire_row(data, RECEIVED)
    assert (fast is not None) == valid
    assert fast == _reference(data)


@PROPERTY_SETTINGS
@given(
    wire_events(), st.sampled_from([c for c in INSERT_COLUMNS if c != "received_at"]), _JSON_VALUES
)
def test_the_row_code_compiled_from_the_table_matches_the_generated_file(
    wire: dict[str, Any], name: str, value: Any
) -> None:
    from mosaic_telemetry.collector._rowgen import compiled

    fresh_row, fresh_read = compiled()
    data = json.loads(json.dumps(wire))
    assert fresh_row(data, RECEIVED) == wire_row(data, RECEIVED)
    data[name] = value
    assert fresh_row(data, RECEIVED) == wire_row(data, RECEIVED)
    row = _reference(json.loads(json.dumps(wire)))
    if row is not None:
        assert fresh_read((1, *row)) == wire_of_row((1, *row))


def test_a_kind_without_a_row_form_stops_the_generator() -> None:
    from mosaic_telemetry._fields import MAPPING, field
    from mosaic_telemetry.collector import _rowgen

    spec = field(MAPPING, default=None)
    spec.name = "labels"
    with pytest.raises(TypeError, match="labels: no row form for MappingKind"):
        _rowgen._check(spec, "labels")
