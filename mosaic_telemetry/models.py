"""The wire models: events, prediction queries and responses, batch request and response."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from uuid import UUID, uuid4

from ._model import Model, finish_model
from ._validation import (
    Invalid,
    any_bool,
    any_str,
    dict_of_int,
    enum_of,
    float_range,
    format_datetime,
    int_range,
    join_field,
    list_of_enum,
    optional,
    parse_datetime,
    str_length,
    str_map_or_none,
    to_datetime,
    to_uuid,
    uuid_from_text,
    uuid_text,
)
from .enums import Complexity, Harness, Outcome, Provider, QualityGate, RepoSizeCategory, TaskType
from .errors import ValidationError

TYPE_CHECKING = False  # typing is not imported at run time: it costs ~2 ms
if TYPE_CHECKING:
    from typing import Any, TypeVar

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

# Bounds of the event schema v1.0 (inclusive), shared by the rules and the fast path.
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


def nested(model: type[M]) -> Rule:
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
    item_rule = nested(model)
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


_COUNT_TOKENS = int_range(0, MAX_TOKENS)
_COUNT_COST = int_range(0, MAX_COST_MICROS)
_NON_NEGATIVE = int_range(0)
_RATE = float_range(0.0, 1.0)
_RATIO = float_range(0.0)
_MODEL_NAME = str_length(1, MAX_MODEL_LEN)


@finish_model
@dataclass(slots=True, kw_only=True)
class TaskCompletionEvent(Model):
    """One finished task, as reported to ``POST /v1/events/batch`` (schema 1.0)."""

    instance_id: UUID
    event_id: UUID = field(default_factory=uuid4)
    schema_version: str = SCHEMA_VERSION
    timestamp: datetime = field(default_factory=_utc_now)
    task_duration_ms: int
    task_type: TaskType
    complexity: Complexity
    harness: Harness
    model: str
    provider: Provider
    estimated_input_tokens: int
    estimated_output_tokens: int
    actual_input_tokens: int
    actual_output_tokens: int
    estimated_cost_usd_micros: int
    actual_cost_usd_micros: int
    quality_gate_passed: bool
    quality_gates_run: list[QualityGate] = field(default_factory=list)
    quality_gates_failed: list[QualityGate] = field(default_factory=list)
    context_compactions: int
    context_rotations: int
    context_utilization_final: float
    outcome: Outcome
    retry_count: int
    language: str | None = None
    repo_size_category: RepoSizeCategory | None = None

    _RULES = (
        ("instance_id", to_uuid),
        ("event_id", to_uuid),
        ("schema_version", any_str),
        ("timestamp", to_datetime),
        ("task_duration_ms", int_range(0, MAX_DURATION_MS)),
        ("task_type", enum_of(TaskType)),
        ("complexity", enum_of(Complexity)),
        ("harness", enum_of(Harness)),
        ("model", _MODEL_NAME),
        ("provider", enum_of(Provider)),
        ("estimated_input_tokens", _COUNT_TOKENS),
        ("estimated_output_tokens", _COUNT_TOKENS),
        ("actual_input_tokens", _COUNT_TOKENS),
        ("actual_output_tokens", _COUNT_TOKENS),
        ("estimated_cost_usd_micros", _COUNT_COST),
        ("actual_cost_usd_micros", _COUNT_COST),
        ("quality_gate_passed", any_bool),
        ("quality_gates_run", list_of_enum(QualityGate)),
        ("quality_gates_failed", list_of_enum(QualityGate)),
        ("context_compactions", int_range(0, MAX_COMPACTIONS)),
        ("context_rotations", int_range(0, MAX_ROTATIONS)),
        ("context_utilization_final", float_range(0.0, 1.0)),
        ("outcome", enum_of(Outcome)),
        ("retry_count", int_range(0, MAX_RETRIES)),
        ("language", optional(str_length(0, MAX_LANGUAGE_LEN))),
        ("repo_size_category", optional(enum_of(RepoSizeCategory))),
    )

    def __post_init__(self) -> None:
        # Fast path: every field already of its exact type and in range. Anything
        # else (coercion or an error) goes through the rules above, which are the
        # reference; a hypothesis test keeps the two in agreement.
        ts = self.timestamp
        lang = self.language
        util = self.context_utilization_final
        if (
            type(self.instance_id) is UUID
            and type(self.event_id) is UUID
            and type(self.schema_version) is str
            and type(ts) is datetime
            and ts.tzinfo is _UTC
            and type(self.task_duration_ms) is int
            and 0 <= self.task_duration_ms <= MAX_DURATION_MS
            and type(self.task_type) is TaskType
            and type(self.complexity) is Complexity
            and type(self.harness) is Harness
            and type(self.model) is str
            and 1 <= len(self.model) <= MAX_MODEL_LEN
            and type(self.provider) is Provider
            and type(self.estimated_input_tokens) is int
            and 0 <= self.estimated_input_tokens <= MAX_TOKENS
            and type(self.estimated_output_tokens) is int
            and 0 <= self.estimated_output_tokens <= MAX_TOKENS
            and type(self.actual_input_tokens) is int
            and 0 <= self.actual_input_tokens <= MAX_TOKENS
            and type(self.actual_output_tokens) is int
            and 0 <= self.actual_output_tokens <= MAX_TOKENS
            and type(self.estimated_cost_usd_micros) is int
            and 0 <= self.estimated_cost_usd_micros <= MAX_COST_MICROS
            and type(self.actual_cost_usd_micros) is int
            and 0 <= self.actual_cost_usd_micros <= MAX_COST_MICROS
            and type(self.quality_gate_passed) is bool
            and type(self.quality_gates_run) is list
            and all(type(g) is QualityGate for g in self.quality_gates_run)
            and type(self.quality_gates_failed) is list
            and all(type(g) is QualityGate for g in self.quality_gates_failed)
            and type(self.context_compactions) is int
            and 0 <= self.context_compactions <= MAX_COMPACTIONS
            and type(self.context_rotations) is int
            and 0 <= self.context_rotations <= MAX_ROTATIONS
            and type(util) is float
            and 0.0 <= util <= 1.0
            and type(self.outcome) is Outcome
            and type(self.retry_count) is int
            and 0 <= self.retry_count <= MAX_RETRIES
            and (lang is None or (type(lang) is str and len(lang) <= MAX_LANGUAGE_LEN))
            and (
                self.repo_size_category is None or type(self.repo_size_category) is RepoSizeCategory
            )
        ):
            # Own copies, as the rules make: the caller's lists stay the caller's.
            self.quality_gates_run = [*self.quality_gates_run]
            self.quality_gates_failed = [*self.quality_gates_failed]
            return
        self._validate()

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON-ready dict of the wire format (schema 1.0)."""
        repo = self.repo_size_category
        return {
            "instance_id": uuid_text(self.instance_id),
            "event_id": str(self.event_id),
            "schema_version": self.schema_version,
            "timestamp": format_datetime(self.timestamp),
            "task_duration_ms": self.task_duration_ms,
            "task_type": self.task_type._value_,
            "complexity": self.complexity._value_,
            "harness": self.harness._value_,
            "model": self.model,
            "provider": self.provider._value_,
            "estimated_input_tokens": self.estimated_input_tokens,
            "estimated_output_tokens": self.estimated_output_tokens,
            "actual_input_tokens": self.actual_input_tokens,
            "actual_output_tokens": self.actual_output_tokens,
            "estimated_cost_usd_micros": self.estimated_cost_usd_micros,
            "actual_cost_usd_micros": self.actual_cost_usd_micros,
            "quality_gate_passed": self.quality_gate_passed,
            "quality_gates_run": [g._value_ for g in self.quality_gates_run],
            "quality_gates_failed": [g._value_ for g in self.quality_gates_failed],
            "context_compactions": self.context_compactions,
            "context_rotations": self.context_rotations,
            "context_utilization_final": self.context_utilization_final,
            "outcome": self.outcome._value_,
            "retry_count": self.retry_count,
            "language": self.language,
            "repo_size_category": None if repo is None else repo._value_,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TaskCompletionEvent:
        """Validate a wire-format mapping and build the event (unknown keys ignored).

        Raises:
            ValidationError: a field is missing or breaks its rule; every failure is named.
        """
        try:
            values = _event_values_fast(data)
        except (KeyError, TypeError, ValueError, AttributeError):
            return super(TaskCompletionEvent, cls).from_dict(data)
        # Ranges are checked by __post_init__; a failure there falls back to the rules.
        return cls(**values)


_TASK_TYPES: Mapping[Any, TaskType] = TaskType._value2member_map_  # type: ignore[assignment]
_COMPLEXITIES: Mapping[Any, Complexity] = Complexity._value2member_map_  # type: ignore[assignment]
_HARNESSES: Mapping[Any, Harness] = Harness._value2member_map_  # type: ignore[assignment]
_PROVIDERS: Mapping[Any, Provider] = Provider._value2member_map_  # type: ignore[assignment]
_OUTCOMES: Mapping[Any, Outcome] = Outcome._value2member_map_  # type: ignore[assignment]
_GATES: Mapping[Any, QualityGate] = QualityGate._value2member_map_  # type: ignore[assignment]
_REPO_SIZES: Mapping[Any, RepoSizeCategory] = RepoSizeCategory._value2member_map_  # type: ignore[assignment]


def _exact_list(value: Any) -> list[Any]:
    if type(value) is not list:
        raise TypeError
    return value


def _event_values_fast(data: Mapping[str, Any]) -> dict[str, Any]:
    """Convert a complete, well-typed wire dict in one pass; raise on anything unusual."""
    if type(data) is not dict:
        raise TypeError
    repo = data["repo_size_category"]
    return {
        "instance_id": uuid_from_text(data["instance_id"]),
        "event_id": uuid_from_text(data["event_id"]),
        "schema_version": data["schema_version"],
        "timestamp": parse_datetime(data["timestamp"]),
        "task_duration_ms": data["task_duration_ms"],
        "task_type": _TASK_TYPES[data["task_type"]],
        "complexity": _COMPLEXITIES[data["complexity"]],
        "harness": _HARNESSES[data["harness"]],
        "model": data["model"],
        "provider": _PROVIDERS[data["provider"]],
        "estimated_input_tokens": data["estimated_input_tokens"],
        "estimated_output_tokens": data["estimated_output_tokens"],
        "actual_input_tokens": data["actual_input_tokens"],
        "actual_output_tokens": data["actual_output_tokens"],
        "estimated_cost_usd_micros": data["estimated_cost_usd_micros"],
        "actual_cost_usd_micros": data["actual_cost_usd_micros"],
        "quality_gate_passed": data["quality_gate_passed"],
        "quality_gates_run": [_GATES[g] for g in _exact_list(data["quality_gates_run"])],
        "quality_gates_failed": [_GATES[g] for g in _exact_list(data["quality_gates_failed"])],
        "context_compactions": data["context_compactions"],
        "context_rotations": data["context_rotations"],
        "context_utilization_final": data["context_utilization_final"],
        "outcome": _OUTCOMES[data["outcome"]],
        "retry_count": data["retry_count"],
        "language": data["language"],
        "repo_size_category": None if repo is None else _REPO_SIZES[repo],
    }


@finish_model
@dataclass(slots=True, kw_only=True)
class PredictionQuery(Model):
    """The four dimensions a prediction is asked for."""

    task_type: TaskType
    model: str
    provider: Provider
    complexity: Complexity

    _RULES = (
        ("task_type", enum_of(TaskType)),
        ("model", _MODEL_NAME),
        ("provider", enum_of(Provider)),
        ("complexity", enum_of(Complexity)),
    )

    @property
    def key(self) -> tuple[str, str, str, str]:
        """The four dimensions as a hashable tuple (the cache key)."""
        return (self.task_type.value, self.model, self.provider.value, self.complexity.value)

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON-ready dict of the wire format."""
        return {
            "task_type": self.task_type.value,
            "model": self.model,
            "provider": self.provider.value,
            "complexity": self.complexity.value,
        }


@finish_model
@dataclass(slots=True, kw_only=True)
class TokenDistribution(Model):
    """Percentiles of a token count."""

    p10: int
    p25: int
    median: int
    p75: int
    p90: int

    _RULES = (
        ("p10", _NON_NEGATIVE),
        ("p25", _NON_NEGATIVE),
        ("median", _NON_NEGATIVE),
        ("p75", _NON_NEGATIVE),
        ("p90", _NON_NEGATIVE),
    )

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON-ready dict of the wire format."""
        return {
            "p10": self.p10,
            "p25": self.p25,
            "median": self.median,
            "p75": self.p75,
            "p90": self.p90,
        }


@finish_model
@dataclass(slots=True, kw_only=True)
class CorrectionFactors(Model):
    """Ratios of actual to estimated tokens (above 1.0: estimates were too low)."""

    input: float
    output: float

    _RULES = (("input", _RATIO), ("output", _RATIO))

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON-ready dict of the wire format."""
        return {"input": self.input, "output": self.output}


@finish_model
@dataclass(slots=True, kw_only=True)
class QualityPrediction(Model):
    """Expected quality-gate pass rate and success rate (fractions 0 to 1)."""

    gate_pass_rate: float
    success_rate: float

    _RULES = (
        ("gate_pass_rate", _RATE),
        ("success_rate", _RATE),
    )

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON-ready dict of the wire format."""
        return {"gate_pass_rate": self.gate_pass_rate, "success_rate": self.success_rate}


@finish_model
@dataclass(slots=True, kw_only=True)
class PredictionData(Model):
    """Predicted token, cost and duration distributions and quality for a query."""

    input_tokens: TokenDistribution
    output_tokens: TokenDistribution
    cost_usd_micros: dict[str, int]
    duration_ms: dict[str, int]
    correction_factors: CorrectionFactors
    quality: QualityPrediction

    _RULES = (
        ("input_tokens", nested(TokenDistribution)),
        ("output_tokens", nested(TokenDistribution)),
        ("cost_usd_micros", dict_of_int("median")),
        ("duration_ms", dict_of_int("median")),
        ("correction_factors", nested(CorrectionFactors)),
        ("quality", nested(QualityPrediction)),
    )

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON-ready dict of the wire format."""
        return {
            "input_tokens": self.input_tokens.to_dict(),
            "output_tokens": self.output_tokens.to_dict(),
            "cost_usd_micros": dict(self.cost_usd_micros),
            "duration_ms": dict(self.duration_ms),
            "correction_factors": self.correction_factors.to_dict(),
            "quality": self.quality.to_dict(),
        }


@finish_model
@dataclass(slots=True, kw_only=True)
class PredictionMetadata(Model):
    """How a prediction was made: sample size, fallback level, confidence."""

    sample_size: int
    fallback_level: int
    confidence: str
    last_updated: datetime | None = None
    dimensions_matched: dict[str, str | None] | None = None
    fallback_note: str | None = None
    cache_hit: bool = False

    _RULES = (
        ("sample_size", _NON_NEGATIVE),
        ("fallback_level", int_range(-1)),
        ("confidence", any_str),
        ("last_updated", optional(to_datetime)),
        ("dimensions_matched", str_map_or_none),
        ("fallback_note", optional(any_str)),
        ("cache_hit", any_bool),
    )

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON-ready dict of the wire format."""
        updated = self.last_updated
        dims = self.dimensions_matched
        return {
            "sample_size": self.sample_size,
            "fallback_level": self.fallback_level,
            "confidence": self.confidence,
            "last_updated": None if updated is None else format_datetime(updated),
            "dimensions_matched": None if dims is None else dict(dims),
            "fallback_note": self.fallback_note,
            "cache_hit": self.cache_hit,
        }


@finish_model
@dataclass(slots=True, kw_only=True)
class PredictionResponse(Model):
    """A prediction (or ``None`` when there is no data) with its metadata."""

    prediction: PredictionData | None
    metadata: PredictionMetadata

    _RULES = (
        ("prediction", optional(nested(PredictionData))),
        ("metadata", nested(PredictionMetadata)),
    )

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON-ready dict of the wire format."""
        data = self.prediction
        return {
            "prediction": None if data is None else data.to_dict(),
            "metadata": self.metadata.to_dict(),
        }


@finish_model
@dataclass(slots=True, kw_only=True)
class BatchEventRequest(Model):
    """Body of ``POST /v1/events/batch``: 1 to 100 events."""

    events: list[TaskCompletionEvent]

    _RULES = (("events", list_of(TaskCompletionEvent, 1, MAX_BATCH_EVENTS)),)

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON-ready dict of the wire format."""
        return {"events": [event.to_dict() for event in self.events]}


@finish_model
@dataclass(slots=True, kw_only=True)
class BatchEventResult(Model):
    """The server's verdict on one event of a batch."""

    event_id: UUID
    status: str
    error: str | None = None

    _RULES = (
        ("event_id", to_uuid),
        ("status", _check_status),
        ("error", optional(any_str)),
    )

    def __post_init__(self) -> None:
        # Fast path: a collector builds one per event of every batch.
        error = self.error
        if (
            type(self.event_id) is UUID
            and type(self.status) is str
            and self.status in ("accepted", "rejected")
            and (error is None or type(error) is str)
        ):
            return
        self._validate()

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON-ready dict of the wire format."""
        return {"event_id": str(self.event_id), "status": self.status, "error": self.error}


@finish_model
@dataclass(slots=True, kw_only=True)
class BatchEventResponse(Model):
    """Body of a successful ``POST /v1/events/batch``: counts and per-event results."""

    accepted: int
    rejected: int
    results: list[BatchEventResult] = field(default_factory=list)

    _RULES = (
        ("accepted", _NON_NEGATIVE),
        ("rejected", _NON_NEGATIVE),
        ("results", list_of(BatchEventResult, 0)),
    )

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON-ready dict of the wire format."""
        return {
            "accepted": self.accepted,
            "rejected": self.rejected,
            "results": [result.to_dict() for result in self.results],
        }
