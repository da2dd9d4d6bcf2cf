"""Answers from the prediction index: a query's pools, percentiles, the response.

The rules are those of ``predictions``; this module applies them to the pools
(``_index.Node``) of a query's fallback levels.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from ..models import (
    CorrectionFactors,
    PredictionData,
    PredictionMetadata,
    PredictionQuery,
    PredictionResponse,
    QualityPrediction,
    TokenDistribution,
)
from ._index import Node, PredictionIndex
from .predictions import (
    _DECIMALS,
    _PERCENTILES,
    DIMENSIONS,
    FALLBACK_LEVELS,
    MIN_SAMPLES,
    _factor,
    _interpolate,
    _note,
    confidence_for,
)

__all__ = ["LEVEL_POSITIONS", "answer", "new_index", "path"]


def _percentiles(node: Node, field: int, pcts: Sequence[int]) -> list[int]:
    """Percentiles of one measured field of a pool, from its order statistics."""
    splits = [divmod((node.count - 1) * pct, 100) for pct in pcts]
    ranks = sorted({rank for low, r in splits for rank in ((low, low + 1) if r else (low,))})
    value_at = dict(zip(ranks, node.order_statistics(field, ranks), strict=True))
    return [
        value_at[low] if not r else _interpolate(value_at[low], value_at[low + 1], r)
        for low, r in splits
    ]


def _summarise(node: Node) -> PredictionData:
    p10, p25, median, p75, p90 = _percentiles(node, 0, _PERCENTILES)
    o10, o25, o_median, o75, o90 = _percentiles(node, 1, _PERCENTILES)
    (cost,) = _percentiles(node, 2, (50,))
    (duration,) = _percentiles(node, 3, (50,))
    count = node.count
    return PredictionData(
        input_tokens=TokenDistribution(p10=p10, p25=p25, median=median, p75=p75, p90=p90),
        output_tokens=TokenDistribution(p10=o10, p25=o25, median=o_median, p75=o75, p90=o90),
        cost_usd_micros={"median": cost},
        duration_ms={"median": duration},
        correction_factors=CorrectionFactors(
            input=_factor(node.total("estimated_input_actual"), node.total("estimated_input")),
            output=_factor(node.total("estimated_output_actual"), node.total("estimated_output")),
        ),
        quality=QualityPrediction(
            gate_pass_rate=round(node.total("passed") / count, _DECIMALS),
            success_rate=round(node.total("successes") / count, _DECIMALS),
        ),
    )


LEVEL_POSITIONS = tuple(tuple(DIMENSIONS.index(name) for name in kept) for kept in FALLBACK_LEVELS)


def new_index() -> PredictionIndex:
    """An empty prediction index with this module's fallback levels."""
    return PredictionIndex(LEVEL_POSITIONS)


def path(index: PredictionIndex, query: PredictionQuery) -> list[Node]:
    """The pools of every fallback level for ``query``, most specific first."""
    key = query.key
    return [index.node(level, key) for level in range(len(FALLBACK_LEVELS))]


def answer(
    query: PredictionQuery,
    nodes: Sequence[Node],
    *,
    now: datetime,
    min_samples: int = MIN_SAMPLES,
) -> PredictionResponse:
    """Answer ``query`` from the pools of its fallback levels (see :func:`path`).

    Returns:
        The response; ``cache_hit`` is False (the caller's cache sets it).
    """
    wanted = dict(zip(DIMENSIONS, query.key, strict=True))
    counts = [node.count for node in nodes]
    level = next((i for i, n in enumerate(counts) if n >= min_samples), None)
    if level is None:
        level = next((i for i, n in enumerate(counts) if n), -1)
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
    chosen = nodes[level]
    kept = FALLBACK_LEVELS[level]
    return PredictionResponse(
        prediction=_summarise(chosen),
        metadata=PredictionMetadata(
            sample_size=chosen.count,
            fallback_level=level,
            confidence=confidence_for(chosen.count, level),
            last_updated=now,
            dimensions_matched={
                name: (wanted[name] if name in kept else None) for name in DIMENSIONS
            },
            fallback_note=_note(level, counts[0], chosen.count, min_samples),
            cache_hit=False,
        ),
    )
