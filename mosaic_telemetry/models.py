"""The wire models: events, prediction queries and responses, batch request and response.

Each class body is the model's field table (``_fields``): name, type, kind (its rule,
JSON and sqlite types), default and, for the event, EventBuilder's default. The
constructors, ``to_dict``, the event's wire reader and JSON writer are generated from
these tables (``_codegen`` writes ``_generated``).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timezone
from uuid import UUID

from ._fields import (
    BOOL,
    GENERATED_UUID,
    MAPPING,
    TIMESTAMP,
    UUID_KIND,
    choice,
    choices,
    count,
    field,
    int_map,
    nested,
    nested_list,
    nullable,
    number,
    status,
    text,
)
from ._model import Model
from ._validation import Invalid, join_field, new_uuid4
from .enums import Complexity, Harness, Outcome, Provider, QualityGate, RepoSizeCategory, TaskType
from .errors import ValidationError

TYPE_CHECKING = False  # typing is not imported at run time: it costs ~2 ms
if TYPE_CHECKING:
    from typing import Any, TypeVar

    from ._fields import FieldSpec
    from ._validation import Rule


__all__ = [
    "SCHEMA_VERSION",
    "BatchEventRequest",
    "BatchEventResponse",
    "BatchEventResult",
    "CorrectionFactors",
    "PredictionData",
    "PredictionMetadata",
    "PredictionQuery",
    "PredictionResponse",
    "QualityPrediction",
    "TaskCompletionEvent",
    "TokenDistribution",
]

SCHEMA_VERSION = "1.0"
"""Event schema version this client writes."""

if TYPE_CHECKING:
    M = TypeVar("M", bound=Model)

# Bounds of the event schema v1.0 (inclusive).
MAX_DURATION_MS = 86_400_000
MAX_TOKENS = 10_000_000
MAX_COST_MICROS = 100_000_000
MAX_COMPACTIONS = 100
MAX_ROTATIONS = 50
MAX_RETRIES = 20
MAX_MODEL_LEN = 100
MAX_LANGUAGE_LEN = 30
MAX_BATCH_EVENTS = 100
MAX_PREDICTION_QUERIES = 50

_UTC = timezone.utc


def _utc_now() -> datetime:
    return datetime.now(_UTC)


def nested_rule(model: type[M]) -> Rule:
    """An instance of ``model`` or a mapping that ``model.from_dict`` accepts."""

    def check(value: Any) -> M:
        if isinstance(value, model):
            return value
        if isinstance(value, Mapping):
            return model.from_dict(value)
        raise Invalid(f"must be a {model.__name__} or an object")

    return check


def list_of(model: type[M], lo: int, hi: int | None = None) -> Rule:
    """A list of ``lo..hi`` items, each a ``model`` or a mapping of one."""
    item_rule = nested_rule(model)
    size_text = f"{lo} to {hi} items" if hi is not None else f"at least {lo} items"

    def check(value: Any) -> list[M]:
        if not isinstance(value, (list, tuple)):
            raise Invalid(f"must be a list of {model.__name__}")
        if len(value) < lo or (hi is not None and len(value) > hi):
            raise Invalid(f"must hold {size_text} (it holds {len(value)})")
        items: list[M] = []
        errors: list[dict[str, Any]] = []
        for index, item in enumerate(value):
            try:
                items.append(item_rule(item))
            except Invalid as exc:
                errors.append({"field": f"[{index}]", "message": exc.message, "value": item})
            except ValidationError as exc:
                errors.extend(
                    {**e, "field": join_field(f"[{index}]", e["field"])} for e in exc.errors
                )
        if errors:
            raise ValidationError(model.__name__, errors)
        return items

    return check


def _check_status(value: Any) -> str:
    if value not in ("accepted", "rejected") or not isinstance(value, str):
        raise Invalid("must be 'accepted' or 'rejected'")
    return str(value)


_TOKENS = count(0, MAX_TOKENS)
_COST = count(0, MAX_COST_MICROS)
_NON_NEGATIVE = count(0)
_RATE = number(0.0, 1.0)
_RATIO = number(0.0)
_MODEL_NAME = text(1, MAX_MODEL_LEN)


class TaskCompletionEvent(Model):
    """One finished task, as reported to ``POST /v1/events/batch`` (schema 1.0)."""

    instance_id: UUID = field(UUID_KIND)
    event_id: UUID = field(GENERATED_UUID, default_factory=new_uuid4)
    schema_version: str = field(text(), default=SCHEMA_VERSION)
    timestamp: datetime = field(TIMESTAMP, default_factory=_utc_now)
    task_duration_ms: int = field(count(0, MAX_DURATION_MS), builder=0)
    task_type: TaskType = field(choice(TaskType), builder=TaskType.UNKNOWN)
    complexity: Complexity = field(choice(Complexity), builder=Complexity.MEDIUM)
    harness: Harness = field(choice(Harness), builder=Harness.UNKNOWN)
    model: str = field(_MODEL_NAME, builder="unknown")
    provider: Provider = field(choice(Provider), builder=Provider.UNKNOWN)
    estimated_input_tokens: int = field(_TOKENS, builder=0)
    estimated_output_tokens: int = field(_TOKENS, builder=0)
    actual_input_tokens: int = field(_TOKENS, builder=0)
    actual_output_tokens: int = field(_TOKENS, builder=0)
    estimated_cost_usd_micros: int = field(_COST, builder=0)
    actual_cost_usd_micros: int = field(_COST, builder=0)
    quality_gate_passed: bool = field(BOOL, builder=False)
    quality_gates_run: list[QualityGate] = field(choices(QualityGate), default_factory=list)
    quality_gates_failed: list[QualityGate] = field(choices(QualityGate), default_factory=list)
    context_compactions: int = field(count(0, MAX_COMPACTIONS), builder=0)
    context_rotations: int = field(count(0, MAX_ROTATIONS), builder=0)
    context_utilization_final: float = field(number(0.0, 1.0), builder=0.0)
    outcome: Outcome = field(choice(Outcome), builder=Outcome.FAILURE)
    retry_count: int = field(count(0, MAX_RETRIES), builder=0)
    language: str | None = field(nullable(text(0, MAX_LANGUAGE_LEN)), default=None, builder=None)
    repo_size_category: RepoSizeCategory | None = field(
        nullable(choice(RepoSizeCategory)), default=None, builder=None
    )

    if TYPE_CHECKING:  # generated (see _codegen)

        def _is_valid(self) -> bool: ...
        def _encoded(self) -> bytes | None: ...
        @classmethod
        def _from_wire(cls, data: Mapping[str, Any]) -> TaskCompletionEvent: ...

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TaskCompletionEvent:
        """Validate a wire-format mapping and build the event (unknown keys ignored).

        Raises:
            ValidationError: a field is missing or breaks its rule; every failure is named.
        """
        try:
            return cls._from_wire(data)
        except (KeyError, TypeError, ValueError, AttributeError):
            # Anything unusual (a missing key, another form, a bad value): the rules decide.
            return super().from_dict(data)


def event_fields() -> tuple[FieldSpec, ...]:
    """The event's field table, in the spec's order (name, kind, default, builder default).

    A store derives its columns from it: ``_fields.columns(event_fields())``.
    """
    return TaskCompletionEvent._FIELDS


class PredictionQuery(Model):
    """The four dimensions a prediction is asked for."""

    task_type: TaskType = field(choice(TaskType))
    model: str = field(_MODEL_NAME)
    provider: Provider = field(choice(Provider))
    complexity: Complexity = field(choice(Complexity))

    @property
    def key(self) -> tuple[str, str, str, str]:
        """The four dimensions as a hashable tuple (the cache key)."""
        return (self.task_type.value, self.model, self.provider.value, self.complexity.value)


class TokenDistribution(Model):
    """Percentiles of a token count."""

    p10: int = field(_NON_NEGATIVE)
    p25: int = field(_NON_NEGATIVE)
    median: int = field(_NON_NEGATIVE)
    p75: int = field(_NON_NEGATIVE)
    p90: int = field(_NON_NEGATIVE)


class CorrectionFactors(Model):
    """Ratios of actual to estimated tokens (above 1.0: estimates were too low)."""

    input: float = field(_RATIO)
    output: float = field(_RATIO)


class QualityPrediction(Model):
    """Expected quality-gate pass rate and success rate (fractions 0 to 1)."""

    gate_pass_rate: float = field(_RATE)
    success_rate: float = field(_RATE)


class PredictionData(Model):
    """Predicted token, cost and duration distributions and quality for a query."""

    input_tokens: TokenDistribution = field(
        nested(TokenDistribution, nested_rule(TokenDistribution))
    )
    output_tokens: TokenDistribution = field(
        nested(TokenDistribution, nested_rule(TokenDistribution))
    )
    cost_usd_micros: dict[str, int] = field(int_map("median"))
    duration_ms: dict[str, int] = field(int_map("median"))
    correction_factors: CorrectionFactors = field(
        nested(CorrectionFactors, nested_rule(CorrectionFactors))
    )
    quality: QualityPrediction = field(nested(QualityPrediction, nested_rule(QualityPrediction)))


class PredictionMetadata(Model):
    """How a prediction was made: sample size, fallback level, confidence."""

    sample_size: int = field(_NON_NEGATIVE)
    fallback_level: int = field(count(-1))
    confidence: str = field(text())
    last_updated: datetime | None = field(nullable(TIMESTAMP), default=None)
    dimensions_matched: dict[str, str | None] | None = field(MAPPING, default=None)
    fallback_note: str | None = field(nullable(text()), default=None)
    cache_hit: bool = field(BOOL, default=False)


class PredictionResponse(Model):
    """A prediction (or ``None`` when there is no data) with its metadata."""

    prediction: PredictionData | None = field(
        nullable(nested(PredictionData, nested_rule(PredictionData))), default=None
    )
    metadata: PredictionMetadata = field(
        nested(PredictionMetadata, nested_rule(PredictionMetadata))
    )


class BatchEventRequest(Model):
    """Body of ``POST /v1/events/batch``: 1 to 100 events."""

    events: list[TaskCompletionEvent] = field(
        nested_list(
            TaskCompletionEvent,
            list_of(TaskCompletionEvent, 1, MAX_BATCH_EVENTS),
            1,
            MAX_BATCH_EVENTS,
        )
    )


class BatchEventResult(Model):
    """The server's verdict on one event of a batch."""

    event_id: UUID = field(UUID_KIND)
    status: str = field(status(_check_status))
    error: str | None = field(nullable(text()), default=None)


class BatchEventResponse(Model):
    """Body of a successful ``POST /v1/events/batch``: counts and per-event results."""

    accepted: int = field(_NON_NEGATIVE)
    rejected: int = field(_NON_NEGATIVE)
    results: list[BatchEventResult] = field(
        nested_list(BatchEventResult, list_of(BatchEventResult, 0), 0), default_factory=list
    )
