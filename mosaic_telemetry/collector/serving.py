"""serve_forever: run a collector until SIGINT or SIGTERM, announcing it once it serves."""

from __future__ import annotations

import logging
import select
import signal
import socket
import threading
from collections.abc import Callable
from types import FrameType
from typing import Any

from .server import Collector

__all__ = ["serve_forever"]

_log = logging.getLogger(__name__)


class _StopOnSignal:
    """Signal handler: SIGINT or SIGTERM asks for a stop; it never raises and takes no lock.

    Raising from the handler could land anywhere, even between the serving
    thread's start and the ready line. Setting a ``threading.Event`` could
    deadlock: the handler runs in the main thread, which may hold that event's
    lock at that moment (inside its own ``wait``). So the handler sets a flag and
    writes a byte to a socket pair, which the main thread waits on.
    """

    def __init__(self) -> None:
        self.requested = False
        self._wake, self._woken = socket.socketpair()
        self._wake.setblocking(False)

    def __call__(self, signum: int, frame: FrameType | None) -> None:
        self.requested = True
        try:
            self._wake.send(b"\0")
        except OSError:  # the pair's buffer is full: the waiter is woken already
            pass

    def wait(self, timeout_s: float) -> bool:
        """Wait up to ``timeout_s`` for a stop request; whether one came."""
        if not self.requested:
            select.select([self._woken], [], [], timeout_s)
        return self.requested

    def close(self) -> None:
        self._wake.close()
        self._woken.close()


def serve_forever(collector: Collector, *, on_ready: Callable[[str], None] | None = None) -> None:
    """Run ``collector`` until SIGINT or SIGTERM, then stop it cleanly and return.

    Signal handlers are installed only when called from the main thread (and
    restored on return). ``on_ready`` gets the URL once the socket is bound,
    always, even when a stop was requested while the collector started; the
    stop follows it.

    Raises:
        StoreError, OSError: as :meth:`Collector.start`.
    """
    handler = _StopOnSignal()
    previous: dict[signal.Signals, Any] = {}
    try:
        if threading.current_thread() is threading.main_thread():
            for signum in (signal.SIGINT, signal.SIGTERM):
                previous[signum] = signal.signal(signum, handler)
        try:
            collector.start()
            if on_ready is not None:
                on_ready(collector.url)
            while not handler.wait(1.0):  # a timed wait lets signal handlers run on every OS
                pass
            _log.debug("stop requested")
        except KeyboardInterrupt:  # called from another thread, or without the handlers
            _log.debug("stop requested")
        finally:
            collector.stop()
    finally:
        for signum, old in previous.items():
            signal.signal(signum, old)
        handler.close()
