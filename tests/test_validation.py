"""Validation: ValidationError, every coercion rule, and agreement of the fast and rule paths."""

from __future__ import annotations

import pickle
import re
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from enum import Enum
from types import MappingProxyType
from typing import Any
from uuid import UUID

import pytest
from hypothesis import given
from hypothesis import strategies as st
from strategies import (
    BUILD_PATHS,
    EVENT_INT_BOUNDS,
    PROPERTY_SETTINGS,
    build_event,
    event_kwargs,
    invalid_event_fields,
    loose_event_kwargs,
    sample_event_kwargs,
    utc_datetimes,
    wire_events,
)

from mosaic_telemetry import (
    BatchEventRequest,
    Complexity,
    Harness,
    Outcome,
    PredictionMetadata,
    PredictionResponse,
    Provider,
    QualityGate,
    QualityPrediction,
    RepoSizeCategory,
    TaskCompletionEvent,
    TaskType,
    TelemetryError,
    ValidationError,
)

PROVIDERS = "anthropic, openai, openrouter, ollama, google, mistral, custom, unknown"
INSTANCE = "0b0f6f5e-3c1e-4a53-9d2b-6a0f3a3b8c11"
UTC = timezone.utc


def _error(path: str, **overrides: Any) -> ValidationError:
    with pytest.raises(ValidationError) as info:
        build_event(path, **overrides)
    return info.value


# --- ValidationError ----------------------------------------------------------------------------


def test_message_names_every_failing_field_with_rule_and_value() -> None:
    error = _error("init", task_duration_ms=-5, provider="foo")
    assert str(error) == (
        "2 validation errors for TaskCompletionEvent: "
        "task_duration_ms: must be between 0 and 86400000, got -5; "
        f"provider: must be one of {PROVIDERS}, got 'foo'"
    )


def test_one_failure_is_reported_in_the_singular() -> None:
    error = _error("init", retry_count=21)
    assert str(error) == (
        "1 validation error for TaskCompletionEvent: retry_count: must be between 0 and 20, got 21"
    )


@pytest.mark.parametrize("path", BUILD_PATHS)
def test_every_broken_field_is_listed_in_field_order(path: str) -> None:
    error = _error(
        path,
        instance_id="nope",
        model="",
        context_rotations=51,
        context_utilization_final=float("nan"),
        language=7,
    )
    assert [e["field"] for e in error.errors] == [
        "instance_id",
        "model",
        "context_rotations",
        "context_utilization_final",
        "language",
    ]
    assert str(error).startswith("5 validation errors for TaskCompletionEvent: instance_id: ")


def test_errors_are_dicts_of_field_message_and_value() -> None:
    error = _error("init", task_duration_ms=-5, provider="foo")
    assert error.errors == [
        {
            "field": "task_duration_ms",
            "message": "must be between 0 and 86400000",
            "value": -5,
        },
        {"field": "provider", "message": f"must be one of {PROVIDERS}", "value": "foo"},
    ]
    assert error.model == "TaskCompletionEvent"


def test_errors_is_a_copy_the_caller_cannot_corrupt() -> None:
    error = _error("init", retry_count=-1)
    error.errors[0]["field"] = "changed"
    error.errors.clear()
    assert error.errors[0]["field"] == "retry_count"
    assert "retry_count" in str(error)


def test_validation_error_is_a_telemetry_error_and_a_value_error() -> None:
    error = _error("init", retry_count=-1)
    assert isinstance(error, TelemetryError)
    assert isinstance(error, ValueError)
    with pytest.raises(ValueError, match="retry_count"):
        TaskCompletionEvent(**sample_event_kwargs(retry_count=-1))


@pytest.mark.parametrize("protocol", range(pickle.HIGHEST_PROTOCOL + 1))
def test_validation_error_survives_pickling(protocol: int) -> None:
    error = _error("from_dict", task_duration_ms=-5, provider="foo", instance_id=None)
    copy = pickle.loads(pickle.dumps(error, protocol=protocol))
    assert type(copy) is ValidationError
    assert str(copy) == str(error)
    assert copy.errors == error.errors
    assert copy.model == error.model


def test_long_values_are_truncated_in_the_message_but_kept_in_errors() -> None:
    long_model = "x" * 500
    error = _error("init", model=long_model)
    message = str(error)
    assert "model: must be 1 to 100 characters, got 'xxxxxxxx" in message
    assert "..." in message
    assert len(message) < 150
    assert error.errors[0]["value"] == long_model


def test_a_value_whose_repr_raises_still_gives_a_message() -> None:
    class Hostile:
        def __repr__(self) -> str:
            raise RuntimeError("no repr for you")

    error = _error("init", model=Hostile())
    assert "model: must be a string, got <unrepresentable Hostile>" in str(error)


def test_nested_errors_are_named_by_their_dotted_path() -> None:
    body = {
        "prediction": {
            "input_tokens": {"p10": -1, "p25": 0, "median": 0, "p75": 0, "p90": 0},
            "output_tokens": {"p10": 0, "p25": 0, "median": 0, "p75": 0, "p90": 0},
            "cost_usd_micros": {"median": 1},
            "duration_ms": {"median": 1},
            "correction_factors": {"input": 1.0, "output": 1.0},
            "quality": {"gate_pass_rate": 0.5, "success_rate": 0.5},
        },
        "metadata": {"sample_size": -3, "fallback_level": 0, "confidence": "low"},
    }
    with pytest.raises(ValidationError) as info:
        PredictionResponse.from_dict(body)
    assert [e["field"] for e in info.value.errors] == [
        "prediction.input_tokens.p10",
        "metadata.sample_size",
    ]
    assert "prediction.input_tokens.p10: must be at least 0, got -1" in str(info.value)


def test_batch_request_error_names_every_bad_event_by_its_index() -> None:
    good = TaskCompletionEvent(**sample_event_kwargs()).to_dict()
    events = [good, {**good, "model": ""}, {**good, "retry_count": 99}]
    with pytest.raises(ValidationError) as info:
        BatchEventRequest.from_dict({"events": events})
    fields = [e["field"] for e in info.value.errors]
    assert len(fields) == 2, fields
    assert re.search(r"\b1\b", fields[0]), fields
    assert fields[0].endswith("model"), fields
    assert re.search(r"\b2\b", fields[1]), fields
    assert fields[1].endswith("retry_count"), fields


# --- coercion rules, through the constructor and from_dict alike -------------------------------

UUID_ACCEPTED = [
    UUID(INSTANCE),
    INSTANCE,
    INSTANCE.upper(),
    INSTANCE.replace("-", ""),
    "{" + INSTANCE + "}",
    "urn:uuid:" + INSTANCE,
]
UUID_REFUSED = [
    "",
    "not-a-uuid",
    INSTANCE[:-1],
    INSTANCE + "1",
    "g" * 32,
    " " + INSTANCE.replace("-", "")[1:],  # padded to 32 characters with a space
    INSTANCE.replace("-", "")[:-2] + "_1",  # int(..., 16) would read the underscore
    "\uff10" + INSTANCE[1:],  # a full-width digit zero
    12345,
    UUID(INSTANCE).int,
    UUID(INSTANCE).bytes,
    None,
    [INSTANCE],
]


@pytest.mark.parametrize("path", BUILD_PATHS)
@pytest.mark.parametrize("field", ["instance_id", "event_id"])
@pytest.mark.parametrize("value", UUID_ACCEPTED, ids=repr)
def test_uuid_field_takes_a_uuid_or_its_string(path: str, field: str, value: Any) -> None:
    got = getattr(build_event(path, **{field: value}), field)
    assert type(got) is UUID
    assert got == UUID(INSTANCE)


@pytest.mark.parametrize("path", BUILD_PATHS)
@pytest.mark.parametrize("field", ["instance_id", "event_id"])
@pytest.mark.parametrize("value", UUID_REFUSED, ids=repr)
def test_uuid_field_refuses_anything_else(path: str, field: str, value: Any) -> None:
    error = _error(path, **{field: value})
    assert error.errors == [
        {"field": field, "message": "must be a UUID or its string form", "value": value}
    ]


NOON = datetime(2026, 1, 31, 12, 0, tzinfo=UTC)
TIMESTAMP_ACCEPTED: list[tuple[Any, datetime, timedelta]] = [
    (NOON, NOON, timedelta(0)),
    (datetime(2026, 1, 31, 12, 0), NOON, timedelta(0)),
    (NOON.astimezone(timezone(timedelta(hours=5, minutes=30))), NOON, timedelta(hours=5.5)),
    ("2026-01-31T12:00:00Z", NOON, timedelta(0)),
    ("2026-01-31T12:00:00z", NOON, timedelta(0)),
    ("2026-01-31T12:00:00+00:00", NOON, timedelta(0)),
    ("2026-01-31T12:00:00-00:00", NOON, timedelta(0)),
    ("2026-01-31T17:30:00+05:30", NOON, timedelta(hours=5.5)),
    ("2026-01-31T04:00:00-08:00", NOON, timedelta(hours=-8)),
    ("2026-01-31T12:00:00", NOON, timedelta(0)),
    ("2026-01-31 12:00:00Z", NOON, timedelta(0)),
    ("2026-01-31T12:00:00.123456Z", NOON.replace(microsecond=123456), timedelta(0)),
    ("2026-01-31T12:00:00.5Z", NOON.replace(microsecond=500000), timedelta(0)),
]
TIMESTAMP_REFUSED = [
    "",
    "yesterday",
    "2026-13-01T00:00:00Z",
    "2026-02-30T00:00:00Z",
    "2026-01-01T25:00:00Z",
    "2026/01/31 12:00:00",
    "12:00:00",
    "2026-01-31T12:00:00+24:00",
    1_769_860_800,
    1_769_860_800.0,
    None,
    [NOON],
]


@pytest.mark.parametrize("path", BUILD_PATHS)
@pytest.mark.parametrize(("value", "instant", "offset"), TIMESTAMP_ACCEPTED, ids=repr)
def test_timestamp_takes_datetimes_and_rfc3339_strings(
    path: str, value: Any, instant: datetime, offset: timedelta
) -> None:
    got = build_event(path, timestamp=value).timestamp
    assert got == instant
    assert got.utcoffset() == offset


@pytest.mark.parametrize("path", BUILD_PATHS)
@pytest.mark.parametrize("value", TIMESTAMP_REFUSED, ids=repr)
def test_timestamp_refuses_anything_else(path: str, value: Any) -> None:
    error = _error(path, timestamp=value)
    assert [e["field"] for e in error.errors] == ["timestamp"]
    assert error.errors[0]["message"].startswith("must be a datetime or an RFC 3339 string")


ENUM_FIELDS: dict[str, type[Enum]] = {
    "task_type": TaskType,
    "complexity": Complexity,
    "harness": Harness,
    "provider": Provider,
    "outcome": Outcome,
    "repo_size_category": RepoSizeCategory,
}
ENUM_ACCEPTED = [
    pytest.param(field, value, member, id=f"{field}={value!r}")
    for field, enum_cls in ENUM_FIELDS.items()
    for member in enum_cls
    for value in (member, member.value)
]


def _refused_enum_values(enum_cls: type[Enum]) -> list[Any]:
    first = next(iter(enum_cls))
    return [first.name, first.value.upper(), first.value + " ", "", "nope", 1, 1.5, ["x"]]


ENUM_REFUSED = [
    pytest.param(field, value, id=f"{field}={value!r}")
    for field, enum_cls in ENUM_FIELDS.items()
    for value in _refused_enum_values(enum_cls)
]


@pytest.mark.parametrize("path", BUILD_PATHS)
@pytest.mark.parametrize(("field", "value", "member"), ENUM_ACCEPTED)
def test_enum_field_takes_a_member_or_its_value(
    path: str, field: str, value: Any, member: Enum
) -> None:
    assert getattr(build_event(path, **{field: value}), field) is member


@pytest.mark.parametrize("path", BUILD_PATHS)
@pytest.mark.parametrize(("field", "value"), ENUM_REFUSED)
def test_enum_field_refuses_names_and_other_values(path: str, field: str, value: Any) -> None:
    choices = ", ".join(str(m.value) for m in ENUM_FIELDS[field])
    error = _error(path, **{field: value})
    assert error.errors == [
        {"field": field, "message": f"must be one of {choices}", "value": value}
    ]


@pytest.mark.parametrize("path", BUILD_PATHS)
@pytest.mark.parametrize("field", [*ENUM_FIELDS][:-1])
def test_required_enum_field_refuses_none(path: str, field: str) -> None:
    assert [e["field"] for e in _error(path, **{field: None}).errors] == [field]


@pytest.mark.parametrize("path", BUILD_PATHS)
def test_optional_enum_and_language_take_none(path: str) -> None:
    event = build_event(path, repo_size_category=None, language=None)
    assert event.repo_size_category is None
    assert event.language is None


@pytest.mark.parametrize("path", BUILD_PATHS)
@pytest.mark.parametrize(("value", "expected"), [(0, 0.0), (1, 1.0), (0.5, 0.5), (1e-300, 1e-300)])
def test_float_field_takes_int_or_float_and_stores_a_float(
    path: str, value: float, expected: float
) -> None:
    got = build_event(path, context_utilization_final=value).context_utilization_final
    assert type(got) is float
    assert got == expected


FLOAT_REFUSED = [
    (float("nan"), "must be a finite number (not nan or inf)"),
    (float("inf"), "must be a finite number (not nan or inf)"),
    (float("-inf"), "must be a finite number (not nan or inf)"),
    (True, "must be a number (int or float, not bool or string)"),
    (False, "must be a number (int or float, not bool or string)"),
    ("0.5", "must be a number (int or float, not bool or string)"),
    (None, "must be a number (int or float, not bool or string)"),
    (Decimal("0.5"), "must be a number (int or float, not bool or string)"),
    (10**400, "must be between 0.0 and 1.0"),
]


@pytest.mark.parametrize("path", BUILD_PATHS)
@pytest.mark.parametrize(("value", "message"), FLOAT_REFUSED, ids=repr)
def test_float_field_refuses_nan_inf_bool_and_strings(path: str, value: Any, message: str) -> None:
    error = _error(path, context_utilization_final=value)
    assert [(e["field"], e["message"]) for e in error.errors] == [
        ("context_utilization_final", message)
    ]


@pytest.mark.parametrize("via", ["init", "from_dict"])
@pytest.mark.parametrize("value", [float("nan"), float("inf"), True, "0.5"], ids=repr)
def test_float_fields_of_other_models_refuse_the_same_values(via: str, value: Any) -> None:
    kwargs = {"gate_pass_rate": value, "success_rate": 0.5}
    with pytest.raises(ValidationError, match="gate_pass_rate: must be a"):
        if via == "init":
            QualityPrediction(**kwargs)
        else:
            QualityPrediction.from_dict(kwargs)


INT_REFUSED = [True, False, 5.0, 0.0, "5", "0", None, Decimal(5), [5]]


@pytest.mark.parametrize("path", BUILD_PATHS)
@pytest.mark.parametrize("field", sorted(EVENT_INT_BOUNDS))
@pytest.mark.parametrize("value", INT_REFUSED, ids=repr)
def test_int_field_refuses_bool_float_and_numeric_strings(
    path: str, field: str, value: Any
) -> None:
    error = _error(path, **{field: value})
    assert error.errors == [
        {
            "field": field,
            "message": "must be an integer (not bool, float or string)",
            "value": value,
        }
    ]


@pytest.mark.parametrize("via", ["init", "from_dict"])
@pytest.mark.parametrize("value", [True, 3.0, "3"], ids=repr)
def test_int_fields_of_other_models_refuse_the_same_values(via: str, value: Any) -> None:
    kwargs = {"sample_size": value, "fallback_level": 0, "confidence": "low"}
    with pytest.raises(ValidationError, match="sample_size: must be an integer"):
        if via == "init":
            PredictionMetadata(**kwargs)
        else:
            PredictionMetadata.from_dict(kwargs)


@pytest.mark.parametrize("path", BUILD_PATHS)
@pytest.mark.parametrize("value", [True, False])
def test_bool_field_takes_a_bool(path: str, value: bool) -> None:
    assert build_event(path, quality_gate_passed=value).quality_gate_passed is value


@pytest.mark.parametrize("path", BUILD_PATHS)
@pytest.mark.parametrize("value", [0, 1, "true", "false", None, 1.0], ids=repr)
def test_bool_field_refuses_anything_but_a_bool(path: str, value: Any) -> None:
    error = _error(path, quality_gate_passed=value)
    assert error.errors == [
        {
            "field": "quality_gate_passed",
            "message": "must be a bool (true or false)",
            "value": value,
        }
    ]


@pytest.mark.parametrize("via", ["init", "from_dict"])
@pytest.mark.parametrize("value", [0, 1, "true"], ids=repr)
def test_bool_field_of_metadata_refuses_anything_but_a_bool(via: str, value: Any) -> None:
    kwargs = {"sample_size": 0, "fallback_level": 0, "confidence": "low", "cache_hit": value}
    with pytest.raises(ValidationError, match="cache_hit: must be a bool"):
        if via == "init":
            PredictionMetadata(**kwargs)
        else:
            PredictionMetadata.from_dict(kwargs)


GATES_ACCEPTED: list[tuple[Any, list[QualityGate]]] = [
    ([], []),
    ((), []),
    (["build"], [QualityGate.BUILD]),
    ([QualityGate.LINT, "test"], [QualityGate.LINT, QualityGate.TEST]),
    (("coverage", "typecheck"), [QualityGate.COVERAGE, QualityGate.TYPECHECK]),
    ([g.value for g in QualityGate], list(QualityGate)),
    (["lint", "lint"], [QualityGate.LINT, QualityGate.LINT]),
]
GATES_REFUSED: list[tuple[Any, str]] = [
    ("build", "must be a list of QualityGate values"),
    ("", "must be a list of QualityGate values"),
    ({"build"}, "must be a list of QualityGate values"),
    ({"build": True}, "must be a list of QualityGate values"),
    (None, "must be a list of QualityGate values"),
    (7, "must be a list of QualityGate values"),
    (["nope"], "item 0 must be one of"),
    (["build", "BUILD"], "item 1 must be one of"),
    ([QualityGate.LINT, 1], "item 1 must be one of"),
    ([None], "item 0 must be one of"),
]


@pytest.mark.parametrize("path", BUILD_PATHS)
@pytest.mark.parametrize("field", ["quality_gates_run", "quality_gates_failed"])
@pytest.mark.parametrize(("value", "expected"), GATES_ACCEPTED, ids=repr)
def test_gate_list_takes_members_or_values(
    path: str, field: str, value: Any, expected: list[QualityGate]
) -> None:
    got = getattr(build_event(path, **{field: value}), field)
    assert type(got) is list
    assert got == expected
    assert all(type(g) is QualityGate for g in got)


@pytest.mark.parametrize("path", BUILD_PATHS)
@pytest.mark.parametrize("field", ["quality_gates_run", "quality_gates_failed"])
@pytest.mark.parametrize(("value", "message"), GATES_REFUSED, ids=repr)
def test_gate_list_refuses_other_containers_and_items(
    path: str, field: str, value: Any, message: str
) -> None:
    error = _error(path, **{field: value})
    assert [e["field"] for e in error.errors] == [field]
    assert error.errors[0]["message"].startswith(message)


@pytest.mark.parametrize("path", BUILD_PATHS)
@pytest.mark.parametrize(
    "gates", [[QualityGate.BUILD, "lint"], [QualityGate.BUILD, QualityGate.LINT]], ids=repr
)
def test_gate_list_is_copied_not_shared_with_the_caller(path: str, gates: list[Any]) -> None:
    gates = list(gates)
    event = build_event(path, quality_gates_run=gates)
    gates.append(QualityGate.TEST)
    assert event.quality_gates_run == [QualityGate.BUILD, QualityGate.LINT]


@pytest.mark.parametrize("path", BUILD_PATHS)
@pytest.mark.parametrize(
    ("field", "value"),
    [("model", 5), ("model", None), ("model", b"gpt"), ("language", 5), ("language", b"py")],
    ids=repr,
)
def test_string_fields_refuse_non_strings(path: str, field: str, value: Any) -> None:
    error = _error(path, **{field: value})
    assert error.errors == [{"field": field, "message": "must be a string", "value": value}]


# --- the constructor's fast path, from_dict's fast path and the rule table agree ---------------

PathResult = tuple[str, Any]


def _outcome(build: Callable[[], TaskCompletionEvent]) -> PathResult:
    try:
        return ("ok", build())
    except ValidationError as exc:
        return ("error", [(e["field"], e["message"]) for e in exc.errors])


def _describe(result: PathResult, field: str) -> str:
    kind, detail = result
    return f"accepted as {getattr(detail, field)!r}" if kind == "ok" else f"refused: {detail}"


def _all_paths(data: dict[str, Any]) -> list[PathResult]:
    return [
        _outcome(lambda: TaskCompletionEvent(**data)),
        _outcome(lambda: TaskCompletionEvent.from_dict(data)),
        _outcome(lambda: TaskCompletionEvent.from_dict(MappingProxyType(data))),
    ]


ODD_VALUES: list[tuple[str, Any]] = [
    ("instance_id", "uuid:" + INSTANCE),
    *[("instance_id", value) for value in UUID_REFUSED if isinstance(value, str)],
    ("timestamp", "20260131T120000Z"),
    ("timestamp", "2026-W05-1"),
    ("timestamp", "2026-01-31T12"),
    ("timestamp", "2026-01-31T12:00:00+05"),
    ("timestamp", "2026-01-31T12:00:00+0530"),
    ("timestamp", "2026-01-31T12:00:00+05:30:15"),
    ("timestamp", "2026-01-31T12:00:00.1234567Z"),
    ("timestamp", "2026-01-31T12:00:00,5Z"),
    ("timestamp", "2026-01-31"),
    ("timestamp", "2026-01-31T12:00Z"),
    *[("quality_gates_run", value) for value, _ in GATES_REFUSED],
    ("quality_gates_failed", frozenset({"lint"})),
    ("task_type", TaskType.TESTING),
    ("complexity", RepoSizeCategory.MEDIUM),
    ("language", ""),
    ("context_utilization_final", 1),
]


@pytest.mark.parametrize(("field", "value"), ODD_VALUES, ids=repr)
def test_constructor_and_from_dict_agree_on_odd_values(field: str, value: Any) -> None:
    data = {**TaskCompletionEvent(**sample_event_kwargs()).to_dict(), field: value}
    init, fast, mapping = _all_paths(data)
    said = {k: _describe(r, field) for k, r in (("init", init), ("dict", fast), ("map", mapping))}
    assert fast == init, f"from_dict(dict) and the constructor disagree: {said}"
    assert mapping == init, f"from_dict(mapping) and the constructor disagree: {said}"


_ODD_STRATEGY: st.SearchStrategy[Any] = st.one_of(
    st.sampled_from([value for _, value in ODD_VALUES]),
    st.sampled_from(UUID_ACCEPTED + UUID_REFUSED + TIMESTAMP_REFUSED + INT_REFUSED),
    st.sampled_from([v for v, _ in GATES_ACCEPTED]),
    st.sampled_from([m for cls in ENUM_FIELDS.values() for m in cls]),
    st.integers(),
    st.floats(),
    st.text(max_size=8),
    st.none(),
    st.booleans(),
)
_EVENT_FIELDS = sorted(sample_event_kwargs())
_DEFAULTS = {
    "event_id",
    "schema_version",
    "timestamp",
    "quality_gates_run",
    "quality_gates_failed",
    "language",
    "repo_size_category",
}
REQUIRED = {f for f in _EVENT_FIELDS if f not in _DEFAULTS}
_DEFAULTED_PER_CALL = ("event_id", "timestamp")  # fresh per object, so paths can't agree


@PROPERTY_SETTINGS
@given(
    wire=wire_events(),
    changes=st.dictionaries(st.sampled_from(_EVENT_FIELDS), _ODD_STRATEGY, min_size=1, max_size=3),
    removed=st.sets(
        st.sampled_from([f for f in _EVENT_FIELDS if f not in _DEFAULTED_PER_CALL]), max_size=2
    ),
)
def test_every_path_gives_the_same_event_or_the_same_errors(
    wire: dict[str, Any], changes: dict[str, Any], removed: set[str]
) -> None:
    data = {k: v for k, v in {**wire, **changes}.items() if k not in removed}
    fast = _outcome(lambda: TaskCompletionEvent.from_dict(data))
    mapping = _outcome(lambda: TaskCompletionEvent.from_dict(MappingProxyType(data)))
    assert fast == mapping
    if removed.isdisjoint(REQUIRED):  # else the constructor raises TypeError, by design
        assert _outcome(lambda: TaskCompletionEvent(**data)) == fast


@PROPERTY_SETTINGS
@given(case=loose_event_kwargs())
def test_loose_forms_build_the_same_event_as_exact_types(
    case: tuple[dict[str, Any], TaskCompletionEvent],
) -> None:
    loose, expected = case
    assert TaskCompletionEvent(**loose) == expected
    assert TaskCompletionEvent.from_dict(loose) == expected
    assert TaskCompletionEvent.from_dict(MappingProxyType(loose)) == expected


@PROPERTY_SETTINGS
@given(kwargs=event_kwargs(timestamps=utc_datetimes()))
def test_rule_table_accepts_whatever_the_fast_path_accepts(kwargs: dict[str, Any]) -> None:
    # A non-dict mapping makes from_dict run every rule before the constructor's fast path.
    fast = TaskCompletionEvent(**kwargs)
    assert TaskCompletionEvent.from_dict(MappingProxyType(kwargs)) == fast
    assert all(getattr(fast, name) == value for name, value in kwargs.items())


@PROPERTY_SETTINGS
@given(case=invalid_event_fields(), path=st.sampled_from(BUILD_PATHS))
def test_any_single_invalid_value_names_exactly_that_field(
    case: tuple[str, Any], path: str
) -> None:
    name, value = case
    error = _error(path, **{name: value})
    assert [e["field"] for e in error.errors] == [name]
    message = str(error)
    assert message.startswith(f"1 validation error for TaskCompletionEvent: {name}: ")
    assert "must " in message
    if len(repr(value)) <= 50:
        assert message.endswith(f", got {value!r}")
