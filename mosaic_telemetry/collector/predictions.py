"""Prediction math of the collector: fallback levels, percentiles, rates, confidence.

Everything here is pure (no I/O, no clock of its own), so it is tested against
hand-computed fixtures. The rules, in the order they apply:

* **Fallback.** Level 0 uses the events matching all four dimensions. When they
  number fewer than ``MIN_SAMPLES`` (5), dimensions are dropped in this order:
  complexity (level 1), then model (level 2), then provider (level 3, task type
  alone). ``task_type`` is never dropped. The first level with at least
  ``MIN_SAMPLES`` events is used; when none has that many, the most specific
  level with any events is used. No event of the task type at all: no
  prediction, level -1, confidence ``"none"``.
* **Percentiles** (p10, p25, median, p75, p90 of tokens; median cost and duration):
  linear interpolation between closest ranks (numpy's default, Hyndman-Fan type 7):
  rank ``h = (n - 1) * p``, value ``x[floor(h)] + (h - floor(h)) * (x[floor(h) + 1] -
  x[floor(h)])``, computed exactly and rounded to the nearest integer, halves up.
* **Correction factors**: ``sum(actual) / sum(estimated)`` over the events whose
  estimate is above zero (an event without an estimate says nothing about its
  accuracy); ``1.0`` when no event has an estimate. Rounded to 4 decimals.
* **Rates**: ``gate_pass_rate`` is the fraction with ``quality_gate_passed``,
  ``success_rate`` the fraction with outcome ``success``; rounded to 4 decimals.
* **Confidence** from the sample size: ``high`` at 100 or more, ``medium`` at 30
  or more, ``low`` below; then capped by the fallback level: at most ``medium``
  at level 1 and at most ``low`` at levels 2 and 3.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from ..enums import Outcome
from ..models import (
    PredictionQuery,
    PredictionResponse,
    TaskCompletionEvent,
    TokenDistribution,
)

__all__ = [
    "CONFIDENCE_THRESHOLDS",
    "DIMENSIONS",
    "FALLBACK_LEVELS",
    "MIN_SAMPLES",
    "Sample",
    "confidence_for",
    "correction_factor",
    "percentile",
    "predict",
    "rate",
    "sample_sums",
    "token_distribution",
]

MIN_SAMPLES = 5
"""Fewest events a fallback level needs before it is used."""

DIMENSIONS = ("task_type", "model", "provider", "complexity")
"""The four dimensions of a query, in the order of ``PredictionQuery.key``."""

FALLBACK_LEVELS: tuple[tuple[str, ...], ...] = (
    ("task_type", "model", "provider", "complexity"),
    ("task_type", "model", "provider"),
    ("task_type", "provider"),
    ("task_type",),
)
"""Dimensions kept at fallback level 0, 1, 2 and 3."""

CONFIDENCE_THRESHOLDS: tuple[tuple[int, str], ...] = ((100, "high"), (30, "medium"), (1, "low"))
"""Smallest sample size for each confidence, best first."""

_DROP_ORDER = ("complexity", "model", "provider")
_LEVEL_CAPS = {0: "high", 1: "medium", 2: "low", 3: "low"}
_CONFIDENCE_ORDER = ("none", "low", "medium", "high")
_PERCENTILES = (10, 25, 50, 75, 90)
_DECIMALS = 4


@dataclass(frozen=True, slots=True)
class Sample:
    """The fields of one stored event that predictions read."""

    task_type: str
    model: str
    provider: str
    complexity: str
    estimated_input_tokens: int
    estimated_output_tokens: int
    actual_input_tokens: int
    actual_output_tokens: int
    actual_cost_usd_micros: int
    task_duration_ms: int
    quality_gate_passed: bool
    success: bool

    @classmethod
    def from_event(cls, event: TaskCompletionEvent) -> Sample:
        """Take the fields predictions need from an event."""
        return cls(
            task_type=event.task_type.value,
            model=event.model,
            provider=event.provider.value,
            complexity=event.complexity.value,
            estimated_input_tokens=event.estimated_input_tokens,
            estimated_output_tokens=event.estimated_output_tokens,
            actual_input_tokens=event.actual_input_tokens,
            actual_output_tokens=event.actual_output_tokens,
            actual_cost_usd_micros=event.actual_cost_usd_micros,
            task_duration_ms=event.task_duration_ms,
            quality_gate_passed=event.quality_gate_passed,
            success=event.outcome is Outcome.SUCCESS,
        )

    def dimension(self, name: str) -> str:
        """Return the value of one of the four query dimensions."""
        value: str = getattr(self, name)
        return value


def _interpolate(low_value: int, high_value: int, remainder: int) -> int:
    """``low + remainder / 100 * (high - low)`` rounded to the nearest integer, halves up.

    Exact in integers: ``floor(x + r * d / 100 + 1/2) = x + (2 * r * d + 100) // 200``.
    """
    return low_value + (2 * remainder * (high_value - low_value) + 100) // 200


def percentile(sorted_values: Sequence[int], pct: int) -> int:
    """Return the ``pct``-th percentile (0..100) of ascending values, as an int.

    Linear interpolation between closest ranks, exact, rounded halves up.

    Raises:
        ValueError: no values, or ``pct`` outside 0..100.
    """
    if not sorted_values:
        raise ValueError("percentile of no values")
    if not 0 <= pct <= 100:
        raise ValueError(f"pct must be between 0 and 100, got {pct!r}")
    low, remainder = divmod((len(sorted_values) - 1) * pct, 100)
    if not remainder:
        return sorted_values[low]
    return _interpolate(sorted_values[low], sorted_values[low + 1], remainder)


def token_distribution(values: Iterable[int]) -> TokenDistribution:
    """Return p10, p25, median, p75 and p90 of ``values`` (at least one)."""
    ordered = sorted(values)
    p10, p25, median, p75, p90 = (percentile(ordered, pct) for pct in _PERCENTILES)
    return TokenDistribution(p10=p10, p25=p25, median=median, p75=p75, p90=p90)


def correction_factor(pairs: Iterable[tuple[int, int]]) -> float:
    """Return ``sum(actual) / sum(estimated)`` over ``(actual, estimated)`` pairs.

    Pairs with an estimate of zero are skipped; with none left the factor is 1.0.
    """
    actual_sum = 0
    estimated_sum = 0
    for actual, estimated in pairs:
        if estimated > 0:
            actual_sum += actual
            estimated_sum += estimated
    return _factor(actual_sum, estimated_sum)


def _factor(actual_sum: int, estimated_sum: int) -> float:
    return 1.0 if estimated_sum == 0 else round(actual_sum / estimated_sum, _DECIMALS)


def rate(flags: Sequence[bool]) -> float:
    """Return the fraction of true flags, rounded to 4 decimals (0.0 for none)."""
    if not flags:
        return 0.0
    return round(sum(flags) / len(flags), _DECIMALS)


def confidence_for(sample_size: int, fallback_level: int) -> str:
    """Return ``high``/``medium``/``low``/``none`` for a sample size at a fallback level."""
    if sample_size <= 0 or fallback_level < 0:
        return "none"
    by_size = next(name for floor, name in CONFIDENCE_THRESHOLDS if sample_size >= floor)
    cap = _LEVEL_CAPS.get(fallback_level, "low")
    return min(by_size, cap, key=_CONFIDENCE_ORDER.index)


def _join(names: Sequence[str]) -> str:
    """``a``, ``a and b``, ``a, b and c``."""
    if len(names) <= 1:
        return "".join(names)
    return f"{', '.join(names[:-1])} and {names[-1]}"


def _note(level: int, exact_count: int, chosen_count: int, min_samples: int) -> str | None:
    kept = FALLBACK_LEVELS[level]
    dropped = _DROP_ORDER[:level]
    if chosen_count < min_samples:
        where = "all four dimensions" if level == 0 else _join(kept)
        return (
            f"fewer than {min_samples} events at every fallback level; "
            f"using the closest match: {where} ({chosen_count} events)"
        )
    if level == 0:
        return None
    return (
        f"{exact_count} events match all four dimensions (minimum {min_samples}); "
        f"dropped {_join(dropped)}; matched on {_join(kept)} "
        f"({chosen_count} events)"
    )


def predict(
    query: PredictionQuery,
    samples: Iterable[Sample],
    *,
    now: datetime,
    min_samples: int = MIN_SAMPLES,
) -> PredictionResponse:
    """Answer ``query`` from ``samples`` by the fallback rules of this module.

    Args:
        query: the four dimensions asked for.
        samples: stored events (any task type; the others are ignored).
        now: the computation time, reported as ``last_updated``.
        min_samples: fewest events a fallback level needs before it is used.

    Returns:
        The response; ``cache_hit`` is False (the caller's cache sets it).
    """
    from ._answer import answer, new_index, path  # noqa: PLC0415  # it imports this module

    index = new_index()
    for s in samples:
        index.add(
            (s.task_type, s.model, s.provider, s.complexity),
            [
                [s.actual_input_tokens],
                [s.actual_output_tokens],
                [s.actual_cost_usd_micros],
                [s.task_duration_ms],
            ],
            count=1,
            sums=sample_sums(s),
        )
    return answer(query, path(index, query), now=now, min_samples=min_samples)


def sample_sums(s: Sample) -> tuple[int, int, int, int, int, int]:
    """One sample's contribution to a leaf's sums (``PredictionIndex.add`` order)."""
    est_in, est_out = s.estimated_input_tokens, s.estimated_output_tokens
    return (
        est_in if est_in > 0 else 0,
        s.actual_input_tokens if est_in > 0 else 0,
        est_out if est_out > 0 else 0,
        s.actual_output_tokens if est_out > 0 else 0,
        int(s.quality_gate_passed),
        int(s.success),
    )
