"""Ending a stop: what is left is persisted, counted and abandoned; exit hooks are registered."""

from __future__ import annotations

import atexit
import threading

from ._log import LazyLogger

TYPE_CHECKING = False  # typing is not imported at run time: it costs ~2 ms
if TYPE_CHECKING:
    from collections.abc import Callable

    from ._ledger import Ledger
    from ._request import Requester
    from ._spooling import Spooling


__all__ = ["abandon_rest", "register_exit"]

# The records keep the logger they had before the split: hosts may filter on its name.
logger = LazyLogger(__name__.rpartition(".")[0] + "._worker")


def abandon_rest(
    ledger: Ledger, spooling: Spooling | None, requester: Requester, *, exiting: bool
) -> None:
    """Count what a stop leaves (``unconfirmed``, ``dropped_shutdown``, ``spooled``) and let go.

    With a spool, whatever was tracked during the final flush is persisted first and
    what has a record counts as ``spooled``; the spool is closed, and every request
    still out is aborted (its result is ignored).
    """
    if spooling is not None:
        spooling.persist_quietly()  # anything tracked during the flush, too
    on_disk = spooling.journal.has_record if spooling is not None and spooling.usable else None
    unconfirmed, dropped, spooled = ledger.abandon(on_disk)
    if spooling is not None:
        spooling.close_quietly()
    if spooled:
        logger.info("telemetry shutdown: %d unsent event(s) left in the spool", spooled)
    requester.abort()  # requests still out end now; their results are ignored
    if exiting:
        ledger.mark_exited()
    if unconfirmed or dropped:
        logger.warning(
            "telemetry shutdown: %d event(s) could not be delivered in time, "
            "%d more were sent but not confirmed",
            dropped,
            unconfirmed,
        )


def register_exit(hook: Callable[[], None], *, daemon: bool, registered: bool) -> None:
    """Have ``hook`` run at interpreter exit: ``atexit`` (unless ``registered``), and for a
    non-daemon worker, ``threading``'s own exit hook too (Python joins such a worker before
    any ``atexit`` hook runs: it must be stopped earlier)."""
    if not daemon:
        register = getattr(threading, "_register_atexit", None)
        if register is not None:
            try:
                register(hook)
            except RuntimeError:  # the interpreter is already shutting down
                pass
    if not registered:
        atexit.register(hook)
