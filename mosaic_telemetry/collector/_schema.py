"""The events table, derived from the event's field table: its columns and an event's row.

``COLUMNS`` is ``seq`` (arrival order), the event's fields in the spec's order (each
field's sqlite type and nullability from its kind: ``_fields.columns``), then
``received_at``; ``event_id`` is UNIQUE (the store is idempotent on it). The DDL,
the INSERT, the readers of ``events``/``export`` and the row builders follow it. A
row holds the event's wire values, except that timestamps are UTC in one fixed
width (``2026-11-24T22:00:00.000000Z``, so text order is time order), bools are 0
or 1 and lists of enum values are comma-joined. The fast row builder and the row
reader are generated from the same table (``_rowgen`` writes ``_generated_rows``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime, timezone
from typing import Any

from .._fields import columns
from .._kinds import BoolKind, ChoiceListKind, Kind, NullableKind, TimestampKind
from .._model import generated_shape
from ..errors import ValidationError
from ..models import TaskCompletionEvent, event_fields
from . import _generated_rows

__all__ = [
    "COLUMNS",
    "EVENT_ID_AT",
    "INSERT_COLUMNS",
    "KEY",
    "RECEIVED_AT",
    "Row",
    "event_row",
    "utc_text",
    "wire_of_row",
    "wire_row",
]

Row = tuple[Any, ...]

KEY = "event_id"
"""The column the store is idempotent on (the first copy of an event wins)."""


def _declaration(name: str, sqlite_type: str, nullable: bool) -> str:
    return sqlite_type + ("" if nullable else " NOT NULL") + (" UNIQUE" if name == KEY else "")


COLUMNS: tuple[tuple[str, str], ...] = (
    ("seq", "INTEGER PRIMARY KEY"),
    *((name, _declaration(name, kind, null)) for name, kind, null in columns(event_fields())),
    ("received_at", "TEXT NOT NULL"),
)
"""Every column of ``events``, in table order, with its SQL declaration."""

INSERT_COLUMNS: tuple[str, ...] = tuple(name for name, _ in COLUMNS[1:])
"""The columns a row fills (``seq`` is given by sqlite), in row order."""

EVENT_ID_AT = INSERT_COLUMNS.index(KEY)
"""Where a row holds the event's id."""

RECEIVED_AT = len(COLUMNS) - 1
"""Where a stored row (``COLUMNS`` order, ``seq`` first) holds ``received_at``."""

_UTC = timezone.utc
_EVENT = TaskCompletionEvent.__name__
_NAMES = tuple(name for name, _ in COLUMNS)


def utc_text(value: datetime) -> str:
    """The column form of an aware datetime: UTC, microseconds always written.

    Raises:
        OverflowError: the instant is outside years 1..9999 once in UTC.
    """
    if value.tzinfo is not _UTC:
        value = value.astimezone(_UTC)
    return value.isoformat(timespec="microseconds")[:-6] + "Z"


def _refuse(field: str, message: str, value: Any) -> ValidationError:
    return ValidationError(_EVENT, [{"field": field, "message": message, "value": value}])


def _timestamp(name: str) -> Callable[[TaskCompletionEvent, Any], Any]:
    def column(event: TaskCompletionEvent, wire: Any) -> Any:
        try:
            return utc_text(getattr(event, name))
        except OverflowError:
            raise _refuse(name, "must stay within years 1 to 9999 once in UTC", wire) from None

    return column


def _converter(name: str, kind: Kind) -> Callable[[TaskCompletionEvent, Any], Any] | None:
    """How a field's column value comes from the event and its wire value (None: as is)."""
    if isinstance(kind, NullableKind):
        inner = _converter(name, kind.inner)
        if inner is None:
            return None
        return lambda event, wire: None if wire is None else inner(event, wire)
    if isinstance(kind, TimestampKind):
        return _timestamp(name)
    if isinstance(kind, BoolKind):
        return lambda event, wire: int(wire)
    if isinstance(kind, ChoiceListKind):
        return lambda event, wire: ",".join(wire)
    return None


_CONVERTERS = tuple((f.name, _converter(f.name, f.kind)) for f in event_fields())


def event_row(event: TaskCompletionEvent, received_at: str) -> Row:
    """The row of a validated event, by the model's own ``to_dict`` (the reference path).

    Raises:
        ValidationError: the store can't take the event although the model does:
            a timestamp that leaves years 1..9999 in UTC, or text that is not
            valid Unicode (a lone surrogate has no UTF-8 form).
    """
    wire = event.to_dict()
    values: list[Any] = []
    for name, convert in _CONVERTERS:
        value = wire[name] if convert is None else convert(event, wire[name])
        if type(value) is str and not value.isascii():
            try:
                value.encode("utf-8")
            except UnicodeEncodeError:
                raise _refuse(
                    name, "must be valid Unicode text (no lone surrogates)", value
                ) from None
        values.append(value)
    values.append(received_at)
    return tuple(values)


wire_row: Callable[[Any, str], Row | None]
"""The row of a plainly valid, canonical wire event, or None (see ``_generated_rows``)."""
_stored_wire: Callable[[Row], dict[str, Any]]
if generated_shape(event_fields()) == _generated_rows.SHAPE:
    wire_row = _generated_rows.wire_row
    _stored_wire = _generated_rows.stored_wire
else:  # only while the table is being changed (a test fails meanwhile): the table's code now
    from ._rowgen import compiled

    wire_row, _stored_wire = compiled()


def wire_of_row(row: Mapping[str, Any] | tuple[Any, ...]) -> dict[str, Any]:
    """The wire-format dict of a stored row (``seq`` and ``received_at`` left out).

    ``row`` is a mapping by column name, or a tuple in ``COLUMNS`` order.
    """
    if isinstance(row, Mapping):
        row = tuple(row[name] for name in _NAMES)
    elif len(row) != len(_NAMES):
        raise ValueError(f"a stored row has {len(_NAMES)} columns, got {len(row)}")
    return _stored_wire(row)
