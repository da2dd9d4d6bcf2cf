"""The models: fields, defaults, every constraint at its bounds, the wire form and round trips."""

from __future__ import annotations

import dataclasses
import json
import math
import re
import uuid
from datetime import datetime, timedelta, timezone
from types import MappingProxyType
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from strategies import (
    BUILD_PATHS,
    EVENT_INT_BOUNDS,
    MODEL_STRATEGIES,
    PROPERTY_SETTINGS,
    build_event,
    sample_event_kwargs,
)

import mosaic_telemetry
from mosaic_telemetry import (
    BatchEventRequest,
    BatchEventResponse,
    BatchEventResult,
    Complexity,
    CorrectionFactors,
    PredictionData,
    PredictionMetadata,
    PredictionQuery,
    PredictionResponse,
    Provider,
    QualityGate,
    QualityPrediction,
    TaskCompletionEvent,
    TaskType,
    TokenDistribution,
    ValidationError,
)

# Field names in the order of the SDK reference's tables.
SPEC_FIELDS: dict[type[Any], list[str]] = {
    TaskCompletionEvent: [
        "instance_id",
        "event_id",
        "schema_version",
        "timestamp",
        "task_duration_ms",
        "task_type",
        "complexity",
        "harness",
        "model",
        "provider",
        "estimated_input_tokens",
        "estimated_output_tokens",
        "actual_input_tokens",
        "actual_output_tokens",
        "estimated_cost_usd_micros",
        "actual_cost_usd_micros",
        "quality_gate_passed",
        "quality_gates_run",
        "quality_gates_failed",
        "context_compactions",
        "context_rotations",
        "context_utilization_final",
        "outcome",
        "retry_count",
        "language",
        "repo_size_category",
    ],
    PredictionQuery: ["task_type", "model", "provider", "complexity"],
    PredictionResponse: ["prediction", "metadata"],
    PredictionData: [
        "input_tokens",
        "output_tokens",
        "cost_usd_micros",
        "duration_ms",
        "correction_factors",
        "quality",
    ],
    TokenDistribution: ["p10", "p25", "median", "p75", "p90"],
    CorrectionFactors: ["input", "output"],
    QualityPrediction: ["gate_pass_rate", "success_rate"],
    PredictionMetadata: [
        "sample_size",
        "fallback_level",
        "confidence",
        "last_updated",
        "dimensions_matched",
        "fallback_note",
        "cache_hit",
    ],
    BatchEventRequest: ["events"],
    BatchEventResponse: ["accepted", "rejected", "results"],
    BatchEventResult: ["event_id", "status", "error"],
}
MODELS = list(SPEC_FIELDS)
EVENT_REQUIRED = {
    "instance_id",
    "task_duration_ms",
    "task_type",
    "complexity",
    "harness",
    "model",
    "provider",
    "estimated_input_tokens",
    "estimated_output_tokens",
    "actual_input_tokens",
    "actual_output_tokens",
    "estimated_cost_usd_micros",
    "actual_cost_usd_micros",
    "quality_gate_passed",
    "context_compactions",
    "context_rotations",
    "context_utilization_final",
    "outcome",
    "retry_count",
}
RFC3339 = re.compile(
    r"\A\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?(Z|[+-]\d{2}:\d{2})\Z",
)


def _name(cls: type[Any]) -> str:
    return cls.__name__


# --- shape ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("cls", MODELS, ids=_name)
def test_model_has_the_spec_fields_in_order(cls: type[Any]) -> None:
    assert [f.name for f in dataclasses.fields(cls)] == SPEC_FIELDS[cls]


@pytest.mark.parametrize("cls", MODELS, ids=_name)
def test_model_is_exported(cls: type[Any]) -> None:
    assert cls.__name__ in mosaic_telemetry.__all__


@pytest.mark.parametrize("cls", MODELS, ids=_name)
def test_model_instances_have_slots_and_no_dict(cls: type[Any]) -> None:
    instance = MODEL_EXAMPLES[cls]()
    assert hasattr(cls, "__slots__")
    assert not hasattr(instance, "__dict__")


def test_event_fields_are_keyword_only() -> None:
    make: Any = TaskCompletionEvent  # called positionally on purpose
    with pytest.raises(TypeError):
        make(uuid.uuid4(), **{k: v for k, v in sample_event_kwargs().items() if k != "instance_id"})


def test_event_requires_exactly_the_spec_required_fields() -> None:
    required = {
        f.name
        for f in dataclasses.fields(TaskCompletionEvent)
        if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
    }
    assert required == EVENT_REQUIRED


# --- defaults ------------------------------------------------------------------------------------


def _minimal_event(**overrides: Any) -> TaskCompletionEvent:
    kwargs = {k: v for k, v in sample_event_kwargs().items() if k in EVENT_REQUIRED}
    kwargs.update(overrides)
    return TaskCompletionEvent(**kwargs)


def test_event_defaults_follow_the_spec() -> None:
    before = datetime.now(timezone.utc)
    event = _minimal_event()
    after = datetime.now(timezone.utc)
    assert isinstance(event.event_id, uuid.UUID)
    assert event.event_id.version == 4
    assert event.schema_version == "1.0"
    assert before <= event.timestamp <= after
    assert event.timestamp.utcoffset() == timedelta(0)
    assert event.quality_gates_run == []
    assert event.quality_gates_failed == []
    assert event.language is None
    assert event.repo_size_category is None


def test_each_event_gets_its_own_event_id_and_gate_lists() -> None:
    first, second = _minimal_event(), _minimal_event()
    assert first.event_id != second.event_id
    first.quality_gates_run.append(QualityGate.LINT)
    assert second.quality_gates_run == []
    assert first.quality_gates_failed is not second.quality_gates_failed


def test_prediction_metadata_optional_fields_default_to_none_and_false() -> None:
    meta = PredictionMetadata(sample_size=0, fallback_level=-1, confidence="none")
    assert meta.last_updated is None
    assert meta.dimensions_matched is None
    assert meta.fallback_note is None
    assert meta.cache_hit is False


def test_batch_event_result_error_defaults_to_none() -> None:
    result = BatchEventResult(event_id=uuid.uuid4(), status="accepted")
    assert result.error is None


# --- examples of every model (wire-form kwargs, which the constructor also takes) ---------------


def _token_kwargs(**overrides: Any) -> dict[str, Any]:
    return {"p10": 10, "p25": 25, "median": 50, "p75": 75, "p90": 90, **overrides}


def _metadata_kwargs(**overrides: Any) -> dict[str, Any]:
    return {
        "sample_size": 120,
        "fallback_level": 1,
        "confidence": "medium",
        "last_updated": "2026-11-24T22:00:00Z",
        "dimensions_matched": {"task_type": "testing", "model": None},
        "fallback_note": "model dropped",
        "cache_hit": True,
        **overrides,
    }


def _data_kwargs(**overrides: Any) -> dict[str, Any]:
    return {
        "input_tokens": _token_kwargs(),
        "output_tokens": _token_kwargs(),
        "cost_usd_micros": {"median": 4200},
        "duration_ms": {"median": 30_000},
        "correction_factors": {"input": 1.2, "output": 0.8},
        "quality": {"gate_pass_rate": 0.9, "success_rate": 0.75},
        **overrides,
    }


def _wire_event(**overrides: Any) -> dict[str, Any]:
    return {**TaskCompletionEvent(**sample_event_kwargs()).to_dict(), **overrides}


BASE_KWARGS: dict[type[Any], Any] = {
    PredictionQuery: lambda: {
        "task_type": "testing",
        "model": "gpt-5",
        "provider": "openai",
        "complexity": "low",
    },
    TokenDistribution: _token_kwargs,
    CorrectionFactors: lambda: {"input": 1.25, "output": 0.5},
    QualityPrediction: lambda: {"gate_pass_rate": 0.5, "success_rate": 0.25},
    PredictionMetadata: _metadata_kwargs,
    PredictionData: _data_kwargs,
    PredictionResponse: lambda: {"prediction": _data_kwargs(), "metadata": _metadata_kwargs()},
    BatchEventRequest: lambda: {"events": [_wire_event()]},
    BatchEventResult: lambda: {
        "event_id": "5d8a1c3e-7f2b-4e9a-8c6d-1b2a3c4d5e6f",
        "status": "rejected",
        "error": "model: must be 1 to 100 characters",
    },
    BatchEventResponse: lambda: {
        "accepted": 1,
        "rejected": 0,
        "results": [{"event_id": str(uuid.uuid4()), "status": "accepted", "error": None}],
    },
}

MODEL_EXAMPLES: dict[type[Any], Any] = {
    TaskCompletionEvent: lambda: TaskCompletionEvent(**sample_event_kwargs()),
    **{cls: (lambda cls=cls: cls(**BASE_KWARGS[cls]())) for cls in BASE_KWARGS},
}


def _build(cls: type[Any], path: str, overrides: dict[str, Any]) -> Any:
    if cls is TaskCompletionEvent:
        return build_event(path, **overrides)
    kwargs = {**BASE_KWARGS[cls](), **overrides}
    if path == "init":
        return cls(**kwargs)
    if path == "from_dict":
        return cls.from_dict(kwargs)
    return cls.from_dict(MappingProxyType(kwargs))


# --- every constraint at min, max, min-1 and max+1 ----------------------------------------------


def _int_bound_cases() -> list[Any]:
    cases: list[Any] = []
    for name, (lo, hi) in EVENT_INT_BOUNDS.items():
        rule = f"must be between {lo} and {hi}"
        cases += [
            pytest.param(TaskCompletionEvent, name, lo, None, id=f"{name}=min"),
            pytest.param(TaskCompletionEvent, name, hi, None, id=f"{name}=max"),
            pytest.param(TaskCompletionEvent, name, lo - 1, rule, id=f"{name}=min-1"),
            pytest.param(TaskCompletionEvent, name, hi + 1, rule, id=f"{name}=max+1"),
        ]
    return cases


def _param(cls: type[Any], name: str, value: Any, rule: str | None, label: str) -> Any:
    return pytest.param(cls, name, value, rule, id=f"{cls.__name__}.{name}={label}")


UTILIZATION_RULE = "must be between 0.0 and 1.0"
RATE_RULE = "must be between 0.0 and 1.0"
MODEL_RULE = "must be 1 to 100 characters"

BOUND_CASES = [
    *_int_bound_cases(),
    _param(TaskCompletionEvent, "context_utilization_final", 0.0, None, "min"),
    _param(TaskCompletionEvent, "context_utilization_final", 1.0, None, "max"),
    _param(TaskCompletionEvent, "context_utilization_final", -0.01, UTILIZATION_RULE, "min-0.01"),
    _param(TaskCompletionEvent, "context_utilization_final", 1.01, UTILIZATION_RULE, "max+0.01"),
    _param(
        TaskCompletionEvent,
        "context_utilization_final",
        math.nextafter(0.0, -1.0),
        UTILIZATION_RULE,
        "below-min",
    ),
    _param(
        TaskCompletionEvent,
        "context_utilization_final",
        math.nextafter(1.0, 2.0),
        UTILIZATION_RULE,
        "above-max",
    ),
    _param(TaskCompletionEvent, "model", "m", None, "1-char"),
    _param(TaskCompletionEvent, "model", "m" * 100, None, "100-chars"),
    _param(TaskCompletionEvent, "model", "", MODEL_RULE, "0-chars"),
    _param(TaskCompletionEvent, "model", "m" * 101, MODEL_RULE, "101-chars"),
    _param(TaskCompletionEvent, "language", "", None, "0-chars"),
    _param(TaskCompletionEvent, "language", "l" * 30, None, "30-chars"),
    _param(TaskCompletionEvent, "language", None, None, "None"),
    _param(TaskCompletionEvent, "language", "l" * 31, "must be at most 30 characters", "31-chars"),
    _param(PredictionQuery, "model", "m", None, "1-char"),
    _param(PredictionQuery, "model", "m" * 100, None, "100-chars"),
    _param(PredictionQuery, "model", "", MODEL_RULE, "0-chars"),
    _param(PredictionQuery, "model", "m" * 101, MODEL_RULE, "101-chars"),
    *[
        case
        for name in ("p10", "p25", "median", "p75", "p90")
        for case in (
            _param(TokenDistribution, name, 0, None, "min"),
            _param(TokenDistribution, name, 10**15, None, "huge"),
            _param(TokenDistribution, name, -1, "must be at least 0", "min-1"),
        )
    ],
    *[
        case
        for name in ("input", "output")
        for case in (
            _param(CorrectionFactors, name, 0.0, None, "min"),
            _param(CorrectionFactors, name, 1e300, None, "huge"),
            _param(CorrectionFactors, name, -1e-9, "must be at least 0.0", "below-min"),
        )
    ],
    *[
        case
        for name in ("gate_pass_rate", "success_rate")
        for case in (
            _param(QualityPrediction, name, 0.0, None, "min"),
            _param(QualityPrediction, name, 1.0, None, "max"),
            _param(QualityPrediction, name, -0.01, RATE_RULE, "min-0.01"),
            _param(QualityPrediction, name, 1.01, RATE_RULE, "max+0.01"),
        )
    ],
    _param(PredictionMetadata, "sample_size", 0, None, "min"),
    _param(PredictionMetadata, "sample_size", -1, "must be at least 0", "min-1"),
    _param(PredictionMetadata, "fallback_level", -1, None, "min"),
    _param(PredictionMetadata, "fallback_level", -2, "must be at least -1", "min-1"),
    _param(BatchEventResponse, "accepted", 0, None, "min"),
    _param(BatchEventResponse, "accepted", -1, "must be at least 0", "min-1"),
    _param(BatchEventResponse, "rejected", 0, None, "min"),
    _param(BatchEventResponse, "rejected", -1, "must be at least 0", "min-1"),
    _param(BatchEventResponse, "results", [], None, "empty"),
    _param(BatchEventResult, "status", "accepted", None, "accepted"),
    _param(BatchEventResult, "status", "rejected", None, "rejected"),
    _param(BatchEventResult, "status", "ok", "must be 'accepted' or 'rejected'", "other"),
    _param(BatchEventResult, "status", "ACCEPTED", "must be 'accepted' or 'rejected'", "upper"),
    _param(BatchEventResult, "error", None, None, "None"),
    _param(PredictionData, "cost_usd_micros", {"median": 0}, None, "min"),
    _param(PredictionData, "cost_usd_micros", {"median": -1}, "key 'median' must be", "min-1"),
    _param(PredictionData, "cost_usd_micros", {"mean": 5}, "must have the keys 'median'", "no-key"),
    _param(PredictionData, "duration_ms", {"median": 0}, None, "min"),
    _param(PredictionData, "duration_ms", {"median": -1}, "key 'median' must be", "min-1"),
    _param(PredictionData, "duration_ms", {}, "must have the keys 'median'", "empty"),
]


@pytest.mark.parametrize("path", BUILD_PATHS)
@pytest.mark.parametrize(("cls", "name", "value", "rule"), BOUND_CASES)
def test_constraint_accepts_its_bounds_and_rejects_beyond_them(
    cls: type[Any], name: str, value: Any, rule: str | None, path: str
) -> None:
    if rule is None:
        instance = _build(cls, path, {name: value})
        assert getattr(instance, name) == value
        return
    with pytest.raises(ValidationError, match=re.escape(f"{name}: {rule}")) as info:
        _build(cls, path, {name: value})
    assert [e["field"] for e in info.value.errors] == [name]
    assert info.value.errors[0]["value"] == value


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        ("task_duration_ms", -1, "task_duration_ms: must be between 0 and 86400000, got -1"),
        ("retry_count", 21, "retry_count: must be between 0 and 20, got 21"),
        ("model", "", "model: must be 1 to 100 characters, got ''"),
        (
            "context_utilization_final",
            1.5,
            "context_utilization_final: must be between 0.0 and 1.0, got 1.5",
        ),
    ],
)
def test_bound_message_names_field_rule_and_value(name: str, value: Any, expected: str) -> None:
    with pytest.raises(ValidationError) as info:
        build_event("init", **{name: value})
    assert str(info.value) == f"1 validation error for TaskCompletionEvent: {expected}"


@pytest.mark.parametrize("path", BUILD_PATHS)
@pytest.mark.parametrize("count", [1, 100])
def test_batch_request_takes_1_to_100_events(path: str, count: int) -> None:
    events = [_wire_event(event_id=str(uuid.uuid4())) for _ in range(count)]
    request = _build(BatchEventRequest, path, {"events": events})
    assert len(request.events) == count
    assert all(isinstance(e, TaskCompletionEvent) for e in request.events)


@pytest.mark.parametrize("path", BUILD_PATHS)
@pytest.mark.parametrize("count", [0, 101])
def test_batch_request_rejects_0_and_101_events(path: str, count: int) -> None:
    events = [_wire_event() for _ in range(count)]
    with pytest.raises(
        ValidationError, match=rf"events: must hold 1 to 100 items \(it holds {count}\)"
    ):
        _build(BatchEventRequest, path, {"events": events})


def test_batch_request_takes_event_objects_as_they_are() -> None:
    event = TaskCompletionEvent(**sample_event_kwargs())
    assert BatchEventRequest(events=[event]).events[0] is event


# --- wire form -----------------------------------------------------------------------------------

EXPECTED_WIRE_EVENT = {
    "instance_id": "0b0f6f5e-3c1e-4a53-9d2b-6a0f3a3b8c11",
    "event_id": "5d8a1c3e-7f2b-4e9a-8c6d-1b2a3c4d5e6f",
    "schema_version": "1.0",
    "timestamp": "2026-11-24T22:00:00.123456Z",
    "task_duration_ms": 45_000,
    "task_type": "implementation",
    "complexity": "high",
    "harness": "claude_code",
    "model": "claude-sonnet-4",
    "provider": "anthropic",
    "estimated_input_tokens": 12_000,
    "estimated_output_tokens": 3_000,
    "actual_input_tokens": 14_500,
    "actual_output_tokens": 2_800,
    "estimated_cost_usd_micros": 81_000,
    "actual_cost_usd_micros": 85_500,
    "quality_gate_passed": False,
    "quality_gates_run": ["build", "lint", "test"],
    "quality_gates_failed": ["test"],
    "context_compactions": 2,
    "context_rotations": 1,
    "context_utilization_final": 0.75,
    "outcome": "partial",
    "retry_count": 1,
    "language": "python",
    "repo_size_category": "medium",
}


def _plain_json_types(value: Any) -> bool:
    """True when ``value`` holds only plain JSON types (no enum, UUID or datetime)."""
    if isinstance(value, dict):
        return all(type(k) is str and _plain_json_types(v) for k, v in value.items())
    if isinstance(value, list):
        return all(_plain_json_types(v) for v in value)
    return value is None or type(value) in (str, int, float, bool)


def test_event_to_dict_is_the_protocol_wire_form() -> None:
    wire = TaskCompletionEvent(**sample_event_kwargs()).to_dict()
    assert wire == EXPECTED_WIRE_EVENT
    assert list(wire) == SPEC_FIELDS[TaskCompletionEvent]
    assert _plain_json_types(wire)


def test_event_to_dict_keeps_none_fields() -> None:
    wire = build_event("init", language=None, repo_size_category=None).to_dict()
    assert wire["language"] is None
    assert wire["repo_size_category"] is None
    assert set(wire) == set(SPEC_FIELDS[TaskCompletionEvent])


@pytest.mark.parametrize("cls", MODELS, ids=_name)
def test_to_dict_holds_every_field_in_plain_json_types(cls: type[Any]) -> None:
    wire = MODEL_EXAMPLES[cls]().to_dict()
    assert list(wire) == SPEC_FIELDS[cls]
    assert _plain_json_types(wire)


def test_uuids_are_written_lowercase_and_hyphenated() -> None:
    upper = "0B0F6F5E-3C1E-4A53-9D2B-6A0F3A3B8C11"
    wire = build_event("init", instance_id=upper, event_id=upper.replace("-", "")).to_dict()
    assert wire["instance_id"] == upper.lower()
    assert wire["event_id"] == upper.lower()
    result = BatchEventResult.from_dict({"event_id": upper, "status": "accepted"})
    assert result.to_dict()["event_id"] == upper.lower()


@pytest.mark.parametrize(
    ("timestamp", "expected"),
    [
        (
            datetime(2026, 11, 24, 22, 0, 0, 123456, tzinfo=timezone.utc),
            "2026-11-24T22:00:00.123456Z",
        ),
        (datetime(2026, 11, 24, 22, 0, 0, tzinfo=timezone.utc), "2026-11-24T22:00:00Z"),
        (
            datetime(2026, 11, 24, 22, 0, 0, 500000, tzinfo=timezone.utc),
            "2026-11-24T22:00:00.500000Z",
        ),
        (datetime(2026, 11, 24, 22, 0, 0), "2026-11-24T22:00:00Z"),
        (
            datetime(2026, 11, 24, 22, 0, tzinfo=timezone(timedelta(0), "GMT")),
            "2026-11-24T22:00:00Z",
        ),
        (
            datetime(2026, 11, 24, 22, 0, tzinfo=timezone(timedelta(hours=5, minutes=30))),
            "2026-11-24T22:00:00+05:30",
        ),
        (
            datetime(2026, 11, 24, 22, 0, 0, 7, tzinfo=timezone(timedelta(hours=-8))),
            "2026-11-24T22:00:00.000007-08:00",
        ),
        ("2026-11-24T22:00:00+00:00", "2026-11-24T22:00:00Z"),
        ("2026-11-24T22:00:00.120Z", "2026-11-24T22:00:00.120000Z"),
    ],
)
def test_timestamp_is_written_as_rfc3339_with_z_for_utc(timestamp: Any, expected: str) -> None:
    for path in BUILD_PATHS:
        assert build_event(path, timestamp=timestamp).to_dict()["timestamp"] == expected


@pytest.mark.parametrize("seconds", [30, -30, 5 * 3600 + 90])
def test_timestamp_with_sub_minute_offset_is_still_written_as_rfc3339(seconds: int) -> None:
    # RFC 3339 offsets have no seconds field; such a datetime must still give valid
    # RFC 3339 text that names the same instant (e.g. by writing it in UTC).
    moment = datetime(2026, 1, 1, 12, 0, tzinfo=timezone(timedelta(seconds=seconds)))
    event = build_event("init", timestamp=moment)
    text = event.to_dict()["timestamp"]
    assert RFC3339.match(text), text
    for path in BUILD_PATHS:
        assert build_event(path, timestamp=text).timestamp == moment


def test_prediction_metadata_writes_last_updated_as_rfc3339() -> None:
    meta = PredictionMetadata(**_metadata_kwargs(last_updated=datetime(2026, 1, 2, 3, 4, 5)))
    assert meta.to_dict()["last_updated"] == "2026-01-02T03:04:05Z"
    assert (
        PredictionMetadata(**_metadata_kwargs(last_updated=None)).to_dict()["last_updated"] is None
    )


def test_to_json_is_compact_text_of_to_dict() -> None:
    event = TaskCompletionEvent(**sample_event_kwargs())
    text = event.to_json()
    assert isinstance(text, str)
    assert text == json.dumps(event.to_dict(), separators=(",", ":"))
    assert ": " not in text
    assert ", " not in text
    assert "\n" not in text


@pytest.mark.parametrize("cls", MODELS, ids=_name)
def test_to_json_parses_back_to_to_dict(cls: type[Any]) -> None:
    instance = MODEL_EXAMPLES[cls]()
    assert json.loads(instance.to_json()) == instance.to_dict()


def test_to_json_keeps_non_ascii_text_and_reads_it_back() -> None:
    event = build_event("init", model="modèle-ü-模型", language="Ελληνικά")
    text = event.to_json()
    assert TaskCompletionEvent.from_json(text) == event
    assert TaskCompletionEvent.from_json(text.encode("utf-8")) == event


def test_prediction_query_key_is_its_four_dimensions() -> None:
    query = PredictionQuery(
        task_type=TaskType.TESTING,
        model="gpt-5",
        provider=Provider.OPENAI,
        complexity=Complexity.LOW,
    )
    assert query.key == ("testing", "gpt-5", "openai", "low")
    assert all(type(part) is str for part in query.key)
    assert hash(query.key) == hash(PredictionQuery.from_dict(query.to_dict()).key)


def test_to_dict_returns_a_fresh_dict_each_call() -> None:
    data = PredictionData(**_data_kwargs())
    wire = data.to_dict()
    wire["cost_usd_micros"]["median"] = 1
    wire["input_tokens"]["p10"] = 999
    assert data.cost_usd_micros == {"median": 4200}
    assert data.input_tokens.p10 == 10


def test_nested_models_are_built_from_mappings() -> None:
    response = PredictionResponse.from_dict(BASE_KWARGS[PredictionResponse]())
    assert response.prediction is not None
    assert isinstance(response.prediction.input_tokens, TokenDistribution)
    assert isinstance(response.prediction.correction_factors, CorrectionFactors)
    assert isinstance(response.prediction.quality, QualityPrediction)
    assert isinstance(response.metadata, PredictionMetadata)
    assert response.metadata.last_updated == datetime(2026, 11, 24, 22, tzinfo=timezone.utc)


def test_prediction_response_without_data_round_trips() -> None:
    body = {
        "prediction": None,
        "metadata": {"sample_size": 0, "fallback_level": -1, "confidence": "none"},
    }
    response = PredictionResponse.from_dict(body)
    assert response.prediction is None
    assert response.metadata.fallback_level == -1
    assert PredictionResponse.from_dict(response.to_dict()) == response


# --- reading -------------------------------------------------------------------------------------


@pytest.mark.parametrize("cls", MODELS, ids=_name)
def test_from_dict_ignores_unknown_keys(cls: type[Any]) -> None:
    instance = MODEL_EXAMPLES[cls]()
    wire = {**instance.to_dict(), "added_by_a_newer_server": {"x": 1}, "zzz": None}
    assert cls.from_dict(wire) == instance
    assert cls.from_dict(MappingProxyType(wire)) == instance


def test_from_dict_names_every_missing_required_key() -> None:
    with pytest.raises(ValidationError) as info:
        TaskCompletionEvent.from_dict({})
    errors = info.value.errors
    assert {e["field"] for e in errors} == EVENT_REQUIRED
    assert all(e["message"] == "is required" for e in errors)
    assert f"{len(EVENT_REQUIRED)} validation errors for TaskCompletionEvent" in str(info.value)


@pytest.mark.parametrize("missing", sorted(EVENT_REQUIRED))
def test_from_dict_names_the_one_missing_key(missing: str) -> None:
    wire = _wire_event()
    del wire[missing]
    with pytest.raises(ValidationError, match=re.escape(f"{missing}: is required")) as info:
        TaskCompletionEvent.from_dict(wire)
    assert [e["field"] for e in info.value.errors] == [missing]


def test_from_dict_fills_defaults_for_missing_optional_keys() -> None:
    optional = set(SPEC_FIELDS[TaskCompletionEvent]) - EVENT_REQUIRED
    wire = {k: v for k, v in _wire_event().items() if k not in optional}
    before = datetime.now(timezone.utc)
    event = TaskCompletionEvent.from_dict(wire)
    after = datetime.now(timezone.utc)
    assert event.event_id.version == 4
    assert event.schema_version == "1.0"
    assert before <= event.timestamp <= after
    assert event.quality_gates_run == []
    assert event.quality_gates_failed == []
    assert event.language is None
    assert event.repo_size_category is None


@pytest.mark.parametrize("cls", MODELS, ids=_name)
@pytest.mark.parametrize("text", ["{", "", "not json", '{"a": }', "\xff", b"\xff\xfe"])
def test_from_json_of_invalid_json_raises_validation_error(cls: type[Any], text: Any) -> None:
    with pytest.raises(ValidationError, match="must be valid JSON"):
        cls.from_json(text)


@pytest.mark.parametrize("cls", MODELS, ids=_name)
@pytest.mark.parametrize("text", ["[]", "null", "42", '"event"', "[{}]"])
def test_from_json_of_a_non_object_raises_validation_error(cls: type[Any], text: str) -> None:
    with pytest.raises(ValidationError, match="must be a JSON object"):
        cls.from_json(text)


@pytest.mark.parametrize("data", [None, [], "{}", 42, [("model", "x")]])
def test_from_dict_of_a_non_mapping_raises_validation_error(data: Any) -> None:
    with pytest.raises(ValidationError, match="must be a JSON object"):
        TaskCompletionEvent.from_dict(data)


# --- round trips, for every model ---------------------------------------------------------------


@pytest.mark.parametrize("cls", MODELS, ids=_name)
@PROPERTY_SETTINGS
@given(data=st.data())
def test_from_dict_of_to_dict_is_the_same_model(cls: type[Any], data: st.DataObject) -> None:
    instance = data.draw(MODEL_STRATEGIES[cls])
    wire = instance.to_dict()
    assert _plain_json_types(wire)
    assert cls.from_dict(wire) == instance
    assert cls.from_dict(MappingProxyType(wire)) == instance


@pytest.mark.parametrize("cls", MODELS, ids=_name)
@PROPERTY_SETTINGS
@given(data=st.data())
def test_from_json_of_to_json_is_the_same_model(cls: type[Any], data: st.DataObject) -> None:
    instance = data.draw(MODEL_STRATEGIES[cls])
    text = instance.to_json()
    json.loads(text, parse_constant=_no_constants)  # strict JSON: no NaN or Infinity
    assert cls.from_json(text) == instance
    assert cls.from_json(text.encode("utf-8")) == instance


def _no_constants(name: str) -> Any:
    raise AssertionError(f"to_json wrote {name}, which is not JSON")


@PROPERTY_SETTINGS
@given(data=st.data())
def test_event_timestamps_are_always_rfc3339(data: st.DataObject) -> None:
    event = data.draw(MODEL_STRATEGIES[TaskCompletionEvent])
    text = event.to_dict()["timestamp"]
    assert RFC3339.match(text), text
    if event.timestamp.utcoffset() == timedelta(0):
        assert text.endswith("Z")
    micros = event.timestamp.microsecond
    assert (f".{micros:06d}" in text) == (micros != 0)
