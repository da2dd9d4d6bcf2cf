"""``events`` and ``export``: the stored events read from the database file, and their mistakes."""

from __future__ import annotations

import contextlib
import csv
import io
import json
import sqlite3
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from collector_fixtures import API_KEY, clean_env, event_dict, post_json

from mosaic_telemetry import TaskCompletionEvent
from mosaic_telemetry.cli import main
from mosaic_telemetry.collector import Collector, EventStore
from mosaic_telemetry.collector._schema import COLUMNS

EVENTS = "/v1/events/batch"
BASE = datetime(2026, 11, 24, 12, 0, tzinfo=timezone.utc)


def _stamp(minutes: int) -> str:
    return (BASE + timedelta(minutes=minutes, microseconds=7)).isoformat().replace("+00:00", "Z")


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A store of 30 events written through a collector: 10 per model, a minute apart."""
    path = str(tmp_path_factory.mktemp("events") / "events.db")
    models = ["claude-sonnet-4", "gpt-4o", "esc\x1b[31mape"]
    batch = [
        event_dict(
            n,
            model=models[n % 3],
            provider="openai" if n % 3 == 1 else "anthropic",
            timestamp=_stamp(n),
            actual_input_tokens=1000 + n,
        )
        for n in range(30)
    ]
    with Collector(API_KEY, db_path=path) as collector:
        assert post_json(collector.url, EVENTS, {"events": batch}).status == 202
    return path


def _run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_events_shows_the_latest_stored_events_newest_first(
    db: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = _run(capsys, "events", "--db", db, "--limit", "3")
    assert (code, err) == (0, "")
    lines = out.splitlines()
    assert lines[0].split()[:3] == ["timestamp", "(UTC)", "task"]
    assert [line.split()[1] for line in lines[2:]] == ["12:29:00", "12:28:00", "12:27:00"]
    assert "esc\\x1b[31mape" in out  # a control character is shown escaped, never raw
    assert "\x1b" not in out


@pytest.mark.parametrize(
    ("flags", "numbers"),
    [
        (["--model", "gpt-4o"], [28, 25, 22, 19, 16, 13, 10, 7, 4, 1]),
        (["--provider", "openai", "--limit", "2"], [28, 25]),
        (["--since", _stamp(27)], [29, 28, 27]),
        (["--until", "2026-11-24T12:02:00Z"], [1, 0]),
        (["--since", "2026-11-24T13:03:00+01:00", "--until", _stamp(5)], [4, 3]),
        (["--task-type", "testing"], []),
        (["--complexity", "medium", "--limit", "1"], [29]),
    ],
)
def test_events_filters_on_the_dimensions_and_a_time_range(
    db: str, capsys: pytest.CaptureFixture[str], flags: list[str], numbers: list[int]
) -> None:
    code, out, _ = _run(capsys, "events", "--db", db, "--json", *flags)
    assert code == 0
    got = [json.loads(line) for line in out.splitlines()]
    assert [e["event_id"] for e in got] == [event_dict(n)["event_id"] for n in numbers]
    for event in got:
        TaskCompletionEvent.from_dict(event)  # each line is a valid event in wire form


def test_events_says_so_when_nothing_matches(db: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert _run(capsys, "events", "--db", db, "--model", "nope")[1] == "no stored events match\n"


@pytest.mark.parametrize("form", ["jsonl", "csv"])
def test_export_writes_every_event_oldest_first_to_a_file(
    db: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], form: str
) -> None:
    target = tmp_path / f"all.{form}"
    code, out, err = _run(capsys, "export", "--db", db, "--format", form, "--output", str(target))
    assert (code, out) == (0, "")
    assert err == f"mosaic-telemetry: exported 30 events to {target}\n"
    text = target.read_text(encoding="utf-8")
    if form == "jsonl":
        ids = [json.loads(line)["event_id"] for line in text.splitlines()]
    else:
        rows = list(csv.DictReader(io.StringIO(text)))
        ids = [row["event_id"] for row in rows]
        assert rows[0]["quality_gate_passed"] == "true"
        assert rows[0]["quality_gates_run"] == "build,lint,test"
        assert rows[0]["received_at"].endswith("Z")
        assert rows[0]["timestamp"] == _stamp(0)
    assert ids == [event_dict(n)["event_id"] for n in range(30)]
    assert not list(tmp_path.glob(".export-*"))  # the partial file was renamed


def test_an_export_sent_to_another_collector_stores_the_same_events(
    db: str, tmp_path: Path
) -> None:
    exported = tmp_path / "all.jsonl"
    assert main(["export", "--db", db, "--output", str(exported)]) == 0
    second = str(tmp_path / "second.db")
    with Collector(API_KEY, db_path=second) as collector:
        result = subprocess.run(
            [sys.executable, "-m", "mosaic_telemetry", "send", str(exported),
             "--server-url", collector.url, "--api-key", API_KEY],
            env=clean_env(), capture_output=True, text=True, timeout=60, check=False,
        )  # fmt: skip
        assert result.returncode == 0, result.stderr
        assert collector.event_count == 30
    with (
        contextlib.closing(sqlite3.connect(db)) as a,
        contextlib.closing(sqlite3.connect(second)) as b,
    ):
        kept = [name for name, _ in COLUMNS if name not in ("seq", "received_at")]  # they differ
        query = f"SELECT {', '.join(kept)} FROM events ORDER BY event_id"
        assert list(a.execute(query)) == list(b.execute(query))


def test_export_streams_to_stdout_with_filters(db: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = _run(capsys, "export", "--db", db, "--model", "gpt-4o", "--format", "csv")
    assert code == 0
    assert len(out.splitlines()) == 11  # the header and 10 events
    assert "exported 10 events to -" in err


_MISTAKES = [
    (["events"], 2, "--db is required"),
    (["events", "--db", "missing.db"], 1, "no event store at 'missing.db'"),
    (["events", "--db", "{db}", "--limit", "0"], 2, "--limit must be a whole number"),
    (["events", "--db", "{db}", "--limit", "ten"], 2, "--limit must be a whole number"),
    (["events", "--db", "{db}", "--task-type", "coding"], 2, "--task-type must be one of"),
    (["events", "--db", "{db}", "--provider", "acme"], 2, "--provider must be one of"),
    (["events", "--db", "{db}", "--since", "yesterday"], 2, "--since must be an RFC 3339"),
    (
        ["events", "--db", "{db}", "--since", "2026-11-25", "--until", "2026-11-24"],
        2,
        "must be before --until",
    ),
    (["export", "--db", "{db}", "--format", "xml"], 2, "--format must be jsonl or csv"),
    (["export", "--db", "{db}", "--output", "/nonexistent/dir/x.jsonl"], 2, "no directory"),
    (["events", "--db", "{text}"], 1, "cannot read event store"),
    (["events", "--db", "{old}"], 1, "start serve on it once to upgrade it to 3"),
    (["serve", "--retain-days", "7d", "--api-key", API_KEY], 2, "--retain-days must be"),
    (["serve", "--retain-days", "0", "--api-key", API_KEY], 2, "at least 1, got 0"),
]


@pytest.fixture
def files(db: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """A good store, a text file and a store of the first layout; the cwd is a fresh dir."""
    monkeypatch.chdir(tmp_path)
    text = tmp_path / "notes.txt"
    text.write_text("not a database\n" * 100)
    old = tmp_path / "old.db"
    with contextlib.closing(sqlite3.connect(old)) as conn:
        conn.execute("PRAGMA user_version = 1")
    return {"db": db, "text": str(text), "old": str(old)}


@pytest.mark.parametrize("case", _MISTAKES, ids=[" ".join(c[0][:1] + c[0][3:4]) for c in _MISTAKES])
def test_command_line_mistakes_cost_one_stderr_line_and_a_nonzero_exit(
    files: dict[str, str], capsys: pytest.CaptureFixture[str], case: tuple[list[str], int, str]
) -> None:
    args, code, message = case
    filled = [a.format(**files) for a in args]
    got, out, err = _run(capsys, *filled)
    assert got == code
    assert out == ""
    assert err.count("\n") == 1, err
    assert err.startswith("mosaic-telemetry: error: ")
    assert message in err


@pytest.mark.parametrize("name", ["text", "old"])
def test_a_store_the_readers_refuse_leaves_no_connection_open(
    files: dict[str, str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
    name: str,
) -> None:  # fmt: skip
    opened: list[sqlite3.Connection] = []
    connect = sqlite3.connect

    def recording(*args: Any, **kwargs: Any) -> sqlite3.Connection:
        opened.append(connect(*args, **kwargs))
        return opened[-1]

    monkeypatch.setattr(sqlite3, "connect", recording)
    assert _run(capsys, "events", "--db", files[name])[0] == 1
    assert len(opened) == 1
    with pytest.raises(sqlite3.ProgrammingError, match="closed"):
        opened[0].execute("SELECT 1")  # closed, not left for the collector (3.13 warns)


def test_events_never_creates_a_database(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _run(capsys, "events", "--db", str(tmp_path / "new.db"))[0] == 1
    assert not (tmp_path / "new.db").exists()


def test_export_reads_while_a_collector_keeps_writing(tmp_path: Path) -> None:
    path = str(tmp_path / "live.db")
    with Collector(API_KEY, db_path=path) as collector:
        post_json(collector.url, EVENTS, {"events": [event_dict(n) for n in range(50)]})
        store = EventStore(path)
        try:
            with store.reading():  # a long read, as an export of a big store is
                reply = post_json(collector.url, EVENTS, {"events": [event_dict(99)]})
                assert reply.status == 202  # WAL: the write did not wait for the reader
        finally:
            store.close()
        assert collector.event_count == 51
