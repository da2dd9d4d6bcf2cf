"""All fork handling: one ``os.register_at_fork`` hook for every live client, and the pid check.

A client keeps what belongs to one process (queue, counters, threads, sockets)
apart from its settings. After ``os.fork()`` the hook gives each client in the
child a fresh copy of that state; a fork the hook never sees (a C-level
``fork()``, as uWSGI does) is caught by comparing :func:`getpid` with the pid
the state was made in, on every ``track()``/``flush()``/``stats``.
"""

from __future__ import annotations

import os
import threading
import weakref

TYPE_CHECKING = False  # typing is not imported at run time: it costs ~2 ms
if TYPE_CHECKING:
    from typing import Protocol

    class _ForkAware(Protocol):
        def _after_fork(self) -> object: ...


__all__ = ["RESET_WAIT_S", "getpid", "reset_lock", "watch"]

getpid = os.getpid
"""The pid check's source (a test may stand in for a C-level fork)."""

_watched: weakref.WeakSet[_ForkAware] = weakref.WeakSet()
_installed = False
_lock = threading.Lock()

reset_lock = threading.RLock()
"""Held while a client makes its fresh state in a child: one thread resets, the others wait.

An RLock: a signal handler whose ``track()`` interrupts the reset on its thread goes on."""
RESET_WAIT_S = 1.0
"""How long a thread waits for another's reset (making a Process takes microseconds)."""


def watch(client: _ForkAware) -> None:
    """Give ``client`` fresh process state in a forked child (hook installed on first use)."""
    global _installed  # noqa: PLW0603  # one process-wide hook
    with _lock:
        _watched.add(client)
        if not _installed and hasattr(os, "register_at_fork"):
            os.register_at_fork(after_in_child=_after_fork_in_child)
            _installed = True


def _after_fork_in_child() -> None:
    global _lock, reset_lock  # noqa: PLW0603  # a parent thread may have held them at fork time
    _lock = threading.Lock()
    reset_lock = threading.RLock()
    for client in list(_watched):
        try:
            client._after_fork()
        except Exception:  # noqa: S110  # a child must start whatever one client does
            pass
