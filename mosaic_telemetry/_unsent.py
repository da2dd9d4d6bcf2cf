"""The exit notice: one WARNING when a client that never ran ends with events it never sent.

Without ``start()`` nothing sends by itself: the events of a client that is
neither started nor flushed before the interpreter exits are lost. That must
not happen without a word, so the first client registers one ``atexit`` hook
(on first use: import is inert) that tells, for each such client, how many
events are still queued. A started client is left alone: its own exit flush
sends them and counts what it could not.
"""

from __future__ import annotations

import atexit
import sys
import weakref

from . import _fork
from ._log import LazyLogger

TYPE_CHECKING = False  # typing is not imported at run time: it costs ~2 ms
if TYPE_CHECKING:
    from typing import Protocol

    from ._process import Process

    class _Client(Protocol):
        _core: Process


__all__ = ["watch"]

_LOGGER_NAME = __name__.rpartition(".")[0] + ".client"
logger = LazyLogger(_LOGGER_NAME)

_watched: weakref.WeakSet[_Client] = weakref.WeakSet()
_registered = False


def watch(client: _Client) -> None:
    """Tell at exit if ``client`` still holds events nothing sent (hook made on first use)."""
    global _registered  # noqa: PLW0603  # one process-wide hook
    # No lock: a fork while another thread held one would leave it held in the child.
    _watched.add(client)
    if not _registered:
        _registered = True
        atexit.unregister(_at_exit)  # two threads that both got here register it once
        atexit.register(_at_exit)


def _at_exit() -> None:
    for client in list(_watched):
        try:
            core = client._core
            if core.pid != _fork.getpid() or core.background.started:
                continue  # a parent's state in a forked child; or the exit flush sends them
            unsent = core.ledger.size
            journal = core.background.journal
            if unsent and journal is not None:  # persisted ones wait in the spool: not lost
                unsent -= sum(journal.has_record(e) for e in core.ledger.in_memory())
            if unsent > 0:
                message = (
                    f"telemetry: {unsent} event(s) tracked but never sent: this client was "
                    "not started, and no flush() or stop() sent them before exit (call "
                    "client.flush() before the process ends, or start() the client)"
                )
                logger.warning("%s", message)
                if not _anyone_hears(_LOGGER_NAME):
                    # Our NullHandler silences logging's last resort: say it on stderr
                    # ourselves, as logging would for a host that configured nothing.
                    sys.stderr.write(f"{_LOGGER_NAME}: WARNING: {message}\n")
        except Exception:  # noqa: S110  # at exit there is nowhere left to report
            pass


def _anyone_hears(name: str) -> bool:
    """Whether a handler other than a NullHandler takes WARNING records of logger ``name``."""
    import logging  # noqa: PLC0415  # loaded already: the warning above was logged

    current: logging.Logger | None = logging.getLogger(name)
    if not current or not current.isEnabledFor(logging.WARNING):
        return True  # the host turned these records off: its choice, not silence
    while current is not None:
        for handler in current.handlers:
            if type(handler) is not logging.NullHandler and handler.level <= logging.WARNING:
                return True
        if not current.propagate:
            return False
        current = current.parent
    return False
