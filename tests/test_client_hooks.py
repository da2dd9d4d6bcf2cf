"""before_send and dry_run_callback over real HTTP: redact or drop; a bad hook costs one event."""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from _server import (  # noqa: F401  # fixtures are used by name
    API_KEY,
    TelemetryServer,
    assert_balanced,
    clean_env_fixture,
    make_config,
    make_event,
    server_fixture,
)

from mosaic_telemetry import TaskCompletionEvent, TelemetryClient, TelemetryConfig

pytestmark = pytest.mark.usefixtures("clean_env")

LOGGER = "mosaic_telemetry"
Hook = Callable[[TaskCompletionEvent], Any]


def _warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        r.getMessage()
        for r in caplog.records
        if r.levelno == logging.WARNING and r.name.startswith(LOGGER)
    ]


def _redact(event: TaskCompletionEvent) -> TaskCompletionEvent | None:
    if event.model == "secret-model":
        return None  # dropped on purpose
    return dataclasses.replace(event, language=None, model="redacted")


def test_before_send_redacts_what_the_server_receives(server: TelemetryServer) -> None:
    client = TelemetryClient(make_config(server, before_send=_redact))
    client.track(make_event("claude-sonnet-4", language="python"))
    client.track(make_event("secret-model"))
    assert client.flush() is True
    received = [e for b in server.batches() for e in b.events]
    assert [(e["model"], e["language"]) for e in received] == [("redacted", None)]
    stats = client.stats
    assert (stats.sent, stats.dropped_before_send, stats.before_send_errors) == (1, 1, 0)
    assert_balanced(stats)


def _raises(event: TaskCompletionEvent) -> Any:
    raise RuntimeError("hook bug")


def _changes_the_id(event: TaskCompletionEvent) -> Any:
    return dataclasses.replace(event, event_id=uuid.uuid4())


def _breaks_a_rule(event: TaskCompletionEvent) -> Any:
    copy = dataclasses.replace(event)
    copy.retry_count = 99  # an assignment is not validated: the sender finds it
    return copy


def _blocks_then_raises(event: TaskCompletionEvent) -> Any:
    raise KeyError(event.model)


# Each hostile hook, and the words of the one WARNING it gets.
HOSTILE: list[tuple[str, Hook, str]] = [
    ("raises", _raises, "before_send raised RuntimeError: hook bug"),
    ("returns-a-string", lambda e: "redacted", "before_send returned str, not a"),
    ("returns-a-dict", lambda e: e.to_dict(), "before_send returned dict, not a"),
    ("returns-false", lambda e: False, "before_send returned bool, not a"),
    ("changes-event-id", _changes_the_id, "before_send changed the event_id"),
    ("breaks-a-rule", _breaks_a_rule, "retry_count: must be between 0 and 20"),
    ("raises-key-error", _blocks_then_raises, "before_send raised KeyError"),
]


@pytest.mark.parametrize(
    ("hook", "words"), [(h, w) for _, h, w in HOSTILE], ids=[name for name, _, _ in HOSTILE]
)
def test_a_hostile_before_send_costs_its_events_alone_and_is_warned_about_once(
    hook: Hook, words: str, server: TelemetryServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger=LOGGER)

    def picky(event: TaskCompletionEvent) -> Any:
        return hook(event) if event.model == "bad" else event

    client = TelemetryClient(make_config(server, before_send=picky))
    for model in ("good", "bad", "good", "bad", "bad"):
        client.track(make_event(model))
    assert client.flush() is True  # the batch is not lost for them
    assert [e["model"] for b in server.batches() for e in b.events] == ["good", "good"]
    stats = client.stats
    assert (stats.sent, stats.dropped_before_send, stats.before_send_errors) == (2, 3, 3)
    assert_balanced(stats)
    warned = [m for m in _warnings(caplog) if "before_send" in m]
    assert len(warned) == 1, warned  # once, not once per event
    assert words in warned[0]
    assert "dropped (stats.dropped_before_send, stats.before_send_errors)" in warned[0]
    assert stats.last_error is not None and "before_send" in stats.last_error


def test_a_before_send_that_raises_is_logged_with_its_traceback(
    server: TelemetryServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger=LOGGER)
    client = TelemetryClient(make_config(server, before_send=_raises))
    client.track(make_event())
    assert client.flush() is True
    (record,) = [r for r in caplog.records if "before_send" in r.getMessage()]
    assert record.exc_info is not None and record.exc_info[0] is RuntimeError


def test_a_before_send_error_never_shows_the_api_key(
    server: TelemetryServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger=LOGGER)

    def leaky(event: TaskCompletionEvent) -> Any:
        raise ValueError(f"cannot redact with {API_KEY}")

    client = TelemetryClient(make_config(server, before_send=leaky))
    client.track(make_event())
    assert client.flush() is True
    formatter = logging.Formatter()
    assert any("before_send raised ValueError" in r.getMessage() for r in caplog.records)
    assert all(API_KEY not in formatter.format(r) for r in caplog.records)  # tracebacks too
    assert API_KEY not in str(client.stats)


def test_before_send_runs_on_the_background_threads_never_in_track(
    server: TelemetryServer,
) -> None:
    seen: list[str] = []

    def record(event: TaskCompletionEvent) -> TaskCompletionEvent:
        seen.append(threading.current_thread().name)
        return event

    client = TelemetryClient(make_config(server, before_send=record, batch_size=2))
    client.start()
    try:
        for _ in range(6):
            client.track(make_event())
        assert server.wait_until(lambda s: len(s.event_ids()) == 6, 10.0)
    finally:
        client.stop()
    assert len(seen) == 6
    assert threading.current_thread().name not in seen
    assert all(name.startswith("mosaic-telemetry-") for name in seen), seen


def test_track_alone_never_calls_before_send() -> None:
    calls: list[object] = []
    config = TelemetryConfig(
        server_url="https://telemetry.invalid",
        api_key="0" * 64,
        instance_id="2f1e8c4a-5b6d-4e7f-8a9b-0c1d2e3f4a5b",
        dry_run=True,
        before_send=calls.append,
    )
    client = TelemetryClient(config)
    client.track(make_event())
    assert calls == []  # the caller's thread only queued it
    assert client.flush() is True
    assert len(calls) == 1


def test_a_blocking_before_send_runs_under_the_flush_deadline(server: TelemetryServer) -> None:
    slow = threading.Event()
    slow.set()

    def stalls(event: TaskCompletionEvent) -> TaskCompletionEvent:
        if slow.is_set():
            time.sleep(0.15)
        return event

    client = TelemetryClient(make_config(server, before_send=stalls))
    for _ in range(20):
        client.track(make_event())
    started = time.monotonic()
    assert client.flush(timeout=0.4) is False
    assert time.monotonic() - started < 1.5  # the deadline, plus at most one hook call
    stats = client.stats
    assert (stats.queued, stats.sent, server.event_ids()) == (20, 0, [])  # all went back
    slow.clear()
    assert client.flush() is True
    assert client.stats.sent == 20
    assert_balanced(client.stats)


def test_a_stop_cuts_a_blocking_before_send_short_and_the_final_flush_sends(
    server: TelemetryServer,
) -> None:
    stalling = threading.Event()
    stalling.set()

    def stalls(event: TaskCompletionEvent) -> TaskCompletionEvent:
        if stalling.is_set() and threading.current_thread().name.endswith("worker"):
            time.sleep(0.1)
        return event

    client = TelemetryClient(make_config(server, before_send=stalls, submit_interval_seconds=0.01))
    client.start()
    for _ in range(30):
        client.track(make_event())
    time.sleep(0.2)  # the worker is inside the hook now
    client.stop(timeout=5.0)
    stats = client.stats
    assert stats.sent == 30, stats
    assert_balanced(stats)


# -- configuration -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("before_send", "redact", "before_send must be a callable (event -> event or None)"),
        (
            "before_send",
            3,
            "before_send must be a callable (event -> event or None) or None, got 3",
        ),
        ("dry_run_callback", [], "dry_run_callback must be a callable (list of events -> None)"),
    ],
)
def test_a_hook_that_is_not_callable_is_a_config_problem_and_is_left_out(
    field: str, value: object, message: str, server: TelemetryServer
) -> None:
    config = make_config(server, **{field: value})
    problems = config.validate()
    assert len(problems) == 1 and problems[0].startswith(message), problems
    client = TelemetryClient(config)  # created anyway: a bad setting never stops the host
    client.track(make_event())
    assert client.flush() is True
    assert client.stats.sent == 1


@pytest.mark.parametrize("field", ["before_send", "dry_run_callback"])
def test_a_callable_hook_is_valid(field: str, server: TelemetryServer) -> None:
    assert make_config(server, **{field: print}).validate() == []


# -- dry run ---------------------------------------------------------------------------------------


def _dry_config(**overrides: Any) -> TelemetryConfig:
    return TelemetryConfig(
        server_url="https://telemetry.invalid",
        api_key="0" * 64,
        instance_id="2f1e8c4a-5b6d-4e7f-8a9b-0c1d2e3f4a5b",
        dry_run=True,
        batch_size=2,
        **overrides,
    )


def test_dry_run_hands_each_batch_as_before_send_left_it_to_the_callback(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG, logger=LOGGER)
    batches: list[list[TaskCompletionEvent]] = []
    client = TelemetryClient(_dry_config(before_send=_redact, dry_run_callback=batches.append))
    events = [make_event("a"), make_event("secret-model"), make_event("b"), make_event("c")]
    for event in events:
        client.track(event)
    assert client.flush() is True
    assert [[e.model for e in batch] for batch in batches] == [["redacted"], ["redacted"] * 2]
    lines = [r.getMessage() for r in caplog.records if r.getMessage().startswith("dry run")]
    assert [line.split(":")[0] for line in lines] == [
        "dry run",
        "dry run event 1/1",
        "dry run",
        "dry run event 1/2",
        "dry run event 2/2",
    ]
    assert '"model":"redacted"' in lines[1] and str(events[0].event_id) in lines[1]
    assert all(r.levelno == logging.DEBUG for r in caplog.records if "dry run event" in r.message)


def test_dry_run_logs_no_event_lines_above_debug(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger=LOGGER)
    client = TelemetryClient(_dry_config())
    client.track(make_event())
    assert client.flush() is True
    assert [r.getMessage().split(",")[0] for r in caplog.records] == [
        "dry run: would send 1 event(s)"
    ]


def test_a_dry_run_callback_that_raises_is_warned_about_once_and_the_batches_count(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, logger=LOGGER)

    def broken(events: list[TaskCompletionEvent]) -> None:
        raise OSError("disk full")

    client = TelemetryClient(_dry_config(dry_run_callback=broken))
    for _ in range(6):
        client.track(make_event())
    assert client.flush() is True
    assert (client.stats.sent, client.stats.batches) == (6, 3)
    warned = _warnings(caplog)
    assert warned == [
        "telemetry dry_run_callback raised OSError: disk full; the batch still counts as sent"
    ]
