"""TelemetryClient end to end over real HTTP: delivery, status policy, retries, predictions."""

from __future__ import annotations

import json
import logging
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime
from typing import Any

import pytest
from _server import (  # noqa: F401  # fixtures are used by name
    API_KEY,
    EVENTS_PATH,
    PREDICTIONS_PATH,
    FakeTime,
    Reply,
    TelemetryServer,
    assert_balanced,
    clean_env_fixture,
    make_config,
    make_event,
    make_query,
    make_server_fixture,
    prediction_for,
    server_fixture,
)

import mosaic_telemetry._ledger as ledger_module
from mosaic_telemetry import (
    ClientStats,
    ConfigurationError,
    PredictionQuery,
    PredictionResponse,
    TaskCompletionEvent,
    TelemetryClient,
    TelemetryConfig,
)
from mosaic_telemetry._http import MAX_RESPONSE_BYTES
from mosaic_telemetry._retry import BACKOFF_CAP_S

pytestmark = pytest.mark.usefixtures("clean_env")

LOGGER = "mosaic_telemetry"


class RecordingSleep:
    """An injectable ``sleep`` that returns at once and records what it was asked."""

    def __init__(self) -> None:
        self.calls: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)


@pytest.fixture
def no_sockets(monkeypatch: pytest.MonkeyPatch) -> list[object]:
    """Make every outgoing ``connect`` fail (and record the attempt) for this test."""
    attempts: list[object] = []

    def refuse(self: socket.socket, address: object) -> None:
        attempts.append(address)
        raise AssertionError(f"a socket was opened to {address!r}")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    return attempts


def warnings_of(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        r.getMessage()
        for r in caplog.records
        if r.levelno == logging.WARNING and r.name.startswith(LOGGER)
    ]


def track_all(client: TelemetryClient, events: list[TaskCompletionEvent]) -> None:
    for event in events:
        client.track(event)


# -- happy path and batching ----------------------------------------------------------


def test_flush_delivers_each_event_field_by_field(server: TelemetryServer) -> None:
    events = [
        make_event(),
        make_event(model="gpt-4o", language=None, repo_size_category=None),
        make_event(
            quality_gates_run=[], quality_gates_failed=[], timestamp=datetime(2026, 1, 2, 3, 4, 5)
        ),
    ]
    client = TelemetryClient(make_config(server))
    track_all(client, events)
    assert client.queue_size == 3
    assert client.flush() is True
    (batch,) = server.batches()
    assert batch.header("Authorization") == f"Bearer {API_KEY}"
    assert batch.header("Content-Type") == "application/json"
    assert batch.json == {"events": [event.to_dict() for event in events]}
    for received, event in zip(batch.events, events, strict=True):
        for name, value in event.to_dict().items():
            assert received[name] == value, name
    stats = client.stats
    assert (stats.tracked, stats.sent, stats.batches, stats.queued) == (3, 3, 1, 0)
    assert stats.last_error is None
    assert stats.last_success_at is not None
    assert stats.last_success_at.tzinfo is not None
    assert client.queue_size == 0
    assert_balanced(stats)


def test_flush_with_nothing_queued_sends_nothing(server: TelemetryServer) -> None:
    client = TelemetryClient(make_config(server))
    assert client.flush() is True
    assert server.requests == []
    assert client.stats == ClientStats()


def test_flush_sends_batches_of_batch_size_in_queue_order(server: TelemetryServer) -> None:
    events = [make_event() for _ in range(250)]
    client = TelemetryClient(make_config(server, batch_size=100))
    track_all(client, events)
    assert client.flush() is True
    assert [len(b.event_ids) for b in server.batches()] == [100, 100, 50]
    assert server.event_ids() == [str(e.event_id) for e in events]
    assert client.stats.batches == 3
    assert_balanced(client.stats)


def test_a_full_batch_wakes_the_background_thread_before_the_interval(
    server: TelemetryServer,
) -> None:
    client = TelemetryClient(make_config(server, batch_size=100, submit_interval_seconds=300.0))
    client.start()
    try:
        events = [make_event() for _ in range(250)]
        track_all(client, events)
        # The interval is 5 minutes: only flush-when-full can deliver this soon.
        assert server.wait_until(lambda s: len(s.event_ids()) >= 200, timeout_s=10.0)
        assert all(len(b.event_ids) <= 100 for b in server.batches())
    finally:
        client.stop()
    assert sorted(server.event_ids()) == sorted(str(e.event_id) for e in events)
    assert client.stats.sent == 250
    assert_balanced(client.stats)


# -- 413: split ---------------------------------------------------------------------


def test_413_splits_the_batch_until_the_halves_fit(server: TelemetryServer) -> None:
    server.responder = lambda r: Reply.error(413, "too large") if len(r.event_ids) > 30 else None
    events = [make_event() for _ in range(100)]
    client = TelemetryClient(make_config(server))
    track_all(client, events)
    assert client.flush() is True
    accepted = [b for b in server.batches() if len(b.event_ids) <= 30]
    assert [len(b.event_ids) for b in accepted] == [25, 25, 25, 25]
    assert [i for b in accepted for i in b.event_ids] == [str(e.event_id) for e in events]
    stats = client.stats
    assert (stats.sent, stats.batches, stats.dropped_errors, stats.retries) == (100, 4, 0, 0)
    assert_balanced(stats)


def test_413_for_a_single_event_drops_it_and_counts_it(server: TelemetryServer) -> None:
    server.default = Reply.error(413, "event too large")
    client = TelemetryClient(make_config(server))
    track_all(client, [make_event() for _ in range(3)])
    assert client.flush() is True
    assert [len(b.event_ids) for b in server.batches()] == [3, 1, 2, 1, 1]
    stats = client.stats
    assert (stats.sent, stats.dropped_errors, stats.queued) == (0, 3, 0)
    assert stats.last_error is not None
    assert "413" in stats.last_error
    assert_balanced(stats)


# -- 2xx with rejections ---------------------------------------------------------------


def test_rejected_events_are_counted_logged_and_never_retried(
    server: TelemetryServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger=LOGGER)
    events = [make_event() for _ in range(5)]
    server.default = Reply(
        reject={
            str(events[1].event_id): "model: must be 1 to 100 characters",
            str(events[3].event_id): "timestamp: too far in the future",
            str(uuid.uuid4()): "an id that was never sent",
        }
    )
    client = TelemetryClient(make_config(server))
    track_all(client, events)
    assert client.flush() is True
    assert client.flush() is True
    assert len(server.batches()) == 1
    stats = client.stats
    assert (stats.sent, stats.rejected, stats.retries, stats.queued) == (3, 2, 0, 0)
    assert_balanced(stats)
    logged = "\n".join(warnings_of(caplog))
    assert "model: must be 1 to 100 characters" in logged
    assert "timestamp: too far in the future" in logged


# -- permanent failures ----------------------------------------------------------------


@pytest.mark.parametrize("status", [400, 401, 403, 404, 422])
def test_a_permanent_failure_drops_the_batch_and_warns_with_the_servers_message(
    server: TelemetryServer, caplog: pytest.LogCaptureFixture, status: int
) -> None:
    caplog.set_level(logging.DEBUG, logger=LOGGER)
    server.script(Reply.error(status, f"refused for reason {status}"))
    client = TelemetryClient(make_config(server), sleep=RecordingSleep())
    track_all(client, [make_event() for _ in range(4)])
    assert client.flush() is True
    assert len(server.batches()) == 1
    stats = client.stats
    assert (stats.sent, stats.dropped_errors, stats.retries, stats.queued) == (0, 4, 0, 0)
    assert stats.last_error is not None
    assert f"refused for reason {status}" in stats.last_error
    (warning,) = warnings_of(caplog)
    assert str(status) in warning
    assert f"refused for reason {status}" in warning
    assert_balanced(stats)


def test_each_distinct_cause_is_warned_once(
    server: TelemetryServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger=LOGGER)
    server.script(
        Reply.error(401, "unknown api key"),
        Reply.error(404, "no such route"),
        Reply.error(401, "unknown api key"),
        Reply.error(404, "no such route"),
    )
    client = TelemetryClient(make_config(server))
    for _ in range(4):
        client.track(make_event())
        client.flush()
    assert client.stats.dropped_errors == 4
    warnings = warnings_of(caplog)
    assert len(warnings) == 2, warnings
    assert "unknown api key" in warnings[0]
    assert "no such route" in warnings[1]


# -- transient failures ----------------------------------------------------------------

TRANSIENT = [
    pytest.param(Reply.error(408, "request timeout"), id="408"),
    pytest.param(Reply.error(429, "slow down"), id="429"),
    pytest.param(Reply.error(500, "internal error"), id="500"),
    pytest.param(Reply(status=502, body=b"<html>Bad Gateway</html>"), id="502"),
    pytest.param(Reply.error(503, "unavailable"), id="503"),
    pytest.param(Reply.error(504, "gateway timeout"), id="504"),
    pytest.param(Reply(drop_connection=True), id="connection-closed"),
]


@pytest.mark.parametrize("reply", TRANSIENT)
def test_a_transient_failure_is_retried_then_the_events_go_back(
    server: TelemetryServer, reply: Reply
) -> None:
    server.default = reply
    sleep = RecordingSleep()
    client = TelemetryClient(make_config(server, max_retries=2), sleep=sleep)
    events = [make_event() for _ in range(5)]
    track_all(client, events)
    assert client.flush() is False
    batches = server.batches()
    assert all(b.event_ids == batches[0].event_ids for b in batches[:3])
    if reply.status in (500, 502, 504) and not reply.drop_connection:
        # A 5xx that may be the batch's fault: halves, then quarters, are tried once
        # each; as none got a 2xx, the server is down and every event goes back.
        assert [len(b.event_ids) for b in batches[3:]] == [2, 3, 1, 1, 1, 2]
    else:
        assert len(batches) == 3
    assert len(sleep.calls) == 2
    stats = client.stats
    assert (stats.retries, stats.sent, stats.dropped_errors) == (2, 0, 0)
    assert (stats.queued, stats.in_flight) == (5, 0)
    assert stats.last_error is not None
    assert_balanced(stats)


@pytest.mark.parametrize("reply", TRANSIENT)
def test_a_transient_failure_then_success_delivers_once(
    server: TelemetryServer, reply: Reply
) -> None:
    server.script(reply, reply)
    client = TelemetryClient(make_config(server, max_retries=3), sleep=RecordingSleep())
    events = [make_event() for _ in range(5)]
    track_all(client, events)
    assert client.flush() is True
    assert len(server.batches()) == 3
    stats = client.stats
    assert (stats.retries, stats.sent, stats.batches, stats.queued) == (2, 5, 1, 0)
    assert_balanced(stats)


def test_no_retries_when_max_retries_is_zero(server: TelemetryServer) -> None:
    server.default = Reply.error(503, "unavailable")
    sleep = RecordingSleep()
    client = TelemetryClient(make_config(server, max_retries=0), sleep=sleep)
    client.track(make_event())
    assert client.flush() is False
    assert len(server.batches()) == 1
    assert sleep.calls == []
    assert client.stats.retries == 0
    assert client.stats.queued == 1


def test_backoff_waits_are_full_jitter_within_the_capped_exponential(
    server: TelemetryServer,
) -> None:
    server.default = Reply.error(500, "down")
    fake = FakeTime()
    client = TelemetryClient(make_config(server, max_retries=7), clock=fake.clock, sleep=fake.sleep)
    client.track(make_event())
    assert client.flush(timeout=600.0) is False
    assert len(fake.sleeps) == 7
    for attempt, slept in enumerate(fake.sleeps):
        assert 0.0 <= slept <= min(BACKOFF_CAP_S, 2.0**attempt), (attempt, slept)
    assert client.stats.retries == 7


# -- Retry-After -----------------------------------------------------------------------


def test_retry_after_seconds_is_the_wait(server: TelemetryServer) -> None:
    server.script(Reply.error(503, "busy", **{"Retry-After": "7"}))
    sleep = RecordingSleep()
    client = TelemetryClient(make_config(server), sleep=sleep)
    client.track(make_event())
    assert client.flush(timeout=60.0) is True
    assert sleep.calls == [7.0]
    assert client.stats.retries == 1
    assert client.stats.sent == 1


def test_retry_after_seconds_with_a_fake_clock(server: TelemetryServer) -> None:
    server.script(Reply.error(429, "slow down", **{"Retry-After": "7"}))
    fake = FakeTime()
    client = TelemetryClient(make_config(server), clock=fake.clock, sleep=fake.sleep)
    client.track(make_event())
    assert client.flush(timeout=60.0) is True
    assert fake.sleeps == [7.0]
    assert client.stats.sent == 1


def test_retry_after_http_date_is_the_wait(server: TelemetryServer) -> None:
    when = datetime.now(timezone.utc) + timedelta(seconds=30)
    server.script(Reply.error(503, "busy", **{"Retry-After": format_datetime(when, usegmt=True)}))
    fake = FakeTime()
    client = TelemetryClient(make_config(server), clock=fake.clock, sleep=fake.sleep)
    client.track(make_event())
    assert client.flush(timeout=120.0) is True
    (slept,) = fake.sleeps
    assert 27.0 <= slept <= 30.0
    assert client.stats.sent == 1


def test_retry_after_also_delays_the_next_batch(server: TelemetryServer) -> None:
    server.script(Reply.error(429, "slow down", **{"Retry-After": "20"}))
    fake = FakeTime()
    client = TelemetryClient(make_config(server), clock=fake.clock, sleep=fake.sleep)
    client.track(make_event())
    assert client.flush(timeout=60.0) is True
    client.track(make_event())
    assert client.flush(timeout=60.0) is True
    assert fake.sleeps == [20.0]  # the 20 s have passed: the next batch goes at once
    assert client.stats.sent == 2


def test_a_retry_after_beyond_the_deadline_gives_up_without_waiting(
    server: TelemetryServer,
) -> None:
    server.default = Reply.error(503, "maintenance", **{"Retry-After": "3600"})
    sleep = RecordingSleep()
    client = TelemetryClient(make_config(server), sleep=sleep)
    client.track(make_event())
    started = time.monotonic()
    assert client.flush(timeout=2.0) is False
    assert time.monotonic() - started < 2.0 + 1.5
    assert sleep.calls == []
    assert client.stats.queued == 1
    assert_balanced(client.stats)


def test_an_unreadable_retry_after_falls_back_to_backoff(server: TelemetryServer) -> None:
    # Byte 0xB2 ("²" in latin-1) passes str.isdigit() but not float().
    server.script(Reply.error(503, "busy", **{"Retry-After": "\u00b2"}))
    fake = FakeTime()
    client = TelemetryClient(make_config(server), clock=fake.clock, sleep=fake.sleep)
    client.track(make_event())
    assert client.flush(timeout=60.0) is True
    assert client.stats.retries == 1
    assert client.stats.sent == 1
    assert client.stats.dropped_errors == 0


# -- put back, then recovery --------------------------------------------------------------


def test_events_go_back_to_the_front_in_order_and_are_delivered_after_recovery(
    server: TelemetryServer,
) -> None:
    server.default = Reply(drop_connection=True)
    client = TelemetryClient(
        make_config(server, batch_size=100, max_retries=1), sleep=lambda s: None
    )
    events = [make_event() for _ in range(250)]
    track_all(client, events)
    assert client.flush() is False
    stats = client.stats
    assert (stats.queued, stats.in_flight, stats.sent, stats.dropped_errors) == (250, 0, 0, 0)
    assert_balanced(stats)
    later = make_event(model="tracked-after-the-failure")
    client.track(later)

    failed_requests = len(server.requests)
    server.default = Reply()
    assert client.flush() is True
    delivered = [i for b in server.batches()[failed_requests:] for i in b.event_ids]
    assert delivered == [str(e.event_id) for e in [*events, later]]
    stats = client.stats
    assert (stats.tracked, stats.sent, stats.queued, stats.in_flight) == (251, 251, 0, 0)
    assert_balanced(stats)


def test_an_unreachable_server_never_raises_and_keeps_the_events() -> None:
    gone = TelemetryServer()
    gone.close()
    client = TelemetryClient(make_config(gone, max_retries=1), sleep=lambda s: None)
    client.track(make_event())
    assert client.flush(timeout=3.0) is False
    stats = client.stats
    assert (stats.queued, stats.retries) == (1, 1)
    assert stats.last_error is not None
    assert "Connection refused" in stats.last_error or "URLError" in stats.last_error
    assert API_KEY not in stats.last_error
    assert_balanced(stats)


# -- redirects, schemes, dry run -------------------------------------------------------


@pytest.mark.parametrize("status", [301, 302, 307, 308])
def test_a_redirect_is_dropped_and_never_followed(
    server: TelemetryServer, make_server: Callable[..., TelemetryServer], status: int
) -> None:
    elsewhere = make_server()
    server.default = Reply(
        status=status, body=b"", headers={"Location": elsewhere.url + EVENTS_PATH}
    )
    client = TelemetryClient(make_config(server), sleep=RecordingSleep())
    track_all(client, [make_event() for _ in range(3)])
    assert client.flush() is True
    assert len(server.batches()) == 1
    assert server.batches()[0].header("Authorization") == f"Bearer {API_KEY}"
    assert elsewhere.requests == []
    stats = client.stats
    assert (stats.dropped_errors, stats.retries, stats.sent) == (3, 0, 0)
    assert stats.last_error is not None
    assert str(status) in stats.last_error


@pytest.mark.parametrize(
    "url", ["file:///etc/passwd", "ftp://127.0.0.1/upload", "data:text/plain,hello"]
)
def test_non_http_urls_are_refused_and_the_events_dropped(
    url: str, caplog: pytest.LogCaptureFixture, no_sockets: list[object]
) -> None:
    caplog.set_level(logging.DEBUG, logger=LOGGER)
    config = make_config(url)
    assert any("server_url must start with http:// or https://" in p for p in config.validate())
    client = TelemetryClient(config)  # constructs, and warns
    assert any("server_url" in w for w in warnings_of(caplog))
    track_all(client, [make_event(), make_event()])
    assert client.flush() is True
    stats = client.stats
    assert (stats.dropped_errors, stats.sent, stats.queued) == (2, 0, 0)
    assert stats.last_error is not None
    assert "http:// or https://" in stats.last_error
    assert no_sockets == []
    client.refresh_predictions_sync([make_query()])
    assert client.get_prediction(make_query()) is None
    assert no_sockets == []


def test_dry_run_logs_counts_as_sent_and_opens_no_socket(
    server: TelemetryServer, caplog: pytest.LogCaptureFixture, no_sockets: list[object]
) -> None:
    caplog.set_level(logging.DEBUG, logger=LOGGER)
    client = TelemetryClient(make_config(server, dry_run=True, batch_size=2))
    events = [make_event() for _ in range(3)]
    track_all(client, events)
    assert client.flush() is True
    stats = client.stats
    assert (stats.sent, stats.batches, stats.queued) == (3, 2, 0)
    assert_balanced(stats)
    infos = [r.getMessage() for r in caplog.records if r.levelno == logging.INFO]
    assert any("2" in m and str(events[0].event_id) in m for m in infos), infos
    assert any("1" in m and str(events[2].event_id) in m for m in infos), infos
    assert no_sockets == []
    assert server.requests == []


# -- many threads -------------------------------------------------------------------------


PER_THREAD = 2_500


@pytest.mark.slow
def test_sixteen_threads_tracking_thousands_of_events_each_lose_nothing(
    make_server: Callable[..., TelemetryServer],
) -> None:
    server = make_server(keep_json=False)
    config = make_config(
        server,
        batch_size=100,
        max_queue_size=200_000,
        submit_interval_seconds=0.05,
        request_timeout_seconds=10.0,
        shutdown_timeout_seconds=60.0,
    )
    client = TelemetryClient(config)
    client.start()
    tracked: list[list[str]] = [[] for _ in range(16)]
    barrier = threading.Barrier(16)

    def produce(ids: list[str]) -> None:
        barrier.wait()
        for _ in range(PER_THREAD):
            event = make_event()
            ids.append(str(event.event_id))
            client.track(event)

    threads = [threading.Thread(target=produce, args=(ids,)) for ids in tracked]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    client.stop(timeout=60.0)
    received = set(server.event_ids())  # a timed-out request may arrive twice: ids are keys
    expected = {i for ids in tracked for i in ids}
    assert len(expected) == 16 * PER_THREAD
    assert received == expected
    stats = client.stats
    assert (stats.tracked, stats.sent, stats.dropped_queue_full) == (len(expected),) * 2 + (0,)
    assert_balanced(stats)


# -- track() never raises --------------------------------------------------------------


@pytest.mark.parametrize("wrong", [None, {}, "event", 42, b"x", TaskCompletionEvent])
def test_track_drops_a_wrong_argument_without_raising(
    server: TelemetryServer, caplog: pytest.LogCaptureFixture, wrong: object
) -> None:
    caplog.set_level(logging.DEBUG, logger=LOGGER)
    client = TelemetryClient(make_config(server))
    client.track(wrong)  # type: ignore[arg-type]  # the wrong type on purpose
    client.track(make_event())
    stats = client.stats
    # tracked counts every track() call, so the identity holds over every drop counter.
    assert (stats.dropped_invalid, stats.tracked, stats.queued) == (1, 2, 1)
    assert_balanced(stats)
    assert any(type(wrong).__name__ in w for w in warnings_of(caplog))
    assert client.flush() is True
    assert len(server.event_ids()) == 1


def test_track_never_raises_even_when_the_queue_breaks(
    server: TelemetryServer, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    caplog.set_level(logging.DEBUG, logger=LOGGER)
    client = TelemetryClient(make_config(server))

    def broken(self: object, item: object, batch_size: int) -> bool:
        raise RuntimeError("queue on fire")

    monkeypatch.setattr(ledger_module.Ledger, "put_event", broken)
    client.track(make_event())  # must not raise
    assert any(r.levelno == logging.ERROR and r.exc_info for r in caplog.records)


def test_track_evicts_the_oldest_when_the_queue_is_full(server: TelemetryServer) -> None:
    client = TelemetryClient(make_config(server, max_queue_size=10, batch_size=100))
    events = [make_event() for _ in range(25)]
    track_all(client, events)
    stats = client.stats
    assert (stats.tracked, stats.dropped_queue_full, stats.queued) == (25, 15, 10)
    assert client.flush() is True
    assert server.event_ids() == [str(e.event_id) for e in events[15:]]
    assert_balanced(client.stats)


# -- gzip --------------------------------------------------------------------------------


def test_gzip_bodies_decode_to_the_same_events(server: TelemetryServer) -> None:
    client = TelemetryClient(make_config(server, gzip=True))
    events = [make_event() for _ in range(20)]
    track_all(client, events)
    assert client.flush() is True
    (batch,) = server.batches()
    assert batch.header("Content-Encoding") == "gzip"
    assert batch.raw_body[:2] == b"\x1f\x8b"
    assert json.loads(batch.body) == {"events": [e.to_dict() for e in events]}
    assert client.stats.sent == 20


# -- malformed 2xx bodies -----------------------------------------------------------------

BIG_VALID = b'{"accepted": 2, "rejected": 0, "results": [], "pad": "' + b"x" * MAX_RESPONSE_BYTES
BIG_VALID += b'"}'


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(b"garbage", id="garbage"),
        pytest.param(b'{"accepted": 2, "rejected": 0, "res', id="truncated-json"),
        pytest.param(b"[1, 2]", id="wrong-shape"),
        pytest.param(b'{"accepted": -1, "rejected": 0, "results": []}', id="broken-rule"),
        pytest.param(b"\xff\xfe\x00", id="not-utf8"),
        pytest.param(b"[" * 100_000, id="deeply-nested"),
        pytest.param(BIG_VALID, id="over-1-MiB"),
    ],
)
def test_a_malformed_2xx_body_is_counted_and_the_events_are_sent(
    server: TelemetryServer, body: bytes
) -> None:
    server.default = Reply(status=202, body=body)
    client = TelemetryClient(make_config(server))
    track_all(client, [make_event(), make_event()])
    assert client.flush() is True
    stats = client.stats
    assert (stats.invalid_responses, stats.sent, stats.rejected, stats.dropped_errors) == (
        1,
        2,
        0,
        0,
    )
    assert_balanced(stats)


@pytest.mark.parametrize("status", [200, 202, 204])
def test_an_empty_2xx_body_is_a_plain_success(server: TelemetryServer, status: int) -> None:
    server.default = Reply(status=status, body=b"")
    client = TelemetryClient(make_config(server))
    client.track(make_event())
    assert client.flush() is True
    assert (client.stats.sent, client.stats.invalid_responses) == (1, 0)


# -- predictions -----------------------------------------------------------------------------


def expected_prediction(query: PredictionQuery) -> PredictionResponse:
    return PredictionResponse.from_dict(prediction_for(query.to_dict()))


def test_refresh_sends_chunks_of_fifty_and_fills_the_cache(
    server: TelemetryServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    queries = [make_query(i) for i in range(120)]
    client = TelemetryClient(make_config(server))
    assert client.get_prediction(queries[0]) is None
    client.refresh_predictions_sync(queries)
    requests = server.requests
    assert [(r.method, r.path) for r in requests] == [("POST", PREDICTIONS_PATH)] * 3
    assert [len(r.queries) for r in requests] == [50, 50, 20]
    assert [q for r in requests for q in r.queries] == [q.to_dict() for q in queries]
    assert requests[0].header("Authorization") == f"Bearer {API_KEY}"

    def refuse(self: socket.socket, address: object) -> None:
        raise AssertionError("get_prediction opened a socket")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    for query in queries:
        assert client.get_prediction(query) == expected_prediction(query)
    assert client.get_prediction(make_query(999)) is None
    assert len(server.requests) == 3


def test_refresh_with_no_queries_sends_nothing(server: TelemetryServer) -> None:
    client = TelemetryClient(make_config(server))
    client.refresh_predictions_sync([])
    client.refresh_predictions_sync(["not a query", None])  # type: ignore[list-item]  # wrong on purpose
    assert server.requests == []


@pytest.mark.parametrize(
    "failure",
    [
        pytest.param(Reply.error(500, "boom"), id="500"),
        pytest.param(Reply.error(401, "unknown key"), id="401"),
        pytest.param(Reply(status=200, body=b"garbage"), id="garbage"),
        pytest.param(Reply(status=200, body=b'{"results": []}'), id="too-few-results"),
        pytest.param(Reply(status=200, body=b'{"results": [{"prediction": 1}]}'), id="invalid"),
        pytest.param(Reply(drop_connection=True), id="connection-closed"),
    ],
)
def test_a_failed_refresh_leaves_the_cache_as_it_was(
    server: TelemetryServer, caplog: pytest.LogCaptureFixture, failure: Reply
) -> None:
    query = make_query(1)
    client = TelemetryClient(make_config(server, max_retries=0))
    client.refresh_predictions_sync([query])
    before = client.get_prediction(query)
    assert before == expected_prediction(query)
    caplog.set_level(logging.DEBUG, logger=LOGGER)
    server.default = failure
    client.refresh_predictions_sync([query, make_query(2)])  # must not raise
    assert client.get_prediction(query) is before
    assert client.get_prediction(make_query(2)) is None
    assert warnings_of(caplog)


def test_an_unreadable_prediction_body_is_counted(server: TelemetryServer) -> None:
    server.default = Reply(status=200, body=b"garbage")
    client = TelemetryClient(make_config(server))
    client.refresh_predictions_sync([make_query()])
    assert client.stats.invalid_responses == 1


def test_prediction_calls_with_wrong_arguments_never_raise(server: TelemetryServer) -> None:
    client = TelemetryClient(make_config(server))
    assert client.get_prediction("not a query") is None  # type: ignore[arg-type]  # on purpose

    def exploding() -> Iterator[PredictionQuery]:
        yield make_query()
        raise RuntimeError("the caller's iterable broke")

    client.refresh_predictions_sync(exploding())  # must not raise
    assert server.requests == []


def test_cached_predictions_expire_after_the_ttl(server: TelemetryServer) -> None:
    fake = FakeTime()
    config = make_config(server, prediction_cache_ttl_seconds=60.0)
    client = TelemetryClient(config, clock=fake.clock, sleep=fake.sleep)
    query = make_query(3)
    client.refresh_predictions_sync([query])
    fake.advance(59.0)
    assert client.get_prediction(query) == expected_prediction(query)
    fake.advance(2.0)
    assert client.get_prediction(query) is None
    client.refresh_predictions_sync([query])
    assert client.get_prediction(query) == expected_prediction(query)


# -- secrets ------------------------------------------------------------------------------------


def test_the_api_key_never_appears_in_logs_reprs_stats_or_errors(
    server: TelemetryServer,
    make_server: Callable[..., TelemetryServer],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    elsewhere = make_server()
    server.script(
        Reply.error(401, "unknown key"),
        Reply.error(403, "forbidden"),
        Reply.error(500, "boom"),
        Reply(drop_connection=True),
        Reply(status=307, body=b"", headers={"Location": elsewhere.url}),
        Reply(status=202, body=b"garbage"),
        Reply(status=202, body=BIG_VALID),
        Reply.error(413, "too large"),
    )
    texts: list[str] = []
    client = TelemetryClient(make_config(server, max_retries=1), sleep=lambda s: None)
    for _ in range(8):
        track_all(client, [make_event(), make_event()])
        client.flush(timeout=3.0)
        texts += [repr(client), str(client), repr(client.stats), str(client.stats)]
    client.refresh_predictions_sync([make_query()])
    texts += [repr(client.config), str(client.config)]

    bad_configs: list[dict[str, Any]] = [
        {"server_url": "file:///etc/passwd"},
        {"user_agent": "agent\r\nX-Evil: 1"},
        {"server_url": "http://127.0.0.1:1"},  # refused
        {"dry_run": True},
    ]
    for overrides in bad_configs:
        other = TelemetryClient(make_config(server, **overrides), sleep=lambda s: None)
        other.track(make_event())
        other.flush(timeout=2.0)
        other.refresh_predictions_sync([make_query()])
        texts += [repr(other), repr(other.stats), repr(other.config)]
        other.stop(timeout=1.0)
    client.stop(timeout=1.0)

    with pytest.raises(ConfigurationError) as info:
        from mosaic_telemetry.transport import Transport

        Transport(make_config(server, user_agent="a\nb"))
    texts += [str(info.value), repr(info.value)]

    for record in caplog.records:
        texts.append(record.getMessage())
        if record.exc_info:
            texts.append(logging.Formatter().formatException(record.exc_info))
    assert caplog.records  # the scenarios did log
    leaks = [t for t in texts if API_KEY in t or API_KEY[-12:] in t]
    assert leaks == []


# -- robustness of the constructor ------------------------------------------------------------


@pytest.mark.parametrize(
    "overrides",
    [
        {"request_timeout_seconds": None},
        {"request_timeout_seconds": "soon"},
        {"request_timeout_seconds": float("nan")},
        {"request_timeout_seconds": 0},
        {"request_timeout_seconds": -1.0},
        {"max_retries": None},
        {"max_retries": "many"},
        {"max_retries": -3},
        {"batch_size": 0},
        {"batch_size": 1000},
        {"max_queue_size": -1},
        {"submit_interval_seconds": None},
        {"shutdown_timeout_seconds": "x"},
        {"prediction_cache_ttl_seconds": -5},
        {"prediction_cache_ttl_seconds": -0.5},
        {"prediction_cache_ttl_seconds": float("nan")},
        {"prediction_cache_ttl_seconds": "a day"},
    ],
    ids=lambda o: "-".join(f"{k}={v!r}" for k, v in o.items()),
)
def test_a_bad_setting_warns_but_the_client_still_delivers(
    server: TelemetryServer, caplog: pytest.LogCaptureFixture, overrides: dict[str, Any]
) -> None:
    caplog.set_level(logging.DEBUG, logger=LOGGER)
    client = TelemetryClient(make_config(server, **overrides))  # must not raise
    assert warnings_of(caplog)
    client.track(make_event())
    assert client.flush(timeout=5.0) is True
    assert client.stats.sent == 1
    client.stop(timeout=1.0)


def test_a_config_passed_by_keyword_arguments_only_is_the_clients(
    server: TelemetryServer,
) -> None:
    config = TelemetryConfig(server_url=server.url, api_key=API_KEY)
    client = TelemetryClient(config)
    assert client.config is config
