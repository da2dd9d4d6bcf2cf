"""EventStore: idempotent on event_id, one transaction per write, safe to reopen."""

from __future__ import annotations

import contextlib
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from collector_fixtures import event_dict

from mosaic_telemetry import TaskCompletionEvent
from mosaic_telemetry.collector import EventStore, StoreError
from mosaic_telemetry.collector._schema import event_row

RECEIVED = datetime(2026, 11, 24, 22, 0, tzinfo=timezone.utc)


def _events(*numbers: int, **overrides: object) -> list[TaskCompletionEvent]:
    return [TaskCompletionEvent.from_dict(event_dict(n, **overrides)) for n in numbers]


def _rows(*numbers: int, **overrides: object) -> list[tuple[Any, ...]]:
    return [event_row(e, "2026-11-24T22:00:00.000000Z") for e in _events(*numbers, **overrides)]


def _column(store: EventStore, name: str) -> list[Any]:
    with store.reading() as conn:
        return [row[0] for row in conn.execute(f"SELECT {name} FROM events ORDER BY seq")]


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
    assert _column(store, "model") == ["first"]


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
    with contextlib.closing(sqlite3.connect(path)) as conn, conn:
        conn.execute(
            "CREATE TRIGGER refuse BEFORE INSERT ON events WHEN NEW.model = 'poison' "
            "BEGIN SELECT RAISE(ABORT, 'refused by test'); END"
        )
    store = EventStore(path)
    try:
        batch = [*_events(1, 2), *_events(3, model="poison"), *_events(4)]
        with pytest.raises(StoreError, match="cannot store events: refused by test"):
            store.add(batch, received_at=RECEIVED)
        assert store.count() == 0
        assert store.add(_events(1), received_at=RECEIVED) == 1
        written = store.add_rows([*_rows(5), *_rows(6, model="poison"), *_rows(7)])
        assert (written.added, written.refused) == (2, {1: "refused by test"})
        assert _column(store, "event_id")[1:] == [
            event_dict(5)["event_id"],
            event_dict(7)["event_id"],
        ]
    finally:
        store.close()


def test_a_store_written_by_a_newer_collector_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "newer.db"
    with contextlib.closing(sqlite3.connect(path)) as conn:
        conn.execute("PRAGMA user_version = 99")
    with pytest.raises(StoreError, match="layout version 99; this collector reads up to 3"):
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
    with contextlib.closing(sqlite3.connect(path)) as conn:
        conn.row_factory = sqlite3.Row
        row = dict(conn.execute("SELECT * FROM events").fetchone())
    expected = TaskCompletionEvent.from_dict(wire).to_dict()
    assert row["timestamp"] == "2026-11-24T22:00:00.000000Z"
    row["timestamp"] = expected["timestamp"]
    for gates in ("quality_gates_run", "quality_gates_failed"):
        row[gates] = row[gates].split(",") if row[gates] else []
    row["quality_gate_passed"] = bool(row["quality_gate_passed"])
    assert {name: row[name] for name in expected} == expected


# -- any exception inside a write rolls it back ---------------------------------------------------


class _Poisoned(list):  # type: ignore[type-arg]  # rows, then a failure half-way through
    def __init__(self, rows: list[tuple[Any, ...]], failure: BaseException | tuple[Any, ...]):
        super().__init__(rows)
        self.failure = failure

    def __iter__(self) -> Iterator[Any]:
        half = len(self) // 2
        yield from list.__iter__(self[:half])
        if isinstance(self.failure, BaseException):
            raise self.failure
        yield self.failure  # a row sqlite3 cannot bind
        yield from list.__iter__(self[half:])


def _lone_surrogate_row() -> tuple[Any, ...]:
    row = list(_rows(999)[0])
    row[9] = "\ud800"  # model: the check that refuses it before a write is skipped here
    return tuple(row)


def _huge_int_row() -> tuple[Any, ...]:
    row = list(_rows(998)[0])
    row[5] = 2**70  # too large for an sqlite INTEGER: OverflowError
    return tuple(row)


def _unbindable_row() -> tuple[Any, ...]:
    row = list(_rows(997)[0])
    row[5] = object()  # sqlite3.ProgrammingError: type not supported
    return tuple(row)


_LOCK_PROBE = """
import sqlite3, sys
conn = sqlite3.connect(sys.argv[1], timeout=0, isolation_level=None)
conn.execute("BEGIN IMMEDIATE")
conn.execute("INSERT INTO collector_meta (key, value) VALUES ('probe', 1)")
conn.execute("ROLLBACK")
print(conn.execute("SELECT COUNT(*) FROM events").fetchone()[0])
conn.close()
"""


@pytest.mark.parametrize(
    ("failure", "raised"),
    [
        (_lone_surrogate_row(), UnicodeEncodeError),
        (_huge_int_row(), OverflowError),
        (_unbindable_row(), StoreError),  # sqlite3.ProgrammingError, reported as the store
        (KeyboardInterrupt(), KeyboardInterrupt),
        (MemoryError(), MemoryError),
        (RuntimeError("bug"), RuntimeError),
        (sqlite3.OperationalError("disk I/O error"), StoreError),
    ],
    ids=[
        "UnicodeEncodeError",
        "OverflowError",
        "ProgrammingError",
        "KeyboardInterrupt",
        "MemoryError",
        "RuntimeError",
        "sqlite3.OperationalError",
    ],
)
def test_any_exception_inside_a_write_rolls_it_back_and_frees_the_file(
    tmp_path: Path, failure: Any, raised: type[BaseException]
) -> None:
    path = str(tmp_path / "events.db")
    store = EventStore(path)
    try:
        store.add(_events(1), received_at=RECEIVED)
        with pytest.raises(raised):
            store.add_rows(_Poisoned(_rows(*range(10, 110)), failure))
        assert store.count() == 1  # not 51: the half written is gone
        # Another process can write at once: no transaction was left open.
        probe = subprocess.run(
            [sys.executable, "-c", _LOCK_PROBE, path],
            capture_output=True, text=True, timeout=60, check=False,
        )  # fmt: skip
        assert probe.returncode == 0, probe.stderr
        assert probe.stdout.strip() == "1"
        assert store.add_rows(_rows(2, 3)).added == 2  # the next, innocent write works
    finally:
        store.close()


def test_a_trigger_that_rolls_back_the_whole_write_stores_nothing(tmp_path: Path) -> None:
    path = str(tmp_path / "events.db")
    EventStore(path).close()
    with contextlib.closing(sqlite3.connect(path)) as conn, conn:
        conn.execute(
            "CREATE TRIGGER refuse BEFORE INSERT ON events WHEN NEW.model = 'poison' "
            "BEGIN SELECT RAISE(ROLLBACK, 'all or nothing'); END"
        )
    store = EventStore(path)
    try:
        with pytest.raises(StoreError, match="all or nothing"):
            store.add_rows([*_rows(1), *_rows(2, model="poison")])
        assert store.count() == 0
    finally:
        store.close()


# -- layout upgrade, change token, retention ------------------------------------------------------

_LAYOUT_1 = """
CREATE TABLE events (
    event_id TEXT PRIMARY KEY, instance_id TEXT NOT NULL, timestamp TEXT NOT NULL,
    received_at TEXT NOT NULL, task_type TEXT NOT NULL, model TEXT NOT NULL,
    provider TEXT NOT NULL, complexity TEXT NOT NULL, outcome TEXT NOT NULL,
    estimated_input_tokens INTEGER NOT NULL, estimated_output_tokens INTEGER NOT NULL,
    actual_input_tokens INTEGER NOT NULL, actual_output_tokens INTEGER NOT NULL,
    actual_cost_usd_micros INTEGER NOT NULL, task_duration_ms INTEGER NOT NULL,
    quality_gate_passed INTEGER NOT NULL, schema_version TEXT NOT NULL, harness TEXT NOT NULL,
    estimated_cost_usd_micros INTEGER NOT NULL, quality_gates_run TEXT NOT NULL,
    quality_gates_failed TEXT NOT NULL, context_compactions INTEGER NOT NULL,
    context_rotations INTEGER NOT NULL, context_utilization_final REAL NOT NULL,
    retry_count INTEGER NOT NULL, language TEXT, repo_size_category TEXT
);
CREATE INDEX events_by_task_type ON events (task_type);
PRAGMA user_version = 1;
"""


def test_a_database_of_the_first_collector_is_upgraded_with_its_events(tmp_path: Path) -> None:
    path = str(tmp_path / "old.db")
    conn = sqlite3.connect(path)
    conn.executescript(_LAYOUT_1)
    wire = event_dict(1)
    names = [n for n in wire if n != "timestamp"]
    for number, stamp in ((1, "2026-11-24T22:00:00Z"), (2, "2026-11-24T22:00:00.500000Z")):
        values = {**event_dict(number), "timestamp": stamp, "received_at": stamp}
        values["quality_gate_passed"] = 1
        values["quality_gates_run"] = "build,lint"
        values["quality_gates_failed"] = ""
        columns = [*names, "timestamp", "received_at"]
        conn.execute(
            f"INSERT INTO events ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})",
            [values[c] for c in columns],
        )
    conn.commit()
    conn.close()
    store = EventStore(path)
    try:
        assert _column(store, "timestamp") == [
            "2026-11-24T22:00:00.000000Z",
            "2026-11-24T22:00:00.500000Z",
        ]
        assert _column(store, "seq") == [1, 2]
        assert _column(store, "quality_gates_run") == ["build,lint"] * 2
        assert store.add(_events(1, 3), received_at=RECEIVED) == 1  # still idempotent
        with store.reading() as conn:
            assert conn.execute("PRAGMA user_version").fetchone() == (3,)
    finally:
        store.close()


def test_the_data_version_moves_when_another_connection_writes(tmp_path: Path) -> None:
    path = str(tmp_path / "events.db")
    store, other = EventStore(path), EventStore(path)
    try:
        before = store.data_version()
        assert store.data_version() == before
        other.add(_events(1), received_at=RECEIVED)
        after = store.data_version()
        assert after != before
        store.add(_events(2), received_at=RECEIVED)
        assert store.data_version() != after
    finally:
        store.close()
        other.close()


def test_events_received_before_a_cutoff_are_deleted_and_the_rest_kept(store: EventStore) -> None:
    store.add(_events(1, 2), received_at=RECEIVED - timedelta(days=10))
    store.add(_events(3), received_at=RECEIVED)
    assert store.delete_received_before(RECEIVED - timedelta(days=1)) == 2
    assert _column(store, "event_id") == [event_dict(3)["event_id"]]
    assert store.delete_received_before(RECEIVED - timedelta(days=1)) == 0
