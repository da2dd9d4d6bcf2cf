"""Background: owns the worker thread, the asyncio task, the sender threads and their wake-ups.

``flush``/``stop``/the exit flush are sends (``_dispatch.py``) repeated until
nothing is left or their deadline passes; at a stop's deadline whatever is still
out is counted (``unconfirmed`` or ``dropped_shutdown``) and abandoned. With a
spool, a second thread runs the journal's passes (``_journal.py``) at least once a
second; a stop persists first, and what it leaves is ``spooled``, never dropped.
"""

from __future__ import annotations

import atexit
import os
import threading

from ._deadline import MAX_WAIT_S, Deadline
from ._dispatch import Dispatcher, load_send_path
from ._log import LazyLogger
from ._retry import cycle_pause
from ._threads import SenderPool, Wakeup, in_thread, start_thread

TYPE_CHECKING = False  # typing is not imported at run time: it costs ~2 ms
if TYPE_CHECKING:
    import asyncio
    from collections.abc import Callable

    from ._journal import Journal
    from ._ledger import Ledger
    from ._request import Requester
    from ._sender import Sender


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
        self._sender = sender
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
        self._pool: SenderPool | None = None
        # The worker and flush() callers make the pool lazily: never two (the second one's
        # threads would never be closed). Not _life: stop() holds that while it joins the worker.
        self._pool_lock = threading.Lock()
        self._dispatcher = Dispatcher(ledger, sender, batch_size)
        self._cycle_deadline: Deadline | None = None
        self._task: asyncio.Task[None] | None = None
        self._exit_hook = False
        self._journal = journal
        self._spool_wake = Wakeup()
        self._spool_thread: threading.Thread | None = None

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

    def wake(self) -> None:
        """A batch is full: have the worker send now (safe from any context)."""
        if self._thread is not None:
            self._wake.set()
            if self._journal is not None:  # a full queue spills: write it soon
                self._spool_wake.set()

    @property
    def journal(self) -> Journal | None:
        """The spool's side of this client (None without ``spool_dir``)."""
        return self._journal

    def persist(self, deadline: Deadline) -> int:
        """Write every event queued or in flight to the spool and fsync it; how many."""
        journal = self._journal
        if journal is None:
            return 0
        return journal.run_pass(sync=True, replay=False, deadline=deadline)[0]

    def after_fork_in_child(self) -> None:
        """In a forked child: let go of the parent's spool files without touching them."""
        if self._journal is not None:
            self._journal.after_fork_in_child()

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
        ledger, journal = self._ledger, self._journal
        try:
            while True:
                if journal is not None:
                    journal.run_pass(deadline=deadline)  # write ahead, and read back
                pool = self._senders() if parallel else None
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

    def _senders(self) -> SenderPool:
        """The sender threads' pool (its threads start with the first parallel send)."""
        pool = self._pool
        if pool is None:
            with self._pool_lock:
                pool = self._pool
                if pool is None:
                    pool = self._pool = SenderPool(SENDER_THREADS)
        return pool

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
            self._register_exit(daemon=thread.daemon)
            if self._journal is not None:
                from . import _spool  # noqa: F401, PLC0415  # loaded before a thread needs it
                from .models import TaskCompletionEvent  # noqa: F401, PLC0415

                self._spool_wake.set()  # a first pass at once: read back what is left
                self._spool_thread = start_thread(lambda: self._spool_run(run_id), "spool")
            return True

    def _spool_run(self, run_id: int) -> None:
        """Spool thread body: a journal pass at least every second (docs/spool.md)."""
        from ._journal import TICK_S  # noqa: PLC0415

        journal = self._journal
        while self._run_id == run_id and journal is not None and journal.usable:
            self._spool_wake.wait(TICK_S)
            if self._run_id != run_id:
                return
            try:
                if journal.run_pass()[1]:
                    self._wake.set()  # read back from the spool: send it
            except Exception:  # the thread must survive anything; the host never sees it
                logger.exception("telemetry spool pass failed")

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
                deadline, self._interrupt, self._senders(), budget_s=self._batch_budget_s
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
        self._spool_wake.set()
        thread, self._thread = self._thread, None
        return thread

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
            journal = self._journal
            if journal is not None and journal.usable:
                # On disk first, whatever the deadline: then nothing unsent can be lost.
                self._persist_quietly()
                if exiting:  # one attempt, no retries: the process is going away
                    self._requester.no_retries()
            try:
                if journal is None or not deadline.expired():  # stop(0) with a spool: done
                    self.flush(deadline, parallel=not exiting and self._pool is not None)
            except Exception:
                logger.exception("telemetry final flush failed")
            finally:
                self._finish(thread, deadline, exiting=exiting)
        finally:
            self._life.release()

    def _persist_quietly(self) -> None:
        journal = self._journal
        if journal is not None:
            try:
                journal.run_pass(sync=True, replay=False)
            except Exception:
                logger.exception("telemetry spool pass failed")

    def _finish(
        self, thread: threading.Thread | None, deadline: Deadline, *, exiting: bool
    ) -> None:
        journal = self._journal
        if journal is not None:
            self._persist_quietly()  # anything tracked during the flush, too
        on_disk = journal.has_record if journal is not None and journal.usable else None
        unconfirmed, dropped, spooled = self._ledger.abandon(on_disk)
        if journal is not None:
            try:
                journal.close()
            except Exception:
                logger.exception("telemetry spool close failed")
        if spooled:
            logger.info("telemetry shutdown: %d unsent event(s) left in the spool", spooled)
        self._requester.abort()  # requests still out end now; their results are ignored
        if exiting:
            self._ledger.mark_exited()
        if unconfirmed or dropped:
            logger.warning(
                "telemetry shutdown: %d event(s) could not be delivered in time, "
                "%d more were sent but not confirmed",
                dropped,
                unconfirmed,
            )
        if thread is not None and thread is not threading.current_thread():
            thread.join(deadline.remaining())
        spool_thread, self._spool_thread = self._spool_thread, None
        if spool_thread is not None and spool_thread is not threading.current_thread():
            spool_thread.join(deadline.remaining())
        with self._pool_lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.close()
        self._requester.close()
        if self._exit_hook and not exiting:
            atexit.unregister(self._at_exit)
            self._exit_hook = False

    def _register_exit(self, *, daemon: bool) -> None:
        if not daemon:
            # A non-daemon worker is joined before atexit hooks run: stop it earlier.
            register = getattr(threading, "_register_atexit", None)
            if register is not None:
                try:
                    register(self._at_exit)
                except RuntimeError:  # the interpreter is already shutting down
                    pass
        if not self._exit_hook:
            atexit.register(self._at_exit)
            self._exit_hook = True

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

    # -- asyncio ------------------------------------------------------------------------

    async def start_async(self) -> None:
        """Start the worker and a task in the running loop that supervises it."""
        import asyncio  # noqa: PLC0415  # only for the async API

        loop = asyncio.get_running_loop()
        if self.running or not self.start():
            return
        thread = self._thread
        ended: asyncio.Future[None] = loop.create_future()

        def watch() -> None:  # on a helper thread: tell the task when the worker ends
            if thread is not None:
                thread.join()
            try:
                loop.call_soon_threadsafe(_resolve, ended)
            except RuntimeError:  # the loop is closed
                pass

        start_thread(watch, "watch")
        supervise = self._supervise(ended, self._run_id)
        self._task = loop.create_task(supervise, name="mosaic-telemetry-submitter")

    async def _supervise(self, ended: asyncio.Future[None], run_id: int) -> None:
        import asyncio  # noqa: PLC0415

        try:
            await ended
        except asyncio.CancelledError:  # the loop is going away without stop_async()
            # Never wait on the loop: if start/stop holds the lock, a stop is under way.
            if self._life.acquire(blocking=False):
                try:
                    if self._run_id == run_id:  # not a later start()'s worker
                        self._halt(None)  # stop() (or the exit flush) sends what is left
                finally:
                    self._life.release()
            raise

    async def stop_async(self, deadline: Deadline) -> None:
        """Like :meth:`stop`, awaited from any loop or thread without blocking it."""
        import asyncio  # noqa: PLC0415

        task, self._task = self._task, None
        await in_thread(lambda: self.stop(deadline), "stop")
        if task is not None and not task.done():
            try:
                if task.get_loop() is asyncio.get_running_loop():
                    task.cancel()
                else:
                    task.get_loop().call_soon_threadsafe(task.cancel)
            except RuntimeError:  # its loop is closed: nothing left to cancel
                pass


def _resolve(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)
