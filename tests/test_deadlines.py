"""Hard deadlines: every blocking call returns by its deadline, whatever the peer does.

The peers are raw sockets on 127.0.0.1 (tests/_hostile.py): one that answers two
bytes a second, one that never answers, one that never reads, one whose body never
ends. A per-socket-call timeout (urllib's) lets the first and last of them stretch
a request without bound; the client's one deadline per request must not.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

import pytest
from _hostile import Behaviour, endless_body, http_answer, never_read, raw_server, silent, trickle
from _server import (  # noqa: F401  # fixtures are used by name
    EVENTS_PATH,
    assert_balanced,
    clean_env_fixture,
    make_config,
    make_event,
    make_query,
)

from mosaic_telemetry import TelemetryClient
from mosaic_telemetry._deadline import Deadline
from mosaic_telemetry._http import MAX_RESPONSE_BYTES
from mosaic_telemetry.transport import Transport, TransportError

pytestmark = [pytest.mark.usefixtures("clean_env"), pytest.mark.slow]

SLACK_S = 0.5
"""What the issue allows past a deadline."""
NOISE_S = 0.5
"""And what a shared, loaded test machine adds on top."""

PEERS: dict[str, Callable[[], Behaviour]] = {
    "trickles 2 bytes/s": lambda: trickle(bytes_per_s=2.0),
    "never answers": silent,
    "never reads": never_read,
    "sends an endless body slowly": lambda: endless_body(chunk=b"x", pause_s=0.5),
}


def timed(call: Callable[[], object]) -> tuple[object, float]:
    started = time.monotonic()
    result = call()
    return result, time.monotonic() - started


@pytest.mark.parametrize("peer", list(PEERS), ids=list(PEERS))
def test_one_request_ends_at_its_deadline(peer: str) -> None:
    with raw_server(PEERS[peer]()) as server:
        transport = Transport(make_config(server.url))
        started = time.monotonic()
        with pytest.raises(TransportError, match="timed out after") as info:
            transport.post(EVENTS_PATH, b'{"events":[]}', deadline=Deadline.after(1.0))
        took = time.monotonic() - started
    assert took < 1.0 + SLACK_S + NOISE_S, f"{took:.2f}s for a 1 s deadline"
    assert info.value.sent  # the request went out: its fate is unknown


@pytest.mark.parametrize("peer", list(PEERS), ids=list(PEERS))
def test_flush_returns_by_its_deadline_and_keeps_the_events(peer: str) -> None:
    with raw_server(PEERS[peer]()) as server:
        config = make_config(server.url, request_timeout_seconds=10.0, max_retries=3)
        client = TelemetryClient(config)
        for _ in range(5):
            client.track(make_event())
        flushed, took = timed(lambda: client.flush(timeout=1.0))
        stats = client.stats
    assert flushed is False
    assert took < 1.0 + SLACK_S + NOISE_S, f"flush(1) took {took:.2f}s"
    assert (stats.queued, stats.in_flight, stats.sent, stats.dropped_errors) == (5, 0, 0, 0)
    assert_balanced(stats)


@pytest.mark.parametrize("peer", list(PEERS), ids=list(PEERS))
def test_stop_returns_by_its_deadline_and_counts_what_is_left(peer: str) -> None:
    with raw_server(PEERS[peer]()) as server:
        config = make_config(server.url, request_timeout_seconds=10.0, batch_size=5)
        client = TelemetryClient(config)
        client.start()
        for _ in range(12):
            client.track(make_event())
        _, took = timed(lambda: client.stop(timeout=1.0))
        stats = client.stats
    assert took < 1.0 + SLACK_S + NOISE_S, f"stop(1) took {took:.2f}s"
    assert (stats.queued, stats.in_flight, stats.sent) == (0, 0, 0)
    assert stats.unconfirmed > 0  # at least the batch whose request hung
    assert stats.unconfirmed + stats.dropped_shutdown == 12
    assert_balanced(stats)


def test_a_second_stop_returns_by_its_own_deadline_while_a_longer_one_runs() -> None:
    import threading

    with raw_server(silent()) as server:
        config = make_config(server.url, request_timeout_seconds=10.0, batch_size=5)
        client = TelemetryClient(config)
        client.start()
        for _ in range(12):
            client.track(make_event())
        first = threading.Thread(target=client.stop, kwargs={"timeout": 4.0})
        first.start()
        time.sleep(0.3)  # the first stop is inside, waiting on the silent server
        _, took = timed(lambda: client.stop(timeout=0.5))
        first.join(10)
        stats = client.stats
    assert took < 0.5 + SLACK_S + NOISE_S, f"stop(0.5) took {took:.2f}s beside a stop(4)"
    assert (stats.queued, stats.in_flight, stats.sent) == (0, 0, 0)
    assert_balanced(stats)


def test_refresh_predictions_sync_returns_by_its_deadline() -> None:
    with raw_server(trickle()) as server:
        config = make_config(server.url, request_timeout_seconds=0.5, max_retries=1)
        client = TelemetryClient(config)
        _, took = timed(lambda: client.refresh_predictions_sync([make_query(1)]))
        stats = client.stats
    # Its deadline: request_timeout_seconds x (max_retries + 1) = 1 s.
    assert took < 1.0 + SLACK_S + NOISE_S, f"refresh took {took:.2f}s"
    assert stats.last_error is not None
    assert "timed out after" in stats.last_error


def test_stop_async_returns_by_its_deadline_against_a_trickling_server() -> None:
    with raw_server(trickle()) as server:
        config = make_config(server.url, request_timeout_seconds=10.0, batch_size=5)

        async def scenario() -> tuple[float, TelemetryClient]:
            client = TelemetryClient(config)
            await client.start_async()
            for _ in range(5):
                client.track(make_event())
            await asyncio.sleep(0.2)  # the worker is now reading the trickle
            started = time.monotonic()
            await client.stop_async(timeout=1.0)
            return time.monotonic() - started, client

        took, client = asyncio.run(scenario())
    assert took < 1.0 + SLACK_S + NOISE_S, f"stop_async(1) took {took:.2f}s"
    assert (client.stats.unconfirmed, client.stats.in_flight) == (5, 0)


def test_a_fast_endless_body_is_cut_at_one_mebibyte_and_the_socket_dropped() -> None:
    with raw_server(endless_body()) as server:
        transport = Transport(make_config(server.url))
        result = transport.post(EVENTS_PATH, b'{"events":[]}', deadline=Deadline.after(5.0))
        assert (result.status, result.truncated, len(result.body)) == (
            200,
            True,
            MAX_RESPONSE_BYTES,
        )
        transport.post(EVENTS_PATH, b'{"events":[]}', deadline=Deadline.after(5.0))
        assert server.connections == 2  # the rest of the body was not read: no reuse


def test_a_peer_that_trickles_a_complete_answer_within_the_deadline_is_read() -> None:
    answer = http_answer(202)
    with raw_server(trickle(answer, bytes_per_s=4000.0)) as server:
        transport = Transport(make_config(server.url))
        result = transport.post(EVENTS_PATH, b'{"events":[]}', deadline=Deadline.after(5.0))
    assert result.status == 202
