"""EventStore: idempotent on event_id, one transaction per write, safe to reopen."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path

import pytest
from collector_fixtures import event_dict

from mosaic_telemetry import TaskCompletionEvent
from mosaic_telemetry.collector import EventStore, StoreError

RECEIVED = datetime(2026, 11, 24, 22, 0, tzinfo=timezone.utc)


def _events(*numbers: int, **overrides: object) -> list[TaskCompletionEvent]:
    return [TaskCompletionEvent.from_dict(event_dict(n, **overrides)) for n in numbers]


@pytest.fixture
def store() -> Iterator[EventStore]:
    opened = EventStore()
    yield opened
    opened.close()


def test_add_returns_how_many_events_were_new(store: EventStore) -> None:
    assert store.add(_events(1, 2, 3), received_at=RECEIVED) == 3
    assert store.add(_events(2, 3, 4), received_at=RECEIVED) == 1
    assert store.count() == 4


def test_an_event_sent_twice_is_stored_once_and_the_first_copy_wins(store: EventStore) -> None:
    store.add(_events(1, model="first"), received_at=RECEIVED)
    store.add(_events(1, model="second", task_type="implementation"), received_at=RECEIVED)
    assert store.count() == 1
    assert [s.model for s in store.samples("implementation")] == ["first"]


def test_duplicates_inside_one_write_are_stored_once(store: EventStore) -> None:
    assert store.add(_events(7, 7, 7), received_at=RECEIVED) == 1


def test_generation_grows_only_when_something_new_is_stored(store: EventStore) -> None:
    start = store.generation
    store.add(_events(1), received_at=RECEIVED)
    after_new = store.generation
    store.add(_events(1), received_at=RECEIVED)
    store.add([], received_at=RECEIVED)
    assert after_new > start
    assert store.generation == after_new


def test_samples_hold_only_the_asked_task_type_with_mapped_fields(store: EventStore) -> None:
    store.add(
        [
            *_events(1, outcome="success", quality_gate_passed=True),
            *_events(2, outcome="timeout", quality_gate_passed=False),
            *_events(3, task_type="testing"),
        ],
        received_at=RECEIVED,
    )
    got = sorted(store.samples("implementation"), key=lambda s: s.success)
    assert [(s.success, s.quality_gate_passed) for s in got] == [(False, False), (True, True)]
    assert {s.task_type for s in got} == {"implementation"}
    assert got[0].actual_input_tokens == 44_000
    assert store.samples("planning") == []


def test_a_file_store_keeps_its_events_across_reopening(tmp_path: Path) -> None:
    path = str(tmp_path / "events.db")
    first = EventStore(path)
    first.add(_events(1, 2), received_at=RECEIVED)
    first.close()
    second = EventStore(path)
    try:
        assert second.count() == 2
        assert second.add(_events(2), received_at=RECEIVED) == 0
    finally:
        second.close()


def test_a_failing_write_stores_nothing_of_its_batch(tmp_path: Path) -> None:
    path = str(tmp_path / "events.db")
    EventStore(path).close()
    # A trigger that fails on one event in the middle of the batch.
    with sqlite3.connect(path) as conn:
        conn.execute(
            "CREATE TRIGGER refuse BEFORE INSERT ON events WHEN NEW.model = 'poison' "
            "BEGIN SELECT RAISE(ABORT, 'refused by test'); END"
        )
    conn.close()
    store = EventStore(path)
    try:
        batch = [*_events(1, 2), *_events(3, model="poison"), *_events(4)]
        with pytest.raises(StoreError, match="cannot store events: refused by test"):
            store.add(batch, received_at=RECEIVED)
        assert store.count() == 0
        assert store.add(_events(1), received_at=RECEIVED) == 1
    finally:
        store.close()


def test_a_store_written_by_a_newer_collector_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "newer.db"
    with sqlite3.connect(path) as conn:
        conn.execute("PRAGMA user_version = 99")
    conn.close()
    with pytest.raises(StoreError, match="layout version 99; this collector reads up to 1"):
        EventStore(str(path))


def test_a_file_that_is_not_a_database_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_bytes(b"these are not the tables you are looking for\n" * 100)
    with pytest.raises(StoreError, match="cannot use event store"):
        EventStore(str(path))


def test_a_path_in_a_missing_directory_is_refused(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="cannot open event store"):
        EventStore(str(tmp_path / "missing" / "events.db"))


def test_a_closed_store_refuses_use_and_closes_twice_quietly() -> None:
    store = EventStore()
    store.close()
    store.close()
    with pytest.raises(StoreError, match="closed"):
        store.add(_events(1), received_at=RECEIVED)
    with pytest.raises(StoreError, match="closed"):
        store.count()


def test_every_field_of_an_event_is_kept_in_its_own_column(tmp_path: Path) -> None:
    path = str(tmp_path / "events.db")
    wire = event_dict(
        5,
        quality_gates_run=["build", "test"],
        quality_gates_failed=["test"],
        language="python",
        repo_size_category="large",
    )
    opened = EventStore(path)
    opened.add([TaskCompletionEvent.from_dict(wire)], received_at=RECEIVED)
    opened.close()
    with sqlite3.connect(path) as conn:
        conn.row_factory = sqlite3.Row
        row = dict(conn.execute("SELECT * FROM events").fetchone())
    conn.close()
    expected = TaskCompletionEvent.from_dict(wire).to_dict()
    for gates in ("quality_gates_run", "quality_gates_failed"):
        row[gates] = row[gates].split(",") if row[gates] else []
    row["quality_gate_passed"] = bool(row["quality_gate_passed"])
    assert {name: row[name] for name in expected} == expected
