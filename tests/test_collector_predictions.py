"""The collector's prediction math against hand-computed fixtures, plus its invariants."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest
from collector_fixtures import QUERY, event_dict, sample
from hypothesis import given
from hypothesis import strategies as st
from strategies import PROPERTY_SETTINGS

from mosaic_telemetry import PredictionQuery, PredictionResponse, TaskCompletionEvent
from mosaic_telemetry.collector.predictions import (
    MIN_SAMPLES,
    Sample,
    confidence_for,
    correction_factor,
    percentile,
    predict,
    rate,
    token_distribution,
)

NOW = datetime(2026, 11, 24, 22, 0, tzinfo=timezone.utc)
Q = PredictionQuery.from_dict(QUERY)


# -- percentiles ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        # rank h = (n - 1) * p; interpolate between x[floor(h)] and the next; halves round up.
        ([10, 20, 30, 40, 50], (14, 20, 30, 40, 46)),
        ([7], (7, 7, 7, 7, 7)),
        ([0, 100], (10, 25, 50, 75, 90)),
        ([1, 2], (1, 1, 2, 2, 2)),  # 1.1, 1.25, 1.5 (half up), 1.75, 1.9
        ([2, 3], (2, 2, 3, 3, 3)),  # 2.5 rounds up to 3, not to the even 2
        (list(range(0, 101, 10)), (10, 25, 50, 75, 90)),
        ([5, 5, 5, 1000], (5, 5, 5, 254, 702)),  # h = 2.25: 253.75; h = 2.7: 701.5 (half up)
    ],
)
def test_percentiles_interpolate_linearly_between_closest_ranks(
    values: list[int], expected: tuple[int, int, int, int, int]
) -> None:
    assert tuple(percentile(values, pct) for pct in (10, 25, 50, 75, 90)) == expected


def test_token_distribution_sorts_its_input_first() -> None:
    dist = token_distribution([50, 10, 40, 20, 30])
    assert (dist.p10, dist.p25, dist.median, dist.p75, dist.p90) == (14, 20, 30, 40, 46)


@pytest.mark.parametrize(("values", "pct"), [([], 50), ([1], -1), ([1], 101)])
def test_percentile_refuses_no_values_or_a_rank_outside_0_to_100(
    values: list[int], pct: int
) -> None:
    with pytest.raises(ValueError, match=r"percentile of no values|between 0 and 100"):
        percentile(values, pct)


@PROPERTY_SETTINGS
@given(st.lists(st.integers(0, 10_000_000), min_size=1, max_size=200))
def test_percentiles_are_ordered_and_within_the_values(values: list[int]) -> None:
    dist = token_distribution(values)
    assert min(values) <= dist.p10 <= dist.p25 <= dist.median <= dist.p75 <= dist.p90
    assert dist.p90 <= max(values)


@PROPERTY_SETTINGS
@given(st.integers(0, 10_000_000), st.integers(1, 50), st.integers(0, 100))
def test_percentile_of_identical_values_is_that_value(value: int, count: int, pct: int) -> None:
    assert percentile([value] * count, pct) == value


# -- correction factors and rates -------------------------------------------------------------


@pytest.mark.parametrize(
    ("pairs", "expected"),
    [
        ([(120, 100)], 1.2),
        ([(120, 100), (80, 100)], 1.0),
        ([(100, 50), (100, 150)], 1.0),  # a ratio of sums (a mean of ratios would be 1.3333)
        ([(50, 0), (100, 100)], 1.0),  # a zero estimate is skipped, not divided by
        ([(50, 0)], 1.0),  # no estimate at all: neutral factor
        ([], 1.0),
        ([(0, 100)], 0.0),
        ([(1, 3)], 0.3333),  # rounded to 4 decimals
    ],
)
def test_correction_factor_is_sum_of_actual_over_sum_of_nonzero_estimates(
    pairs: list[tuple[int, int]], expected: float
) -> None:
    assert correction_factor(pairs) == expected


@pytest.mark.parametrize(
    ("flags", "expected"),
    [([], 0.0), ([True, True], 1.0), ([True, False, False], 0.3333), ([False], 0.0)],
)
def test_rate_is_the_fraction_of_true_flags(flags: list[bool], expected: float) -> None:
    assert rate(flags) == expected


# -- confidence -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("sample_size", "level", "expected"),
    [
        (0, 0, "none"),
        (1, 0, "low"),
        (29, 0, "low"),
        (30, 0, "medium"),
        (99, 0, "medium"),
        (100, 0, "high"),
        (100, 1, "medium"),  # level 1 caps at medium
        (29, 1, "low"),
        (100, 2, "low"),  # levels 2 and 3 cap at low
        (1000, 3, "low"),
        (50, -1, "none"),
    ],
)
def test_confidence_follows_sample_size_thresholds_capped_by_fallback_level(
    sample_size: int, level: int, expected: str
) -> None:
    assert confidence_for(sample_size, level) == expected


# -- fallback levels ---------------------------------------------------------------------------


def _exact(count: int) -> list[Sample]:
    return [sample() for _ in range(count)]


OTHER_COMPLEXITY = sample(complexity="high")
OTHER_MODEL = sample(model="claude-opus-4", complexity="low")
OTHER_PROVIDER = sample(model="gpt-4o", provider="openai")
OTHER_TASK = sample(task_type="testing")


ALL = ("implementation", "claude-sonnet-4", "anthropic", "medium")
NO_COMPLEXITY = ("implementation", "claude-sonnet-4", "anthropic", None)


@pytest.mark.parametrize(
    ("samples", "level", "size", "matched"),
    [
        (_exact(MIN_SAMPLES), 0, 5, ALL),
        ([*_exact(4), OTHER_COMPLEXITY], 1, 5, NO_COMPLEXITY),
        ([*_exact(4), OTHER_MODEL], 2, 5, ("implementation", None, "anthropic", None)),
        ([*_exact(4), OTHER_PROVIDER], 3, 5, ("implementation", None, None, None)),
        # Below the minimum everywhere: the most specific level with any events.
        ([*_exact(3), OTHER_PROVIDER], 0, 3, ALL),
        ([OTHER_COMPLEXITY, OTHER_COMPLEXITY, OTHER_PROVIDER], 1, 2, NO_COMPLEXITY),
        # Another task type never counts, however many there are.
        ([*_exact(4), *[OTHER_TASK] * 20], 0, 4, ALL),
    ],
)
def test_fallback_drops_complexity_then_model_then_provider(
    samples: list[Sample],
    level: int,
    size: int,
    matched: tuple[str | None, ...],
) -> None:
    response = predict(Q, samples, now=NOW)
    meta = response.metadata
    assert (meta.fallback_level, meta.sample_size) == (level, size)
    assert meta.dimensions_matched == dict(
        zip(("task_type", "model", "provider", "complexity"), matched, strict=True)
    )
    assert response.prediction is not None
    assert meta.last_updated == NOW
    assert meta.cache_hit is False


def test_fallback_note_says_what_was_dropped_and_why() -> None:
    meta = predict(Q, [*_exact(2), OTHER_MODEL, OTHER_MODEL, OTHER_MODEL], now=NOW).metadata
    assert meta.fallback_note == (
        "2 events match all four dimensions (minimum 5); dropped complexity and model; "
        "matched on task_type and provider (5 events)"
    )


def test_fallback_note_is_absent_for_an_exact_match_with_enough_events() -> None:
    assert predict(Q, _exact(5), now=NOW).metadata.fallback_note is None


def test_fallback_note_explains_a_match_below_the_minimum() -> None:
    note = predict(Q, _exact(2), now=NOW).metadata.fallback_note
    assert note is not None
    assert "fewer than 5 events at every fallback level" in note
    assert "all four dimensions (2 events)" in note


def test_no_event_of_the_task_type_gives_no_prediction() -> None:
    response = predict(Q, [OTHER_TASK] * 10, now=NOW)
    assert response.prediction is None
    meta = response.metadata
    assert (meta.sample_size, meta.fallback_level, meta.confidence) == (0, -1, "none")
    assert meta.dimensions_matched is None
    assert meta.last_updated is None
    assert meta.fallback_note == "no stored events of task type 'implementation'"


def test_no_samples_at_all_gives_no_prediction() -> None:
    assert predict(Q, [], now=NOW).metadata.fallback_level == -1


def test_min_samples_can_be_lowered() -> None:
    meta = predict(Q, [*_exact(1), OTHER_PROVIDER], now=NOW, min_samples=1).metadata
    assert (meta.fallback_level, meta.sample_size, meta.fallback_note) == (0, 1, None)


# -- a whole prediction, computed by hand ----------------------------------------------------------


def test_prediction_matches_hand_computed_values() -> None:
    samples = [
        sample(
            actual_input_tokens=tokens_in,
            actual_output_tokens=tokens_out,
            estimated_input_tokens=est_in,
            estimated_output_tokens=30,
            actual_cost_usd_micros=cost,
            task_duration_ms=duration,
            quality_gate_passed=passed,
            success=success,
        )
        for tokens_in, tokens_out, est_in, cost, duration, passed, success in [
            (100, 10, 100, 5, 1000, True, True),
            (200, 20, 100, 1, 3000, True, False),
            (300, 30, 100, 4, 2000, True, False),
            (400, 40, 100, 2, 5000, False, False),
            (500, 50, 0, 3, 4000, False, False),
        ]
    ]
    response = predict(Q, samples, now=NOW)
    data = response.prediction
    assert data is not None
    assert data.input_tokens.to_dict() == {
        "p10": 140, "p25": 200, "median": 300, "p75": 400, "p90": 460
    }  # fmt: skip
    assert data.output_tokens.to_dict() == {
        "p10": 14,
        "p25": 20,
        "median": 30,
        "p75": 40,
        "p90": 46,
    }
    assert data.cost_usd_micros == {"median": 3}
    assert data.duration_ms == {"median": 3000}
    # input: the zero estimate is skipped, (100+200+300+400) / 400; output: 150 / 150
    assert data.correction_factors.to_dict() == {"input": 2.5, "output": 1.0}
    assert data.quality.to_dict() == {"gate_pass_rate": 0.6, "success_rate": 0.2}
    assert response.metadata.confidence == "low"
    assert PredictionResponse.from_dict(response.to_dict()) == response


def test_sample_from_event_takes_the_fields_predictions_read() -> None:
    event = TaskCompletionEvent.from_dict(event_dict(outcome="partial", quality_gate_passed=False))
    got = Sample.from_event(event)
    assert got == sample(
        estimated_input_tokens=40_000,
        estimated_output_tokens=5_000,
        actual_input_tokens=44_000,
        actual_output_tokens=6_000,
        actual_cost_usd_micros=222_000,
        task_duration_ms=120_000,
        quality_gate_passed=False,
        success=False,
    )


_samples = st.builds(
    Sample,
    task_type=st.sampled_from(["implementation", "testing"]),
    model=st.sampled_from(["claude-sonnet-4", "gpt-4o"]),
    provider=st.sampled_from(["anthropic", "openai"]),
    complexity=st.sampled_from(["low", "medium"]),
    estimated_input_tokens=st.integers(0, 10_000_000),
    estimated_output_tokens=st.integers(0, 10_000_000),
    actual_input_tokens=st.integers(0, 10_000_000),
    actual_output_tokens=st.integers(0, 10_000_000),
    actual_cost_usd_micros=st.integers(0, 100_000_000),
    task_duration_ms=st.integers(0, 86_400_000),
    quality_gate_passed=st.booleans(),
    success=st.booleans(),
)


@PROPERTY_SETTINGS
@given(st.lists(_samples, max_size=40))
def test_any_samples_give_a_valid_response_that_round_trips(samples: list[Sample]) -> None:
    response = predict(Q, samples, now=NOW)
    meta = response.metadata
    assert PredictionResponse.from_json(response.to_json()) == response
    assert (response.prediction is None) == (meta.fallback_level == -1)
    relevant = [s for s in samples if s.task_type == "implementation"]
    assert meta.sample_size <= len(relevant)
    assert (meta.sample_size == 0) == (not relevant)
