"""The collector's first prediction method (a scan of every event), kept as the reference.

The collector now answers from an index (``collector/_index.py``); the tests hold its
answers equal to these, on random data. Only the fallback note and the confidence
come from the collector's module, as before.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from datetime import datetime
from fractions import Fraction

from mosaic_telemetry import (
    CorrectionFactors,
    PredictionData,
    PredictionMetadata,
    PredictionQuery,
    PredictionResponse,
    QualityPrediction,
    TokenDistribution,
)
from mosaic_telemetry.collector.predictions import (
    DIMENSIONS,
    FALLBACK_LEVELS,
    MIN_SAMPLES,
    Sample,
    _note,
    confidence_for,
)

_PERCENTILES = (10, 25, 50, 75, 90)


def reference_percentile(sorted_values: Sequence[int], pct: int) -> int:
    """Linear interpolation between closest ranks, in exact fractions, halves up."""
    rank = Fraction((len(sorted_values) - 1) * pct, 100)
    low = math.floor(rank)
    value = Fraction(sorted_values[low])
    if rank > low:
        value += (rank - low) * (sorted_values[low + 1] - sorted_values[low])
    return math.floor(value + Fraction(1, 2))


def _distribution(values: Iterable[int]) -> TokenDistribution:
    ordered = sorted(values)
    p10, p25, median, p75, p90 = (reference_percentile(ordered, p) for p in _PERCENTILES)
    return TokenDistribution(p10=p10, p25=p25, median=median, p75=p75, p90=p90)


def _factor(pairs: Iterable[tuple[int, int]]) -> float:
    actual_sum = estimated_sum = 0
    for actual, estimated in pairs:
        if estimated > 0:
            actual_sum += actual
            estimated_sum += estimated
    return 1.0 if estimated_sum == 0 else round(actual_sum / estimated_sum, 4)


def _rate(flags: Sequence[bool]) -> float:
    return round(sum(flags) / len(flags), 4) if flags else 0.0


def _summarise(samples: Sequence[Sample]) -> PredictionData:
    return PredictionData(
        input_tokens=_distribution(s.actual_input_tokens for s in samples),
        output_tokens=_distribution(s.actual_output_tokens for s in samples),
        cost_usd_micros={
            "median": reference_percentile(sorted(s.actual_cost_usd_micros for s in samples), 50)
        },
        duration_ms={
            "median": reference_percentile(sorted(s.task_duration_ms for s in samples), 50)
        },
        correction_factors=CorrectionFactors(
            input=_factor((s.actual_input_tokens, s.estimated_input_tokens) for s in samples),
            output=_factor((s.actual_output_tokens, s.estimated_output_tokens) for s in samples),
        ),
        quality=QualityPrediction(
            gate_pass_rate=_rate([s.quality_gate_passed for s in samples]),
            success_rate=_rate([s.success for s in samples]),
        ),
    )


def reference_predict(
    query: PredictionQuery,
    samples: Iterable[Sample],
    *,
    now: datetime,
    min_samples: int = MIN_SAMPLES,
) -> PredictionResponse:
    """The documented method, as first written: filter every sample at every level, sort."""
    wanted = dict(zip(DIMENSIONS, query.key, strict=True))
    pool = [s for s in samples if s.task_type == wanted["task_type"]]
    by_level = [
        [s for s in pool if all(getattr(s, name) == wanted[name] for name in kept)]
        for kept in FALLBACK_LEVELS
    ]
    level = next((i for i, found in enumerate(by_level) if len(found) >= min_samples), None)
    if level is None:
        level = next((i for i, found in enumerate(by_level) if found), -1)
    if level < 0:
        return PredictionResponse(
            prediction=None,
            metadata=PredictionMetadata(
                sample_size=0,
                fallback_level=-1,
                confidence="none",
                last_updated=None,
                dimensions_matched=None,
                fallback_note=f"no stored events of task type {wanted['task_type']!r}",
                cache_hit=False,
            ),
        )
    chosen = by_level[level]
    kept = FALLBACK_LEVELS[level]
    return PredictionResponse(
        prediction=_summarise(chosen),
        metadata=PredictionMetadata(
            sample_size=len(chosen),
            fallback_level=level,
            confidence=confidence_for(len(chosen), level),
            last_updated=now,
            dimensions_matched={
                name: (wanted[name] if name in kept else None) for name in DIMENSIONS
            },
            fallback_note=_note(level, len(by_level[0]), len(chosen), min_samples),
            cache_hit=False,
        ),
    )
