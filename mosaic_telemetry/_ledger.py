"""Ledger: the one owner of where each tracked event is (queued, in flight, or settled).

The queue, the in-flight batches (:class:`Ticket`) and every counter of
:class:`ClientStats` change under one lock, the queue's, so a snapshot always
balances. Writers that find the lock held by their own thread mid-update (a
signal handler, a finalizer) never wait for it: they leave their change in the
inbox and the outer holder applies it before it lets go (see ``queue.py``).
"""

from __future__ import annotations

import threading
from datetime import datetime, timezone

from ._ledger_spill import SpillSide
from ._stats import ClientStats
from ._tickets import AFTER_EXIT, FEEDBACK, INVALID, Ticket
from .queue import _BoundedFifo, _Note

TYPE_CHECKING = False  # typing is not imported at run time: it costs ~2 ms
if TYPE_CHECKING:
    from collections.abc import Callable, Iterable

    from ._deadline import Deadline
    from .models import TaskCompletionEvent


__all__ = ["FEEDBACK", "INVALID", "Ledger", "Ticket"]  # the markers and Ticket: _tickets.py


class Ledger(SpillSide):
    """The queue plus in-flight tickets and delivery counters, under one lock.

    The spool's side of it (spilling, settling on disk, reading back) is in
    :class:`SpillSide` (``_ledger_spill.py``): the same state, under the same lock.
    """

    __slots__ = (
        "_counts",
        "_deferred_ran",
        "_exited",
        "_generation",
        "_in_flight",
        "_maybe_sent",
        "_tickets",
        "changed",
        "last_error",
        "last_success_at",
    )

    def __init__(self, max_size: int) -> None:
        super().__init__(max_size)
        self._counts = dict.fromkeys(_COUNTERS, 0)
        self._in_flight = 0
        self._tickets: set[Ticket] = set()
        # Events back in the queue after a request of theirs went out unanswered (by
        # id; the reference keeps the id unique): at a stop they count as unconfirmed.
        self._maybe_sent: dict[int, TaskCompletionEvent] = {}
        self._exited = False
        self._deferred_ran = False
        self.last_error: str | None = None
        self.last_success_at: datetime | None = None
        # Waiters (flush) sleep on this; an RLock, so a signal handler that flushes
        # while its thread waits here re-enters instead of deadlocking.
        self.changed = threading.Condition(threading.RLock())
        self._generation = 0

    # -- arrivals ------------------------------------------------------------------

    def put_marker(self, marker: _Note) -> None:
        """Count a ``track()`` call without an event (never waits, like ``put``)."""
        self._inbox.append(marker)
        if self._enter(blocking=False):
            self._leave()

    def put_event(self, event: TaskCompletionEvent, batch_size: int) -> bool:
        """``put`` (never waits); True when a full batch is queued."""
        if self._exited:
            self.put_marker(AFTER_EXIT)
            return False
        self.put(event)
        return len(self._items) >= batch_size

    def _apply(self, change: Callable[[], None]) -> None:
        """Run ``change`` under the lock, or leave it to this thread's outer holder."""
        if not self._enter():

            def deferred(fifo: _BoundedFifo) -> None:
                change()
                self._deferred_ran = True

            self._inbox.append(_Note(deferred))
            return
        try:
            change()
        finally:
            self._leave()
        self._notify()

    def _leave(self) -> None:
        super()._leave()
        if self._deferred_ran:  # a change left by a nested call was applied: tell waiters
            self._deferred_ran = False
            self._notify()

    def _notify(self) -> None:
        with self.changed:
            self._generation += 1
            self.changed.notify_all()

    # -- batches in flight ----------------------------------------------------------

    def take(self, batch_size: int) -> list[Ticket]:
        """Everything queued now, as tickets of at most ``batch_size`` events, in order."""
        if not self._enter():
            return []
        try:
            tickets: list[Ticket] = []
            items = self._items
            while items:
                count = min(batch_size, len(items))
                ticket = Ticket([items.popleft() for _ in range(count)])
                maybe_sent = self._maybe_sent
                if maybe_sent and any(id(event) in maybe_sent for event in ticket.events):
                    ticket.unknown = True
                self._in_flight += count
                self._tickets.add(ticket)
                tickets.append(ticket)
            return tickets
        finally:
            self._leave()

    def settle(self, ticket: Ticket, indices: Iterable[int], **outcome: int) -> None:
        """Record the events ``indices`` of ``ticket`` as done, ``outcome`` counting them.

        ``outcome`` maps counters (``sent``, ``rejected``, ``dropped_errors``,
        ``dropped_invalid``, ``dropped_before_send``, ``before_send_errors``) to how
        many of these events each one gets, plus ``batches``. A ticket that was
        abandoned meanwhile records nothing.
        """
        chosen = list(indices)

        def change() -> None:
            done = [i for i in chosen if i in ticket.open]
            if ticket not in self._tickets or not done:
                return
            ticket.open.difference_update(done)
            self._close_if_done(ticket, len(done))
            self._forget(ticket.events[i] for i in done)
            self._note_settled(ticket.events[i] for i in done)
            counts = self._counts
            for name, amount in outcome.items():
                counts[name] += amount
            if outcome.get("batches"):
                self.last_success_at = datetime.now(timezone.utc)

        self._apply(change)

    def give_back(self, returns: Iterable[tuple[Ticket, Iterable[int]]]) -> None:
        """Put the listed events back at the front of the queue, in the order given."""
        chosen = [(ticket, sorted(indices)) for ticket, indices in returns]

        def change() -> None:
            events: list[TaskCompletionEvent] = []
            for ticket, indices in chosen:
                back = [i for i in indices if i in ticket.open]
                if ticket not in self._tickets or not back:
                    continue
                ticket.open.difference_update(back)
                self._close_if_done(ticket, len(back))
                returned = [ticket.events[i] for i in back]
                if ticket.unknown or ticket.out:
                    self._maybe_sent.update((id(event), event) for event in returned)
                events.extend(returned)
            self._front(events)

        self._apply(change)

    def give_back_open(self, tickets: Iterable[Ticket]) -> None:
        """Put back every event of ``tickets`` that is still open (a send was cut short)."""
        chosen = list(tickets)
        self.give_back((ticket, list(ticket.open)) for ticket in chosen)

    def _forget(self, events: Iterable[TaskCompletionEvent]) -> None:
        maybe_sent = self._maybe_sent
        if maybe_sent:
            for event in events:
                maybe_sent.pop(id(event), None)

    def _evicted(self, item: TaskCompletionEvent) -> None:
        if self._maybe_sent:
            self._maybe_sent.pop(id(item), None)

    def _close_if_done(self, ticket: Ticket, count: int) -> None:
        self._in_flight -= count
        if not ticket.open:
            self._tickets.discard(ticket)

    def request_out(self, ticket: Ticket) -> bool:
        """A request of ``ticket`` may go out: until its answer, its fate is unknown.

        Returns False when a stop abandoned the ticket meanwhile: the request must not
        go out then (its events were counted as never sent).
        """
        if not self._enter():  # nested mid-update (a handler's own flush): let it go
            self._inbox.append(_Note(lambda fifo: ticket.mark(out=True)))
            return True
        try:
            if ticket not in self._tickets:
                return False
            ticket.mark(out=True)
            return True
        finally:
            self._leave()

    def request_done(self, ticket: Ticket, *, maybe_stored: bool) -> None:
        """The request of ``ticket`` ended; ``maybe_stored``: a 2xx not yet settled, or
        no answer to a request that went out (either way, not "never sent")."""
        self._apply(lambda: ticket.mark(out=False, unknown=maybe_stored))

    def abandon(
        self, on_disk: Callable[[TaskCompletionEvent], bool] | None = None
    ) -> tuple[int, int, int]:
        """Stop waiting (a deadline of stop/exit passed): count what is left, return it.

        Open events for which ``on_disk`` says their spool record is written become
        ``spooled``; of the others, those whose request went out
        without an answer, or is still on its way, ``unconfirmed``; the rest
        ``dropped_shutdown`` (as do spilled events not yet written).
        Returns ``(unconfirmed, dropped_shutdown, spooled)`` added by this call.
        """
        added = [0, 0, 0]

        def change() -> None:
            maybe_sent = self._maybe_sent

            def count(event: TaskCompletionEvent, unknown: bool) -> None:
                if on_disk is not None and on_disk(event):
                    added[2] += 1
                else:
                    added[0 if unknown or id(event) in maybe_sent else 1] += 1

            for ticket in self._tickets:
                for index in ticket.open:
                    count(ticket.events[index], ticket.unknown or ticket.out)
                self._in_flight -= len(ticket.open)
                ticket.open.clear()
            self._tickets.clear()
            for event in self._items:
                count(event, False)
            self._items.clear()
            added[1] += len(self._spill)
            self._spill.clear()
            maybe_sent.clear()
            self._counts["unconfirmed"] += added[0]
            self._counts["dropped_shutdown"] += added[1]
            self._counts["spooled"] += added[2]

        self._apply(change)
        return added[0], added[1], added[2]

    # -- counters ------------------------------------------------------------------------

    def add(self, name: str, amount: int = 1) -> None:
        """Add ``amount`` to the counter ``name`` (``retries``, ``invalid_responses``)."""
        self._apply(lambda: self._counts.__setitem__(name, self._counts[name] + amount))

    def error(self, message: str) -> None:
        """Remember ``message`` as the last error."""
        self._apply(lambda: setattr(self, "last_error", message))

    @property
    def in_flight(self) -> int:
        """Events taken by a send that has not finished."""
        return self._in_flight

    def idle(self) -> bool:
        """Nothing queued and nothing in flight (a consistent reading)."""
        if not self._enter():
            return False
        try:
            return not self._items and self._in_flight == 0
        finally:
            self._leave()

    def wait_settled(self, deadline: Deadline) -> bool:
        """Wait until nothing is in flight; False at the deadline."""
        while True:
            with self.changed:
                generation = self._generation
            if not self._enter():
                return False  # re-entered mid-update: what is in flight is the caller's own
            try:
                settled = self._in_flight == 0
            finally:
                self._leave()
            if settled:
                return True
            with self.changed:
                while generation == self._generation:
                    remaining = deadline.remaining()
                    if remaining <= 0:
                        return False
                    self.changed.wait(remaining)

    def snapshot(self) -> ClientStats:
        """A frozen copy of every counter (best effort when re-entered mid-update)."""
        entered = self._enter()
        try:
            counts = self._counts
            return ClientStats(
                **{**counts, "tracked": counts["tracked"] + self._puts},
                dropped_queue_full=self._dropped,
                queued=len(self._items) + len(self._spill),
                in_flight=self._in_flight,
                last_error=self.last_error,
                last_success_at=self.last_success_at,
            )
        finally:
            if entered:
                self._leave()


_COUNTERS = (
    "tracked",
    "sent",
    "rejected",
    "dropped_errors",
    "dropped_shutdown",
    "dropped_invalid",
    "dropped_feedback",
    "dropped_before_send",
    "unconfirmed",
    "spooled",
    "replayed",
    "spool_errors",
    "retries",
    "batches",
    "invalid_responses",
    "before_send_errors",
)
