"""Indexed predictions give exactly the numbers of the first method (a full scan)."""

from __future__ import annotations

import contextlib
import random
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest
from collector_fixtures import event_dict, sample
from collector_reference import reference_percentile, reference_predict
from hypothesis import given
from hypothesis import strategies as st
from strategies import PROPERTY_SETTINGS

from mosaic_telemetry import PredictionQuery, TaskCompletionEvent
from mosaic_telemetry.collector import CollectorService, EventStore, _index
from mosaic_telemetry.collector.predictions import Sample, percentile, predict

NOW = datetime(2026, 11, 24, 22, 0, tzinfo=timezone.utc)
TASKS = ["implementation", "testing"]
MODELS = ["claude-sonnet-4", "gpt-4o", "m3"]
PROVIDERS = ["anthropic", "openai"]
COMPLEXITIES = ["low", "medium", "high"]

_values = st.one_of(st.integers(0, 12), st.integers(0, 10_000_000))  # ties and spread
_samples = st.builds(
    Sample,
    task_type=st.sampled_from(TASKS),
    model=st.sampled_from(MODELS),
    provider=st.sampled_from(PROVIDERS),
    complexity=st.sampled_from(COMPLEXITIES),
    estimated_input_tokens=st.one_of(st.just(0), _values),
    estimated_output_tokens=st.one_of(st.just(0), _values),
    actual_input_tokens=_values,
    actual_output_tokens=_values,
    actual_cost_usd_micros=st.integers(0, 100_000_000),
    task_duration_ms=st.integers(0, 86_400_000),
    quality_gate_passed=st.booleans(),
    success=st.booleans(),
)
_queries = st.builds(
    PredictionQuery,
    task_type=st.sampled_from([*TASKS, "planning"]),
    model=st.sampled_from([*MODELS, "unseen"]),
    provider=st.sampled_from([*PROVIDERS, "google"]),
    complexity=st.sampled_from([*COMPLEXITIES, "critical"]),
)


@PROPERTY_SETTINGS
@given(st.lists(st.integers(0, 10**9), min_size=1, max_size=60), st.integers(0, 100))
def test_the_integer_percentile_equals_the_exact_fraction(values: list[int], pct: int) -> None:
    values.sort()
    assert percentile(values, pct) == reference_percentile(values, pct)


@PROPERTY_SETTINGS
@given(
    st.lists(st.lists(st.integers(-50, 50), min_size=1, max_size=20), min_size=1, max_size=6),
    st.data(),
)
def test_kth_smallest_of_sorted_parts_is_the_kth_of_their_union(
    parts: list[list[int]], data: st.DataObject
) -> None:
    ordered = [sorted(part) for part in parts]
    union = sorted(v for part in parts for v in part)
    k = data.draw(st.integers(0, len(union) - 1))
    assert _index.kth_smallest(ordered, k) == union[k]


@PROPERTY_SETTINGS
@given(st.lists(_samples, max_size=60), _queries, st.integers(1, 8))
def test_predict_equals_the_first_method_on_random_data(
    samples: list[Sample], query: PredictionQuery, min_samples: int
) -> None:
    got = predict(query, samples, now=NOW, min_samples=min_samples)
    assert got == reference_predict(query, samples, now=NOW, min_samples=min_samples)


def _event(rng: random.Random, number: int) -> dict[str, Any]:
    spread = rng.choice([13, 1000, 10_000_000])
    return event_dict(
        number,
        task_type=rng.choice(TASKS),
        model=rng.choice(MODELS),
        provider=rng.choice(PROVIDERS),
        complexity=rng.choice(COMPLEXITIES),
        estimated_input_tokens=rng.choice([0, rng.randrange(spread)]),
        estimated_output_tokens=rng.choice([0, rng.randrange(spread)]),
        actual_input_tokens=rng.randrange(spread),
        actual_output_tokens=rng.randrange(spread),
        actual_cost_usd_micros=rng.randrange(100_000_000),
        task_duration_ms=rng.randrange(86_400_000),
        quality_gate_passed=rng.random() < 0.5,
        outcome=rng.choice(["success", "failure", "partial", "timeout"]),
    )


def _all_queries() -> Iterator[PredictionQuery]:
    for task in [*TASKS, "planning"]:
        for model in [*MODELS, "unseen"]:
            for provider in [*PROVIDERS, "google"]:
                for complexity in [*COMPLEXITIES, "critical"]:
                    yield PredictionQuery.from_dict(
                        {
                            "task_type": task,
                            "model": model,
                            "provider": provider,
                            "complexity": complexity,
                        }
                    )


QUERIES = list(_all_queries())


@pytest.fixture(params=["memory", "file"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[EventStore]:
    opened = EventStore(":memory:" if request.param == "memory" else str(tmp_path / "e.db"))
    yield opened
    opened.close()


@pytest.mark.parametrize("seed", [1, 2])
def test_the_service_answers_as_the_first_method_while_events_keep_arriving(
    store: EventStore, seed: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_index, "_MIN_RUN", 8)  # merge runs often: every path of the index
    rng = random.Random(seed)
    least = rng.randint(1, 8)
    service = CollectorService(store, min_samples=least, clock=lambda: NOW)
    stored: list[Sample] = []
    number = 0
    for _ in range(4):
        batch = [_event(rng, number := number + 1) for _ in range(rng.randint(1, 60))]
        assert service.ingest({"events": batch}).rejected == 0
        stored += [Sample.from_event(TaskCompletionEvent.from_dict(e)) for e in batch]
        for start in range(0, len(QUERIES), 50):
            chunk = QUERIES[start : start + 50]
            got = service.predict({"queries": [q.to_dict() for q in chunk]})
            for query, response in zip(chunk, got, strict=True):
                expected = reference_predict(query, stored, now=NOW, min_samples=least)
                assert response.prediction == expected.prediction, query
                assert response.metadata.sample_size == expected.metadata.sample_size
                assert response.metadata.fallback_note == expected.metadata.fallback_note


def test_a_pool_over_many_models_and_complexities_is_still_exact() -> None:
    samples = [
        sample(
            model=f"m{i % 97}",
            complexity=COMPLEXITIES[i % 3],
            actual_input_tokens=i * 37 % 101,
            actual_output_tokens=i % 5,
        )
        for i in range(600)
    ]
    for model in ("unseen", "m3"):
        query = PredictionQuery.from_dict({**_q(), "model": model})
        assert predict(query, samples, now=NOW) == reference_predict(query, samples, now=NOW)


def _q() -> dict[str, str]:
    return {"task_type": "implementation", "model": "m0", "provider": "anthropic",
            "complexity": "low"}  # fmt: skip


# -- the saved index -------------------------------------------------------------------------------


def _service_answers(path: str) -> list[Any]:
    store = EventStore(path)
    try:
        service = CollectorService(store, clock=lambda: NOW)
        service.warm_up()
        return service.predict({"queries": [q.to_dict() for q in QUERIES[:50]]})
    finally:
        store.close()


def _saved(path: str) -> tuple[int, int] | None:
    import sqlite3

    conn = sqlite3.connect(path)
    try:
        row = conn.execute("SELECT last_seq, rewrites FROM collector_snapshot").fetchone()
    finally:
        conn.close()
    return None if row is None else (int(row[0]), int(row[1]))


def _expected(events: list[dict[str, Any]]) -> list[Any]:
    samples = [Sample.from_event(TaskCompletionEvent.from_dict(e)) for e in events]
    return [reference_predict(q, samples, now=NOW) for q in QUERIES[:50]]


@pytest.mark.parametrize("spoil", ["nothing", "delete", "garbage", "more events"])
def test_a_restart_loads_the_saved_index_only_while_it_is_still_true(
    tmp_path: Path, spoil: str
) -> None:
    import sqlite3

    from mosaic_telemetry.collector import Collector

    path = str(tmp_path / "events.db")
    rng = random.Random(7)
    stored = [_event(rng, n) for n in range(1, 300)]
    with Collector("5f" * 32, db_path=path) as collector:
        service = collector._service
        assert service is not None
        for start in range(0, len(stored), 100):
            service.ingest({"events": stored[start : start + 100]})
        service.warm_up()
    assert _saved(path) == (len(stored), 0)  # a clean stop saved the index
    with contextlib.closing(sqlite3.connect(path)) as conn, conn:
        if spoil == "delete":
            conn.execute("DELETE FROM events WHERE seq <= 50")
            stored = stored[50:]
        elif spoil == "garbage":
            conn.execute("UPDATE collector_snapshot SET data = x'00ff00ff'")
        elif spoil == "more events":
            store = EventStore(path)
            extra = [_event(rng, n) for n in range(1000, 1040)]
            store.add([TaskCompletionEvent.from_dict(e) for e in extra], received_at=NOW)
            store.close()
            stored += extra
    got = _service_answers(path)
    for response, expected in zip(got, _expected(stored), strict=True):
        assert response.prediction == expected.prediction
        assert response.metadata.sample_size == expected.metadata.sample_size


@PROPERTY_SETTINGS
@given(st.lists(_samples, max_size=40), _queries)
def test_a_dumped_index_loads_back_to_the_same_answers(
    samples: list[Sample], query: PredictionQuery
) -> None:
    from mosaic_telemetry.collector._answer import LEVEL_POSITIONS, answer, new_index, path
    from mosaic_telemetry.collector.predictions import sample_sums

    index = new_index()
    for s in samples:
        index.add(
            (s.task_type, s.model, s.provider, s.complexity),
            [[s.actual_input_tokens], [s.actual_output_tokens],
             [s.actual_cost_usd_micros], [s.task_duration_ms]],
            count=1,
            sums=sample_sums(s),
        )  # fmt: skip
    before = answer(query, path(index, query), now=NOW)
    loaded = _index.load(LEVEL_POSITIONS, _index.dump(index))
    assert answer(query, path(loaded, query), now=NOW) == before
    with pytest.raises(ValueError, match="snapshot"):
        _index.load(LEVEL_POSITIONS, _index.dump(index)[:-1] if samples else b"\0" * 9)
