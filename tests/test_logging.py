"""Logging people can use, and host logging that can't hurt: per outage, per request, guarded."""

from __future__ import annotations

import logging
import re
import time

import pytest
from _server import (  # noqa: F401  # fixtures are used by name
    EVENTS_PATH,
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

pytestmark = pytest.mark.usefixtures("clean_env")

LOGGER = "mosaic_telemetry"


def records(caplog: pytest.LogCaptureFixture, level: int) -> list[str]:
    return [
        r.getMessage() for r in caplog.records if r.levelno == level and r.name.startswith(LOGGER)
    ]


def test_a_warning_when_sending_fails_and_info_when_it_recovers_for_each_outage(
    server: TelemetryServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger=LOGGER)
    client = TelemetryClient(make_config(server, max_retries=0))
    for outage in range(2):
        server.default = Reply(drop_connection=True)
        client.track(make_event())
        assert client.flush() is False
        assert client.flush() is False  # the same cause again, in the same outage
        server.default = Reply()
        assert client.flush() is True
        warnings = records(caplog, logging.WARNING)
        assert len(warnings) == outage + 1, warnings  # once per outage, not per process
        assert "closed the connection without an answer" in warnings[-1]
        infos = [m for m in records(caplog, logging.INFO) if "recovered" in m]
        assert len(infos) == outage + 1, infos
    assert re.search(r"recovered after 2 failed send\(s\) over \d+\.\d s", infos[-1])


def test_debug_has_one_line_per_request(
    server: TelemetryServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger=LOGGER)
    server.script(Reply.error(503, "busy"))
    client = TelemetryClient(make_config(server, max_retries=1), sleep=lambda s: None)
    for _ in range(3):
        client.track(make_event())
    assert client.flush() is True
    lines = [m for m in records(caplog, logging.DEBUG) if m.startswith("POST ")]
    assert len(lines) == 2
    url = re.escape(server.url + EVENTS_PATH)
    pattern = rf"POST {url}: 3 event\(s\), \d+ bytes of JSON -> HTTP (503|202) in \d+\.\d ms"
    assert all(re.fullmatch(pattern, line) for line in lines), lines
    assert [line.split("-> ")[1].split(" ")[1] for line in lines] == ["503", "202"]


def test_server_texts_reach_the_log_without_control_characters(
    server: TelemetryServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger=LOGGER)
    event = make_event()
    forged = "bad\r\nCRITICAL forged line\x1b[2J\u2028more\u202e"
    server.default = Reply(reject={str(event.event_id): forged})
    client = TelemetryClient(make_config(server))
    client.track(event)
    assert client.flush() is True
    (warning,) = records(caplog, logging.WARNING)
    assert "bad CRITICAL forged line [2J more" in warning
    assert not re.search("[\x00-\x1f\x7f-\x9f\u2028\u202e]", warning)


class _RaisingFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        raise RuntimeError("the host's filter is broken")


def test_a_host_filter_that_raises_reaches_neither_the_host_nor_the_worker(
    server: TelemetryServer,
) -> None:
    logger = logging.getLogger(LOGGER)
    # Handler.handle() runs its filters outside the try that guards emit().
    broken = logging.StreamHandler()
    broken.addFilter(_RaisingFilter())
    logger.addHandler(broken)
    previous = logger.level
    logger.setLevel(logging.DEBUG)
    try:
        server.default = Reply.error(401, "unknown key")  # the client logs a WARNING
        client = TelemetryClient(make_config(server, batch_size=2))
        client.track(make_event())
        assert client.flush() is True  # must not raise
        client.start()
        server.default = Reply()
        for _ in range(4):  # two full batches: the worker sends, logging at DEBUG
            client.track(make_event())
        # Generous: a loaded CI machine once took over 10 s here (the stats say where it was).
        assert wait_until(lambda: client.stats.sent == 4, timeout_s=30.0), client.stats
        assert client.is_running  # the worker survived every record
        client.track(None)  # type: ignore[arg-type]  # the WARNING of track() too
    finally:
        logger.removeHandler(broken)
        logger.setLevel(previous)
        client.stop()
    assert client.stats.dropped_errors == 1


def test_a_handler_that_tracks_every_record_cannot_feed_on_the_clients_own_logging(
    server: TelemetryServer,
) -> None:
    client = TelemetryClient(make_config(server, max_retries=2), sleep=lambda s: None)
    calls: list[str] = []

    class Tracking(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            calls.append(record.getMessage())
            client.track(make_event(model="from-a-log-record"))

    handler = Tracking(level=logging.DEBUG)
    logger = logging.getLogger(LOGGER)
    logger.addHandler(handler)
    previous = logger.level
    logger.setLevel(logging.DEBUG)
    try:
        server.default = Reply(drop_connection=True)  # fails: the client logs a lot
        for _ in range(10):
            client.track(make_event())
        started = time.monotonic()
        while time.monotonic() - started < 0.5:
            client.flush(timeout=1.0)
    finally:
        logger.removeHandler(handler)
        logger.setLevel(previous)
    stats = client.stats
    assert calls  # the handler did see the client's records
    assert stats.dropped_feedback == len(calls)  # and each event it made was refused
    assert stats.queued == 10  # nothing but the host's own events
    assert_balanced(stats)
