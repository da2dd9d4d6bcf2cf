"""Hypothesis strategies for every model of mosaic_telemetry, shared by the whole test suite."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone
from types import MappingProxyType
from typing import Any

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

from mosaic_telemetry import (
    BatchEventRequest,
    BatchEventResponse,
    BatchEventResult,
    Complexity,
    CorrectionFactors,
    Harness,
    Outcome,
    PredictionData,
    PredictionMetadata,
    PredictionQuery,
    PredictionResponse,
    Provider,
    QualityGate,
    QualityPrediction,
    RepoSizeCategory,
    TaskCompletionEvent,
    TaskType,
    TokenDistribution,
)

__all__ = [
    "BUILD_PATHS",
    "EVENT_INT_BOUNDS",
    "MODEL_STRATEGIES",
    "PROPERTY_SETTINGS",
    "aware_datetimes",
    "batch_event_requests",
    "batch_event_responses",
    "batch_event_results",
    "build_event",
    "correction_factors",
    "event_kwargs",
    "invalid_event_fields",
    "loose_event_kwargs",
    "prediction_data",
    "prediction_metadata",
    "prediction_queries",
    "quality_predictions",
    "sample_event_kwargs",
    "token_distributions",
    "utc_datetimes",
    "valid_events",
    "valid_prediction_responses",
    "wire_events",
]

PROPERTY_SETTINGS = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
"""Settings for property tests: modest example counts, no deadline (shared, noisy machine)."""

EVENT_INT_BOUNDS: dict[str, tuple[int, int]] = {
    "task_duration_ms": (0, 86_400_000),
    "estimated_input_tokens": (0, 10_000_000),
    "estimated_output_tokens": (0, 10_000_000),
    "actual_input_tokens": (0, 10_000_000),
    "actual_output_tokens": (0, 10_000_000),
    "estimated_cost_usd_micros": (0, 100_000_000),
    "actual_cost_usd_micros": (0, 100_000_000),
    "context_compactions": (0, 100),
    "context_rotations": (0, 50),
    "retry_count": (0, 20),
}
"""Inclusive bounds of the integer fields of TaskCompletionEvent, from the SDK reference."""

BUILD_PATHS = ("init", "from_dict", "from_dict_mapping")
"""The three ways into TaskCompletionEvent's validation, which must agree.

``init`` is the constructor with exact types (its fast path), ``from_dict`` reads
a plain dict (its fast path), ``from_dict_mapping`` a non-dict mapping (which
takes the rule-table path).
"""


def sample_event_kwargs(**overrides: Any) -> dict[str, Any]:
    """Kwargs of one realistic, valid event, every value of its exact type."""
    kwargs: dict[str, Any] = {
        "instance_id": uuid.UUID("0b0f6f5e-3c1e-4a53-9d2b-6a0f3a3b8c11"),
        "event_id": uuid.UUID("5d8a1c3e-7f2b-4e9a-8c6d-1b2a3c4d5e6f"),
        "schema_version": "1.0",
        "timestamp": datetime(2026, 11, 24, 22, 0, 0, 123456, tzinfo=timezone.utc),
        "task_duration_ms": 45_000,
        "task_type": TaskType.IMPLEMENTATION,
        "complexity": Complexity.HIGH,
        "harness": Harness.CLAUDE_CODE,
        "model": "claude-sonnet-4",
        "provider": Provider.ANTHROPIC,
        "estimated_input_tokens": 12_000,
        "estimated_output_tokens": 3_000,
        "actual_input_tokens": 14_500,
        "actual_output_tokens": 2_800,
        "estimated_cost_usd_micros": 81_000,
        "actual_cost_usd_micros": 85_500,
        "quality_gate_passed": False,
        "quality_gates_run": [QualityGate.BUILD, QualityGate.LINT, QualityGate.TEST],
        "quality_gates_failed": [QualityGate.TEST],
        "context_compactions": 2,
        "context_rotations": 1,
        "context_utilization_final": 0.75,
        "outcome": Outcome.PARTIAL,
        "retry_count": 1,
        "language": "python",
        "repo_size_category": RepoSizeCategory.MEDIUM,
    }
    kwargs.update(overrides)
    return kwargs


def build_event(path: str, **overrides: Any) -> TaskCompletionEvent:
    """Build the sample event with ``overrides`` through one of :data:`BUILD_PATHS`.

    For the ``from_dict`` paths the overrides replace entries of the wire dict,
    so a raw value reaches the reader unchanged.
    """
    if path == "init":
        return TaskCompletionEvent(**sample_event_kwargs(**overrides))
    wire = {**TaskCompletionEvent(**sample_event_kwargs()).to_dict(), **overrides}
    if path == "from_dict":
        return TaskCompletionEvent.from_dict(wire)
    if path == "from_dict_mapping":
        return TaskCompletionEvent.from_dict(MappingProxyType(wire))
    raise AssertionError(f"unknown build path {path!r}")


_MIN_DT = datetime(1970, 1, 1)
_MAX_DT = datetime(2100, 12, 31)

# Offsets in whole minutes: RFC 3339 cannot write seconds in an offset.
_OFFSETS = st.integers(min_value=-(24 * 60 - 1), max_value=24 * 60 - 1).map(
    lambda minutes: timezone(timedelta(minutes=minutes))
)


def utc_datetimes() -> st.SearchStrategy[datetime]:
    """Datetimes in ``timezone.utc`` (what the event's fast path takes as is)."""
    return st.datetimes(min_value=_MIN_DT, max_value=_MAX_DT, timezones=st.just(timezone.utc))


def aware_datetimes() -> st.SearchStrategy[datetime]:
    """Aware datetimes in UTC or a fixed offset of whole minutes."""
    return st.one_of(
        utc_datetimes(),
        st.datetimes(min_value=_MIN_DT, max_value=_MAX_DT, timezones=_OFFSETS),
    )


def _bounded(name: str) -> st.SearchStrategy[int]:
    lo, hi = EVENT_INT_BOUNDS[name]
    return st.integers(min_value=lo, max_value=hi)


_GATE_LISTS = st.lists(st.sampled_from(QualityGate), max_size=len(QualityGate))


def event_kwargs(
    *, timestamps: st.SearchStrategy[datetime] | None = None
) -> st.SearchStrategy[dict[str, Any]]:
    """Valid constructor kwargs for TaskCompletionEvent, every value of its exact type."""
    return st.fixed_dictionaries(
        {
            "instance_id": st.uuids(),
            "event_id": st.uuids(),
            "schema_version": st.sampled_from(["1.0", "1.1", "2.0"]),
            "timestamp": aware_datetimes() if timestamps is None else timestamps,
            "task_duration_ms": _bounded("task_duration_ms"),
            "task_type": st.sampled_from(TaskType),
            "complexity": st.sampled_from(Complexity),
            "harness": st.sampled_from(Harness),
            "model": st.text(min_size=1, max_size=100),
            "provider": st.sampled_from(Provider),
            "estimated_input_tokens": _bounded("estimated_input_tokens"),
            "estimated_output_tokens": _bounded("estimated_output_tokens"),
            "actual_input_tokens": _bounded("actual_input_tokens"),
            "actual_output_tokens": _bounded("actual_output_tokens"),
            "estimated_cost_usd_micros": _bounded("estimated_cost_usd_micros"),
            "actual_cost_usd_micros": _bounded("actual_cost_usd_micros"),
            "quality_gate_passed": st.booleans(),
            "quality_gates_run": _GATE_LISTS,
            "quality_gates_failed": _GATE_LISTS,
            "context_compactions": _bounded("context_compactions"),
            "context_rotations": _bounded("context_rotations"),
            "context_utilization_final": st.floats(min_value=0.0, max_value=1.0),
            "outcome": st.sampled_from(Outcome),
            "retry_count": _bounded("retry_count"),
            "language": st.none() | st.text(max_size=30),
            "repo_size_category": st.none() | st.sampled_from(RepoSizeCategory),
        }
    )


def valid_events() -> st.SearchStrategy[TaskCompletionEvent]:
    """Valid TaskCompletionEvent objects over the whole range of every field."""
    return event_kwargs().map(lambda kwargs: TaskCompletionEvent(**kwargs))


def wire_events() -> st.SearchStrategy[dict[str, Any]]:
    """Valid events in their wire form (the dict of protocol.md)."""
    return valid_events().map(lambda event: event.to_dict())


def _uuid_forms(value: uuid.UUID) -> st.SearchStrategy[Any]:
    text = str(value)
    return st.sampled_from(
        [value, text, text.upper(), value.hex, "{" + text + "}", "urn:uuid:" + text]
    )


def _timestamp_forms(value: datetime) -> st.SearchStrategy[Any]:
    utc = value.astimezone(timezone.utc)
    naive = utc.replace(tzinfo=None)
    forms: list[Any] = [
        value,
        naive,  # a naive datetime is UTC
        naive.isoformat(),  # so is a string without offset
        naive.isoformat() + "Z",
        naive.isoformat() + "+00:00",
        value.isoformat(),
    ]
    return st.sampled_from(forms)


def _enum_form(member: Any) -> st.SearchStrategy[Any]:
    return st.sampled_from([member, member.value])


@st.composite
def loose_event_kwargs(draw: st.DrawFn) -> tuple[dict[str, Any], TaskCompletionEvent]:
    """Kwargs in any accepted form (strings for UUIDs, timestamps and enums, ...).

    Returns the kwargs and the event that the exact-typed values give, which the
    loose kwargs must build equal to.
    """
    exact = draw(event_kwargs())
    expected = TaskCompletionEvent(**exact)
    loose = dict(exact)
    loose["instance_id"] = draw(_uuid_forms(exact["instance_id"]))
    loose["event_id"] = draw(_uuid_forms(exact["event_id"]))
    loose["timestamp"] = draw(_timestamp_forms(exact["timestamp"]))
    for name in ("task_type", "complexity", "harness", "provider", "outcome"):
        loose[name] = draw(_enum_form(exact[name]))
    if exact["repo_size_category"] is not None:
        loose["repo_size_category"] = draw(_enum_form(exact["repo_size_category"]))
    for name in ("quality_gates_run", "quality_gates_failed"):
        items = [draw(_enum_form(gate)) for gate in exact[name]]
        loose[name] = draw(st.sampled_from([items, tuple(items)]))
    utilization = exact["context_utilization_final"]
    if utilization in (0.0, 1.0):
        loose["context_utilization_final"] = draw(st.sampled_from([utilization, int(utilization)]))
    return loose, expected


# --- invalid values, one field at a time -------------------------------------------------------

_ENUM_FIELDS: dict[str, Any] = {
    "task_type": TaskType,
    "complexity": Complexity,
    "harness": Harness,
    "provider": Provider,
    "outcome": Outcome,
}


def _not_a_uuid(text: str) -> bool:
    try:
        uuid.UUID(text)
    except ValueError:
        return True
    return False


_NOT_INTS: st.SearchStrategy[Any] = st.one_of(
    st.booleans(),
    st.floats(allow_nan=True, allow_infinity=True),
    st.from_regex(r"\A-?[0-9]{1,6}\Z"),
    st.none(),
)

_NOT_TIMESTAMPS = st.sampled_from(
    [
        "",
        "yesterday",
        "2026-13-01T00:00:00Z",
        "2026-02-30T00:00:00Z",
        "2026-01-01T25:00:00Z",
        "2026/01/01 12:00:00",
        "12:00:00",
        "2026-01-01T12:00:00+24:00",
        1_767_225_600,
        1.5,
        None,
        ["2026-01-01T00:00:00Z"],
    ]
)


def _invalid_values(name: str) -> st.SearchStrategy[Any]:
    if name in EVENT_INT_BOUNDS:
        lo, hi = EVENT_INT_BOUNDS[name]
        return st.one_of(st.integers(max_value=lo - 1), st.integers(min_value=hi + 1), _NOT_INTS)
    if name in _ENUM_FIELDS:
        values = {m.value for m in _ENUM_FIELDS[name]}
        return st.one_of(
            st.text(max_size=20).filter(lambda s: s not in values), st.integers(), st.none()
        )
    if name in ("instance_id", "event_id"):
        return st.one_of(st.text(max_size=40).filter(_not_a_uuid), st.integers(), st.none())
    if name == "timestamp":
        return _NOT_TIMESTAMPS
    if name == "model":
        return st.one_of(st.just(""), st.text(min_size=101, max_size=150), st.integers())
    if name == "language":
        return st.one_of(st.text(min_size=31, max_size=60), st.integers(), st.booleans())
    if name == "repo_size_category":
        values = {m.value for m in RepoSizeCategory}
        return st.one_of(st.text(max_size=20).filter(lambda s: s not in values), st.integers())
    if name == "quality_gate_passed":
        return st.one_of(st.integers(), st.sampled_from(["true", "false", ""]), st.none())
    if name in ("quality_gates_run", "quality_gates_failed"):
        gate_values = {g.value for g in QualityGate}
        bad_item = st.text(max_size=12).filter(lambda s: s not in gate_values) | st.integers()
        return st.one_of(
            st.lists(bad_item, min_size=1, max_size=3),
            st.lists(st.sampled_from(QualityGate), max_size=2).flatmap(
                lambda good: bad_item.map(lambda bad: [*good, bad])
            ),
            st.integers(),
            st.none(),
        )
    if name == "context_utilization_final":
        return st.one_of(
            st.floats(max_value=-1e-9),
            st.floats(min_value=1.0 + 1e-9, allow_infinity=False),
            st.sampled_from([float("nan"), float("inf"), float("-inf"), True, False, "0.5"]),
            st.integers(max_value=-1),
            st.integers(min_value=2),
            st.none(),
        )
    raise AssertionError(f"no invalid values for {name}")


_CHECKED_FIELDS = sorted(
    [
        *EVENT_INT_BOUNDS,
        *_ENUM_FIELDS,
        "instance_id",
        "event_id",
        "timestamp",
        "model",
        "language",
        "repo_size_category",
        "quality_gate_passed",
        "quality_gates_run",
        "quality_gates_failed",
        "context_utilization_final",
    ]
)


@st.composite
def invalid_event_fields(draw: st.DrawFn) -> tuple[str, Any]:
    """A field of TaskCompletionEvent and a value that breaks its rule."""
    name = draw(st.sampled_from(_CHECKED_FIELDS))
    return name, draw(_invalid_values(name))


# --- the other models ---------------------------------------------------------------------------

_NON_NEGATIVE = st.integers(min_value=0, max_value=10**12)
_RATES = st.floats(min_value=0.0, max_value=1.0)


def prediction_queries() -> st.SearchStrategy[PredictionQuery]:
    """Valid PredictionQuery objects."""
    return st.builds(
        PredictionQuery,
        task_type=st.sampled_from(TaskType),
        model=st.text(min_size=1, max_size=100),
        provider=st.sampled_from(Provider),
        complexity=st.sampled_from(Complexity),
    )


def token_distributions() -> st.SearchStrategy[TokenDistribution]:
    """Valid TokenDistribution objects (any non-negative percentiles)."""
    return st.builds(
        TokenDistribution,
        p10=_NON_NEGATIVE,
        p25=_NON_NEGATIVE,
        median=_NON_NEGATIVE,
        p75=_NON_NEGATIVE,
        p90=_NON_NEGATIVE,
    )


def correction_factors() -> st.SearchStrategy[CorrectionFactors]:
    """Valid CorrectionFactors objects (finite, non-negative ratios)."""
    ratios = st.floats(min_value=0.0, allow_infinity=False)
    return st.builds(CorrectionFactors, input=ratios, output=ratios)


def quality_predictions() -> st.SearchStrategy[QualityPrediction]:
    """Valid QualityPrediction objects (rates between 0 and 1)."""
    return st.builds(QualityPrediction, gate_pass_rate=_RATES, success_rate=_RATES)


_MEDIAN_DICTS = st.fixed_dictionaries(
    {"median": _NON_NEGATIVE}, optional={"p90": _NON_NEGATIVE, "p10": _NON_NEGATIVE}
)


def prediction_data() -> st.SearchStrategy[PredictionData]:
    """Valid PredictionData objects."""
    return st.builds(
        PredictionData,
        input_tokens=token_distributions(),
        output_tokens=token_distributions(),
        cost_usd_micros=_MEDIAN_DICTS,
        duration_ms=_MEDIAN_DICTS,
        correction_factors=correction_factors(),
        quality=quality_predictions(),
    )


def prediction_metadata() -> st.SearchStrategy[PredictionMetadata]:
    """Valid PredictionMetadata objects, optional fields set or not."""
    return st.builds(
        PredictionMetadata,
        sample_size=_NON_NEGATIVE,
        fallback_level=st.integers(min_value=-1, max_value=10),
        confidence=st.sampled_from(["high", "medium", "low", "none"]) | st.text(max_size=10),
        last_updated=st.none() | aware_datetimes(),
        dimensions_matched=st.none()
        | st.dictionaries(st.text(max_size=15), st.none() | st.text(max_size=30), max_size=4),
        fallback_note=st.none() | st.text(max_size=60),
        cache_hit=st.booleans(),
    )


def valid_prediction_responses() -> st.SearchStrategy[PredictionResponse]:
    """Valid PredictionResponse objects, with or without prediction data."""
    return st.builds(
        PredictionResponse,
        prediction=st.none() | prediction_data(),
        metadata=prediction_metadata(),
    )


def batch_event_requests(max_events: int = 4) -> st.SearchStrategy[BatchEventRequest]:
    """Valid BatchEventRequest objects of 1 to ``max_events`` events."""
    return st.builds(
        BatchEventRequest, events=st.lists(valid_events(), min_size=1, max_size=max_events)
    )


def batch_event_results() -> st.SearchStrategy[BatchEventResult]:
    """Valid BatchEventResult objects."""
    return st.builds(
        BatchEventResult,
        event_id=st.uuids(),
        status=st.sampled_from(["accepted", "rejected"]),
        error=st.none() | st.text(max_size=80),
    )


def batch_event_responses() -> st.SearchStrategy[BatchEventResponse]:
    """Valid BatchEventResponse objects."""
    return st.builds(
        BatchEventResponse,
        accepted=_NON_NEGATIVE,
        rejected=_NON_NEGATIVE,
        results=st.lists(batch_event_results(), max_size=4),
    )


MODEL_STRATEGIES: dict[type[Any], st.SearchStrategy[Any]] = {
    TaskCompletionEvent: valid_events(),
    PredictionQuery: prediction_queries(),
    PredictionResponse: valid_prediction_responses(),
    PredictionData: prediction_data(),
    TokenDistribution: token_distributions(),
    CorrectionFactors: correction_factors(),
    QualityPrediction: quality_predictions(),
    PredictionMetadata: prediction_metadata(),
    BatchEventRequest: batch_event_requests(),
    BatchEventResponse: batch_event_responses(),
    BatchEventResult: batch_event_results(),
}
"""A strategy of valid instances for every public model class."""
