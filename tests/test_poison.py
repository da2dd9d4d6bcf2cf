"""One bad event never costs the others: unwritable events and events a server keeps failing."""

from __future__ import annotations

import logging

import pytest
from _server import (  # noqa: F401  # fixtures are used by name
    Recorded,
    Reply,
    TelemetryServer,
    assert_balanced,
    clean_env_fixture,
    make_config,
    make_event,
    server_fixture,
)

from mosaic_telemetry import TelemetryClient

pytestmark = pytest.mark.usefixtures("clean_env")

LOGGER = "mosaic_telemetry"


def fails_batches_with(*poison: str, status: int = 500) -> object:
    """A responder: ``status`` for every batch holding one of the ``poison`` event ids."""

    def respond(request: Recorded) -> Reply | None:
        if set(request.event_ids) & set(poison):
            return Reply.error(status, "internal error while storing the batch")
        return None

    return respond


@pytest.mark.parametrize("status", [500, 502, 504])
def test_an_event_the_server_keeps_failing_is_isolated_and_dropped_alone(
    server: TelemetryServer, caplog: pytest.LogCaptureFixture, status: int
) -> None:
    caplog.set_level(logging.WARNING, logger=LOGGER)
    events = [make_event() for _ in range(250)]
    poison = events[37]
    server.responder = fails_batches_with(str(poison.event_id), status=status)  # type: ignore[assignment]
    client = TelemetryClient(
        make_config(server, batch_size=100, max_retries=2), sleep=lambda s: None
    )
    for event in events:
        client.track(event)
    assert client.flush(timeout=30.0) is True
    stats = client.stats
    assert (stats.sent, stats.dropped_errors, stats.queued, stats.in_flight) == (249, 1, 0, 0)
    assert_balanced(stats)
    stored = {
        i for r in server.batches() if str(poison.event_id) not in r.event_ids for i in r.event_ids
    }
    assert stored == {str(e.event_id) for e in events} - {str(poison.event_id)}
    alone = [r for r in server.batches() if r.event_ids == (str(poison.event_id),)]
    assert len(alone) == 3  # dropped only after its own retries (max_retries=2)
    assert any(str(poison.event_id) in r.getMessage() for r in caplog.records)


def test_two_bad_events_in_different_halves_are_both_found(server: TelemetryServer) -> None:
    events = [make_event() for _ in range(100)]
    bad = [str(events[10].event_id), str(events[70].event_id)]
    server.responder = fails_batches_with(*bad)  # type: ignore[assignment]
    client = TelemetryClient(make_config(server, max_retries=1), sleep=lambda s: None)
    for event in events:
        client.track(event)
    assert client.flush(timeout=30.0) is True
    assert (client.stats.sent, client.stats.dropped_errors) == (98, 2)
    assert_balanced(client.stats)


def test_a_server_failing_every_batch_drops_nothing(server: TelemetryServer) -> None:
    server.default = Reply.error(500, "database down")
    client = TelemetryClient(make_config(server, max_retries=1), sleep=lambda s: None)
    for _ in range(100):
        client.track(make_event())
    assert client.flush(timeout=30.0) is False
    stats = client.stats
    assert (stats.sent, stats.dropped_errors, stats.queued) == (0, 0, 100)
    # Two attempts of the batch, then halves and quarters once each: a probe, not a storm.
    assert len(server.batches()) == 2 + 2 + 4
    assert_balanced(stats)


def test_a_503_is_an_outage_never_a_poison(server: TelemetryServer) -> None:
    events = [make_event() for _ in range(10)]
    server.responder = fails_batches_with(str(events[3].event_id), status=503)  # type: ignore[assignment]
    client = TelemetryClient(make_config(server, max_retries=1), sleep=lambda s: None)
    for event in events:
        client.track(event)
    assert client.flush() is False
    assert len(server.batches()) == 2  # no split: the server asked to come back later
    assert (client.stats.dropped_errors, client.stats.queued) == (0, 10)


def test_an_event_changed_after_track_into_something_unwritable_is_dropped_alone(
    server: TelemetryServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger=LOGGER)
    events = [make_event() for _ in range(20)]
    client = TelemetryClient(make_config(server))
    for event in events:
        client.track(event)
    events[5].model = "bytes-from-fsdecode-\udcff"  # a lone surrogate: no UTF-8 for it
    assert client.flush() is True
    stats = client.stats
    assert (stats.sent, stats.dropped_invalid, stats.dropped_errors) == (19, 1, 0)
    assert_balanced(stats)
    assert server.event_ids() == [str(e.event_id) for i, e in enumerate(events) if i != 5]
    (warning,) = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert str(events[5].event_id) in warning
    assert "model" in warning
