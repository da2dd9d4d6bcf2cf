"""Store files of older layouts, written by the older collectors themselves, upgrade whole.

The files in ``tests/fixtures/collector_layouts`` were written by the collector of
each layout (``make.py`` there says how): the first layout in its two forms (most
fields in a JSON body; every field in a column) and layout 2 (another column order,
deleted rows, a saved prediction index). Each is copied before it is opened.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import sqlite3
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest
from collector_fixtures import QUERY

from mosaic_telemetry import TaskCompletionEvent
from mosaic_telemetry.collector import CollectorService, EventStore, StoreError
from mosaic_telemetry.collector._migrate import SCHEMA_VERSION
from mosaic_telemetry.collector._reads import EventFilter, open_readonly, select_events
from mosaic_telemetry.collector._schema import COLUMNS, wire_of_row

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "collector_layouts"
EVENTS: list[dict[str, Any]] = json.loads((FIXTURES / "events.json").read_text("utf-8"))
LAYOUTS = ["layout1_body", "layout1_columns", "layout2"]
NOW = datetime(2026, 11, 25, tzinfo=timezone.utc)
RECEIVED = ["2026-11-24T22:00:00.000000Z"] * 4 + ["2026-11-24T22:00:01.250000Z"] * 2


def _copy(name: str, tmp_path: Path) -> str:
    target = tmp_path / f"{name}.sqlite3"
    shutil.copyfile(FIXTURES / f"{name}.sqlite3", target)
    return str(target)


def _stored(store: EventStore) -> list[tuple[Any, ...]]:
    with store.reading() as conn:
        return list(select_events(conn, EventFilter(equal={})))


def _version(path: str) -> int:
    # immutable: a WAL file read in place would get -wal and -shm files beside it
    conn = sqlite3.connect(f"file:{path}?immutable=1", uri=True)
    try:
        return int(conn.execute("PRAGMA user_version").fetchone()[0])
    finally:
        conn.close()


@pytest.mark.parametrize("name", LAYOUTS)
def test_an_older_layout_is_upgraded_with_every_event_as_it_was_sent(
    name: str, tmp_path: Path
) -> None:
    path = _copy(name, tmp_path)
    with pytest.raises(StoreError, match="start serve on it once to upgrade it to 3"):
        open_readonly(path)
    store = EventStore(path)
    try:
        rows = _stored(store)
        with store.reading() as conn:
            table = [(row[1], row[2]) for row in conn.execute("PRAGMA table_info(events)")]
    finally:
        store.close()
    assert _version(path) == SCHEMA_VERSION == 3
    assert [name for name, _ in table] == [name for name, _ in COLUMNS]
    assert [TaskCompletionEvent.from_dict(wire_of_row(row)) for row in rows] == [
        TaskCompletionEvent.from_dict(e) for e in EVENTS
    ]
    assert [row[-1] for row in rows] == RECEIVED  # received_at, in the fixed width
    assert all(len(row[4]) == 27 for row in rows)  # timestamps too
    open_readonly(path).close()  # events and export read it now


@pytest.mark.parametrize("name", LAYOUTS)
def test_an_upgraded_store_stays_idempotent_and_counts_on(name: str, tmp_path: Path) -> None:
    store = EventStore(_copy(name, tmp_path))
    try:
        last = _stored(store)[-1][0]
        again = [TaskCompletionEvent.from_dict(e) for e in EVENTS]
        assert store.add(again, received_at=NOW) == 0
        new = TaskCompletionEvent.from_dict(
            {**EVENTS[0], "event_id": "5" * 8 + EVENTS[0]["event_id"][8:]}
        )
        assert store.add([new], received_at=NOW) == 1
        assert _stored(store)[-1][0] == last + 1
    finally:
        store.close()


def test_layout_2_rows_keep_their_seq_and_the_delete_triggers_come_along(tmp_path: Path) -> None:
    path = _copy("layout2", tmp_path)
    store = EventStore(path)
    try:
        assert [row[0] for row in _stored(store)] == [1, 2, 3, 4, 5, 6]
        with store.reading() as conn:
            (rewrites,) = conn.execute("SELECT value FROM collector_meta").fetchone()
        assert rewrites == 2  # the layout 2 collector deleted two rows
        assert (
            store.delete_received_before(datetime(2026, 11, 24, 22, 0, 1, tzinfo=timezone.utc)) == 4
        )
        with store.reading() as conn:
            (rewrites,) = conn.execute("SELECT value FROM collector_meta").fetchone()
        assert rewrites == 6
    finally:
        store.close()


def _answers(path: str) -> list[dict[str, Any]]:
    store = EventStore(path)
    try:
        service = CollectorService(store, min_samples=1, clock=lambda: NOW)
        service.warm_up()
        queries = [QUERY, {**QUERY, "model": "gpt-4o", "provider": "openai"}]
        return [r.to_dict() for r in service.predict({"queries": queries})]
    finally:
        store.close()


def test_layout_2_keeps_its_saved_prediction_index_and_it_answers_as_a_fresh_build(
    tmp_path: Path,
) -> None:
    path = _copy("layout2", tmp_path)
    fresh = str(tmp_path / "fresh.sqlite3")
    store = EventStore(fresh)
    store.add([TaskCompletionEvent.from_dict(e) for e in EVENTS], received_at=NOW)
    store.close()
    upgraded = _answers(path)
    conn = sqlite3.connect(path)
    try:
        saved = conn.execute("SELECT last_seq, rewrites FROM collector_snapshot").fetchone()
    finally:
        conn.close()
    assert saved == (6, 2)  # the layout 2 collector's save, still valid, was kept
    assert upgraded == _answers(fresh)


def test_a_first_layout_body_the_models_now_refuse_stops_the_upgrade_and_changes_nothing(
    tmp_path: Path,
) -> None:
    path = _copy("layout1_body", tmp_path)
    with contextlib.closing(sqlite3.connect(path)) as conn, conn:
        conn.execute('UPDATE events SET body = \'{"model": ""}\' WHERE rowid = 3')
    before = (FIXTURES / "layout1_body.sqlite3").read_bytes()
    with pytest.raises(StoreError, match=r"cannot upgrade event store .*stored event '6f1c2b3a"):
        EventStore(path)
    assert _version(path) == 1
    conn = sqlite3.connect(path)
    try:
        assert conn.execute("SELECT COUNT(*) FROM events").fetchone() == (6,)
        assert conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'").fetchall() == [
            ("events",)
        ]
    finally:
        conn.close()
    assert (FIXTURES / "layout1_body.sqlite3").read_bytes() == before  # the fixture is untouched


def test_the_fixture_files_are_of_the_layouts_they_are_named_after() -> None:
    for name, version in (("layout1_body", 1), ("layout1_columns", 1), ("layout2", 2)):
        assert _version(str(FIXTURES / f"{name}.sqlite3")) == version
        assert not (FIXTURES / f"{name}.sqlite3-wal").exists()
