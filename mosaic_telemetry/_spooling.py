"""Spooling: owns the spool thread, which runs the journal's passes at least once a second.

Imported only with ``spool_dir``. ``persist()`` and a stop's write-ahead go through
here too; the background's ``flush`` runs its own passes on the journal
(docs/spool.md).
"""

from __future__ import annotations

from ._journal import TICK_S
from ._log import LazyLogger
from ._threads import Wakeup, start_thread

TYPE_CHECKING = False  # typing is not imported at run time: it costs ~2 ms
if TYPE_CHECKING:
    import threading

    from ._deadline import Deadline
    from ._journal import Journal
    from ._spool import SpoolCounts


__all__ = ["Spooling"]

# The records keep the logger they had before the split: hosts may filter on its name.
logger = LazyLogger(__name__.rpartition(".")[0] + "._worker")


class Spooling:
    """The spool thread of one process and the journal it drives (a forked child: a new one)."""

    def __init__(self, journal: Journal, send_wake: Wakeup) -> None:
        self.journal = journal
        self._send_wake = send_wake  # the worker's: what is read back is sent at once
        self._wake = Wakeup()
        self._thread: threading.Thread | None = None
        self._run_id = 0

    @property
    def usable(self) -> bool:
        """False once the spool failed: the client works in memory only from then on."""
        return self.journal.usable

    @property
    def counts(self) -> SpoolCounts | None:
        """The spool's counters after the last pass (None before it opened)."""
        return self.journal.counts

    def wake(self) -> None:
        """Have the spool thread run a pass now (a full queue spills: write it soon)."""
        self._wake.set()

    def start(self) -> None:
        """Start the spool thread; its first pass runs at once (reads back what is left)."""
        from . import _spool  # noqa: F401, PLC0415  # loaded before a thread needs it
        from .models import TaskCompletionEvent  # noqa: F401, PLC0415

        self._run_id += 1
        run_id = self._run_id
        self._wake.set()
        self._thread = start_thread(lambda: self._run(run_id), "spool")

    def halt(self) -> None:
        """Tell the spool thread to end after the pass in progress."""
        self._run_id += 1
        self._wake.set()

    def join(self, deadline: Deadline) -> None:
        """Wait for the spool thread (by ``deadline``) and forget it."""
        import threading  # noqa: PLC0415  # loaded already: the thread was made with it

        thread, self._thread = self._thread, None
        if thread is not None and thread is not threading.current_thread():
            thread.join(deadline.remaining())

    def _run(self, run_id: int) -> None:
        """Spool thread body: a journal pass at least every second (docs/spool.md)."""
        journal = self.journal
        while self._run_id == run_id and journal.usable:
            self._wake.wait(TICK_S)
            if self._run_id != run_id:
                return
            try:
                if journal.run_pass()[1]:
                    self._send_wake.set()  # read back from the spool: send it
            except Exception:  # the thread must survive anything; the host never sees it
                logger.exception("telemetry spool pass failed")

    def persist(self, deadline: Deadline) -> int:
        """Write every event queued or in flight to the spool and fsync it; how many."""
        return self.journal.run_pass(sync=True, replay=False, deadline=deadline)[0]

    def persist_quietly(self) -> None:
        """Like :meth:`persist` without a deadline; a failure is logged, never raised."""
        try:
            self.journal.run_pass(sync=True, replay=False)
        except Exception:
            logger.exception("telemetry spool pass failed")

    def close_quietly(self) -> None:
        """Close the spool; a failure is logged, never raised."""
        try:
            self.journal.close()
        except Exception:
            logger.exception("telemetry spool close failed")

    def after_fork_in_child(self) -> None:
        """In a forked child: let go of the parent's spool files without touching them."""
        self.journal.after_fork_in_child()
