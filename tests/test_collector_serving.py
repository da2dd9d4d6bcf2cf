"""serve_forever and serve: the ready announcement comes before any stop; signals never block."""

from __future__ import annotations

import os
import signal
import sys
import threading
import time
from pathlib import Path

import pytest
from collector_fixtures import ANNOUNCEMENT, API_KEY

from mosaic_telemetry.cli import main
from mosaic_telemetry.cli import serve as serve_command
from mosaic_telemetry.collector import Collector, serve_forever
from mosaic_telemetry.collector.serving import _StopOnSignal

posix_signals = pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")


@pytest.fixture
def stop_asked_while_starting(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every Collector.start sends this process SIGTERM once the port is open, before returning.

    That is the worst moment for a stop: after the socket is bound, before the
    announcement. Returns the log of what happened, in order.
    """
    happened: list[str] = []
    start = Collector.start

    def start_then_stop(self: Collector) -> Collector:
        started = start(self)
        os.kill(os.getpid(), signal.SIGTERM)  # its handler runs in this thread, now
        happened.append("started")
        return started

    monkeypatch.setattr(Collector, "start", start_then_stop)
    return happened


@posix_signals
def test_a_stop_asked_while_starting_still_gets_the_announcement_then_stops(
    stop_asked_while_starting: list[str],
) -> None:
    collector = Collector(API_KEY)
    original = signal.getsignal(signal.SIGTERM)
    serve_forever(collector, on_ready=stop_asked_while_starting.append)
    assert stop_asked_while_starting[0] == "started"
    assert stop_asked_while_starting[1].startswith("http://127.0.0.1:")
    assert len(stop_asked_while_starting) == 2
    assert not collector.is_running
    assert signal.getsignal(signal.SIGTERM) is original


@posix_signals
@pytest.mark.usefixtures("stop_asked_while_starting")
def test_serve_writes_its_ready_line_and_file_even_when_stopped_while_starting(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    ready = tmp_path / "ready"
    written: list[str] = []
    write = serve_command._write_ready_file

    def write_and_read(path: str, url: str) -> None:
        write(path, url)
        written.append(Path(path).read_text(encoding="utf-8"))

    monkeypatch.setattr(serve_command, "_write_ready_file", write_and_read)
    monkeypatch.delenv("MOSAIC_TELEMETRY_API_KEY", raising=False)
    code = main(["serve", "--port", "0", "--api-key", API_KEY, "--ready-file", str(ready)])
    out = capsys.readouterr().out
    assert code == 0
    assert out.startswith(ANNOUNCEMENT + "http://127.0.0.1:")
    assert out.rstrip().endswith("collector stopped")
    url = out.split()[3]
    assert written == [url + "\n"]
    assert not ready.exists()  # removed once stopped: a stale file never looks ready


def test_the_stop_handler_wakes_the_wait_at_once() -> None:
    handler = _StopOnSignal()
    try:
        assert not handler.wait(0.01)
        timer = threading.Timer(0.05, handler, args=(signal.SIGTERM, None))
        started = time.monotonic()
        timer.start()
        assert handler.wait(30.0)
        assert time.monotonic() - started < 10.0  # woken by the call, not by the timeout
        timer.join()
    finally:
        handler.close()


def test_the_stop_handler_never_blocks_or_raises_however_many_signals_come() -> None:
    handler = _StopOnSignal()
    try:
        chunk = b"\0" * 65536
        with pytest.raises(BlockingIOError):  # fill the pair's buffer: nobody reads it
            while True:
                handler._wake.send(chunk)
        for _ in range(100):
            handler(signal.SIGTERM, None)
        assert handler.wait(0.0)
    finally:
        handler.close()
    handler(signal.SIGTERM, None)  # even after close (a signal racing the restore)
