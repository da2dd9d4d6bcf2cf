"""Ctrl-C and SystemExit in the middle of flush()/stop(), and stop_async() from another loop."""

from __future__ import annotations

import asyncio
import signal
import threading
from collections.abc import Iterator
from types import FrameType

import pytest
from _server import (  # noqa: F401  # fixtures are used by name
    Reply,
    TelemetryServer,
    assert_balanced,
    clean_env_fixture,
    make_config,
    make_event,
    server_fixture,
    wait_until,
)

from mosaic_telemetry import TelemetryClient

pytestmark = [
    pytest.mark.usefixtures("clean_env"),
    pytest.mark.skipif(not hasattr(signal, "setitimer"), reason="needs setitimer"),
]


@pytest.fixture
def interrupt_after() -> Iterator[object]:
    """``interrupt_after(seconds, exc)``: raise ``exc`` in the main thread then (a SIGALRM)."""
    previous = signal.getsignal(signal.SIGALRM)

    def arm(seconds: float, exc: type[BaseException]) -> None:
        def handler(signum: int, frame: FrameType | None) -> None:
            raise exc

        signal.signal(signal.SIGALRM, handler)
        signal.setitimer(signal.ITIMER_REAL, seconds)

    yield arm
    signal.setitimer(signal.ITIMER_REAL, 0)
    signal.signal(signal.SIGALRM, previous)


@pytest.mark.parametrize("exc", [KeyboardInterrupt, SystemExit])
@pytest.mark.parametrize("started", [False, True], ids=["inline", "started"])
def test_an_interrupted_flush_puts_everything_back_and_the_next_flush_works(
    server: TelemetryServer, interrupt_after: object, exc: type[BaseException], started: bool
) -> None:
    server.default = Reply(delay_s=1.0)
    client = TelemetryClient(make_config(server, batch_size=10, request_timeout_seconds=5.0))
    if started:
        client.start()
    try:
        for _ in range(30):  # three batches: one alone first, then two in parallel
            client.track(make_event())
        interrupt_after(0.3, exc)  # type: ignore[operator]
        with pytest.raises(exc):
            client.flush(timeout=10.0)
        # Batches on sender threads come back as their requests end: none stays in flight.
        assert wait_until(lambda: client.stats.in_flight == 0, timeout_s=5.0), client.stats
        stats = client.stats
        assert stats.queued + stats.sent == 30
        assert_balanced(stats)
        server.default = Reply()
        assert client.flush(timeout=10.0) is True
        assert client.stats.sent == 30
    finally:
        client.stop()


def test_an_interrupted_stop_counts_what_is_left_and_the_client_still_works(
    server: TelemetryServer, interrupt_after: object
) -> None:
    server.default = Reply(delay_s=1.0)
    client = TelemetryClient(make_config(server, request_timeout_seconds=5.0))
    client.start()
    for _ in range(5):
        client.track(make_event())
    interrupt_after(0.3, KeyboardInterrupt)  # type: ignore[operator]
    with pytest.raises(KeyboardInterrupt):
        client.stop(timeout=10.0)
    stats = client.stats
    assert (stats.in_flight, stats.queued) == (0, 0)
    assert stats.unconfirmed == 5  # the request had gone out
    assert_balanced(stats)
    server.default = Reply()
    client.track(make_event())
    assert client.flush() is True
    assert client.stats.sent == 1


def test_stop_async_from_another_loop_flushes_and_returns(server: TelemetryServer) -> None:
    client = TelemetryClient(make_config(server))
    started = threading.Event()
    done = threading.Event()

    async def first_loop() -> None:  # e.g. a session-scoped fixture's loop
        await client.start_async()
        for _ in range(3):
            client.track(make_event())
        started.set()
        while not done.is_set():
            await asyncio.sleep(0.01)

    other = threading.Thread(target=asyncio.run, args=(first_loop(),))
    other.start()
    try:
        assert started.wait(10.0)

        async def second_loop() -> None:  # e.g. a test's own loop
            client.track(make_event())
            await client.stop_async(timeout=5.0)

        asyncio.run(second_loop())
    finally:
        done.set()
        other.join(10.0)
    assert not client.is_running
    assert client.stats.sent == 4
    assert len(server.event_ids()) == 4
