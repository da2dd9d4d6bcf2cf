"""Create the events table, or bring an older collector's database up to this layout.

Layout 2 (this one): ``events`` as ``_schema.COLUMNS`` says, ``collector_meta``
with a ``rewrites`` counter that triggers raise on every UPDATE or DELETE of an
event (the prediction index rebuilds when it moves). Layout 1 (the first
collector): ``event_id`` as primary key, no ``seq``, timestamps of varying width.
"""

from __future__ import annotations

import sqlite3

from ._schema import COLUMNS, INSERT_COLUMNS

__all__ = ["SCHEMA_VERSION", "SNAPSHOT_TABLE", "NewerLayoutError", "migrate"]

SCHEMA_VERSION = 2
"""Version of the table layout, kept in ``PRAGMA user_version``."""

SNAPSHOT_TABLE = (
    "CREATE TABLE IF NOT EXISTS collector_snapshot (id INTEGER PRIMARY KEY CHECK (id = 1), "
    "last_seq INTEGER NOT NULL, rewrites INTEGER NOT NULL, data BLOB NOT NULL)"
)
"""The prediction index as a stopping collector left it (a cache: always safe to delete)."""

_CREATE = (
    "CREATE TABLE IF NOT EXISTS events ("
    + ", ".join(f"{name} {decl}" for name, decl in COLUMNS)
    + ")",
    "CREATE TABLE IF NOT EXISTS collector_meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL)",
    "INSERT OR IGNORE INTO collector_meta (key, value) VALUES ('rewrites', 0)",
    SNAPSHOT_TABLE,
    "CREATE TRIGGER IF NOT EXISTS events_deleted AFTER DELETE ON events BEGIN "
    "UPDATE collector_meta SET value = value + 1 WHERE key = 'rewrites'; END",
    "CREATE TRIGGER IF NOT EXISTS events_updated AFTER UPDATE ON events BEGIN "
    "UPDATE collector_meta SET value = value + 1 WHERE key = 'rewrites'; END",
    f"PRAGMA user_version = {SCHEMA_VERSION}",
)


def _fixed_width(column: str) -> str:
    """SQL giving layout 2's fixed-width UTC text of a layout 1 timestamp column."""
    return (
        f"CASE WHEN length({column}) = 20 THEN substr({column}, 1, 19) || '.000000Z' "
        f"ELSE {column} END"
    )


def _from_layout_1(conn: sqlite3.Connection) -> None:
    conn.execute("ALTER TABLE events RENAME TO events_layout_1")
    conn.execute("DROP INDEX IF EXISTS events_by_task_type")
    for statement in _CREATE[:1]:
        conn.execute(statement)
    columns = ", ".join(INSERT_COLUMNS)
    values = ", ".join(
        _fixed_width(name) if name in ("timestamp", "received_at") else name
        for name in INSERT_COLUMNS
    )
    conn.execute(
        f"INSERT INTO events ({columns}) SELECT {values} FROM events_layout_1 ORDER BY rowid"  # noqa: S608  # nosec B608  # names from COLUMNS
    )
    conn.execute("DROP TABLE events_layout_1")


class NewerLayoutError(Exception):
    """The database was written by a newer collector (the message says which layout)."""


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
        NewerLayoutError: the database was written by a newer collector.
        sqlite3.Error: the database can't be read or written.
    """
    if _version(conn, path) == SCHEMA_VERSION:
        return
    conn.execute("BEGIN IMMEDIATE")
    try:
        version = _version(conn, path)  # again, under the write lock: another may have won
        if version == 1:
            _from_layout_1(conn)
        for statement in _CREATE:
            conn.execute(statement)
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
