"""EventStore: the collector's sqlite3 table of events, idempotent on event_id."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Sequence
from datetime import datetime, timezone

from .._validation import format_datetime
from ..enums import Outcome
from ..errors import TelemetryError
from ..models import TaskCompletionEvent
from .predictions import Sample

__all__ = ["SCHEMA_VERSION", "EventStore", "StoreError"]

SCHEMA_VERSION = 1
"""Version of the table layout, kept in ``PRAGMA user_version``."""

_SCHEMA = (
    """
    CREATE TABLE IF NOT EXISTS events (
        event_id TEXT PRIMARY KEY,
        instance_id TEXT NOT NULL,
        timestamp TEXT NOT NULL,
        received_at TEXT NOT NULL,
        task_type TEXT NOT NULL,
        model TEXT NOT NULL,
        provider TEXT NOT NULL,
        complexity TEXT NOT NULL,
        outcome TEXT NOT NULL,
        estimated_input_tokens INTEGER NOT NULL,
        estimated_output_tokens INTEGER NOT NULL,
        actual_input_tokens INTEGER NOT NULL,
        actual_output_tokens INTEGER NOT NULL,
        actual_cost_usd_micros INTEGER NOT NULL,
        task_duration_ms INTEGER NOT NULL,
        quality_gate_passed INTEGER NOT NULL,
        schema_version TEXT NOT NULL,
        harness TEXT NOT NULL,
        estimated_cost_usd_micros INTEGER NOT NULL,
        quality_gates_run TEXT NOT NULL,
        quality_gates_failed TEXT NOT NULL,
        context_compactions INTEGER NOT NULL,
        context_rotations INTEGER NOT NULL,
        context_utilization_final REAL NOT NULL,
        retry_count INTEGER NOT NULL,
        language TEXT,
        repo_size_category TEXT
    )
    """,
    "CREATE INDEX IF NOT EXISTS events_by_task_type ON events (task_type)",
    "PRAGMA user_version = 1",  # SCHEMA_VERSION; a PRAGMA takes no parameters
)

_INSERT = """
    INSERT OR IGNORE INTO events (
        event_id, instance_id, timestamp, received_at, task_type, model, provider,
        complexity, outcome, estimated_input_tokens, estimated_output_tokens,
        actual_input_tokens, actual_output_tokens, actual_cost_usd_micros,
        task_duration_ms, quality_gate_passed, schema_version, harness,
        estimated_cost_usd_micros, quality_gates_run, quality_gates_failed,
        context_compactions, context_rotations, context_utilization_final, retry_count,
        language, repo_size_category
    ) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
"""

_SELECT_SAMPLES = """
    SELECT task_type, model, provider, complexity,
           estimated_input_tokens, estimated_output_tokens,
           actual_input_tokens, actual_output_tokens,
           actual_cost_usd_micros, task_duration_ms, quality_gate_passed, outcome
    FROM events WHERE task_type = ?
"""


class StoreError(TelemetryError):
    """The event store can't be opened, read or written (the message says why)."""


def _row(event: TaskCompletionEvent, received_at: str) -> tuple[object, ...]:
    """Every field of the event as a column (gate lists comma-joined), UTC timestamps."""
    wire = event.to_dict()
    stamp = event.timestamp
    return (
        wire["event_id"],
        wire["instance_id"],
        wire["timestamp"]
        if stamp.tzinfo is timezone.utc
        else format_datetime(stamp.astimezone(timezone.utc)),
        received_at,
        wire["task_type"],
        wire["model"],
        wire["provider"],
        wire["complexity"],
        wire["outcome"],
        wire["estimated_input_tokens"],
        wire["estimated_output_tokens"],
        wire["actual_input_tokens"],
        wire["actual_output_tokens"],
        wire["actual_cost_usd_micros"],
        wire["task_duration_ms"],
        int(wire["quality_gate_passed"]),
        wire["schema_version"],
        wire["harness"],
        wire["estimated_cost_usd_micros"],
        ",".join(wire["quality_gates_run"]),
        ",".join(wire["quality_gates_failed"]),
        wire["context_compactions"],
        wire["context_rotations"],
        wire["context_utilization_final"],
        wire["retry_count"],
        wire["language"],
        wire["repo_size_category"],
    )


class EventStore:
    """Stored events in one sqlite3 database (a file, or ``":memory:"``).

    One connection serves every thread, guarded by a lock; every write is one
    transaction, so a failure leaves the table as it was. ``generation`` grows
    each time a write stores a new event (callers use it to invalidate caches).
    """

    def __init__(self, path: str = ":memory:") -> None:
        """Open (and if needed create) the database at ``path``.

        Raises:
            StoreError: the file can't be opened, isn't a database, or was
                written by a newer collector.
        """
        self._path = path
        self._lock = threading.Lock()
        self._generation = 0
        self._closed = False
        try:
            self._conn = sqlite3.connect(
                path, timeout=5.0, isolation_level=None, check_same_thread=False
            )
        except sqlite3.Error as exc:
            raise StoreError(f"cannot open event store {path!r}: {exc}") from None
        try:
            self._migrate()
        except sqlite3.Error as exc:
            self._conn.close()
            raise StoreError(f"cannot use event store {path!r}: {exc}") from None
        except StoreError:
            self._conn.close()
            raise

    def _migrate(self) -> None:
        conn = self._conn
        (version,) = conn.execute("PRAGMA user_version").fetchone()
        if version > SCHEMA_VERSION:
            raise StoreError(
                f"event store {self._path!r} has layout version {version}; "
                f"this collector reads up to {SCHEMA_VERSION}"
            )
        conn.execute("BEGIN IMMEDIATE")
        try:
            for statement in _SCHEMA:
                conn.execute(statement)
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise

    @property
    def path(self) -> str:
        """Where the database lives (``":memory:"`` for an in-memory store)."""
        return self._path

    @property
    def generation(self) -> int:
        """A counter that grows whenever new events are stored."""
        return self._generation

    def add(self, events: Sequence[TaskCompletionEvent], *, received_at: datetime) -> int:
        """Store ``events`` in one transaction; return how many were new.

        An event whose ``event_id`` is already stored is skipped (the first copy wins).

        Raises:
            StoreError: the write failed; nothing of this call was stored.
        """
        if not events:
            return 0
        received = format_datetime(received_at.astimezone(timezone.utc))
        rows = [_row(event, received) for event in events]
        with self._lock:
            conn = self._checked_connection()
            before = conn.total_changes
            try:
                conn.execute("BEGIN IMMEDIATE")
                conn.executemany(_INSERT, rows)
                conn.execute("COMMIT")
            except sqlite3.Error as exc:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise StoreError(f"cannot store events: {exc}") from None
            added = conn.total_changes - before
            if added:
                self._generation += 1
            return added

    def samples(self, task_type: str) -> list[Sample]:
        """Return the prediction fields of every stored event of ``task_type``.

        Raises:
            StoreError: the read failed.
        """
        with self._lock:
            conn = self._checked_connection()
            try:
                rows = conn.execute(_SELECT_SAMPLES, (task_type,)).fetchall()
            except sqlite3.Error as exc:
                raise StoreError(f"cannot read events: {exc}") from None
        success = Outcome.SUCCESS.value
        return [
            Sample(
                task_type=row[0],
                model=row[1],
                provider=row[2],
                complexity=row[3],
                estimated_input_tokens=row[4],
                estimated_output_tokens=row[5],
                actual_input_tokens=row[6],
                actual_output_tokens=row[7],
                actual_cost_usd_micros=row[8],
                task_duration_ms=row[9],
                quality_gate_passed=bool(row[10]),
                success=row[11] == success,
            )
            for row in rows
        ]

    def count(self) -> int:
        """Return the number of stored events."""
        with self._lock:
            conn = self._checked_connection()
            try:
                (total,) = conn.execute("SELECT COUNT(*) FROM events").fetchone()
            except sqlite3.Error as exc:
                raise StoreError(f"cannot read events: {exc}") from None
        return int(total)

    def close(self) -> None:
        """Close the database; safe to call twice."""
        with self._lock:
            if not self._closed:
                self._closed = True
                self._conn.close()

    def _checked_connection(self) -> sqlite3.Connection:
        if self._closed:
            raise StoreError("the event store is closed")
        return self._conn

    def __repr__(self) -> str:
        return f"EventStore(path={self._path!r})"
