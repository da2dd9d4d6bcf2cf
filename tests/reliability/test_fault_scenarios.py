"""Fault scenarios over real HTTP: every failure a server can offer, with exact accounting."""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import pytest
from _faults import (
    FaultServer,
    Plan,
    alternate,
    always,
    commit_then_stall,
    cut_before_status,
    cut_mid_body,
    first,
    for_seconds,
    garbage,
    hang,
    ok,
    oversized,
    redirect,
    reject_models,
    status,
    too_large_above,
    truncated,
)
from _report import record_run
from _support import (
    API_KEY,
    MARGIN_S,
    assert_balanced,
    assert_nothing_silent,
    make_config,
    make_event,
    quick_sleep,
    track_all,
    wait_until,
)

from mosaic_telemetry import TaskCompletionEvent, TelemetryClient
from mosaic_telemetry.collector import Collector

pytestmark = pytest.mark.reliability

HERE = "tests/reliability/test_fault_scenarios.py"
MakeClient = Callable[..., TelemetryClient]
Serve = Callable[..., FaultServer]


def _command(test: str) -> str:
    return f"python -m pytest -m reliability {HERE}::{test}"


def _no_wait(seconds: float) -> None:
    """Backoff waits that return at once (the schedule, not the clock, drives these rows)."""


# -- one request at a time: the status policy and every way a response can be broken ----------


@dataclass(frozen=True)
class Row:
    """A server behaviour and what 30 tracked events (5 of model "bad") must become."""

    name: str
    plan: Plan
    sent: int = 30
    rejected: int = 0
    dropped_errors: int = 0
    retries: int = 0
    invalid_responses: int = 0
    options: dict[str, object] = field(default_factory=dict)


ROWS = [
    *(Row(f"transient {code}", first(2, status(code)), retries=2) for code in (500, 502, 503, 504)),
    Row("transient 408", first(2, status(408)), retries=2),
    Row("429 with Retry-After seconds", first(2, status(429, retry_after="1")), retries=2),
    Row(
        "429 with Retry-After HTTP-date",
        first(1, status(429, retry_after="Wed, 21 Oct 2015 07:28:00 GMT")),
        retries=1,
    ),
    *(
        Row(f"permanent {code}", always(status(code)), sent=0, dropped_errors=30)
        for code in (400, 401, 403, 404, 422)
    ),
    Row("413 splits until batches fit", too_large_above(7)),
    Row("connection closed before the status line", first(1, cut_before_status()), retries=1),
    Row("connection closed mid-body", first(1, cut_mid_body()), retries=1),
    Row(
        "server hangs past the client timeout",
        first(1, hang(3.0)),
        retries=1,
        options={"request_timeout_seconds": 0.3},
    ),
    Row("2xx with garbage body", always(garbage(202)), invalid_responses=2),
    Row("2xx with truncated JSON body", always(truncated(202)), invalid_responses=2),
    Row("2xx with a body over 1 MiB", always(oversized(202)), invalid_responses=2),
    Row("5xx with garbage body", first(1, garbage(500)), retries=1),
    Row("4xx with garbage body", always(garbage(400)), sent=0, dropped_errors=30),
    Row("2xx with some events rejected", always(reject_models("bad")), sent=25, rejected=5),
]


@pytest.mark.parametrize("row", ROWS, ids=[row.name for row in ROWS])
def test_every_fault_ends_in_exact_counts(row: Row, serve: Serve, make_client: MakeClient) -> None:
    server = serve(row.plan)
    client = make_client(make_config(server.url, **row.options), sleep=_no_wait)
    events = [make_event() for _ in range(25)] + [make_event(model="bad") for _ in range(5)]
    track_all(client, events)
    began = time.monotonic()

    flushed = client.flush(timeout=20.0)

    took = time.monotonic() - began
    stats = client.stats
    record_run(  # before the checks: a failing row still shows what it measured
        f"fault: {row.name}",
        f"python -m pytest -m reliability '{HERE}::test_every_fault_ends_in_exact_counts"
        f"[{row.name}]'",
        stats,
        delivered=len(server.delivered_ids()),
        seconds=took,
        client_sent=stats.sent,
        invalid_responses=stats.invalid_responses,
    )
    assert flushed is True
    assert_nothing_silent(stats, server, events)
    got = (stats.sent, stats.rejected, stats.dropped_errors, stats.retries)
    assert got == (row.sent, row.rejected, row.dropped_errors, row.retries)
    assert stats.invalid_responses == row.invalid_responses
    assert (stats.queued, stats.in_flight, stats.dropped_shutdown) == (0, 0, 0)
    # An event the server answered with a 2xx (accepted or rejected) is never sent again.
    answered = [i for r in server.event_receipts() if 200 <= r.status < 300 for i in r.event_ids]
    assert len(answered) == len(set(answered))


def test_a_413_split_sends_each_event_once(serve: Serve, make_client: MakeClient) -> None:
    server = serve(too_large_above(3))
    client = make_client(make_config(server.url, batch_size=100), sleep=_no_wait)
    events = [make_event() for _ in range(50)]
    track_all(client, events)

    assert client.flush(timeout=20.0) is True

    accepted = [r for r in server.event_receipts() if r.status == 202]
    assert all(len(r.event_ids) <= 3 for r in accepted)
    assert sorted(i for r in accepted for i in r.event_ids) == sorted(
        str(e.event_id) for e in events
    )
    assert_nothing_silent(client.stats, server, events)
    assert client.stats.sent == 50


def test_a_redirect_is_not_followed_and_the_key_stays_home(
    serve: Serve, make_client: MakeClient
) -> None:
    elsewhere = serve()
    server = serve(always(redirect(elsewhere.url + "/v1/events/batch")))
    client = make_client(make_config(server.url), sleep=_no_wait)
    events = [make_event() for _ in range(5)]
    track_all(client, events)

    assert client.flush(timeout=10.0) is True

    assert elsewhere.receipts == []
    stats = client.stats
    assert (stats.sent, stats.dropped_errors, stats.retries) == (0, 5, 0)
    assert_nothing_silent(stats, server, events)
    assert len(server.event_receipts()) == 1


# -- the background thread against servers that misbehave over time ---------------------------


def _paced(
    client: TelemetryClient, count: int, per_step: int, step_s: float
) -> list[TaskCompletionEvent]:
    """Track ``count`` events, ``per_step`` every ``step_s`` seconds, like a busy host."""
    events: list[TaskCompletionEvent] = []
    while len(events) < count:
        chunk = [make_event() for _ in range(min(per_step, count - len(events)))]
        track_all(client, chunk)
        events.extend(chunk)
        time.sleep(step_s)
    return events


def test_an_outage_then_recovery_loses_nothing_within_queue_capacity(
    serve: Serve, make_client: MakeClient
) -> None:
    outage_s = 1.5
    server = serve(for_seconds(outage_s, status(503)))
    config = make_config(server.url, request_timeout_seconds=1.0, max_retries=2)
    client = make_client(config, sleep=quick_sleep)
    client.start()
    began = time.monotonic()

    events = _paced(client, 300, per_step=30, step_s=0.1)  # all tracked during the outage
    assert wait_until(lambda: client.stats.sent == 300, timeout_s=20.0), client.stats
    took = time.monotonic() - began
    client.stop()

    stats = client.stats
    assert_nothing_silent(stats, server, events)
    assert server.delivered_ids() == {str(e.event_id) for e in events}
    assert stats.dropped_queue_full + stats.dropped_errors + stats.dropped_shutdown == 0
    failed = [r for r in server.event_receipts() if r.status == 503]
    assert failed, "the outage never reached the client"
    record_run(
        "outage 1.5 s (503) then recovery",
        _command("test_an_outage_then_recovery_loses_nothing_within_queue_capacity"),
        stats,
        delivered=len(server.delivered_ids()),
        seconds=took,
        failed_requests=len(failed),
        requests=len(server.event_receipts()),
    )


def test_a_flapping_server_gets_every_event_once(serve: Serve, make_client: MakeClient) -> None:
    server = serve(alternate(status(503)))  # requests 1, 3, 5, ... fail
    client = make_client(make_config(server.url, max_retries=5), sleep=quick_sleep)
    client.start()
    began = time.monotonic()

    events = _paced(client, 400, per_step=40, step_s=0.05)
    assert wait_until(lambda: client.stats.sent == 400, timeout_s=20.0), client.stats
    took = time.monotonic() - began
    client.stop()

    stats = client.stats
    assert_nothing_silent(stats, server, events)
    assert server.ledger.stored_twice == 0
    failed = sum(1 for r in server.event_receipts() if r.status == 503)
    assert failed > 0
    assert stats.retries > 0
    record_run(
        "flapping server (every other request 503)",
        _command("test_a_flapping_server_gets_every_event_once"),
        stats,
        delivered=len(server.delivered_ids()),
        seconds=took,
        failed_requests=failed,
        requests=len(server.event_receipts()),
    )


def test_sustained_429_is_waited_out_as_retry_after_says(
    serve: Serve, make_client: MakeClient
) -> None:
    server = serve(for_seconds(2.5, status(429, retry_after="1")))
    config = make_config(server.url, batch_size=100, request_timeout_seconds=1.0)
    client = make_client(config)  # real waits: Retry-After is what is tested
    client.start()
    began = time.monotonic()

    events = [make_event() for _ in range(60)]
    track_all(client, events)
    assert wait_until(lambda: client.stats.sent == 60, timeout_s=20.0), client.stats
    took = time.monotonic() - began
    client.stop()

    receipts = server.event_receipts()
    throttled = [r for r in receipts if r.status == 429]
    gaps = [
        b.arrived_at - a.answered_at for a, b in itertools.pairwise(receipts) if a.status == 429
    ]
    stats = client.stats
    record_run(  # before the checks: a failing run still shows what it measured
        "sustained 429 (Retry-After: 1) for 2.5 s",
        _command("test_sustained_429_is_waited_out_as_retry_after_says"),
        stats,
        delivered=len(server.delivered_ids()),
        seconds=took,
        throttled_requests=len(throttled),
        min_gap_after_429_s=min(gaps, default=0.0),
    )
    # Over 2.5 s, "wait 1 s" allows at most three 429s; each next request waits 1 s.
    assert 2 <= len(throttled) <= 3, f"{len(throttled)} requests during a 2.5 s 429 period"
    assert min(gaps) >= 0.9, f"a request came {min(gaps):.3f}s after a 429 said wait 1 s"
    assert_nothing_silent(stats, server, events)
    assert stats.dropped_errors + stats.dropped_shutdown + stats.dropped_queue_full == 0


def test_a_server_slower_than_the_interval_gets_everything_once(
    serve: Serve, make_client: MakeClient
) -> None:
    server = serve(always(ok(delay_s=0.3)))  # each answer takes 6 intervals
    # Slower than the interval, never than the request timeout: on a loaded machine an answer
    # can take well over 2 s, and a timed-out batch is rightly sent again.
    config = make_config(
        server.url, submit_interval_seconds=0.05, batch_size=10, request_timeout_seconds=30.0
    )
    client = make_client(config)
    client.start()
    began = time.monotonic()

    events = _paced(client, 200, per_step=20, step_s=0.05)
    assert wait_until(lambda: client.stats.sent == 200, timeout_s=30.0), client.stats
    took = time.monotonic() - began
    client.stop()

    stats = client.stats
    assert_nothing_silent(stats, server, events)
    assert set(server.times_received().values()) == {1}, "an event was sent twice"
    assert stats.retries == 0
    record_run(
        "server slower than the interval (0.3 s per answer, 0.05 s interval)",
        _command("test_a_server_slower_than_the_interval_gets_everything_once"),
        stats,
        delivered=len(server.delivered_ids()),
        seconds=took,
        requests=len(server.event_receipts()),
    )


def test_a_burst_beyond_the_queue_evicts_the_oldest_and_counts_them(
    serve: Serve, make_client: MakeClient
) -> None:
    server = serve()
    client = make_client(make_config(server.url, max_queue_size=100))  # not started
    events = [make_event() for _ in range(250)]
    track_all(client, events)

    assert client.stats.dropped_queue_full == 150
    assert client.flush(timeout=10.0) is True

    stats = client.stats
    assert server.delivered_ids() == {str(e.event_id) for e in events[-100:]}
    assert (stats.sent, stats.dropped_queue_full) == (100, 150)
    assert_nothing_silent(stats, server, events)
    record_run(
        "burst of 250 into a queue of 100 (not started)",
        _command("test_a_burst_beyond_the_queue_evicts_the_oldest_and_counts_them"),
        stats,
        delivered=len(server.delivered_ids()),
        seconds=None,
    )


def test_a_running_client_sends_a_burst_rather_than_evicting_it(
    serve: Serve, make_client: MakeClient
) -> None:
    server = serve()
    config = make_config(
        server.url, max_queue_size=200, batch_size=50, submit_interval_seconds=60.0
    )
    client = make_client(config)
    client.start()
    began = time.monotonic()

    # 2,000 events in ~1 s: ten times the queue, while the interval alone would send none.
    events = _paced(client, 2000, per_step=100, step_s=0.05)
    client.stop()
    took = time.monotonic() - began

    stats = client.stats
    assert_nothing_silent(stats, server, events)
    assert stats.sent + stats.dropped_queue_full == 2000
    assert stats.dropped_errors + stats.dropped_shutdown == 0
    newest = {str(e.event_id) for e in events[-200:]}
    assert newest <= server.delivered_ids(), "an event among the newest max_queue_size was lost"
    assert stats.sent > 200, "the flush-when-full path never ran"
    record_run(
        "burst of 2,000 in 1 s into a queue of 200 (running, interval 60 s)",
        _command("test_a_running_client_sends_a_burst_rather_than_evicting_it"),
        stats,
        delivered=len(server.delivered_ids()),
        seconds=took,
        batches=stats.batches,
    )


@pytest.mark.parametrize(
    ("outage", "plan"),
    [("hanging", always(hang(60.0))), ("503", always(status(503)))],
)
def test_stop_during_an_outage_returns_in_time_and_counts_the_drops(
    outage: str, plan: Plan, serve: Serve, make_client: MakeClient
) -> None:
    server = serve(plan)
    config = make_config(
        server.url, batch_size=50, request_timeout_seconds=5.0, shutdown_timeout_seconds=1.0
    )
    client = make_client(config)  # real backoff: stop() must cut it short
    client.start()
    events = [make_event() for _ in range(150)]
    track_all(client, events)
    assert wait_until(lambda: len(server.event_receipts()) >= 1, timeout_s=5.0)

    began = time.monotonic()
    client.stop()
    took = time.monotonic() - began

    assert took <= 1.0 + MARGIN_S, f"stop() took {took:.2f}s with a 1 s shutdown timeout"
    assert_balanced(client.stats)
    stats = client.stats
    assert stats.in_flight == 0, "stop() returned with events still in flight"
    server.release.set()  # a hung answer (503) now reaches the threads still waiting
    assert_nothing_silent(stats, server, events)
    assert (stats.sent, stats.queued) == (0, 0)
    assert stats.dropped_shutdown + stats.unconfirmed == 150
    # Unconfirmed: events whose request reached the server and got no answer in time.
    reached = {i for r in server.event_receipts() for i in r.event_ids}
    if outage == "hanging":
        assert stats.unconfirmed == len(reached) > 0
    else:
        assert stats.unconfirmed <= len(reached)
    record_run(
        f"stop() during an outage ({outage}), shutdown timeout 1 s",
        _command("test_stop_during_an_outage_returns_in_time_and_counts_the_drops"),
        stats,
        delivered=len(server.delivered_ids()),
        seconds=took,
    )


def test_a_batch_committed_before_a_timeout_is_stored_once_by_the_collector(
    make_client: MakeClient,
) -> None:
    with (
        Collector(API_KEY) as collector,
        FaultServer(first(1, commit_then_stall(2.0)), upstream=collector.url) as proxy,
    ):
        config = make_config(proxy.url, request_timeout_seconds=0.5)
        client = make_client(config, sleep=_no_wait)
        events = [make_event() for _ in range(10)]
        track_all(client, events)
        began = time.monotonic()

        assert client.flush(timeout=10.0) is True
        took = time.monotonic() - began

        stats = client.stats
        assert (stats.sent, stats.retries) == (10, 1)
        assert len(proxy.event_receipts()) == 2, "the retry never came"
        assert proxy.ledger.stored_twice == 10, "the collector was not sent the batch twice"
        assert collector.event_count == 10
        assert_nothing_silent(stats, proxy, events)
        record_run(
            "duplicate after a committed timeout (real collector)",
            _command("test_a_batch_committed_before_a_timeout_is_stored_once_by_the_collector"),
            stats,
            delivered=collector.event_count,
            seconds=took,
            times_sent=2,
        )
