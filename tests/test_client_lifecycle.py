"""TelemetryClient life cycle over real HTTP: threads, bounded stop, disabled, atexit, fork."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest
from _server import (  # noqa: F401  # fixtures are used by name
    API_KEY,
    INSTANCE_ID,
    Reply,
    TelemetryServer,
    assert_balanced,
    clean_env_fixture,
    make_config,
    make_event,
    make_query,
    make_server_fixture,
    server_fixture,
    wait_until,
)

import mosaic_telemetry._fork as fork_module
import mosaic_telemetry.client as client_module
from mosaic_telemetry import ClientStats, TaskCompletionEvent, TelemetryClient
from mosaic_telemetry._process import Process

pytestmark = pytest.mark.usefixtures("clean_env")


def running(client: TelemetryClient) -> bool:
    """``client.is_running``, read through a call: mypy would narrow the property for good."""
    return client.is_running


MARGIN_S = 1.5
"""Slack on every "returns within" promise: the machine is shared and noisy."""


def new_threads(before: set[threading.Thread]) -> set[threading.Thread]:
    """Live threads that were not in ``before`` (threads of other tests may linger)."""
    return set(threading.enumerate()) - before


def workers(before: set[threading.Thread]) -> list[threading.Thread]:
    """The client worker threads started since ``before`` that are still alive."""
    return [t for t in new_threads(before) if t.name == "mosaic-telemetry-worker"]


def track_all(client: TelemetryClient, events: list[TaskCompletionEvent]) -> None:
    for event in events:
        client.track(event)


# -- start / stop ------------------------------------------------------------------------------


def test_stop_sends_what_the_background_thread_has_not(server: TelemetryServer) -> None:
    client = TelemetryClient(make_config(server))
    assert not running(client)
    before = set(threading.enumerate())
    client.start()
    assert running(client)
    (worker,) = workers(before)
    assert worker.daemon
    events = [make_event() for _ in range(5)]
    track_all(client, events)
    client.stop()
    assert not running(client)
    (batch,) = server.batches()
    assert batch.events == [event.to_dict() for event in events]
    assert (client.stats.sent, client.stats.queued) == (5, 0)
    assert not worker.is_alive()


def test_the_context_manager_starts_and_stops(server: TelemetryServer) -> None:
    events = [make_event() for _ in range(3)]
    with TelemetryClient(make_config(server)) as client:
        assert running(client)
        track_all(client, events)
    assert not running(client)
    assert server.event_ids() == [str(e.event_id) for e in events]


def test_start_twice_runs_one_thread(server: TelemetryServer) -> None:
    client = TelemetryClient(make_config(server))
    before = set(threading.enumerate())
    client.start()
    client.start()
    try:
        assert len(workers(before)) == 1
    finally:
        client.stop()


def test_stop_without_start_sends_what_is_queued(server: TelemetryServer) -> None:
    client = TelemetryClient(make_config(server, batch_size=10))
    events = [make_event() for _ in range(25)]
    track_all(client, events)
    client.stop()
    client.stop()  # twice is fine too
    assert sorted(server.event_ids()) == sorted(str(e.event_id) for e in events)
    assert client.stats.sent == 25
    assert_balanced(client.stats)


def test_stop_twice_then_start_again_delivers(server: TelemetryServer) -> None:
    client = TelemetryClient(make_config(server, batch_size=5))
    before = set(threading.enumerate())
    client.start()
    client.stop()
    client.stop()
    assert workers(before) == []
    client.start()
    try:
        assert running(client)
        events = [make_event() for _ in range(5)]
        track_all(client, events)  # a full batch: the new thread sends it at once
        assert server.wait_until(lambda s: len(s.event_ids()) == 5, timeout_s=10.0)
    finally:
        client.stop()
    assert client.stats.sent == 5


def test_the_interval_alone_sends_a_partial_batch(server: TelemetryServer) -> None:
    client = TelemetryClient(make_config(server, batch_size=100, submit_interval_seconds=0.2))
    client.start()
    try:
        events = [make_event() for _ in range(3)]
        track_all(client, events)
        assert server.wait_until(lambda s: len(s.event_ids()) == 3, timeout_s=10.0)
    finally:
        client.stop()
    assert server.event_ids() == [str(e.event_id) for e in events]


def test_flush_while_running_sends_everything(server: TelemetryServer) -> None:
    client = TelemetryClient(make_config(server, batch_size=20))
    client.start()
    try:
        events = [make_event() for _ in range(230)]
        track_all(client, events)
        assert client.flush(timeout=10.0) is True
        assert sorted(server.event_ids()) == sorted(str(e.event_id) for e in events)
        stats = client.stats
        assert (stats.sent, stats.queued, stats.in_flight) == (230, 0, 0)
    finally:
        client.stop()


# -- bounded shutdown -----------------------------------------------------------------------------


def test_stop_returns_in_time_when_the_server_is_slower_than_the_timeout(
    server: TelemetryServer,
) -> None:
    server.default = Reply(delay_s=10.0)
    config = make_config(server, request_timeout_seconds=0.5, shutdown_timeout_seconds=1.0)
    client = TelemetryClient(config)
    client.start()
    track_all(client, [make_event() for _ in range(10)])
    started = time.monotonic()
    client.stop()
    assert time.monotonic() - started < 1.0 + MARGIN_S
    assert server.batches()  # it did try
    stats = client.stats
    # The request went out and no answer came by the deadline: unconfirmed, not dropped.
    assert (stats.sent, stats.unconfirmed, stats.queued, stats.in_flight) == (0, 10, 0, 0)
    assert stats.dropped_shutdown == 0
    assert_balanced(stats)


def test_stop_returns_in_time_while_the_thread_waits_on_a_slow_server(
    server: TelemetryServer,
) -> None:
    server.default = Reply(delay_s=10.0)
    config = make_config(
        server, batch_size=10, request_timeout_seconds=0.5, shutdown_timeout_seconds=1.0
    )
    client = TelemetryClient(config)
    client.start()
    track_all(client, [make_event() for _ in range(10)])  # a full batch: the thread sends it
    assert server.wait_until(lambda s: len(s.batches()) >= 1, timeout_s=5.0)
    started = time.monotonic()
    client.stop(timeout=1.0)
    assert time.monotonic() - started < 1.0 + MARGIN_S
    assert client.stats.in_flight == 0  # counted at the deadline, not later
    stats = client.stats
    assert (stats.sent, stats.unconfirmed, stats.dropped_shutdown, stats.queued) == (0, 10, 0, 0)
    assert_balanced(stats)


def test_stop_interrupts_a_backoff_sleep_at_once(server: TelemetryServer) -> None:
    server.default = Reply.error(503, "maintenance", **{"Retry-After": "100"})
    config = make_config(server, batch_size=5, max_retries=5, shutdown_timeout_seconds=1.0)
    client = TelemetryClient(config)  # the real sleeper
    before = set(threading.enumerate())
    client.start()
    track_all(client, [make_event() for _ in range(5)])
    assert wait_until(lambda: client.stats.retries == 1, timeout_s=5.0)  # now asleep for 100 s
    (worker,) = workers(before)
    started = time.monotonic()
    client.stop()
    assert time.monotonic() - started < 1.0 + MARGIN_S
    worker.join(timeout=MARGIN_S)
    assert not worker.is_alive()  # the sleep was cut short, not left to run out
    stats = client.stats
    assert (stats.sent, stats.dropped_shutdown, stats.queued, stats.in_flight) == (0, 5, 0, 0)
    assert len(server.batches()) == 1  # Retry-After: 100 was honoured, even at shutdown
    assert_balanced(stats)


def test_batches_still_waiting_for_a_pool_thread_at_the_deadline_are_counted(
    server: TelemetryServer,
) -> None:
    server.default = Reply(delay_s=10.0)
    config = make_config(server, batch_size=1, request_timeout_seconds=0.5)
    client = TelemetryClient(config)
    track_all(client, [make_event() for _ in range(200)])  # 200 batches for 4 pool threads
    started = time.monotonic()
    client.stop(timeout=1.0)
    assert time.monotonic() - started < 1.0 + MARGIN_S
    # Nothing stays "in flight" after stop(): every event ends counted somewhere, the
    # ones whose request reached the server as unconfirmed.
    stats = client.stats
    assert stats.in_flight == 0
    assert (stats.sent, stats.queued) == (0, 0)
    assert stats.unconfirmed == len(set(server.event_ids()))
    assert stats.dropped_shutdown + stats.unconfirmed == 200
    assert client.flush(timeout=0.5) is True  # nothing left to wait for
    assert_balanced(stats)


def test_a_failing_server_is_not_hammered_while_events_keep_coming(
    server: TelemetryServer,
) -> None:
    server.default = Reply.error(503, "overloaded")
    client = TelemetryClient(make_config(server, batch_size=10, max_retries=0))
    client.start()
    try:
        for _ in range(200):  # the queue stays over batch_size all along
            client.track(make_event())
            time.sleep(0.002)
    finally:
        client.stop(timeout=0.5)
    # The interval is 5 minutes: one failed cycle, then a pause, not a request per track().
    requests = len(server.batches())
    assert requests <= 5, f"{requests} requests to a server that answers 503"


def test_stop_with_a_zero_timeout_drops_and_counts_at_once(server: TelemetryServer) -> None:
    client = TelemetryClient(make_config(server))
    track_all(client, [make_event() for _ in range(3)])
    started = time.monotonic()
    client.stop(timeout=0)
    assert time.monotonic() - started < MARGIN_S
    stats = client.stats
    assert (stats.dropped_shutdown, stats.queued) == (3, 0)
    assert_balanced(stats)


def test_flush_returns_false_in_time_and_keeps_the_events(server: TelemetryServer) -> None:
    server.default = Reply(delay_s=10.0)
    client = TelemetryClient(make_config(server, request_timeout_seconds=0.3, max_retries=0))
    track_all(client, [make_event() for _ in range(4)])
    started = time.monotonic()
    assert client.flush(timeout=1.0) is False
    assert time.monotonic() - started < 1.0 + MARGIN_S
    stats = client.stats
    assert (stats.queued, stats.in_flight, stats.sent) == (4, 0, 0)
    assert_balanced(stats)
    server.default = Reply()
    assert client.flush() is True
    assert client.stats.sent == 4


def test_very_long_intervals_and_timeouts_work(server: TelemetryServer) -> None:
    # Valid settings (validate() accepts them), beyond threading.TIMEOUT_MAX.
    config = make_config(
        server, batch_size=5, submit_interval_seconds=1e10, shutdown_timeout_seconds=1e10
    )
    assert config.validate() == []
    client = TelemetryClient(config)
    client.start()
    try:
        track_all(client, [make_event() for _ in range(5)])
        assert server.wait_until(lambda s: len(s.event_ids()) == 5, timeout_s=5.0)
        client.track(make_event())
        assert client.flush(timeout=1e10) is True
    finally:
        client.stop()
    assert client.stats.sent == 6


# -- disabled --------------------------------------------------------------------------------------


@pytest.mark.parametrize("via_env", [False, True])
def test_a_disabled_client_does_nothing_at_all(
    server: TelemetryServer, monkeypatch: pytest.MonkeyPatch, via_env: bool
) -> None:
    if via_env:
        monkeypatch.setenv("MOSAIC_TELEMETRY_ENABLED", "false")
        config = make_config(server, enabled=True)
    else:
        config = make_config(server, enabled=False)
    before = set(threading.enumerate())
    client = TelemetryClient(config)
    client.start()
    assert not running(client)
    for _ in range(150):
        client.track(make_event())
    client.track(None)  # type: ignore[arg-type]  # the wrong type on purpose
    assert client.flush() is True
    assert client.queue_size == 0
    client.refresh_predictions_sync([make_query()])
    assert client.get_prediction(make_query()) is None
    client.stop()
    client.stop()
    with client:
        client.track(make_event())
    assert new_threads(before) == set()
    assert client.stats == ClientStats()
    assert server.requests == []


# -- atexit ----------------------------------------------------------------------------------------

_FORGETFUL_HOST = """
import sys, uuid
from datetime import datetime, timezone
from mosaic_telemetry import TelemetryClient, TelemetryConfig, TaskCompletionEvent

config = TelemetryConfig(server_url=sys.argv[1], api_key={key!r}, instance_id={instance!r},
                         shutdown_timeout_seconds=5.0, request_timeout_seconds=2.0)
client = TelemetryClient(config)
client.start()
for n in range(3):
    client.track(TaskCompletionEvent(
        instance_id={instance!r}, task_duration_ms=1, task_type="testing", complexity="low",
        harness="aider", model="exit-model", provider="openai", estimated_input_tokens=0,
        estimated_output_tokens=0, actual_input_tokens=0, actual_output_tokens=0,
        estimated_cost_usd_micros=0, actual_cost_usd_micros=0, quality_gate_passed=True,
        context_compactions=0, context_rotations=0, context_utilization_final=0.0,
        outcome="success", retry_count=0))
# no stop(): the interpreter exits with three events queued
"""


def test_a_host_that_forgets_stop_still_sends_at_exit(server: TelemetryServer) -> None:
    script = textwrap.dedent(_FORGETFUL_HOST).format(key=API_KEY, instance=INSTANCE_ID)
    env = {k: v for k, v in os.environ.items() if not k.startswith("MOSAIC_TELEMETRY_")}
    done = subprocess.run(
        [sys.executable, "-c", script, server.url],
        capture_output=True,
        text=True,
        timeout=30,
        env=env,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    received = [e["model"] for b in server.batches() for e in b.events]
    assert received == ["exit-model"] * 3


# -- fork ------------------------------------------------------------------------------------------


def _child_body(client: TelemetryClient) -> int:
    """Runs in the forked child; the exit code says what went wrong (0: all good)."""
    if client.queue_size != 0 or client.stats.tracked != 0:
        return 2  # the parent's events came along
    if not client.is_running:
        return 3  # no background thread of its own
    for _ in range(3):
        client.track(make_event(model="child-model"))
    if not client.flush(timeout=5.0):
        return 4
    if client.stats.sent != 3:
        return 5
    client.stop(timeout=2.0)
    return 0


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
@pytest.mark.filterwarnings("ignore:This process .* is multi-threaded:DeprecationWarning")
def test_a_forked_child_sends_its_own_events_and_not_the_parents(
    server: TelemetryServer,
) -> None:
    client = TelemetryClient(make_config(server))
    client.start()
    try:
        parent_events = [make_event(model="parent-model") for _ in range(5)]
        track_all(client, parent_events)
        pid = os.fork()
        if pid == 0:  # pragma: no cover  # the child: never return into pytest
            code = 1
            try:
                code = _child_body(client)
            finally:
                os._exit(code)
        code = _wait_child(pid, timeout_s=30.0)
        assert code == 0, f"child failed with exit code {code}"
        models = [[e["model"] for e in b.events] for b in server.batches()]
        assert models == [["child-model"] * 3]
        assert client.queue_size == 5  # the parent's events stayed with the parent
        assert client.flush() is True
    finally:
        client.stop()
    delivered = [e["model"] for b in server.batches() for e in b.events]
    assert sorted(delivered) == ["child-model"] * 3 + ["parent-model"] * 5
    assert client.stats.sent == 5


def _wait_child(pid: int, timeout_s: float) -> int:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return os.waitstatus_to_exitcode(status)
        time.sleep(0.02)
    os.kill(pid, 9)
    os.waitpid(pid, 0)
    raise AssertionError("the forked child hung")


def test_a_fork_the_hooks_missed_is_noticed_by_track(
    server: TelemetryServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = TelemetryClient(make_config(server))
    track_all(client, [make_event(model="parent-model") for _ in range(4)])
    real_pid = os.getpid()
    monkeypatch.setattr(fork_module, "getpid", lambda: real_pid + 1)  # a C-level fork
    client.track(make_event(model="child-model"))
    assert (client.stats.tracked, client.queue_size) == (1, 1)
    assert client.flush() is True
    assert [e["model"] for b in server.batches() for e in b.events] == ["child-model"]


def test_a_fork_the_hooks_missed_is_noticed_by_flush(
    server: TelemetryServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = TelemetryClient(make_config(server))
    track_all(client, [make_event(model="parent-model") for _ in range(4)])
    real_pid = os.getpid()
    monkeypatch.setattr(fork_module, "getpid", lambda: real_pid + 1)
    assert client.flush() is True
    assert server.requests == []
    assert client.stats == ClientStats()


def test_threads_that_notice_a_missed_fork_at_once_all_track_into_the_childs_state(
    server: TelemetryServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = TelemetryClient(make_config(server, batch_size=100))
    track_all(client, [make_event(model="parent-model") for _ in range(4)])

    class SlowProcess(Process):  # widens the window of the reset
        __slots__ = ()

        def __init__(self, *args: Any) -> None:
            time.sleep(0.05)
            super().__init__(*args)

    monkeypatch.setattr(client_module, "Process", SlowProcess)
    real_pid = os.getpid()
    monkeypatch.setattr(fork_module, "getpid", lambda: real_pid + 1)  # a C-level fork
    go = threading.Barrier(8)
    events = [make_event(model="child-model") for _ in range(8)]

    def track(event: TaskCompletionEvent) -> None:
        go.wait()
        client.track(event)

    threads = [threading.Thread(target=track, args=(event,)) for event in events]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    # Every thread's event is in the one fresh state: none went into the parent's copy.
    assert (client.stats.tracked, client.queue_size) == (8, 8)
    assert client.flush() is True
    assert sorted(server.event_ids()) == sorted(str(e.event_id) for e in events)


def test_many_threads_may_track_while_the_client_stops(
    make_server: Callable[..., TelemetryServer],
) -> None:
    server = make_server(keep_json=False)
    client = TelemetryClient(make_config(server, batch_size=50, max_queue_size=100_000))
    client.start()
    go = threading.Event()

    def produce() -> None:
        go.wait()
        for _ in range(500):
            client.track(make_event())

    threads = [threading.Thread(target=produce) for _ in range(4)]
    for thread in threads:
        thread.start()
    go.set()
    client.stop(timeout=5.0)
    for thread in threads:
        thread.join()
    client.flush(timeout=5.0)  # what came in after stop()
    stats = client.stats
    assert stats.tracked == 2000
    assert_balanced(stats)
    assert stats.in_flight == 0
    assert stats.sent + stats.dropped_shutdown + stats.queued == 2000
