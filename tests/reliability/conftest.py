"""Fixtures of the reliability suite: clean environment, key-leak watch, servers and clients."""

from __future__ import annotations

import logging
import os
import traceback
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from _faults import FaultServer, Plan
from _support import key_fragments

from mosaic_telemetry import TelemetryClient, TelemetryConfig


class _Recorder(logging.Handler):
    """Keeps every record of the package's loggers, rendered, for the key-leak check."""

    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.texts: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        text = record.getMessage()
        if record.exc_info:
            text += "".join(traceback.format_exception(*record.exc_info))
        if record.stack_info:
            text += record.stack_info
        self.texts.append(text)


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """The host's MOSAIC_TELEMETRY_* variables must not change what a scenario does."""
    for name in list(os.environ):
        if name.startswith("MOSAIC_TELEMETRY_"):
            monkeypatch.delenv(name)


@pytest.fixture(autouse=True)
def key_watch() -> Iterator[_Recorder]:
    """Every scenario runs with the package logging at DEBUG; no record may hold the key."""
    logger = logging.getLogger("mosaic_telemetry")
    recorder = _Recorder()
    previous = logger.level
    logger.setLevel(logging.DEBUG)
    logger.addHandler(recorder)
    try:
        yield recorder
    finally:
        logger.removeHandler(recorder)
        logger.setLevel(previous)
    leaks = [text for text in recorder.texts if key_fragments(text)]
    assert not leaks, f"the API key appeared in {len(leaks)} log record(s): {leaks[0][:400]!r}"


@pytest.fixture
def serve() -> Iterator[Callable[..., FaultServer]]:
    """Start fault servers (``serve(plan, tls=..., upstream=...)``); all stopped at teardown."""
    started: list[FaultServer] = []

    def start(plan: Plan | None = None, **options: Any) -> FaultServer:
        server = FaultServer(plan, **options).start()
        started.append(server)
        return server

    yield start
    for server in reversed(started):
        server.stop()


@pytest.fixture
def make_client(
    serve: Callable[..., FaultServer],
) -> Iterator[Callable[..., TelemetryClient]]:
    """Build clients that are stopped (at once) at teardown, before the servers stop."""
    made: list[TelemetryClient] = []

    def build(config: TelemetryConfig, **options: Any) -> TelemetryClient:
        client = TelemetryClient(config, **options)
        made.append(client)
        return client

    yield build
    for client in made:
        client.stop(timeout=0.0)
