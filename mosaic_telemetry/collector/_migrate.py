"""Create the events table, or bring an older collector's database up to this layout.

Layout 3 (this one): ``events`` as ``_schema.COLUMNS`` derives it from the event's
field table (``seq``, the event's fields in the spec's order, ``received_at``),
``collector_meta`` with a ``rewrites`` counter that triggers raise on every UPDATE
or DELETE of an event (the prediction index rebuilds when it moves), and the saved
prediction index. Layout 2 held the same columns in another order (``seq``,
``event_id``, ``received_at``, then the rest): its rows move over with their
``seq``, so a saved prediction index stays valid. Layout 1 (the first collectors):
``event_id`` as primary key, no ``seq``, timestamps of varying width; its first
form kept most fields only in a JSON ``body`` column, read back through the models.
"""

from __future__ import annotations

import json
import sqlite3

from .._validation import parse_datetime
from ..errors import ValidationError
from ..models import TaskCompletionEvent
from ._schema import COLUMNS, INSERT_COLUMNS, event_row, utc_text

__all__ = ["SCHEMA_VERSION", "SNAPSHOT_TABLE", "LayoutError", "NewerLayoutError", "migrate"]

SCHEMA_VERSION = 3
"""Version of the table layout, kept in ``PRAGMA user_version``."""

SNAPSHOT_TABLE = (
    "CREATE TABLE IF NOT EXISTS collector_snapshot (id INTEGER PRIMARY KEY CHECK (id = 1), "
    "last_seq INTEGER NOT NULL, rewrites INTEGER NOT NULL, data BLOB NOT NULL)"
)
"""The prediction index as a stopping collector left it (a cache: always safe to delete)."""

_CREATE_EVENTS = (
    "CREATE TABLE IF NOT EXISTS events ("
    + ", ".join(f"{name} {decl}" for name, decl in COLUMNS)
    + ")"
)
_CREATE = (
    _CREATE_EVENTS,
    "CREATE TABLE IF NOT EXISTS collector_meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL)",
    "INSERT OR IGNORE INTO collector_meta (key, value) VALUES ('rewrites', 0)",
    SNAPSHOT_TABLE,
    "CREATE TRIGGER IF NOT EXISTS events_deleted AFTER DELETE ON events BEGIN "
    "UPDATE collector_meta SET value = value + 1 WHERE key = 'rewrites'; END",
    "CREATE TRIGGER IF NOT EXISTS events_updated AFTER UPDATE ON events BEGIN "
    "UPDATE collector_meta SET value = value + 1 WHERE key = 'rewrites'; END",
    f"PRAGMA user_version = {SCHEMA_VERSION}",
)
_INSERT = (
    f"INSERT INTO events ({', '.join(INSERT_COLUMNS)}) "  # noqa: S608  # nosec B608  # names from COLUMNS
    f"VALUES ({', '.join('?' * len(INSERT_COLUMNS))})"
)


class LayoutError(Exception):
    """The database's layout can't be used or upgraded (the message says why)."""


class NewerLayoutError(LayoutError):
    """The database was written by a newer collector (the message says which layout)."""


def _fixed_width(column: str) -> str:
    """SQL giving the fixed-width UTC text of a layout 1 timestamp column."""
    return (
        f"CASE WHEN length({column}) = 20 THEN substr({column}, 1, 19) || '.000000Z' "
        f"ELSE {column} END"
    )


def _columns_of(conn: sqlite3.Connection, table: str) -> set[str]:
    return {row[1] for row in conn.execute(f"PRAGMA table_info({table})")}


def _from_layout_1(conn: sqlite3.Connection, path: str) -> None:
    conn.execute("ALTER TABLE events RENAME TO events_layout_1")
    conn.execute("DROP INDEX IF EXISTS events_by_task_type")
    conn.execute(_CREATE_EVENTS)
    if set(INSERT_COLUMNS) <= _columns_of(conn, "events_layout_1"):
        names = ", ".join(INSERT_COLUMNS)
        values = ", ".join(
            _fixed_width(name) if name in ("timestamp", "received_at") else name
            for name in INSERT_COLUMNS
        )
        conn.execute(
            f"INSERT INTO events ({names}) SELECT {values} FROM events_layout_1 ORDER BY rowid"  # noqa: S608  # nosec B608  # names from COLUMNS
        )
    else:  # the first form: every field in the JSON body
        _from_bodies(conn, path)
    conn.execute("DROP TABLE events_layout_1")


def _from_bodies(conn: sqlite3.Connection, path: str) -> None:
    """Rows of the first layout's JSON bodies, checked again by the models."""
    cursor = conn.execute("SELECT event_id, received_at, body FROM events_layout_1 ORDER BY rowid")
    while True:
        batch = cursor.fetchmany(1000)
        if not batch:
            return
        rows = []
        for event_id, received_at, body in batch:
            try:
                event = TaskCompletionEvent.from_dict(json.loads(body))
                rows.append(event_row(event, utc_text(parse_datetime(received_at))))
            except (ValueError, ValidationError) as exc:  # JSON, time or a rule
                raise LayoutError(
                    f"cannot upgrade event store {path!r}: stored event {event_id!r}: {exc}"
                ) from None
        conn.executemany(_INSERT, rows)


def _from_layout_2(conn: sqlite3.Connection) -> None:
    conn.execute("ALTER TABLE events RENAME TO events_layout_2")  # its triggers go with it
    conn.execute(_CREATE_EVENTS)
    names = ", ".join(name for name, _ in COLUMNS)
    conn.execute(
        f"INSERT INTO events ({names}) SELECT {names} FROM events_layout_2 ORDER BY seq"  # noqa: S608  # nosec B608  # names from COLUMNS
    )
    conn.execute("DROP TABLE events_layout_2")


def _version(conn: sqlite3.Connection, path: str) -> int:
    (version,) = conn.execute("PRAGMA user_version").fetchone()
    if version > SCHEMA_VERSION:
        raise NewerLayoutError(
            f"event store {path!r} has layout version {version}; "
            f"this collector reads up to {SCHEMA_VERSION}"
        )
    return int(version)


def migrate(conn: sqlite3.Connection, path: str) -> None:
    """Create or upgrade the layout in one transaction.

    Raises:
        LayoutError: the database was written by a newer collector
            (``NewerLayoutError``), or a stored event can't be upgraded.
        sqlite3.Error: the database can't be read or written.
    """
    if _version(conn, path) == SCHEMA_VERSION:
        return
    conn.execute("BEGIN IMMEDIATE")
    try:
        version = _version(conn, path)  # again, under the write lock: another may have won
        if version == 1:
            _from_layout_1(conn, path)
        elif version == 2:
            _from_layout_2(conn)
        for statement in _CREATE:
            conn.execute(statement)
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
