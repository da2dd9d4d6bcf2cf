"""The events table in one place: its columns, and an event's row (checked, ready to insert).

``COLUMNS`` is the only list of the table's columns: the DDL, the INSERT, the
readers of ``events``/``export`` and the row builders below follow it. A row holds
the event's wire values, except that ``timestamp`` and ``received_at`` are UTC in
one fixed width (``2026-11-24T22:00:00.000000Z``, so text order is time order),
``quality_gate_passed`` is 0 or 1 and the gate lists are comma-joined.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping
from datetime import datetime, timezone
from typing import Any

from ..enums import Complexity, Harness, Outcome, Provider, QualityGate, RepoSizeCategory, TaskType
from ..errors import ValidationError
from ..models import (
    MAX_COMPACTIONS,
    MAX_COST_MICROS,
    MAX_DURATION_MS,
    MAX_LANGUAGE_LEN,
    MAX_MODEL_LEN,
    MAX_RETRIES,
    MAX_ROTATIONS,
    MAX_TOKENS,
    TaskCompletionEvent,
)

__all__ = [
    "COLUMNS",
    "INSERT_COLUMNS",
    "Row",
    "event_row",
    "utc_text",
    "wire_of_row",
    "wire_row",
]

Row = tuple[Any, ...]

COLUMNS: tuple[tuple[str, str], ...] = (
    ("seq", "INTEGER PRIMARY KEY"),  # arrival order
    ("event_id", "TEXT NOT NULL UNIQUE"),
    ("received_at", "TEXT NOT NULL"),
    ("instance_id", "TEXT NOT NULL"),
    ("schema_version", "TEXT NOT NULL"),
    ("timestamp", "TEXT NOT NULL"),
    ("task_duration_ms", "INTEGER NOT NULL"),
    ("task_type", "TEXT NOT NULL"),
    ("complexity", "TEXT NOT NULL"),
    ("harness", "TEXT NOT NULL"),
    ("model", "TEXT NOT NULL"),
    ("provider", "TEXT NOT NULL"),
    ("estimated_input_tokens", "INTEGER NOT NULL"),
    ("estimated_output_tokens", "INTEGER NOT NULL"),
    ("actual_input_tokens", "INTEGER NOT NULL"),
    ("actual_output_tokens", "INTEGER NOT NULL"),
    ("estimated_cost_usd_micros", "INTEGER NOT NULL"),
    ("actual_cost_usd_micros", "INTEGER NOT NULL"),
    ("quality_gate_passed", "INTEGER NOT NULL"),
    ("quality_gates_run", "TEXT NOT NULL"),
    ("quality_gates_failed", "TEXT NOT NULL"),
    ("context_compactions", "INTEGER NOT NULL"),
    ("context_rotations", "INTEGER NOT NULL"),
    ("context_utilization_final", "REAL NOT NULL"),
    ("outcome", "TEXT NOT NULL"),
    ("retry_count", "INTEGER NOT NULL"),
    ("language", "TEXT"),
    ("repo_size_category", "TEXT"),
)
"""Every column of ``events``, in table order, with its SQL declaration."""

INSERT_COLUMNS: tuple[str, ...] = tuple(name for name, _ in COLUMNS[1:])
"""The columns a row fills (``seq`` is given by sqlite), in row order."""

_UTC = timezone.utc
_fromisoformat = datetime.fromisoformat
_EVENT = TaskCompletionEvent.__name__
_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}").fullmatch
_STAMP = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]{6})?Z"
).fullmatch
_NAMES = tuple(name for name, _ in COLUMNS)
_WIRE_FIELDS = tuple(f.name for f in dataclasses.fields(TaskCompletionEvent))
_TASK_TYPES = frozenset(t.value for t in TaskType)
_COMPLEXITIES = frozenset(c.value for c in Complexity)
_HARNESSES = frozenset(h.value for h in Harness)
_PROVIDERS = frozenset(p.value for p in Provider)
_OUTCOMES = frozenset(o.value for o in Outcome)
_GATES = frozenset(g.value for g in QualityGate)
_REPO_SIZES = frozenset(r.value for r in RepoSizeCategory)


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


def event_row(event: TaskCompletionEvent, received_at: str) -> Row:
    """The row of a validated event, by the model's own ``to_dict`` (the reference path).

    Raises:
        ValidationError: the store can't take the event although the model does:
            a timestamp that leaves years 1..9999 in UTC, or text that is not
            valid Unicode (a lone surrogate has no UTF-8 form).
    """
    wire = event.to_dict()
    try:
        wire["timestamp"] = utc_text(event.timestamp)
    except OverflowError:
        raise _refuse(
            "timestamp", "must stay within years 1 to 9999 once in UTC", wire["timestamp"]
        ) from None
    wire["received_at"] = received_at
    wire["quality_gate_passed"] = int(wire["quality_gate_passed"])
    wire["quality_gates_run"] = ",".join(wire["quality_gates_run"])
    wire["quality_gates_failed"] = ",".join(wire["quality_gates_failed"])
    for name, value in wire.items():
        if type(value) is str and not value.isascii():
            try:
                value.encode("utf-8")
            except UnicodeEncodeError:
                raise _refuse(
                    name, "must be valid Unicode text (no lone surrogates)", value
                ) from None
    return tuple(wire[name] for name in INSERT_COLUMNS)


_last_instance = ""  # events of one batch share it: check its form once


def wire_row(item: Any, received_at: str) -> Row | None:
    """The row of a wire event that is plainly valid and canonical, or None when unsure.

    None sends the event to the reference path (``from_dict`` and :func:`event_row`),
    which accepts or names the rule it breaks; a test holds the two paths equal.
    """
    global _last_instance  # noqa: PLW0603  # a one-entry cache of a checked string
    if type(item) is not dict:
        return None
    try:
        event_id = item["event_id"]
        instance_id = item["instance_id"]
        schema = item["schema_version"]
        stamp = item["timestamp"]
        duration = item["task_duration_ms"]
        task_type = item["task_type"]
        complexity = item["complexity"]
        harness = item["harness"]
        model = item["model"]
        provider = item["provider"]
        est_in = item["estimated_input_tokens"]
        est_out = item["estimated_output_tokens"]
        act_in = item["actual_input_tokens"]
        act_out = item["actual_output_tokens"]
        est_cost = item["estimated_cost_usd_micros"]
        act_cost = item["actual_cost_usd_micros"]
        passed = item["quality_gate_passed"]
        run = item["quality_gates_run"]
        failed = item["quality_gates_failed"]
        compactions = item["context_compactions"]
        rotations = item["context_rotations"]
        util = item["context_utilization_final"]
        outcome = item["outcome"]
        retries = item["retry_count"]
        language = item["language"]
        repo = item["repo_size_category"]
    except KeyError:
        return None
    try:
        plain = _plain(
            event_id, instance_id, schema, stamp, duration, task_type, complexity, harness,
            model, provider, est_in, est_out, act_in, act_out, est_cost, act_cost, passed,
            run, failed, compactions, rotations, util, outcome, retries, language, repo,
        )  # fmt: skip
    except TypeError:  # an unhashable value where an enum's text belongs
        return None
    if not plain:
        return None
    try:
        _fromisoformat(stamp[:-1])  # the pattern passed; now the calendar (month 13, Feb 30)
    except ValueError:
        return None
    _last_instance = instance_id
    return (
        event_id,
        received_at,
        instance_id,
        schema,
        stamp if len(stamp) == 27 else stamp[:19] + ".000000Z",
        duration,
        task_type,
        complexity,
        harness,
        model,
        provider,
        est_in,
        est_out,
        act_in,
        act_out,
        est_cost,
        act_cost,
        1 if passed else 0,
        ",".join(run),
        ",".join(failed),
        compactions,
        rotations,
        util,
        outcome,
        retries,
        language,
        repo,
    )


def _plain(  # noqa: PLR0917  # one argument per field, in row order: the fastest check
    event_id: Any, instance_id: Any, schema: Any, stamp: Any, duration: Any, task_type: Any,
    complexity: Any, harness: Any, model: Any, provider: Any, est_in: Any, est_out: Any,
    act_in: Any, act_out: Any, est_cost: Any, act_cost: Any, passed: Any, run: Any,
    failed: Any, compactions: Any, rotations: Any, util: Any, outcome: Any, retries: Any,
    language: Any, repo: Any,
) -> bool:  # fmt: skip
    """Whether every value is of its exact type, in range and in canonical form.

    Enum checks are set membership: JSON gives only str, dicts, lists, numbers,
    bools and None, and none but the member's own text equals it.
    """
    return (
        type(event_id) is str
        and _UUID(event_id) is not None
        and type(instance_id) is str
        and (instance_id == _last_instance or _UUID(instance_id) is not None)
        and type(schema) is str
        and schema.isascii()
        and type(stamp) is str
        and _STAMP(stamp) is not None
        and type(duration) is int
        and 0 <= duration <= MAX_DURATION_MS
        and task_type in _TASK_TYPES
        and complexity in _COMPLEXITIES
        and harness in _HARNESSES
        and type(model) is str
        and 1 <= len(model) <= MAX_MODEL_LEN
        and model.isascii()
        and provider in _PROVIDERS
        and type(est_in) is int
        and 0 <= est_in <= MAX_TOKENS
        and type(est_out) is int
        and 0 <= est_out <= MAX_TOKENS
        and type(act_in) is int
        and 0 <= act_in <= MAX_TOKENS
        and type(act_out) is int
        and 0 <= act_out <= MAX_TOKENS
        and type(est_cost) is int
        and 0 <= est_cost <= MAX_COST_MICROS
        and type(act_cost) is int
        and 0 <= act_cost <= MAX_COST_MICROS
        and type(passed) is bool
        and type(run) is list
        and type(failed) is list
        and type(compactions) is int
        and 0 <= compactions <= MAX_COMPACTIONS
        and type(rotations) is int
        and 0 <= rotations <= MAX_ROTATIONS
        and type(util) is float
        and 0.0 <= util <= 1.0
        and outcome in _OUTCOMES
        and type(retries) is int
        and 0 <= retries <= MAX_RETRIES
        and (
            language is None
            or (type(language) is str and len(language) <= MAX_LANGUAGE_LEN and language.isascii())
        )
        and (repo is None or repo in _REPO_SIZES)
        and _GATES.issuperset(run)
        and _GATES.issuperset(failed)
    )


def wire_of_row(row: Mapping[str, Any] | tuple[Any, ...]) -> dict[str, Any]:
    """The wire-format dict of a stored row (``seq`` and ``received_at`` left out).

    ``row`` is a mapping by column name, or a tuple in ``COLUMNS`` order.
    """
    values = row if isinstance(row, Mapping) else dict(zip(_NAMES, row, strict=True))
    wire = {name: values[name] for name in _WIRE_FIELDS}
    stamp = wire["timestamp"]
    if stamp.endswith(".000000Z"):
        wire["timestamp"] = stamp[:19] + "Z"
    wire["quality_gate_passed"] = bool(wire["quality_gate_passed"])
    for name in ("quality_gates_run", "quality_gates_failed"):
        wire[name] = wire[name].split(",") if wire[name] else []
    return wire
