"""Background: owns the worker thread, the sender threads, their wake-ups, stop and exit flush.

``flush``/``stop``/the exit flush are sends (``_dispatch.py``) repeated until
nothing is left or their deadline passes; at a stop's deadline whatever is still
out is counted (``unconfirmed`` or ``dropped_shutdown``) and abandoned. With a
spool, the spool thread (``_spooling.py``) runs the journal's passes; a stop
persists first, and what it leaves is ``spooled``, never dropped. The asyncio
task that supervises the worker is ``_supervisor.py``'s.
"""

from __future__ import annotations

import atexit
import os
import threading

from ._deadline import MAX_WAIT_S, Deadline
from ._dispatch import Dispatcher, load_send_path
from ._log import LazyLogger
from ._retry import cycle_pause
from ._shutdown import abandon_rest, register_exit
from ._threads import LazyPool, Wakeup, start_thread

TYPE_CHECKING = False  # typing is not imported at run time: it costs ~2 ms
if TYPE_CHECKING:
    from collections.abc import Callable

    from ._journal import Journal
    from ._ledger import Ledger
    from ._request import Requester
    from ._sender import Sender
    from ._spooling import Spooling


__all__ = ["Background"]

logger = LazyLogger(__name__)

SENDER_THREADS = 4
_STOP_GRACE_S = 0.25  # a stop meeting a start waits that out even with timeout=0


class Background:
    """The client's background machinery for one process (a forked child gets a new one)."""

    def __init__(
        self,
        ledger: Ledger,
        sender: Sender,
        requester: Requester,
        *,
        batch_size: int,
        interval_s: float,
        request_timeout_s: float,
        max_retries: int,
        shutdown_s: float,
        clock: Callable[[], float],
        journal: Journal | None = None,
    ) -> None:
        self._ledger = ledger
        self._requester = requester
        self._batch_size = batch_size
        self._interval_s = interval_s
        # A background cycle has no caller waiting: each batch gets its retries' worth
        # of time from when it starts, and a stop cuts whatever is left.
        self._batch_budget_s = max(interval_s, request_timeout_s) * (max_retries + 1)
        self._shutdown_s = shutdown_s
        self._clock = clock
        self._pid = os.getpid()
        self._wake = Wakeup()
        self._interrupt = threading.Event()  # set by stop: cuts backoff sleeps short
        self._life = threading.RLock()  # start/stop; an RLock, for signal handlers
        self._thread: threading.Thread | None = None
        self._run_id = 0
        self._pool = LazyPool(SENDER_THREADS)  # not under _life: stop() joins the worker in it
        self._dispatcher = Dispatcher(ledger, sender, batch_size)
        self._cycle_deadline: Deadline | None = None
        self._exit_hook = False
        self._spooling: Spooling | None = None
        if journal is not None:
            from ._spooling import Spooling  # noqa: PLC0415  # only with a spool

            self._spooling = Spooling(journal, self._wake)

    # -- state ------------------------------------------------------------------------

    @property
    def running(self) -> bool:
        """Whether the worker thread (of a sync or async start) is active."""
        thread = self._thread
        return thread is not None and thread.is_alive()

    @property
    def started(self) -> bool:
        """Whether start() ran and no stop since (true in a forked child whose threads are gone)."""
        return self._thread is not None

    @property
    def worker_thread(self) -> threading.Thread | None:
        """The worker thread of the current start (None when stopped)."""
        return self._thread

    @property
    def run_id(self) -> int:
        """Which start the worker belongs to (each start and stop moves it on)."""
        return self._run_id

    def wake(self) -> None:
        """A batch is full: have the worker send now (safe from any context)."""
        if self._thread is not None:
            self._wake.set()
            if self._spooling is not None:  # a full queue spills: write it soon
                self._spooling.wake()

    @property
    def spooling(self) -> Spooling | None:
        """The spool thread and journal of this client (None without ``spool_dir``)."""
        return self._spooling

    def deadline(self, timeout_s: float | None) -> Deadline:
        """``timeout_s`` from now, or the shutdown timeout when None."""
        return Deadline.after(self._shutdown_s if timeout_s is None else timeout_s, self._clock)

    # -- sending ----------------------------------------------------------------------

    def flush(self, deadline: Deadline, *, parallel: bool | None = None) -> bool:
        """Send until nothing is queued or in flight; False at the deadline.

        A send that had to put events back ends the flush (False) rather than
        hammering a failing server until the deadline.
        """
        if parallel is None:
            parallel = self.running
        ledger, spooling = self._ledger, self._spooling
        journal = None if spooling is None else spooling.journal
        try:
            while True:
                if journal is not None:
                    journal.run_pass(deadline=deadline)  # write ahead, and read back
                pool = self._pool.get() if parallel else None
                if not self._dispatcher.send(deadline, None, pool):
                    return False
                if not ledger.wait_settled(deadline):
                    return False
                if ledger.idle():
                    if journal is None:
                        return True
                    journal.run_pass(deadline=deadline)  # the spool may hold more
                    if ledger.idle():  # (the spool thread may have read some back, too)
                        return True
                    continue
                if deadline.expired():
                    return False
        finally:
            if journal is not None:  # settle on disk what the server answered for
                journal.run_pass(replay=False, deadline=deadline)

    # -- the worker thread ------------------------------------------------------------

    def start(self) -> bool:
        """Start the worker thread; False when it runs already or no thread may start."""
        with self._life:
            if self.running:
                return False
            load_send_path()
            self._run_id += 1
            self._interrupt.clear()
            self._wake.clear()
            run_id = self._run_id
            # A non-daemon worker (where daemon threads are refused) is joined before
            # atexit hooks run, and a subinterpreter's main thread still looks alive
            # then: only threading's own exit hook can stop it. Without that hook,
            # no worker: flush() and stop() send on the calling thread.
            can_stop_at_exit = hasattr(threading, "_register_atexit")
            thread = start_thread(
                lambda: self._run(run_id), "worker", daemon_only=not can_stop_at_exit
            )
            if thread is None:
                return False
            self._thread = thread
            register_exit(self._at_exit, daemon=thread.daemon, registered=self._exit_hook)
            self._exit_hook = True
            if self._spooling is not None:
                self._spooling.start()
            return True

    def _run(self, run_id: int) -> None:
        """Worker body: a send every interval, or as soon as a batch is full."""
        failures = 0
        while self._run_id == run_id:
            self._wake.wait(self._interval_s)
            if self._run_id != run_id:
                return
            if self._cycle():
                failures = 0
                if self._ledger.size >= self._batch_size:
                    self._wake.set()  # a burst: go on at once rather than wait the interval
                continue
            # A failing server is not hammered by new events' wake-ups: rest first
            # (interruptibly: stop() sets the interrupt).
            retry_after_s = max(0.0, self._requester.not_before - self._clock())
            self._interrupt.wait(cycle_pause(failures, self._interval_s, retry_after_s))
            failures += 1

    def _cycle(self) -> bool:
        deadline = self._cycle_deadline = Deadline.after(MAX_WAIT_S, self._clock)
        try:
            return self._dispatcher.send(
                deadline, self._interrupt, self._pool.get(), budget_s=self._batch_budget_s
            )
        except Exception:  # the worker must survive anything; the host never sees it
            logger.exception("telemetry send cycle failed")
            return False
        finally:
            self._cycle_deadline = None

    def _halt(self, deadline: Deadline | None) -> threading.Thread | None:
        """Tell the worker and every send in progress to end (by ``deadline``)."""
        self._run_id += 1
        self._interrupt.set()
        self._wake.set()
        cycle = self._cycle_deadline
        if cycle is not None and deadline is not None:
            cycle.cut(deadline.at)
        self._dispatcher.interrupt()
        if self._spooling is not None:
            self._spooling.halt()
        thread, self._thread = self._thread, None
        return thread

    def halt_unless_busy(self, run_id: int) -> None:
        """Halt the worker of start ``run_id``, unless a start or stop is under way.

        For the asyncio task whose loop goes away: it must never wait on the loop.
        stop() (or the exit flush) then sends what is left.
        """
        if self._life.acquire(blocking=False):
            try:
                if self._run_id == run_id:  # not a later start()'s worker
                    self._halt(None)
            finally:
                self._life.release()

    def stop(self, deadline: Deadline, *, exiting: bool = False) -> None:
        """Stop the worker and send what is left by ``deadline``; count what is not sent.

        A stop that meets another one still running waits for it no longer than its own
        deadline (plus the grace every blocking call has): that one is stopping the client.
        """
        if not self._life.acquire(timeout=min(deadline.remaining(), MAX_WAIT_S) + _STOP_GRACE_S):
            logger.debug(
                "telemetry stop: another stop still runs; this one returns at its deadline"
            )
            return
        try:
            thread = self._halt(deadline)
            spooling = self._spooling
            if spooling is not None and spooling.usable:
                # On disk first, whatever the deadline: then nothing unsent can be lost.
                spooling.persist_quietly()
                if exiting:  # one attempt, no retries: the process is going away
                    self._requester.no_retries()
            try:
                if spooling is None or not deadline.expired():  # stop(0) with a spool: done
                    self.flush(deadline, parallel=not exiting and self._pool.made)
            except Exception:
                logger.exception("telemetry final flush failed")
            finally:
                self._finish(thread, deadline, exiting=exiting)
        finally:
            self._life.release()

    def _finish(
        self, thread: threading.Thread | None, deadline: Deadline, *, exiting: bool
    ) -> None:
        spooling = self._spooling
        abandon_rest(self._ledger, spooling, self._requester, exiting=exiting)
        if thread is not None and thread is not threading.current_thread():
            thread.join(deadline.remaining())
        if spooling is not None:
            spooling.join(deadline)
        self._pool.close()
        self._requester.close()
        if self._exit_hook and not exiting:
            atexit.unregister(self._at_exit)
            self._exit_hook = False

    def _at_exit(self) -> None:
        """Interpreter exit without stop(): send what is left on this thread, by the timeout.

        No new thread may start at exit (3.12+), so the final send runs inline; the
        sender threads still mid-request are not waited for past the deadline.
        """
        if self._pid != os.getpid() or self._exit_hook is False:
            return  # a forked child's copy of the parent's hook, or already stopped
        self._exit_hook = False
        try:
            self.stop(self.deadline(None), exiting=True)
        except Exception:  # noqa: S110  # at exit there is nowhere left to report
            pass
