"""Read queries on the events table: index groups for predictions, filtered event listings."""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass

from ._schema import COLUMNS

__all__ = [
    "GROUP_DIMENSIONS",
    "EventFilter",
    "Groups",
    "index_groups",
    "open_readonly",
    "select_events",
    "snapshot",
    "store_position",
]

GROUP_DIMENSIONS = ("task_type", "model", "provider", "complexity")
"""The four dimensions, in the order of a prediction query's key."""

_GROUPS = """
    SELECT task_type, model, provider, complexity, COUNT(*),
        group_concat(actual_input_tokens), group_concat(actual_output_tokens),
        group_concat(actual_cost_usd_micros), group_concat(task_duration_ms),
        SUM(CASE WHEN estimated_input_tokens > 0 THEN estimated_input_tokens ELSE 0 END),
        SUM(CASE WHEN estimated_input_tokens > 0 THEN actual_input_tokens ELSE 0 END),
        SUM(CASE WHEN estimated_output_tokens > 0 THEN estimated_output_tokens ELSE 0 END),
        SUM(CASE WHEN estimated_output_tokens > 0 THEN actual_output_tokens ELSE 0 END),
        SUM(quality_gate_passed), SUM(outcome = 'success')
    FROM events WHERE seq > ? AND seq <= ?
    GROUP BY task_type, model, provider, complexity
"""


@dataclass(frozen=True, slots=True)
class Groups:
    """Events stored after a point, grouped by their four dimensions (one snapshot)."""

    rewrites: int
    """The store's counter of deleted or changed events."""
    last_seq: int
    """The newest ``seq`` covered."""
    rows: Iterable[tuple[object, ...]]
    """Per group: four dimensions, count, four comma-joined value lists, six sums
    (read lazily: use them inside the same read transaction)."""


def index_groups(conn: sqlite3.Connection, after_seq: int, known_rewrites: int) -> Groups:
    """Groups of the events after ``after_seq`` (after 0 when ``rewrites`` moved).

    Call inside a read transaction, so the counter, the last ``seq`` and the
    groups come from one snapshot.
    """
    (rewrites,) = conn.execute("SELECT value FROM collector_meta WHERE key = 'rewrites'").fetchone()
    if rewrites != known_rewrites:
        after_seq = 0
    (last,) = conn.execute("SELECT COALESCE(MAX(seq), 0) FROM events").fetchone()
    rows = conn.execute(_GROUPS, (after_seq, last)) if last > after_seq else ()
    return Groups(rewrites=int(rewrites), last_seq=int(last), rows=rows)


def store_position(conn: sqlite3.Connection) -> tuple[int, int]:
    """The store's rewrites counter and its newest ``seq``."""
    (rewrites,) = conn.execute("SELECT value FROM collector_meta WHERE key = 'rewrites'").fetchone()
    (last,) = conn.execute("SELECT COALESCE(MAX(seq), 0) FROM events").fetchone()
    return int(rewrites), int(last)


def snapshot(conn: sqlite3.Connection) -> tuple[int, int, bytes] | None:
    """The saved prediction index (last seq, rewrites, bytes), or None; in a read transaction."""
    try:
        row = conn.execute(
            "SELECT last_seq, rewrites, data FROM collector_snapshot WHERE id = 1"
        ).fetchone()
    except sqlite3.OperationalError:  # no such table: a store that never saved one
        return None
    return None if row is None else (int(row[0]), int(row[1]), bytes(row[2]))


@dataclass(frozen=True, slots=True)
class EventFilter:
    """Which stored events a listing or an export includes (every field optional)."""

    equal: Mapping[str, str]
    """Column -> exact value (the four dimensions)."""
    since: str | None = None
    """Fixed-width UTC text; events with ``timestamp >= since``."""
    until: str | None = None
    """Fixed-width UTC text; events with ``timestamp < until``."""


_NAMES = tuple(name for name, _ in COLUMNS)


def select_events(
    conn: sqlite3.Connection,
    where: EventFilter,
    *,
    limit: int | None = None,
    newest_first: bool = False,
    batch: int = 1000,
) -> Iterator[tuple[object, ...]]:
    """Stored rows (``COLUMNS`` order) matching ``where``, in arrival order, streamed."""
    clauses: list[str] = []
    params: list[object] = []
    for name, value in where.equal.items():
        if name not in GROUP_DIMENSIONS:
            raise ValueError(f"cannot filter on {name!r}")
        clauses.append(f"{name} = ?")
        params.append(value)
    if where.since is not None:
        clauses.append("timestamp >= ?")
        params.append(where.since)
    if where.until is not None:
        clauses.append("timestamp < ?")
        params.append(where.until)
    sql = f"SELECT {', '.join(_NAMES)} FROM events"  # noqa: S608  # nosec B608  # names from COLUMNS
    if clauses:
        sql += " WHERE " + " AND ".join(clauses)
    sql += " ORDER BY seq DESC" if newest_first else " ORDER BY seq"
    if limit is not None:
        sql += " LIMIT ?"
        params.append(limit)
    cursor = conn.execute(sql, params)
    while True:
        rows = cursor.fetchmany(batch)
        if not rows:
            return
        yield from rows


def open_readonly(path: str) -> sqlite3.Connection:
    """Open a collector's database for reading only (never creating it).

    Raises:
        StoreError: the file is missing, not a database, or not of this layout.
    """
    from urllib.parse import quote  # noqa: PLC0415  # only the CLI readers open files this way

    from ._migrate import SCHEMA_VERSION  # noqa: PLC0415
    from .store import StoreError  # noqa: PLC0415  # the store imports this module

    if not os.path.isfile(path):
        raise StoreError(f"no event store at {path!r} (give the file that serve --db wrote)")
    try:
        conn = sqlite3.connect(f"file:{quote(os.path.abspath(path))}?mode=ro", uri=True)
    except sqlite3.Error as exc:
        raise StoreError(f"cannot read event store {path!r}: {exc}") from None
    try:
        conn.execute("PRAGMA query_only = ON")
        (version,) = conn.execute("PRAGMA user_version").fetchone()
    except sqlite3.Error as exc:
        conn.close()  # a file that is not a database: closed here, not by the collector
        raise StoreError(f"cannot read event store {path!r}: {exc}") from None
    except BaseException:
        conn.close()
        raise
    if version != SCHEMA_VERSION:
        conn.close()
        if version < SCHEMA_VERSION:
            raise StoreError(
                f"event store {path!r} has layout version {version}; start serve on it "
                f"once to upgrade it to {SCHEMA_VERSION}"
            )
        raise StoreError(
            f"event store {path!r} has layout version {version}; "
            f"this version reads {SCHEMA_VERSION}"
        )
    return conn
