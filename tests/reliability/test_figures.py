"""The delivery core's headline figures: a trickling server against flush(2), connection reuse."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import pytest
from _report import record, record_run
from _support import assert_balanced, make_config, make_event, wait_until

from mosaic_telemetry import TelemetryClient
from mosaic_telemetry._worker import SENDER_THREADS

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # tests/: the shared peers
from _hostile import raw_server, trickle
from _server import TelemetryServer

pytestmark = pytest.mark.reliability

HERE = "tests/reliability/test_figures.py"


def test_flush_with_a_two_second_timeout_against_a_trickling_server() -> None:
    with raw_server(trickle(bytes_per_s=2.0)) as peer:
        config = make_config(peer.url, request_timeout_seconds=10.0, max_retries=3)
        client = TelemetryClient(config)
        events = [make_event() for _ in range(20)]
        for event in events:
            client.track(event)
        began = time.monotonic()
        flushed = client.flush(timeout=2.0)
        took = time.monotonic() - began
        stats = client.stats
    record_run(
        "flush(timeout=2) against a server answering 2 bytes/s (request timeout 10 s)",
        f"python -m pytest -m reliability {HERE}::"
        "test_flush_with_a_two_second_timeout_against_a_trickling_server",
        stats,
        delivered=0,
        seconds=took,
        queued_after=stats.queued,
    )
    assert flushed is False
    assert took <= 2.0 + 0.5 + 0.5, f"flush(2) took {took:.2f}s"
    assert (stats.queued, stats.in_flight) == (20, 0)
    assert_balanced(stats)


def test_fifty_batches_over_reused_connections() -> None:
    with TelemetryServer(keep_alive=True, keep_json=False) as server:
        client = TelemetryClient(make_config(server.url))
        for _ in range(50):  # fifty flushes of one batch each, one after the other
            client.track(make_event())
            assert client.flush(timeout=10.0)
        sequential = server.connections
    with TelemetryServer(keep_alive=True, keep_json=False) as server:
        config = make_config(server.url, batch_size=1, submit_interval_seconds=0.05)
        client = TelemetryClient(config)
        for _ in range(50):  # one send cycle: the first batch alone, 49 in parallel
            client.track(make_event())
        client.start()
        assert wait_until(lambda: client.stats.sent == 50, timeout_s=30.0)
        client.stop()
        parallel = server.connections
    record(
        "50 batches: TCP connections opened (keep-alive, 4 sender threads)",
        f"python -m pytest -m reliability {HERE}::test_fifty_batches_over_reused_connections",
        tracked=100,
        delivered=100,
        rejected=0,
        dropped=0,
        retries=0,
        seconds=None,
        sequential_flushes=sequential,
        one_parallel_send=parallel,
    )
    assert sequential == 1
    assert parallel <= SENDER_THREADS + 1
