"""The hook's parts in this process: state directory, cursors and their lock, input, one run."""

from __future__ import annotations

import json
import logging
import os
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from collector_fixtures import API_KEY, INSTANCE_ID

from mosaic_telemetry import TelemetryConfig
from mosaic_telemetry.adapters import PriceTable
from mosaic_telemetry.adapters._cursor import CursorBusy, CursorStore, state_directory
from mosaic_telemetry.adapters._hook import (
    HookInput,
    HookInputError,
    HookReport,
    parse_input,
    persist_then_send,
    read_stdin,
    run_hook,
)
from mosaic_telemetry.cli import main
from mosaic_telemetry.cli.hook import DEFAULT_BUDGET_S, budget_seconds
from mosaic_telemetry.collector import Collector

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture
def collector() -> Iterator[Collector]:
    with Collector(API_KEY) as running:
        yield running


@pytest.fixture(autouse=True)
def no_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for key in list(os.environ):
        if key.startswith("MOSAIC_TELEMETRY_"):
            monkeypatch.delenv(key)


def config_for(url: str) -> TelemetryConfig:
    return TelemetryConfig(server_url=url, api_key=API_KEY, instance_id=INSTANCE_ID)


def transcript(tmp_path: Path, upto: str) -> Path:
    lines = (FIXTURES / "claude_transcript.jsonl").read_text(encoding="utf-8").splitlines(True)
    cut = next(i for i, line in enumerate(lines) if f'"uuid":"{upto}"' in line)
    path = tmp_path / "sess.jsonl"
    path.write_text("".join(lines[: cut + 1]), encoding="utf-8")
    return path


# -- the state directory ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("explicit", "environ", "expected"),
    [
        ("given", {"MOSAIC_TELEMETRY_SPOOL_DIR": "spool", "XDG_STATE_HOME": "xdg"}, "given"),
        (None, {"MOSAIC_TELEMETRY_SPOOL_DIR": "spool", "XDG_STATE_HOME": "xdg"}, "spool"),
        (None, {"XDG_STATE_HOME": "xdg"}, "xdg/mosaic-telemetry"),
        (None, {"MOSAIC_TELEMETRY_SPOOL_DIR": "", "XDG_STATE_HOME": "xdg"}, "xdg/mosaic-telemetry"),
    ],
)
def test_the_state_directory_is_chosen_in_order_and_made_private(
    tmp_path: Path, explicit: str | None, environ: dict[str, str], expected: str
) -> None:
    env = {k: str(tmp_path / v) if v else v for k, v in environ.items()}
    path = state_directory(None if explicit is None else str(tmp_path / explicit), env)
    assert path == tmp_path / expected and path.is_dir()
    assert path.stat().st_mode & 0o777 == 0o700


def test_the_default_state_directory_is_under_the_home(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    assert state_directory(None, {}) == tmp_path / ".local" / "state" / "mosaic-telemetry"


# -- cursors -------------------------------------------------------------------------------------


def test_a_cursor_round_trips_and_is_private(tmp_path: Path) -> None:
    store = CursorStore(tmp_path)
    path = store.path_for("claude-code", tmp_path / "t.jsonl")
    assert store.load(path) is None
    store.save(path, {"offsets": {"": 12}})
    assert store.load(path) == {"offsets": {"": 12}, "version": 1}
    assert path.stat().st_mode & 0o777 == 0o600
    assert [p.name for p in path.parent.iterdir()] == [path.name]  # no temporary file left


@pytest.mark.parametrize("content", [b"", b"{", b"[]", b'{"version": 99}', b"\xff" * 10])
def test_an_unreadable_cursor_is_read_as_none(tmp_path: Path, content: bytes) -> None:
    store = CursorStore(tmp_path)
    path = store.path_for("codex", tmp_path / "r.jsonl")
    path.parent.mkdir(parents=True)
    path.write_bytes(content)
    assert store.load(path) is None


def test_cursor_paths_differ_per_harness_and_transcript(tmp_path: Path) -> None:
    store = CursorStore(tmp_path)
    paths = {store.path_for(h, tmp_path / name) for h in ("claude-code", "codex") for name in "ab"}
    assert len(paths) == 4


def test_a_held_lock_makes_a_second_run_step_aside(tmp_path: Path) -> None:
    store = CursorStore(tmp_path)
    path = store.path_for("claude-code", tmp_path / "t.jsonl")
    with store.lock(path), pytest.raises(CursorBusy), store.lock(path):
        pass
    with store.lock(path):  # released: free again
        pass


# -- input -------------------------------------------------------------------------------------


def test_stdin_is_read_from_the_descriptor_up_to_a_limit(tmp_path: Path) -> None:
    source = tmp_path / "in"
    source.write_bytes(b"x" * 100)
    with source.open("rb") as handle:
        assert read_stdin(handle.fileno()) == b"x" * 100
    with source.open("rb") as handle, pytest.raises(HookInputError, match="larger than 10"):
        read_stdin(handle.fileno(), limit=10)


def test_the_payload_fields_are_taken_and_the_text_fields_ignored() -> None:
    data = {
        "session_id": "s",
        "transcript_path": "~/t.jsonl",
        "hook_event_name": "Stop",
        "turn_id": "t1",
        "model": "gpt-5-codex",
        "last_assistant_message": "SECRET",
    }
    parsed = parse_input(json.dumps(data).encode())
    assert parsed == HookInput(
        event="Stop",
        transcript_path=Path("~/t.jsonl").expanduser(),
        session_id="s",
        turn_id="t1",
        model="gpt-5-codex",
    )
    assert "SECRET" not in repr(parsed)


@pytest.mark.parametrize(
    ("flag", "env", "expected"),
    [
        (None, None, DEFAULT_BUDGET_S),
        ("3.5", None, 3.5),
        (None, "0.5", 0.5),
        ("1", "9", 1.0),
        ("soon", None, DEFAULT_BUDGET_S),
        ("0", None, DEFAULT_BUDGET_S),
        ("-2", None, DEFAULT_BUDGET_S),
        ("nan", None, DEFAULT_BUDGET_S),
        ("inf", None, DEFAULT_BUDGET_S),
        ("61", None, DEFAULT_BUDGET_S),
        ("", "4", 4.0),
    ],
)
def test_the_budget_comes_from_the_flag_then_the_environment(
    flag: str | None, env: str | None, expected: float
) -> None:
    environ = {} if env is None else {"MOSAIC_TELEMETRY_HOOK_BUDGET": env}
    assert budget_seconds(flag, environ) == expected


# -- one run, in this process ---------------------------------------------------------------


def test_a_run_sends_the_finished_turns_and_saves_its_cursor(
    tmp_path: Path, collector: Collector
) -> None:
    path = transcript(tmp_path, "u3")
    report = HookReport(harness="claude-code")
    run_hook(
        "claude-code",
        HookInput(event="Stop", transcript_path=path),
        config=config_for(collector.url),
        state_dir=tmp_path / "state",
        prices=PriceTable.default(),
        deadline=time.monotonic() + 10,
        report=report,
    )
    assert (report.events, report.confirmed, report.saved) == (2, True, True)
    assert report.bytes_read == path.stat().st_size
    assert collector.event_count == 2


def test_a_replaced_transcript_is_read_from_its_start(tmp_path: Path, collector: Collector) -> None:
    path = transcript(tmp_path, "u3")
    state = tmp_path / "state"

    def run() -> HookReport:
        report = HookReport(harness="claude-code")
        run_hook("claude-code", HookInput(event="Stop", transcript_path=path),
                 config=config_for(collector.url), state_dir=state, prices=PriceTable.default(),
                 deadline=time.monotonic() + 10, report=report)  # fmt: skip
        return report

    run()
    replacement = tmp_path / "new.jsonl"
    replacement.write_bytes(path.read_bytes())
    os.replace(replacement, path)  # same path, new inode
    assert run().bytes_read == path.stat().st_size
    kept = path.read_text(encoding="utf-8")[:100]
    path.write_text(kept, encoding="utf-8")  # truncated: shorter than the cursor's offset
    assert run().bytes_read == kept.index("\n") + 1  # from the start again, up to the torn line


def test_nothing_is_sent_after_the_deadline(collector: Collector) -> None:
    from mosaic_telemetry import EventBuilder

    event = EventBuilder(INSTANCE_ID).build()
    assert persist_then_send([], config_for(collector.url), time.monotonic() - 1) is True
    assert persist_then_send([event], config_for(collector.url), time.monotonic() - 1) is False
    assert collector.event_count == 0
    assert persist_then_send([event], config_for(collector.url), time.monotonic() + 10) is True


def _run_main(tmp_path: Path, stdin: bytes, monkeypatch: pytest.MonkeyPatch, *args: str) -> int:
    source = tmp_path / "stdin"
    source.write_bytes(stdin)
    handle = source.open("r", encoding="utf-8")
    monkeypatch.setattr(sys, "stdin", handle)
    try:
        return main(["hook", *args])
    finally:
        handle.close()


def test_main_runs_the_hook_and_logs_one_line(
    tmp_path: Path, collector: Collector, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = transcript(tmp_path, "u3")
    monkeypatch.setenv("MOSAIC_TELEMETRY_SERVER_URL", collector.url)
    monkeypatch.setenv("MOSAIC_TELEMETRY_API_KEY", API_KEY)
    monkeypatch.setenv("MOSAIC_TELEMETRY_INSTANCE_ID", INSTANCE_ID)
    payload = json.dumps({"transcript_path": str(path), "hook_event_name": "Stop"}).encode()
    state = tmp_path / "state"
    assert _run_main(tmp_path, payload, monkeypatch, "claude-code", "--state-dir", str(state)) == 0
    assert collector.event_count == 2
    log = (state / "hook.log").read_text(encoding="utf-8").splitlines()
    assert log[-1].endswith("2 event(s), confirmed, cursor saved")
    assert not logging.getLogger("mosaic_telemetry").handlers or all(
        not isinstance(h, logging.FileHandler)
        for h in logging.getLogger("mosaic_telemetry").handlers
    )  # the run's log file is detached again


@pytest.mark.parametrize(
    "case",
    [
        ({}, b"{}", "not configured"),
        ({"MOSAIC_TELEMETRY_ENABLED": "0"}, b"{}", "telemetry is disabled"),
        (None, b"{", "hook input is not JSON"),
    ],
)
def test_main_logs_why_a_run_did_nothing(
    tmp_path: Path,
    collector: Collector,
    monkeypatch: pytest.MonkeyPatch,
    case: tuple[dict[str, str] | None, bytes, str],
) -> None:
    env, payload, logged = case
    settings = env if env is not None else {
        "MOSAIC_TELEMETRY_SERVER_URL": collector.url,
        "MOSAIC_TELEMETRY_API_KEY": API_KEY,
        "MOSAIC_TELEMETRY_INSTANCE_ID": INSTANCE_ID,
    }  # fmt: skip
    for key, value in settings.items():
        monkeypatch.setenv(key, value)
    state = tmp_path / "state"
    assert _run_main(tmp_path, payload, monkeypatch, "claude-code", "--state-dir", str(state)) == 0
    assert logged in (state / "hook.log").read_text(encoding="utf-8")


def test_main_steps_aside_when_another_run_holds_the_cursor(
    tmp_path: Path, collector: Collector, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = transcript(tmp_path, "u3")
    for key, value in (("SERVER_URL", collector.url), ("API_KEY", API_KEY),
                       ("INSTANCE_ID", INSTANCE_ID)):  # fmt: skip
        monkeypatch.setenv(f"MOSAIC_TELEMETRY_{key}", value)
    state = tmp_path / "state"
    store = CursorStore(state)
    payload = json.dumps({"transcript_path": str(path), "hook_event_name": "Stop"}).encode()
    with store.lock(store.path_for("claude-code", path)):
        assert (
            _run_main(tmp_path, payload, monkeypatch, "claude-code", "--state-dir", str(state)) == 0
        )
    assert collector.event_count == 0
    assert "another hook run is reading" in (state / "hook.log").read_text(encoding="utf-8")


def test_a_bad_price_file_is_logged_and_the_built_in_prices_used(
    tmp_path: Path, collector: Collector, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = transcript(tmp_path, "u3")
    settings = {
        "SERVER_URL": collector.url,
        "API_KEY": API_KEY,
        "INSTANCE_ID": INSTANCE_ID,
        "PRICES_FILE": str(tmp_path / "no.json"),
    }
    for key, value in settings.items():
        monkeypatch.setenv(f"MOSAIC_TELEMETRY_{key}", value)
    state = tmp_path / "state"
    payload = json.dumps({"transcript_path": str(path), "hook_event_name": "Stop"}).encode()
    assert _run_main(tmp_path, payload, monkeypatch, "claude-code", "--state-dir", str(state)) == 0
    assert collector.event_count == 2
    assert "cannot read price file" in (state / "hook.log").read_text(encoding="utf-8")
