"""EventBuilder: setters, the spec's defaults, keyword-only groups, validation and reuse."""

from __future__ import annotations

import uuid
from datetime import datetime, timezone
from typing import Any

import pytest
from hypothesis import given
from strategies import PROPERTY_SETTINGS, event_kwargs

from mosaic_telemetry import (
    Complexity,
    EventBuilder,
    Harness,
    Outcome,
    Provider,
    QualityGate,
    RepoSizeCategory,
    TaskCompletionEvent,
    TaskType,
    ValidationError,
)

INSTANCE = "0b0f6f5e-3c1e-4a53-9d2b-6a0f3a3b8c11"
EVENT_ID = uuid.UUID("5d8a1c3e-7f2b-4e9a-8c6d-1b2a3c4d5e6f")
MOMENT = datetime(2026, 3, 4, 5, 6, 7, tzinfo=timezone.utc)

# The defaults table of the SDK reference (EventBuilder, "Setter Methods").
SPEC_DEFAULTS: list[tuple[str, Any]] = [
    ("task_type", TaskType.UNKNOWN),
    ("complexity", Complexity.MEDIUM),
    ("harness", Harness.UNKNOWN),
    ("model", "unknown"),
    ("provider", Provider.UNKNOWN),
    ("task_duration_ms", 0),
    ("outcome", Outcome.FAILURE),
    ("retry_count", 0),
    ("language", None),
    ("repo_size_category", None),
    # group setters default to 0 (tokens, cost, context)
    ("estimated_input_tokens", 0),
    ("estimated_output_tokens", 0),
    ("actual_input_tokens", 0),
    ("actual_output_tokens", 0),
    ("estimated_cost_usd_micros", 0),
    ("actual_cost_usd_micros", 0),
    ("context_compactions", 0),
    ("context_rotations", 0),
    ("context_utilization_final", 0.0),
    ("quality_gates_run", []),
    ("quality_gates_failed", []),
]


@pytest.mark.parametrize(("name", "default"), SPEC_DEFAULTS)
def test_build_without_setters_uses_the_spec_default(name: str, default: Any) -> None:
    event = EventBuilder(INSTANCE).build()
    assert getattr(event, name) == default


def test_build_without_setters_gives_a_fresh_uuid4_and_now_in_utc() -> None:
    before = datetime.now(timezone.utc)
    event = EventBuilder(INSTANCE).build()
    after = datetime.now(timezone.utc)
    assert event.instance_id == uuid.UUID(INSTANCE)
    assert event.event_id.version == 4
    assert before <= event.timestamp <= after
    assert event.schema_version == "1.0"


@pytest.mark.parametrize("instance_id", [INSTANCE, uuid.UUID(INSTANCE), INSTANCE.upper()])
def test_instance_id_takes_a_string_or_uuid(instance_id: Any) -> None:
    assert EventBuilder(instance_id).build().instance_id == uuid.UUID(INSTANCE)


# (setter, argument, field, stored value)
SETTERS: list[tuple[str, Any, str, Any]] = [
    ("event_id", EVENT_ID, "event_id", EVENT_ID),
    ("event_id", str(EVENT_ID), "event_id", EVENT_ID),
    ("timestamp", MOMENT, "timestamp", MOMENT),
    ("timestamp", "2026-03-04T05:06:07Z", "timestamp", MOMENT),
    ("task_type", TaskType.DEBUGGING, "task_type", TaskType.DEBUGGING),
    ("task_type", "code_review", "task_type", TaskType.CODE_REVIEW),
    ("complexity_level", Complexity.CRITICAL, "complexity", Complexity.CRITICAL),
    ("harness_type", Harness.AIDER, "harness", Harness.AIDER),
    ("model", "claude-opus-4", "model", "claude-opus-4"),
    ("provider", Provider.MISTRAL, "provider", Provider.MISTRAL),
    ("provider", "google", "provider", Provider.GOOGLE),
    ("duration_ms", 86_400_000, "task_duration_ms", 86_400_000),
    ("outcome_value", Outcome.SUCCESS, "outcome", Outcome.SUCCESS),
    ("retry_count", 20, "retry_count", 20),
    ("language", "rust", "language", "rust"),
    ("language", None, "language", None),
    ("repo_size", RepoSizeCategory.HUGE, "repo_size_category", RepoSizeCategory.HUGE),
    ("repo_size", "tiny", "repo_size_category", RepoSizeCategory.TINY),
    ("repo_size", None, "repo_size_category", None),
]


@pytest.mark.parametrize(("setter", "argument", "field", "stored"), SETTERS, ids=repr)
def test_setter_sets_its_field_and_returns_the_builder(
    setter: str, argument: Any, field: str, stored: Any
) -> None:
    builder = EventBuilder(INSTANCE)
    assert getattr(builder, setter)(argument) is builder
    assert getattr(builder.build(), field) == stored


def test_tokens_sets_all_four_counts() -> None:
    builder = EventBuilder(INSTANCE)
    assert builder.tokens(estimated_in=1, estimated_out=2, actual_in=3, actual_out=4) is builder
    event = builder.build()
    assert (
        event.estimated_input_tokens,
        event.estimated_output_tokens,
        event.actual_input_tokens,
        event.actual_output_tokens,
    ) == (1, 2, 3, 4)


def test_tokens_defaults_unnamed_counts_to_zero() -> None:
    event = EventBuilder(INSTANCE).tokens(actual_out=9).build()
    assert event.estimated_input_tokens == 0
    assert event.actual_output_tokens == 9


def test_cost_sets_estimated_and_actual_micros() -> None:
    builder = EventBuilder(INSTANCE)
    assert builder.cost(estimated=100_000_000, actual=5) is builder
    event = builder.build()
    assert event.estimated_cost_usd_micros == 100_000_000
    assert event.actual_cost_usd_micros == 5


def test_quality_sets_passed_and_the_gate_lists() -> None:
    builder = EventBuilder(INSTANCE)
    result = builder.quality(
        passed=False, gates_run=[QualityGate.BUILD, "test"], gates_failed=("test",)
    )
    assert result is builder
    event = builder.build()
    assert event.quality_gate_passed is False
    assert event.quality_gates_run == [QualityGate.BUILD, QualityGate.TEST]
    assert event.quality_gates_failed == [QualityGate.TEST]


def test_quality_gate_lists_default_to_empty() -> None:
    event = EventBuilder(INSTANCE).quality(passed=True).build()
    assert event.quality_gate_passed is True
    assert event.quality_gates_run == []
    assert event.quality_gates_failed == []


def test_quality_requires_passed() -> None:
    with pytest.raises(TypeError):
        EventBuilder(INSTANCE).quality()  # type: ignore[call-arg]  # missing on purpose


def test_context_sets_its_three_metrics() -> None:
    builder = EventBuilder(INSTANCE)
    assert builder.context(compactions=100, rotations=50, utilization=1.0) is builder
    event = builder.build()
    assert event.context_compactions == 100
    assert event.context_rotations == 50
    assert event.context_utilization_final == 1.0


def test_context_defaults_to_zero() -> None:
    event = EventBuilder(INSTANCE).context(compactions=3).context().build()
    assert (event.context_compactions, event.context_rotations) == (0, 0)
    assert event.context_utilization_final == 0.0


@pytest.mark.parametrize(
    ("setter", "args"),
    [
        ("tokens", (1, 2, 3, 4)),
        ("tokens", (1,)),
        ("cost", (1, 2)),
        ("quality", (True,)),
        ("quality", (True, ["build"], [])),
        ("context", (1, 2, 0.5)),
    ],
)
def test_group_setters_are_keyword_only(setter: str, args: tuple[Any, ...]) -> None:
    with pytest.raises(TypeError):
        getattr(EventBuilder(INSTANCE), setter)(*args)


def test_setters_chain_into_a_complete_event() -> None:
    event = (
        EventBuilder(INSTANCE)
        .event_id(EVENT_ID)
        .timestamp(MOMENT)
        .task_type(TaskType.IMPLEMENTATION)
        .complexity_level(Complexity.HIGH)
        .harness_type(Harness.CLAUDE_CODE)
        .model("claude-sonnet-4")
        .provider(Provider.ANTHROPIC)
        .duration_ms(45_000)
        .outcome_value(Outcome.SUCCESS)
        .retry_count(1)
        .language("python")
        .repo_size(RepoSizeCategory.MEDIUM)
        .tokens(estimated_in=12_000, estimated_out=3_000, actual_in=14_500, actual_out=2_800)
        .cost(estimated=81_000, actual=85_500)
        .quality(passed=True, gates_run=[QualityGate.LINT])
        .context(compactions=2, rotations=1, utilization=0.75)
        .build()
    )
    expected = TaskCompletionEvent(
        instance_id=uuid.UUID(INSTANCE),
        event_id=EVENT_ID,
        timestamp=MOMENT,
        task_duration_ms=45_000,
        task_type=TaskType.IMPLEMENTATION,
        complexity=Complexity.HIGH,
        harness=Harness.CLAUDE_CODE,
        model="claude-sonnet-4",
        provider=Provider.ANTHROPIC,
        estimated_input_tokens=12_000,
        estimated_output_tokens=3_000,
        actual_input_tokens=14_500,
        actual_output_tokens=2_800,
        estimated_cost_usd_micros=81_000,
        actual_cost_usd_micros=85_500,
        quality_gate_passed=True,
        quality_gates_run=[QualityGate.LINT],
        context_compactions=2,
        context_rotations=1,
        context_utilization_final=0.75,
        outcome=Outcome.SUCCESS,
        retry_count=1,
        language="python",
        repo_size_category=RepoSizeCategory.MEDIUM,
    )
    assert event == expected


# --- build() validates ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("configure", "field"),
    [
        (lambda b: b.duration_ms(-1), "task_duration_ms"),
        (lambda b: b.duration_ms(86_400_001), "task_duration_ms"),
        (lambda b: b.model(""), "model"),
        (lambda b: b.retry_count(21), "retry_count"),
        (lambda b: b.provider("azure"), "provider"),
        (lambda b: b.language("x" * 31), "language"),
        (lambda b: b.tokens(actual_in=10_000_001), "actual_input_tokens"),
        (lambda b: b.cost(estimated=-1), "estimated_cost_usd_micros"),
        (lambda b: b.quality(passed=True, gates_run=["nope"]), "quality_gates_run"),
        (lambda b: b.context(utilization=1.5), "context_utilization_final"),
        (lambda b: b.context(rotations=51), "context_rotations"),
        (lambda b: b.event_id("not-a-uuid"), "event_id"),
        (lambda b: b.timestamp("tomorrow"), "timestamp"),
    ],
)
def test_build_raises_validation_error_naming_the_bad_field(configure: Any, field: str) -> None:
    builder = EventBuilder(INSTANCE)
    configure(builder)
    with pytest.raises(ValidationError, match=f"{field}: ") as info:
        builder.build()
    assert [e["field"] for e in info.value.errors] == [field]


def test_build_reports_every_bad_setting_at_once() -> None:
    builder = EventBuilder("nope").duration_ms(-1).model("")
    with pytest.raises(ValidationError) as info:
        builder.build()
    assert [e["field"] for e in info.value.errors] == ["instance_id", "task_duration_ms", "model"]


def test_a_bad_setter_value_can_be_fixed_and_built_again() -> None:
    builder = EventBuilder(INSTANCE).duration_ms(-1)
    with pytest.raises(ValidationError):
        builder.build()
    assert builder.duration_ms(10).build().task_duration_ms == 10


# --- reuse --------------------------------------------------------------------------------------


def test_two_builds_never_share_an_event_id() -> None:
    builder = EventBuilder(INSTANCE).model("m")
    ids = {builder.build().event_id for _ in range(50)}
    assert len(ids) == 50


def test_an_event_id_set_by_the_caller_is_kept_across_builds() -> None:
    builder = EventBuilder(INSTANCE).event_id(EVENT_ID)
    assert builder.build().event_id == EVENT_ID
    assert builder.build().event_id == EVENT_ID


def test_built_events_never_share_gate_lists() -> None:
    builder = EventBuilder(INSTANCE).quality(passed=False, gates_run=[QualityGate.BUILD])
    first, second = builder.build(), builder.build()
    assert first.quality_gates_run is not second.quality_gates_run
    first.quality_gates_run.append(QualityGate.LINT)
    first.quality_gates_failed.append(QualityGate.TEST)
    assert second.quality_gates_run == [QualityGate.BUILD]
    assert second.quality_gates_failed == []
    assert builder.build().quality_gates_run == [QualityGate.BUILD]


def test_the_callers_gate_list_is_copied_by_quality() -> None:
    gates = [QualityGate.BUILD]
    builder = EventBuilder(INSTANCE).quality(passed=True, gates_run=gates)
    gates.append(QualityGate.LINT)
    assert builder.build().quality_gates_run == [QualityGate.BUILD]


def test_quality_takes_any_iterable_of_gates() -> None:
    event = EventBuilder(INSTANCE).quality(passed=True, gates_run=iter(["lint", "test"])).build()
    assert event.quality_gates_run == [QualityGate.LINT, QualityGate.TEST]


def test_later_setter_calls_replace_earlier_ones() -> None:
    builder = EventBuilder(INSTANCE).model("a").model("b").duration_ms(1).duration_ms(2)
    event = builder.build()
    assert (event.model, event.task_duration_ms) == ("b", 2)


def test_repr_names_the_instance() -> None:
    assert INSTANCE in repr(EventBuilder(INSTANCE))


@PROPERTY_SETTINGS
@given(kwargs=event_kwargs())
def test_builder_builds_the_same_event_as_the_constructor(kwargs: dict[str, Any]) -> None:
    event = (
        EventBuilder(kwargs["instance_id"])
        .event_id(kwargs["event_id"])
        .timestamp(kwargs["timestamp"])
        .task_type(kwargs["task_type"])
        .complexity_level(kwargs["complexity"])
        .harness_type(kwargs["harness"])
        .model(kwargs["model"])
        .provider(kwargs["provider"])
        .duration_ms(kwargs["task_duration_ms"])
        .outcome_value(kwargs["outcome"])
        .retry_count(kwargs["retry_count"])
        .language(kwargs["language"])
        .repo_size(kwargs["repo_size_category"])
        .tokens(
            estimated_in=kwargs["estimated_input_tokens"],
            estimated_out=kwargs["estimated_output_tokens"],
            actual_in=kwargs["actual_input_tokens"],
            actual_out=kwargs["actual_output_tokens"],
        )
        .cost(
            estimated=kwargs["estimated_cost_usd_micros"],
            actual=kwargs["actual_cost_usd_micros"],
        )
        .quality(
            passed=kwargs["quality_gate_passed"],
            gates_run=kwargs["quality_gates_run"],
            gates_failed=kwargs["quality_gates_failed"],
        )
        .context(
            compactions=kwargs["context_compactions"],
            rotations=kwargs["context_rotations"],
            utilization=kwargs["context_utilization_final"],
        )
        .build()
    )
    kwargs.pop("schema_version")
    assert event == TaskCompletionEvent(**kwargs)
