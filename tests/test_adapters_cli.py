"""``mosaic-telemetry ingest``: dry runs, sending to the local collector, usage mistakes."""

from __future__ import annotations

import io
import json
import shutil
import sqlite3
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from collector_fixtures import API_KEY, INSTANCE_ID

from mosaic_telemetry import TaskCompletionEvent
from mosaic_telemetry.cli import main
from mosaic_telemetry.collector import Collector

FIXTURES = Path(__file__).parent / "fixtures"
ALL_FIXTURES = [
    ("claude-transcript", "claude_transcript.jsonl", 6),
    ("claude-result", "claude_result.json", 1),
    ("claude-result", "claude_result_stream.jsonl", 2),
    ("claude-result", "claude_result_sdk.json", 1),
    ("codex-exec", "codex_exec.jsonl", 2),
    ("codex-rollout", "codex_rollout.jsonl", 3),
    ("aider-analytics", "aider_analytics.jsonl", 5),
]


@pytest.fixture(autouse=True)
def no_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("ENABLED", "SERVER_URL", "API_KEY", "INSTANCE_ID", "CA_FILE", "PRICES_FILE"):
        monkeypatch.delenv(f"MOSAIC_TELEMETRY_{name}", raising=False)


@pytest.fixture
def collector(tmp_path: Path) -> Iterator[Collector]:
    with Collector(API_KEY, db_path=str(tmp_path / "events.sqlite3")) as running:
        yield running


def ingest(*args: str) -> int:
    return main(["ingest", *args, "--instance-id", INSTANCE_ID])


def send_flags(collector: Collector) -> list[str]:
    return ["--server-url", collector.url, "--api-key", API_KEY, "--timeout", "5"]


@pytest.mark.parametrize(("fmt", "name", "count"), ALL_FIXTURES)
def test_dry_run_prints_one_valid_event_per_line_and_nothing_else(
    capsys: pytest.CaptureFixture[str], fmt: str, name: str, count: int
) -> None:
    assert ingest(fmt, str(FIXTURES / name), "--dry-run") == 0
    out, err = capsys.readouterr()
    events = [TaskCompletionEvent.from_json(line) for line in out.splitlines()]
    assert len(events) == count
    assert all(str(e.instance_id) == INSTANCE_ID for e in events)
    assert f"{count} event(s) from" in err and "not sent" in err
    assert "SECRET" not in out + err


@pytest.mark.parametrize(("fmt", "name", "count"), ALL_FIXTURES)
def test_ingesting_twice_stores_each_task_once(
    capsys: pytest.CaptureFixture[str], collector: Collector, fmt: str, name: str, count: int
) -> None:
    for _ in range(2):
        assert ingest(fmt, str(FIXTURES / name), *send_flags(collector)) == 0
        out, _ = capsys.readouterr()
        assert f"{count} accepted, 0 rejected, 0 undeliverable" in out
    assert collector.event_count == count


def test_stored_events_hold_no_text_of_the_input(
    capsys: pytest.CaptureFixture[str], collector: Collector, tmp_path: Path
) -> None:
    for fmt, name, _ in ALL_FIXTURES:
        assert ingest(fmt, str(FIXTURES / name), *send_flags(collector)) == 0
    collector.stop()
    db = sqlite3.connect(tmp_path / "events.sqlite3")
    try:
        dump = "\n".join(db.iterdump())
    finally:
        db.close()
    assert dump.count("INSERT") >= 20
    assert "SECRET" not in dump
    out, err = capsys.readouterr()
    assert "SECRET" not in out + err


def test_stdin_is_read_with_a_dash(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    data = (FIXTURES / "codex_exec.jsonl").read_bytes()
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(data)))
    assert ingest("codex-exec", "-", "--dry-run", "--model", "gpt-5-codex") == 0
    events = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [(e["model"], e["actual_cost_usd_micros"]) for e in events] == [
        ("gpt-5-codex", 4670),
        ("gpt-5-codex", 0),
    ]


def test_warnings_go_to_stderr_with_their_counts(capsys: pytest.CaptureFixture[str]) -> None:
    assert ingest("codex-exec", str(FIXTURES / "codex_exec.jsonl"), "--dry-run") == 0
    err = capsys.readouterr().err
    assert "warning: no price for model 'unknown': its tokens cost 0" in err


def test_a_price_file_prices_a_model_the_table_lacks(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    prices = tmp_path / "prices.json"
    prices.write_text(json.dumps({"models": {"claude-mystery-9": {"input": 2, "output": 10}}}))
    path = FIXTURES / "claude_transcript.jsonl"
    assert ingest("claude-transcript", str(path), "--dry-run", "--prices", str(prices)) == 0
    last = json.loads(capsys.readouterr().out.splitlines()[-1])
    assert (last["model"], last["actual_cost_usd_micros"]) == (
        "claude-mystery-9",
        1000 * 2 + 100 * 10,
    )


def test_subagent_files_beside_a_transcript_are_counted(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    main_file = tmp_path / "sess.jsonl"
    lines = (FIXTURES / "claude_transcript.jsonl").read_text(encoding="utf-8").splitlines(True)
    main_file.write_text("".join(lines[2:9]), encoding="utf-8")  # turn 1 only
    subagents = tmp_path / "sess" / "subagents"
    subagents.mkdir(parents=True)
    side = {"type": "assistant", "isSidechain": True, "sessionId": "sess-claude-1",
            "timestamp": "2026-11-20T10:00:10.000Z", "requestId": "req_side",
            "message": {"id": "msg_side", "model": "claude-haiku-4-5",
                        "usage": {"input_tokens": 1000, "output_tokens": 200}}}  # fmt: skip
    (subagents / "agent-1.jsonl").write_text(json.dumps(side) + "\n", encoding="utf-8")
    assert ingest("claude-transcript", str(main_file), "--dry-run") == 0
    with_side = json.loads(capsys.readouterr().out)
    assert ingest("claude-transcript", str(main_file), "--dry-run", "--no-subagents") == 0
    without = json.loads(capsys.readouterr().out)
    assert with_side["actual_input_tokens"] == without["actual_input_tokens"] + 1000
    assert with_side["actual_cost_usd_micros"] == without["actual_cost_usd_micros"] + 1000 + 1000
    assert with_side["model"] == without["model"]  # a subagent never names the turn's model


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["claude-transcript", "/no/such/file.jsonl", "--dry-run"],
            "cannot read /no/such/file.jsonl",
        ),
        (["codex-rollout", str(FIXTURES / "codex_rollout.jsonl")], "server_url is not set"),
        (
            [
                "claude-result",
                str(FIXTURES / "claude_result.json"),
                "--dry-run",
                "--prices",
                "/nope",
            ],
            "cannot read price file /nope",
        ),
    ],
)
def test_usage_mistakes_are_one_line_and_exit_2(
    capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    assert ingest(*args) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("mosaic-telemetry: error: ") and message in err[0]


def test_ingest_needs_an_instance_id(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["ingest", "codex-exec", str(FIXTURES / "codex_exec.jsonl"), "--dry-run"])
    assert code == 2
    assert "ingest needs --instance-id or MOSAIC_TELEMETRY_INSTANCE_ID" in capsys.readouterr().err


def test_an_unknown_format_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        ingest("cursor-log", str(FIXTURES / "codex_exec.jsonl"))
    assert exit_info.value.code == 2
    assert "invalid choice: 'cursor-log'" in capsys.readouterr().err


def test_a_file_of_another_format_exits_1_and_says_so(capsys: pytest.CaptureFixture[str]) -> None:
    code = ingest("codex-rollout", str(FIXTURES / "aider_analytics.jsonl"), "--dry-run")
    assert code == 1
    assert "has no codex-rollout records (12 line(s))" in capsys.readouterr().err


def test_undeliverable_events_exit_1_with_the_last_error(
    capsys: pytest.CaptureFixture[str], collector: Collector
) -> None:
    flags = ["--server-url", collector.url, "--api-key", "0" * 64, "--timeout", "5"]
    assert ingest("codex-exec", str(FIXTURES / "codex_exec.jsonl"), *flags) == 1
    out, err = capsys.readouterr()
    assert "0 accepted, 0 rejected, 2 undeliverable" in out
    assert "last error: HTTP 401" in err and "0" * 64 not in out + err


def test_a_large_file_is_sent_in_chunks(
    capsys: pytest.CaptureFixture[str], collector: Collector, tmp_path: Path
) -> None:
    source = (FIXTURES / "aider_analytics.jsonl").read_text(encoding="utf-8").splitlines(True)
    send = next(line for line in source if '"message_send"' in line)
    big = tmp_path / "big.jsonl"
    with big.open("w", encoding="utf-8") as handle:
        for second in range(1200):
            record = json.loads(send)
            record["time"] += second
            handle.write(json.dumps(record) + "\n")
    assert ingest("aider-analytics", str(big), *send_flags(collector)) == 0
    assert "1200 accepted" in capsys.readouterr().out
    assert collector.event_count == 1200


def test_the_fixture_copy_is_untouched(tmp_path: Path) -> None:
    copy = tmp_path / "t.jsonl"
    shutil.copy(FIXTURES / "claude_transcript.jsonl", copy)
    before = copy.read_bytes()
    assert ingest("claude-transcript", str(copy), "--dry-run") == 0
    assert copy.read_bytes() == before


def test_the_command_lists_exactly_the_adapter_formats() -> None:
    from mosaic_telemetry.adapters import FORMATS
    from mosaic_telemetry.cli.ingest import FORMAT_NAMES

    assert tuple(FORMATS) == FORMAT_NAMES
