"""PredictionCache: TTL expiry on an injected clock, the four-dimension key, thread safety."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from strategies import PROPERTY_SETTINGS, prediction_queries

from mosaic_telemetry import (
    Complexity,
    PredictionCache,
    PredictionMetadata,
    PredictionQuery,
    PredictionResponse,
    Provider,
    TaskType,
)


class FakeClock:
    """A monotonic clock that moves only when told to."""

    def __init__(self, start: float = 1000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def query(**overrides: Any) -> PredictionQuery:
    values: dict[str, Any] = {
        "task_type": TaskType.IMPLEMENTATION,
        "model": "claude-sonnet-4",
        "provider": Provider.ANTHROPIC,
        "complexity": Complexity.MEDIUM,
    }
    values.update(overrides)
    return PredictionQuery(**values)


def response(sample_size: int = 10) -> PredictionResponse:
    return PredictionResponse(
        prediction=None,
        metadata=PredictionMetadata(sample_size=sample_size, fallback_level=0, confidence="low"),
    )


def test_default_ttl_is_six_hours() -> None:
    assert PredictionCache().ttl_seconds == 21600.0


def test_a_fresh_cache_is_empty() -> None:
    cache = PredictionCache(clock=FakeClock())
    assert cache.size == 0
    assert cache.get(query()) is None


def test_get_returns_what_put_stored() -> None:
    cache = PredictionCache(60.0, clock=FakeClock())
    stored = response()
    cache.put(query(), stored)
    assert cache.get(query()) is stored
    assert cache.size == 1


@pytest.mark.parametrize("elapsed", [0.0, 1.0, 59.0, 59.999])
def test_entry_lives_until_its_ttl_runs_out(elapsed: float) -> None:
    clock = FakeClock()
    cache = PredictionCache(60.0, clock=clock)
    cache.put(query(), response())
    clock.advance(elapsed)
    assert cache.get(query()) is not None


@pytest.mark.parametrize("elapsed", [60.0, 60.001, 3600.0, 1e9])
def test_expired_entry_reads_as_none_and_is_removed(elapsed: float) -> None:
    clock = FakeClock()
    cache = PredictionCache(60.0, clock=clock)
    cache.put(query(), response())
    cache.put(query(model="other"), response())
    clock.advance(elapsed)
    assert cache.size == 2  # expired entries stay until read (spec: "including possibly expired")
    assert cache.get(query()) is None
    assert cache.size == 1
    assert cache.get(query()) is None


def test_put_again_renews_the_ttl_and_replaces_the_response() -> None:
    clock = FakeClock()
    cache = PredictionCache(60.0, clock=clock)
    cache.put(query(), response(1))
    clock.advance(50)
    newer = response(2)
    cache.put(query(), newer)
    clock.advance(50)
    assert cache.get(query()) is newer
    assert cache.size == 1


def test_a_ttl_of_zero_caches_nothing_readable() -> None:
    cache = PredictionCache(0, clock=FakeClock())
    cache.put(query(), response())
    assert cache.get(query()) is None


def test_expiry_follows_the_injected_clock_not_the_wall_clock() -> None:
    clock = FakeClock()
    cache = PredictionCache(1.0, clock=clock)
    cache.put(query(), response())
    # No real time matters: only the injected clock moves entries to expiry.
    assert cache.get(query()) is not None
    clock.advance(1.0)
    assert cache.get(query()) is None


def test_clear_removes_every_entry() -> None:
    cache = PredictionCache(60.0, clock=FakeClock())
    for model in ("a", "b", "c"):
        cache.put(query(model=model), response())
    assert cache.size == 3
    cache.clear()
    assert cache.size == 0
    assert cache.get(query(model="a")) is None


@pytest.mark.parametrize(
    "other",
    [
        {"task_type": TaskType.TESTING},
        {"model": "claude-opus-4"},
        {"provider": Provider.OPENROUTER},
        {"complexity": Complexity.HIGH},
    ],
    ids=lambda o: next(iter(o)),
)
def test_each_of_the_four_dimensions_is_part_of_the_key(other: dict[str, Any]) -> None:
    cache = PredictionCache(60.0, clock=FakeClock())
    first, second = response(1), response(2)
    cache.put(query(), first)
    cache.put(query(**other), second)
    assert cache.size == 2
    assert cache.get(query()) is first
    assert cache.get(query(**other)) is second


def test_equal_queries_built_differently_share_an_entry() -> None:
    cache = PredictionCache(60.0, clock=FakeClock())
    stored = response()
    cache.put(query(), stored)
    same = PredictionQuery.from_dict(
        {
            "task_type": "implementation",
            "model": "claude-sonnet-4",
            "provider": "anthropic",
            "complexity": "medium",
        }
    )
    assert cache.get(same) is stored


@pytest.mark.parametrize("ttl", [-1, -0.5, float("nan"), True, "60", None])
def test_ttl_must_be_a_number_of_zero_or_more(ttl: Any) -> None:
    with pytest.raises(ValueError, match="ttl_seconds"):
        PredictionCache(ttl)


def test_repr_shows_size_and_ttl() -> None:
    cache = PredictionCache(60.0, clock=FakeClock())
    cache.put(query(), response())
    assert repr(cache) == "PredictionCache(size=1, ttl_seconds=60.0)"


@PROPERTY_SETTINGS
@given(
    ttl=st.floats(min_value=0.0, max_value=1e6),
    steps=st.lists(
        st.tuples(prediction_queries(), st.floats(min_value=0.0, max_value=1e6)), max_size=12
    ),
)
def test_cache_never_returns_an_expired_entry(
    ttl: float, steps: list[tuple[PredictionQuery, float]]
) -> None:
    clock = FakeClock(0.0)
    cache = PredictionCache(ttl, clock=clock)
    stored_at: dict[tuple[str, str, str, str], tuple[float, PredictionResponse]] = {}
    for q, wait in steps:
        old = stored_at.get(q.key)
        got = cache.get(q)
        if old is None or clock.now >= old[0] + ttl:
            assert got is None
        else:
            assert got is old[1]
        fresh = response()
        cache.put(q, fresh)
        stored_at[q.key] = (clock.now, fresh)
        clock.advance(wait)


def test_threads_putting_reading_and_clearing_never_fail() -> None:
    clock = FakeClock()
    cache = PredictionCache(30.0, clock=clock)
    queries = [query(model=f"model-{i}") for i in range(20)]
    stored = {q.key: response(i) for i, q in enumerate(queries)}
    barrier = threading.Barrier(8)
    errors: list[BaseException] = []
    wrong: list[object] = []

    def work(index: int) -> None:
        try:
            barrier.wait(timeout=10)
            for step in range(2_000):
                q = queries[(index + step) % len(queries)]
                if step % 50 == 0 and index == 0:
                    cache.clear()
                elif step % 97 == 0 and index == 1:
                    clock.advance(31.0)  # expire everything stored so far
                elif step % 2:
                    cache.put(q, stored[q.key])
                else:
                    got = cache.get(q)
                    if got is not None and got is not stored[q.key]:
                        wrong.append(got)
                _ = cache.size
        except BaseException as exc:  # reported by the main thread
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(t.is_alive() for t in threads)
    assert errors == []
    assert wrong == []
    assert 0 <= cache.size <= len(queries)


# -- the bound ---------------------------------------------------------------------------


def test_expired_entries_are_purged_as_new_ones_come() -> None:
    clock = FakeClock()
    cache = PredictionCache(ttl_seconds=60.0, clock=clock)
    answer = response()
    for index in range(100_000):
        cache.put(query(model=f"model-{index}"), answer)
        if index % 1000 == 999:
            clock.advance(61.0)  # every entry so far has expired
    assert cache.size <= 1000


def test_a_full_cache_evicts_its_oldest_entry() -> None:
    clock = FakeClock()
    cache = PredictionCache(ttl_seconds=3600.0, clock=clock, max_entries=10)
    for index in range(25):
        cache.put(query(model=f"model-{index}"), response(index))
        clock.advance(1.0)
    assert (cache.size, cache.max_entries) == (10, 10)
    assert cache.get(query(model="model-14")) is None
    assert [cache.get(query(model=f"model-{i}")) for i in range(15, 25)] == [
        response(i) for i in range(15, 25)
    ]


def test_a_renewed_entry_is_the_newest() -> None:
    cache = PredictionCache(ttl_seconds=3600.0, clock=FakeClock(), max_entries=2)
    cache.put(query(model="a"), response(1))
    cache.put(query(model="b"), response(2))
    cache.put(query(model="a"), response(3))  # renewed: "b" is now the oldest
    cache.put(query(model="c"), response(4))
    assert cache.get(query(model="b")) is None
    assert cache.get(query(model="a")) == response(3)


@pytest.mark.parametrize("bad", [0, -1, 1.5, "10", True, None])
def test_max_entries_must_be_a_positive_int(bad: Any) -> None:
    with pytest.raises(ValueError, match="max_entries must be a positive int"):
        PredictionCache(max_entries=bad)
