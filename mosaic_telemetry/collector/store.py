"""EventStore: the collector's sqlite3 table of events, idempotent on event_id."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime

from ..errors import TelemetryError
from ..models import TaskCompletionEvent
from ._migrate import SCHEMA_VERSION, SNAPSHOT_TABLE, LayoutError, migrate
from ._schema import INSERT_COLUMNS, Row, event_row, utc_text

__all__ = ["SCHEMA_VERSION", "EventStore", "StoreError", "WriteResult"]

_INSERT = (
    f"INSERT OR IGNORE INTO events ({', '.join(INSERT_COLUMNS)}) "  # noqa: S608  # from COLUMNS
    f"VALUES ({', '.join('?' * len(INSERT_COLUMNS))})"
)
_DELETE_CHUNK = 5_000
_BUSY_TIMEOUT_S = 5.0
_CACHE_PRAGMA = "PRAGMA cache_size = -65536"  # KiB: 64 MiB


class StoreError(TelemetryError):
    """The event store can't be opened, read or written (the message says why)."""


@dataclass(frozen=True, slots=True)
class WriteResult:
    """What one write did: how many rows were new, and the rows the store refused."""

    added: int
    refused: dict[int, str] = field(default_factory=dict)
    """Index of the row in the write -> why sqlite refused it (a constraint or trigger)."""


def _connect(path: str, *, readonly: bool = False) -> sqlite3.Connection:
    conn = sqlite3.connect(
        path, timeout=_BUSY_TIMEOUT_S, isolation_level=None, check_same_thread=False
    )
    if readonly:
        try:
            conn.execute("PRAGMA query_only = ON")
        except BaseException:
            conn.close()  # not left for the collector to find (a ResourceWarning on 3.13+)
            raise
    return conn


def _rollback(conn: sqlite3.Connection) -> None:
    """End an open transaction; a failure here must not hide the error that led here."""
    if conn.in_transaction:
        try:
            conn.execute("ROLLBACK")
        except sqlite3.Error:
            pass


class EventStore:
    """Stored events in one sqlite3 database (a file, or ``":memory:"``).

    A file is used in WAL mode with full sync, so readers (predictions, the ``events``
    and ``export`` commands, other collectors) never block a write, and an
    acknowledged write survives a crash. Writes go through one connection, guarded
    by a lock; each is one transaction, and any exception inside it rolls it back,
    so a failure leaves the table as it was. Reads for predictions use a second
    connection (the same one for ``":memory:"``). ``generation`` grows each time
    this store writes a new event.
    """

    def __init__(self, path: str = ":memory:") -> None:
        """Open (and if needed create or upgrade) the database at ``path``.

        Raises:
            StoreError: the file can't be opened, isn't a database, or was
                written by a newer collector.
        """
        self._path = path
        self._lock = threading.Lock()
        self._read_lock = threading.Lock()
        self._generation = 0
        self._closed = False
        self._memory = path == ":memory:" or path.startswith("file::memory:") or not path
        try:
            self._conn = _connect(path)
        except sqlite3.Error as exc:
            raise StoreError(f"cannot open event store {path!r}: {exc}") from None
        self._reader = self._conn
        try:
            if not self._memory:
                self._conn.execute("PRAGMA journal_mode = WAL")
                self._conn.execute("PRAGMA synchronous = FULL")
                # The event_id index takes random keys: at a million events it no
                # longer fits sqlite's default 2 MiB cache, and every insert would
                # read a page back from the OS.
                self._conn.execute(_CACHE_PRAGMA)
            migrate(self._conn, path)
            if not self._memory:
                self._reader = _connect(path, readonly=True)
        except sqlite3.Error as exc:
            self._conn.close()
            raise StoreError(f"cannot use event store {path!r}: {exc}") from None
        except LayoutError as exc:
            self._conn.close()
            raise StoreError(str(exc)) from None
        except BaseException:
            self._conn.close()
            raise

    @property
    def path(self) -> str:
        """Where the database lives (``":memory:"`` for an in-memory store)."""
        return self._path

    @property
    def generation(self) -> int:
        """A counter that grows whenever this store writes new events."""
        return self._generation

    def add(self, events: Sequence[TaskCompletionEvent], *, received_at: datetime) -> int:
        """Store ``events`` in one transaction; return how many were new.

        An event whose ``event_id`` is already stored is skipped (the first copy wins).

        Raises:
            ValidationError: an event the store can't take (nothing was stored).
            StoreError: the write failed, or sqlite refused a row; nothing was stored.
        """
        received = utc_text(received_at)
        return self.add_rows([event_row(event, received) for event in events], whole=True).added

    def add_rows(self, rows: Sequence[Row], *, whole: bool = False) -> WriteResult:
        """Insert rows built by ``_schema`` in one transaction.

        A row sqlite refuses (a constraint or a trigger) is reported in
        ``refused`` and the others are stored (with ``whole``, it fails the write
        instead); any other failure stores nothing.

        Raises:
            StoreError: the write failed (disk full, locked, I/O, closed store).
        """
        if not rows:
            return WriteResult(0)
        with self._lock:
            conn = self._checked(self._conn)
            before = conn.total_changes
            try:
                try:
                    conn.execute("BEGIN IMMEDIATE")
                    conn.executemany(_INSERT, rows)
                    refused: dict[int, str] = {}
                except sqlite3.IntegrityError as exc:
                    _rollback(conn)
                    if whole:
                        raise StoreError(f"cannot store events: {exc}") from None
                    before = conn.total_changes  # it counts the rolled-back rows too
                    refused = self._insert_one_by_one(conn, rows)
                conn.execute("COMMIT")
            except sqlite3.Error as exc:
                _rollback(conn)
                raise StoreError(f"cannot store events: {exc}") from None
            except BaseException:
                _rollback(conn)
                raise
            added = conn.total_changes - before
            if added:
                self._generation += 1
            return WriteResult(added, refused)

    @staticmethod
    def _insert_one_by_one(conn: sqlite3.Connection, rows: Sequence[Row]) -> dict[int, str]:
        """Insert row by row in a new transaction, noting each row sqlite refuses."""
        refused: dict[int, str] = {}
        conn.execute("BEGIN IMMEDIATE")
        for index, row in enumerate(rows):
            try:
                conn.execute(_INSERT, row)
            except sqlite3.IntegrityError as exc:
                if not conn.in_transaction:  # RAISE(ROLLBACK) ended the whole transaction
                    raise sqlite3.OperationalError(f"the write was rolled back: {exc}") from None
                refused[index] = str(exc)
        return refused

    def delete_received_before(self, cutoff: datetime) -> int:
        """Delete the events received before ``cutoff``, in short transactions; return how many.

        Raises:
            StoreError: a delete failed (the chunks already deleted stay deleted).
        """
        bound = utc_text(cutoff)
        total = 0
        while True:
            with self._lock:
                conn = self._checked(self._conn)
                try:
                    conn.execute("BEGIN IMMEDIATE")
                    cursor = conn.execute(
                        "DELETE FROM events WHERE seq IN (SELECT seq FROM events "
                        "WHERE received_at < ? ORDER BY seq LIMIT ?)",
                        (bound, _DELETE_CHUNK),
                    )
                    deleted = cursor.rowcount
                    conn.execute("COMMIT")
                except sqlite3.Error as exc:
                    _rollback(conn)
                    raise StoreError(f"cannot delete old events: {exc}") from None
                except BaseException:
                    _rollback(conn)
                    raise
            if deleted > 0:
                self._generation += 1
            total += max(deleted, 0)
            if deleted < _DELETE_CHUNK:
                return total

    def save_snapshot(self, last_seq: int, rewrites: int, data: bytes) -> None:
        """Keep the prediction index's bytes, covering the events up to ``last_seq``.

        Raises:
            StoreError: the write failed.
        """
        with self._lock:
            conn = self._checked(self._conn)
            try:
                conn.execute("BEGIN IMMEDIATE")
                conn.execute(SNAPSHOT_TABLE)
                conn.execute(
                    "INSERT OR REPLACE INTO collector_snapshot (id, last_seq, rewrites, data) "
                    "VALUES (1, ?, ?, ?)",
                    (last_seq, rewrites, data),
                )
                conn.execute("COMMIT")
            except sqlite3.Error as exc:
                _rollback(conn)
                raise StoreError(f"cannot save the prediction index: {exc}") from None
            except BaseException:
                _rollback(conn)
                raise

    @contextmanager
    def reading(self) -> Iterator[sqlite3.Connection]:
        """The read connection, in one read transaction (a consistent snapshot).

        Raises:
            StoreError: the store is closed, or a read failed.
        """
        lock = self._lock if self._reader is self._conn else self._read_lock
        with lock:
            conn = self._checked(self._reader)
            try:
                conn.execute("BEGIN")
                try:
                    yield conn
                finally:
                    _rollback(conn)
            except sqlite3.Error as exc:
                raise StoreError(f"cannot read events: {exc}") from None

    def data_version(self) -> tuple[int, int]:
        """A value that changes whenever any connection, in any process, changed the table.

        Raises:
            StoreError: the store is closed, or the check failed.
        """
        if self._reader is self._conn:
            return (0, self._generation)  # one connection, in-memory: only this store writes
        with self._read_lock:
            conn = self._checked(self._reader)
            try:
                (version,) = conn.execute("PRAGMA data_version").fetchone()
            except sqlite3.Error as exc:
                raise StoreError(f"cannot read events: {exc}") from None
        return (int(version), self._generation)

    def count(self) -> int:
        """Return the number of stored events."""
        with self.reading() as conn:
            (total,) = conn.execute("SELECT COUNT(*) FROM events").fetchone()
        return int(total)

    def close(self) -> None:
        """Close the database; safe to call twice."""
        with self._lock, self._read_lock:
            if not self._closed:
                self._closed = True
                if self._reader is not self._conn:
                    self._reader.close()
                self._conn.close()

    def _checked(self, conn: sqlite3.Connection) -> sqlite3.Connection:
        if self._closed:
            raise StoreError("the event store is closed")
        return conn

    def __repr__(self) -> str:
        return f"EventStore(path={self._path!r})"
