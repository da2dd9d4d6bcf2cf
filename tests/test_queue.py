"""EventQueue: FIFO order under put, drain, put_back and eviction; counts; thread safety."""

from __future__ import annotations

import sys
import threading
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule
from strategies import sample_event_kwargs

from mosaic_telemetry import EventQueue, TaskCompletionEvent

_EVENTS: dict[int, TaskCompletionEvent] = {}


def ev(number: int) -> TaskCompletionEvent:
    """Event number ``number``: distinct events, made once and reused."""
    event = _EVENTS.get(number)
    if event is None:
        event = TaskCompletionEvent(
            **sample_event_kwargs(event_id=uuid.UUID(int=number), task_duration_ms=number)
        )
        _EVENTS[number] = event
    return event


def numbers(events: list[TaskCompletionEvent]) -> list[int]:
    return [e.task_duration_ms for e in events]


def filled(max_size: int, *items: int) -> EventQueue:
    queue = EventQueue(max_size=max_size)
    for number in items:
        queue.put(ev(number))
    return queue


# --- construction -------------------------------------------------------------------------------


def test_default_max_size_is_1000() -> None:
    queue = EventQueue()
    assert queue.max_size == 1000
    assert queue.size == 0
    assert queue.is_empty
    assert queue.dropped == 0


@pytest.mark.parametrize("max_size", [0, -1, True, 1.5, "10", None])
def test_max_size_must_be_a_positive_int(max_size: Any) -> None:
    with pytest.raises(ValueError, match="max_size"):
        EventQueue(max_size=max_size)


# --- order --------------------------------------------------------------------------------------


def test_drain_returns_events_in_the_order_they_were_put() -> None:
    queue = filled(10, 1, 2, 3, 4, 5)
    assert numbers(queue.drain(10)) == [1, 2, 3, 4, 5]
    assert queue.is_empty


@pytest.mark.parametrize(
    ("max_items", "taken", "left"),
    [
        (0, [], [1, 2, 3]),
        (1, [1], [2, 3]),
        (2, [1, 2], [3]),
        (3, [1, 2, 3], []),
        (99, [1, 2, 3], []),
    ],
)
def test_drain_takes_up_to_max_items_of_the_oldest(
    max_items: int, taken: list[int], left: list[int]
) -> None:
    queue = filled(10, 1, 2, 3)
    assert numbers(queue.drain(max_items)) == taken
    assert numbers(queue.drain(99)) == left


def test_drain_of_an_empty_queue_is_an_empty_list() -> None:
    assert EventQueue(max_size=3).drain(5) == []


def test_put_on_a_full_queue_evicts_the_oldest_and_counts_it() -> None:
    queue = filled(3, 1, 2, 3)
    assert queue.dropped == 0
    queue.put(ev(4))
    assert queue.size == 3
    assert queue.dropped == 1
    queue.put(ev(5))
    assert queue.dropped == 2
    assert numbers(queue.drain(10)) == [3, 4, 5]


def test_put_back_reinserts_at_the_front_in_original_order() -> None:
    queue = filled(10, 1, 2, 3, 4)
    batch = queue.drain(2)
    queue.put(ev(5))
    queue.put_back(batch)
    assert numbers(queue.drain(10)) == [1, 2, 3, 4, 5]
    assert queue.dropped == 0


def test_put_back_past_max_size_keeps_the_newest_and_counts_the_rest() -> None:
    queue = filled(4, 5, 6, 7)
    queue.put_back([ev(1), ev(2), ev(3)])
    assert numbers(queue.drain(10)) == [3, 5, 6, 7]
    assert queue.dropped == 2


def test_put_back_into_a_full_queue_drops_every_put_back_event() -> None:
    queue = filled(3, 4, 5, 6)
    queue.put_back([ev(1), ev(2)])
    assert numbers(queue.drain(10)) == [4, 5, 6]
    assert queue.dropped == 2


def test_put_back_of_more_than_max_size_into_an_empty_queue_keeps_the_newest() -> None:
    queue = EventQueue(max_size=3)
    queue.put_back([ev(n) for n in range(1, 8)])
    assert numbers(queue.drain(10)) == [5, 6, 7]
    assert queue.dropped == 4


def test_put_back_of_nothing_changes_nothing() -> None:
    queue = filled(3, 1, 2, 3)
    queue.put_back([])
    assert numbers(queue.drain(10)) == [1, 2, 3]
    assert queue.dropped == 0


def test_put_back_takes_any_iterable() -> None:
    queue = filled(5, 3)
    queue.put_back(ev(n) for n in (1, 2))
    assert numbers(queue.drain(10)) == [1, 2, 3]


def test_clear_empties_the_queue_without_counting_drops() -> None:
    queue = filled(5, 1, 2, 3)
    assert queue.clear() == 3
    assert queue.is_empty
    assert queue.size == 0
    assert queue.dropped == 0
    queue.put(ev(4))
    assert numbers(queue.drain(10)) == [4]


def test_size_is_empty_and_len_follow_the_contents() -> None:
    queue = EventQueue(max_size=2)
    assert (queue.size, len(queue), queue.is_empty) == (0, 0, True)
    queue.put(ev(1))
    assert (queue.size, len(queue), queue.is_empty) == (1, 1, False)
    queue.put(ev(2))
    queue.put(ev(3))
    assert (queue.size, len(queue), queue.is_empty) == (2, 2, False)


def test_the_same_event_object_comes_back() -> None:
    queue = EventQueue(max_size=2)
    queue.put(ev(1))
    assert queue.drain(1)[0] is ev(1)


# --- stateful: the queue behaves like a plain list ----------------------------------------------


class QueueAgainstList(RuleBasedStateMachine):
    """Every operation on EventQueue matches the same operation on a plain list."""

    def __init__(self) -> None:
        super().__init__()
        self.max_size = 5
        self.queue = EventQueue(max_size=self.max_size)
        self.model: list[int] = []
        self.dropped = 0
        self.next_number = 0
        self.last_drained: list[int] = []

    def _fresh(self, count: int) -> list[int]:
        start = self.next_number
        self.next_number += count
        return list(range(start, start + count))

    @rule()
    def put(self) -> None:
        (number,) = self._fresh(1)
        self.queue.put(ev(number))
        if len(self.model) == self.max_size:
            self.model.pop(0)
            self.dropped += 1
        self.model.append(number)

    @rule(max_items=st.integers(min_value=0, max_value=7))
    def drain(self, max_items: int) -> None:
        got = numbers(self.queue.drain(max_items))
        expected, self.model = self.model[:max_items], self.model[max_items:]
        assert got == expected
        self.last_drained = got

    def _put_back(self, items: list[int]) -> None:
        self.queue.put_back([ev(n) for n in items])
        combined = items + self.model
        overflow = max(0, len(combined) - self.max_size)
        self.dropped += overflow
        self.model = combined[overflow:]

    @precondition(lambda self: bool(self.last_drained))
    @rule()
    def put_back_last_drained(self) -> None:
        items, self.last_drained = self.last_drained, []
        self._put_back(items)

    @rule(count=st.integers(min_value=0, max_value=8))
    def put_back_fresh(self, count: int) -> None:
        self._put_back(self._fresh(count))

    @rule()
    def clear(self) -> None:
        assert self.queue.clear() == len(self.model)
        self.model = []

    @invariant()
    def same_contents_size_and_drops(self) -> None:
        assert self.queue.size == len(self.model) <= self.max_size
        assert self.queue.is_empty == (not self.model)
        assert self.queue.dropped == self.dropped


QueueAgainstList.TestCase.settings = settings(
    max_examples=60, stateful_step_count=30, deadline=None
)
test_queue_behaves_like_a_plain_list = QueueAgainstList.TestCase


# --- threads ------------------------------------------------------------------------------------

THREADS = 8
PER_THREAD = 2_000


@pytest.fixture
def _fast_thread_switching() -> Iterator[None]:
    """Switch threads far more often than the default 5 ms, so operations interleave."""
    previous = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        yield
    finally:
        sys.setswitchinterval(previous)


def _run_threads(work: Callable[[int], None]) -> None:
    barrier = threading.Barrier(THREADS)
    errors: list[BaseException] = []

    def body(index: int) -> None:
        try:
            barrier.wait(timeout=10)
            work(index)
        except BaseException as exc:  # reported by the main thread
            errors.append(exc)

    threads = [
        threading.Thread(target=body, args=(i,), name=f"queue-test-{i}") for i in range(THREADS)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(t.is_alive() for t in threads)
    assert errors == []


def _numbered_events(thread: int) -> list[TaskCompletionEvent]:
    base = thread * PER_THREAD
    return [ev(base + i) for i in range(PER_THREAD)]


@pytest.mark.usefixtures("_fast_thread_switching")
def test_eight_threads_putting_and_draining_lose_and_duplicate_nothing() -> None:
    queue = EventQueue(max_size=THREADS * PER_THREAD)
    batches = [_numbered_events(t) for t in range(THREADS)]
    taken: list[list[TaskCompletionEvent]] = [[] for _ in range(THREADS)]

    def work(index: int) -> None:
        for i, event in enumerate(batches[index]):
            queue.put(event)
            if i % 3 == 0:
                taken[index].extend(queue.drain(4))

    _run_threads(work)
    received = [e for part in taken for e in part] + queue.drain(THREADS * PER_THREAD)
    counts = Counter(id(e) for e in received)
    assert len(received) == THREADS * PER_THREAD
    assert max(counts.values()) == 1
    assert set(counts) == {id(e) for batch in batches for e in batch}
    assert queue.dropped == 0
    for part in taken:  # one drainer sees each producer's events in their order
        for producer in range(THREADS):
            mine = [n for n in numbers(part) if n // PER_THREAD == producer]
            assert mine == sorted(mine)


@pytest.mark.usefixtures("_fast_thread_switching")
def test_eight_threads_with_evictions_and_put_back_account_for_every_event() -> None:
    queue = EventQueue(max_size=64)
    batches = [_numbered_events(t) for t in range(THREADS)]
    kept: list[list[TaskCompletionEvent]] = [[] for _ in range(THREADS)]

    def work(index: int) -> None:
        for i, event in enumerate(batches[index]):
            queue.put(event)
            if i % 5 == 0:
                batch = queue.drain(6)
                if i % 2:
                    queue.put_back(batch[:3])  # a failed send re-queues part of its batch
                    batch = batch[3:]
                kept[index].extend(batch)

    _run_threads(work)
    received = [e for part in kept for e in part] + queue.drain(THREADS * PER_THREAD)
    counts = Counter(id(e) for e in received)
    assert max(counts.values()) == 1
    assert set(counts) <= {id(e) for batch in batches for e in batch}
    assert len(received) + queue.dropped == THREADS * PER_THREAD
    assert queue.dropped > 0
