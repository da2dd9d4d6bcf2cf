"""Dispatcher: moves queued events to the sender in send cycles, flushes, background loops."""

from __future__ import annotations

import threading
from collections.abc import Callable

from ._http import BACKOFF_BASE_S, BACKOFF_CAP_S
from ._log import LazyLogger

TYPE_CHECKING = False  # typing is not imported at run time: it costs ~2 ms
if TYPE_CHECKING:
    import asyncio
    from concurrent.futures import Executor, Future

    from ._sender import Sender
    from ._stats import Tally
    from .models import TaskCompletionEvent
    from .queue import EventQueue


__all__ = ["Dispatcher"]

logger = LazyLogger(__name__)


class Dispatcher:
    """Takes events out of the queue in batches and has them delivered.

    A batch leaves the queue and enters the tally's ``in_flight`` under one lock,
    so :meth:`flush` never sees an event that is in neither place; every batch is
    settled or put back, so ``in_flight`` always returns to zero.
    """

    def __init__(
        self,
        queue: EventQueue,
        tally: Tally,
        sender: Sender,
        *,
        batch_size: int,
        clock: Callable[[], float],
        pool: Callable[[], Executor | None],
    ) -> None:
        self._queue = queue
        self._tally = tally
        self._sender = sender
        self._batch_size = batch_size
        self._clock = clock
        self._pool = pool
        self.closed = False
        """Once set (by stop), undelivered events count as dropped instead of going back."""

    def _take_batches(self) -> list[list[TaskCompletionEvent]]:
        batches: list[list[TaskCompletionEvent]] = []
        with self._tally.changed:
            while True:
                batch = self._queue.drain(self._batch_size)
                if not batch:
                    return batches
                self._tally.in_flight += len(batch)
                batches.append(batch)

    def send_pending(
        self, deadline: float, interrupt: threading.Event | None = None, *, inline: bool = False
    ) -> bool:
        """Send everything queued now, batches in parallel on the pool unless ``inline``.

        Returns True when every event taken was settled (nothing put back, nothing
        still in flight at the deadline). Events that go back keep their order.
        """
        batches = self._take_batches()
        if not batches:
            return True
        # The first batch goes alone: if the server is failing, the others go back
        # untried instead of hitting it all at once.
        first_back = self._deliver(batches[0], deadline, interrupt)
        if first_back:
            self._restore(first_back + [event for batch in batches[1:] for event in batch])
            return False
        batches = batches[1:]
        if not batches:
            return True
        pool = None if inline or len(batches) == 1 else self._pool()
        if pool is None:
            returned = [self._deliver(batch, deadline, interrupt) for batch in batches]
            return self._restore([event for events in returned for event in events])
        from concurrent.futures import wait  # noqa: PLC0415  # first send only

        futures: list[Future[list[TaskCompletionEvent]]] = []
        inline_back: list[TaskCompletionEvent] = []
        for index, batch in enumerate(batches):
            try:
                futures.append(pool.submit(self._deliver, batch, deadline, interrupt))
            except RuntimeError:  # the pool is shut down (interpreter exit): stay on this thread
                for rest in batches[index:]:
                    inline_back.extend(self._deliver(rest, deadline, interrupt))
                break
        done, late = wait(futures, timeout=max(0.0, deadline - self._clock()))
        back = [event for future in futures if future in done for event in future.result()]
        ok = self._restore(back + inline_back)
        for future in late:  # still in flight: each settles itself when it ends
            future.add_done_callback(self._restore_late)
        return ok and not late

    def _deliver(
        self,
        batch: list[TaskCompletionEvent],
        deadline: float,
        interrupt: threading.Event | None,
    ) -> list[TaskCompletionEvent]:
        try:
            return self._sender.deliver(batch, deadline, interrupt)
        except Exception:  # deliver settles what it can; a bug must not strand events
            logger.exception("telemetry delivery failed")
            return batch

    def _restore(self, back: list[TaskCompletionEvent]) -> bool:
        """Put undelivered events back at the front (in order), or drop them once closed."""
        if not back:
            return True
        count = len(back)
        if self.closed:
            self._tally.settle(count, dropped_shutdown=count)
        else:
            self._queue.put_back(back)  # before settle: flush must see them queued
            self._tally.settle(count)
        return False

    def _restore_late(self, future: Future[list[TaskCompletionEvent]]) -> None:
        self._restore(future.result())

    def flush(self, deadline: float, *, inline: bool = False) -> bool:
        """Send until the queue is empty and nothing is in flight; False at the deadline.

        A send that had to put events back ends the flush (False) rather than
        hammering a failing server until the deadline.
        """
        tally = self._tally
        while True:
            if not self.send_pending(deadline, inline=inline):
                return False
            with tally.changed:
                while tally.in_flight > 0:  # another sender's batches: wait for them
                    remaining = deadline - self._clock()
                    if remaining <= 0:
                        return False
                    tally.changed.wait(remaining)
                if self._queue.is_empty:
                    return True
            if self._clock() >= deadline:
                return False

    def run_thread(
        self,
        *,
        interval_s: float,
        cycle_s: float,
        wake: threading.Event,
        interrupt: threading.Event,
        stopping: Callable[[], bool],
    ) -> None:
        """Background thread body: a send cycle every interval, or as soon as a batch is full."""
        failures = 0
        while not stopping():
            wake.wait(interval_s)
            wake.clear()
            if stopping():
                return
            if self._cycle(cycle_s, interrupt):
                failures = 0
                if self._queue.size >= self._batch_size:
                    wake.set()  # a burst: go on at once rather than wait out the interval
            else:
                # A failing server is not hammered by new events' wake-ups: pause
                # (interruptibly: stop() sets ``interrupt``) before listening again.
                interrupt.wait(self._pause_s(failures, interval_s))
                failures += 1

    async def run_async(
        self,
        *,
        interval_s: float,
        cycle_s: float,
        wake: asyncio.Event,
        interrupt: threading.Event,
        stopping: Callable[[], bool],
        coordinator: Executor,
    ) -> None:
        """Background task body: like :meth:`run_thread`, with blocking work off the loop."""
        import asyncio  # noqa: PLC0415  # only for the async submitter

        loop = asyncio.get_running_loop()
        failures = 0
        while not stopping():
            try:
                await asyncio.wait_for(wake.wait(), timeout=interval_s)
            except asyncio.TimeoutError:
                pass
            wake.clear()
            if stopping():
                return
            if await loop.run_in_executor(coordinator, self._cycle, cycle_s, interrupt):
                failures = 0
                if self._queue.size >= self._batch_size:
                    wake.set()
            else:  # as in run_thread; the wait runs on the coordinator, off the loop
                pause_s = self._pause_s(failures, interval_s)
                await loop.run_in_executor(coordinator, interrupt.wait, pause_s)
                failures += 1

    def _pause_s(self, failures: int, interval_s: float) -> float:
        """How long to rest after a failed cycle: growing backoff, or Retry-After."""
        backoff_s = min(BACKOFF_CAP_S, BACKOFF_BASE_S * (1 << min(failures, 8)))
        return min(interval_s, max(backoff_s, self._sender.not_before - self._clock()))

    def _cycle(self, cycle_s: float, interrupt: threading.Event) -> bool:
        try:
            return self.send_pending(self._clock() + cycle_s, interrupt)
        except Exception:  # the loop must survive anything; the host never sees it
            logger.exception("telemetry send cycle failed")
            return False
