"""TelemetryClient under asyncio over real HTTP: the task, bounded stop, a loop never blocked."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

import pytest
from _server import (  # noqa: F401  # fixtures are used by name
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

from mosaic_telemetry import ClientStats, PredictionResponse, TelemetryClient

pytestmark = pytest.mark.usefixtures("clean_env")


def running(client: TelemetryClient) -> bool:
    """``client.is_running``, read through a call: mypy would narrow the property for good."""
    return client.is_running


T = TypeVar("T")

MARGIN_S = 1.5
BLOCK_LIMIT_S = 0.05


def run(factory: Callable[[], Awaitable[T]]) -> T:
    """Run one coroutine in a fresh event loop (no pytest-asyncio needed)."""

    async def main() -> T:
        return await factory()

    return asyncio.run(main())


def _cpu_wait_s() -> float:
    """How long this thread was runnable but given no CPU, in seconds (Linux); 0 elsewhere."""
    try:
        with open("/proc/thread-self/schedstat", encoding="ascii") as stat:
            return int(stat.read().split()[1]) / 1e9
    except (OSError, IndexError, ValueError):
        return 0.0


class LoopWatch:
    """Measures how long the loop went without running a 10 ms ticker.

    Time the OS kept the loop's thread waiting for a CPU is not the client's doing (on a
    loaded machine it can exceed the limit by itself): it is taken off each gap.
    """

    def __init__(self) -> None:
        self.worst_block_s = 0.0
        self.ticks = 0
        self._task: asyncio.Task[None] | None = None

    async def _tick(self) -> None:
        loop = asyncio.get_running_loop()
        last, waited = loop.time(), _cpu_wait_s()
        while True:
            await asyncio.sleep(0.01)
            now, now_waited = loop.time(), _cpu_wait_s()
            self.worst_block_s = max(self.worst_block_s, now - last - 0.01 - (now_waited - waited))
            self.ticks += 1
            last, waited = now, now_waited

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._tick())

    async def stop(self) -> None:
        assert self._task is not None
        self._task.cancel()
        try:
            await self._task
        except asyncio.CancelledError:
            pass


async def wait_for(predicate: Callable[[], bool], timeout_s: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() >= deadline:
            return False
        await asyncio.sleep(0.01)
    return True


# -- happy path --------------------------------------------------------------------------------


def test_async_with_delivers_each_event_field_by_field(server: TelemetryServer) -> None:
    events = [make_event(), make_event(model="gpt-4o", language=None)]

    async def scenario() -> TelemetryClient:
        async with TelemetryClient(make_config(server)) as client:
            assert running(client)
            for event in events:
                client.track(event)
        assert not running(client)
        return client

    client = run(scenario)
    (batch,) = server.batches()
    assert batch.json == {"events": [event.to_dict() for event in events]}
    assert (client.stats.sent, client.stats.batches) == (2, 1)
    assert_balanced(client.stats)


def test_a_full_batch_wakes_the_task_before_the_interval(server: TelemetryServer) -> None:
    async def scenario() -> TelemetryClient:
        client = TelemetryClient(make_config(server, batch_size=100))
        await client.start_async()
        for _ in range(150):
            client.track(make_event())
        # The interval is 5 minutes: only flush-when-full can deliver this soon.
        assert await wait_for(lambda: len(server.event_ids()) >= 100)
        await client.stop_async()
        return client

    client = run(scenario)
    assert len(set(server.event_ids())) == 150
    assert client.stats.sent == 150


def test_events_tracked_from_other_threads_reach_the_async_task(server: TelemetryServer) -> None:
    async def scenario() -> TelemetryClient:
        client = TelemetryClient(make_config(server, batch_size=10))
        await client.start_async()

        def produce() -> None:
            for _ in range(10):
                client.track(make_event())

        thread = threading.Thread(target=produce)
        thread.start()
        await asyncio.get_running_loop().run_in_executor(None, thread.join)
        assert await wait_for(lambda: len(server.event_ids()) == 10)
        await client.stop_async()
        return client

    assert run(scenario).stats.sent == 10


def test_the_interval_alone_sends_a_partial_batch(server: TelemetryServer) -> None:
    async def scenario() -> None:
        config = make_config(server, batch_size=100, submit_interval_seconds=0.2)
        client = TelemetryClient(config)
        await client.start_async()
        for _ in range(3):
            client.track(make_event())
        assert await wait_for(lambda: len(server.event_ids()) == 3)
        await client.stop_async()

    run(scenario)
    assert len(server.event_ids()) == 3


# -- life cycle --------------------------------------------------------------------------------


def test_start_async_twice_runs_one_task_and_stop_async_twice_is_safe(
    server: TelemetryServer,
) -> None:
    async def scenario() -> None:
        client = TelemetryClient(make_config(server))
        before = len(asyncio.all_tasks())
        await client.start_async()
        await client.start_async()
        assert len(asyncio.all_tasks()) == before + 1
        client.track(make_event())
        await client.stop_async()
        await client.stop_async()
        assert not running(client)
        await client.start_async()  # after stop: runs again
        assert running(client)
        client.track(make_event())
        await client.stop_async()
        assert client.stats.sent == 2

    run(scenario)
    assert len(server.event_ids()) == 2


def test_a_loop_that_ends_without_stop_async_leaves_the_rest_to_stop(
    server: TelemetryServer,
) -> None:
    client = TelemetryClient(make_config(server))

    async def forgetful_host() -> None:
        await client.start_async()
        client.track(make_event())

    run(forgetful_host)  # asyncio.run cancels the task and closes the loop
    assert not running(client)
    client.track(make_event())  # the loop is gone: must not raise
    client.stop()
    assert len(server.event_ids()) == 2
    assert client.stats.sent == 2


def test_stop_async_without_start_sends_what_is_queued(server: TelemetryServer) -> None:
    async def scenario() -> None:
        client = TelemetryClient(make_config(server))
        client.track(make_event())
        await client.stop_async()
        assert client.stats.sent == 1

    run(scenario)
    assert len(server.event_ids()) == 1


def test_a_disabled_client_starts_no_task_and_no_thread(server: TelemetryServer) -> None:
    async def scenario() -> None:
        before = set(threading.enumerate())
        tasks = len(asyncio.all_tasks())
        async with TelemetryClient(make_config(server, enabled=False)) as client:
            assert not running(client)
            assert len(asyncio.all_tasks()) == tasks
            client.track(make_event())
            await client.refresh_predictions([make_query()])
        await client.stop_async()
        assert set(threading.enumerate()) - before == set()
        assert client.stats == ClientStats()

    run(scenario)
    assert server.requests == []


@pytest.mark.parametrize("request_timeout_s", [0.5, 3.0])
def test_stop_async_returns_in_time_when_the_server_is_slower_than_the_timeout(
    server: TelemetryServer, request_timeout_s: float
) -> None:
    server.default = Reply(delay_s=10.0)

    async def scenario() -> tuple[float, TelemetryClient]:
        config = make_config(
            server,
            batch_size=5,
            request_timeout_seconds=request_timeout_s,
            shutdown_timeout_seconds=1.0,
        )
        client = TelemetryClient(config)
        await client.start_async()
        for _ in range(8):
            client.track(make_event())
        assert await wait_for(lambda: len(server.batches()) >= 1, timeout_s=5.0)
        started = time.monotonic()
        await client.stop_async()
        return time.monotonic() - started, client

    elapsed, client = run(scenario)
    assert elapsed < 1.0 + MARGIN_S
    stats = client.stats
    assert stats.sent == 0
    # Counted at the deadline: unconfirmed when the request had reached the server.
    assert (stats.in_flight, stats.dropped_shutdown + stats.unconfirmed) == (0, 8)
    assert stats.unconfirmed == len(set(server.event_ids()))
    assert_balanced(stats)


def test_stop_async_interrupts_a_backoff_sleep(server: TelemetryServer) -> None:
    server.default = Reply.error(503, "maintenance", **{"Retry-After": "100"})

    async def scenario() -> tuple[float, TelemetryClient]:
        config = make_config(server, batch_size=5, shutdown_timeout_seconds=1.0)
        client = TelemetryClient(config)
        await client.start_async()
        for _ in range(5):
            client.track(make_event())
        assert await wait_for(lambda: client.stats.retries == 1, timeout_s=5.0)
        started = time.monotonic()
        await client.stop_async()
        return time.monotonic() - started, client

    elapsed, client = run(scenario)
    assert elapsed < 1.0 + MARGIN_S
    stats = client.stats
    assert (stats.sent, stats.dropped_shutdown, stats.in_flight) == (0, 5, 0)


# -- the loop is never blocked -------------------------------------------------------------------


def test_the_loop_is_never_blocked_while_sending_to_a_slow_server(
    server: TelemetryServer,
) -> None:
    server.default = Reply(delay_s=2.0)

    async def scenario() -> tuple[LoopWatch, float, TelemetryClient]:
        watch = LoopWatch()
        watch.start()
        config = make_config(
            server, batch_size=100, request_timeout_seconds=5.0, shutdown_timeout_seconds=8.0
        )
        client = TelemetryClient(config)
        await client.start_async()
        started = time.monotonic()
        for _ in range(150):  # a full batch: the task starts sending at once
            client.track(make_event())
        assert await wait_for(lambda: len(server.batches()) >= 1, timeout_s=5.0)
        await client.refresh_predictions([make_query(i) for i in range(60)])
        await client.stop_async()
        elapsed = time.monotonic() - started
        await watch.stop()
        return watch, elapsed, client

    watch, elapsed, client = run(scenario)
    assert elapsed >= 2.0  # it really waited on the slow server ...
    assert watch.ticks > 50  # ... and the ticker ran all along
    assert watch.worst_block_s < BLOCK_LIMIT_S
    assert client.stats.sent == 150
    assert len(set(server.event_ids())) == 150


# -- predictions ----------------------------------------------------------------------------------


def test_refresh_predictions_fills_the_cache_without_blocking(server: TelemetryServer) -> None:
    queries = [make_query(i) for i in range(70)]

    async def scenario() -> TelemetryClient:
        client = TelemetryClient(make_config(server))
        await client.refresh_predictions(queries)
        await client.refresh_predictions([])
        await client.stop_async()
        return client

    client = run(scenario)
    assert [len(r.queries) for r in server.requests] == [50, 20]
    for query in queries:
        expected = PredictionResponse.from_dict(prediction_for(query.to_dict()))
        assert client.get_prediction(query) == expected


def test_a_failed_async_refresh_leaves_the_cache_and_raises_nothing(
    server: TelemetryServer,
) -> None:
    query = make_query(5)

    async def scenario() -> None:
        client = TelemetryClient(make_config(server, max_retries=0))
        await client.refresh_predictions([query])
        before = client.get_prediction(query)
        assert before is not None
        server.default = Reply.error(500, "boom")
        await client.refresh_predictions([query])
        assert client.get_prediction(query) is before
        await client.stop_async()

    run(scenario)
