"""A send: every queued event out as tickets, the first batch alone, the rest in parallel.

The first batch goes alone, so that a failing server costs one request, not one
per batch: when it fails the others go back untried. The rest go to the sender
threads; what fails is put back in the order it was queued. A Ctrl-C or
``SystemExit`` in the middle puts back everything that was taken.
"""

from __future__ import annotations

import threading

TYPE_CHECKING = False  # typing is not imported at run time: it costs ~2 ms
if TYPE_CHECKING:
    from collections.abc import Callable

    from ._deadline import Deadline
    from ._ledger import Ledger, Ticket
    from ._sender import Sender
    from ._threads import SenderPool


__all__ = ["Dispatcher", "load_send_path"]


class Dispatcher:
    """Runs sends for one ledger and sender; knows the parallel groups in progress."""

    def __init__(self, ledger: Ledger, sender: Sender, batch_size: int) -> None:
        self._ledger = ledger
        self._sender = sender
        self._batch_size = batch_size
        self._groups: set[_Group] = set()

    def interrupt(self) -> None:
        """A stop began: sends waiting on sender threads give up waiting now."""
        for group in list(self._groups):
            group.interrupt()

    def send(
        self,
        deadline: Deadline,
        interrupt: threading.Event | None,
        pool: SenderPool | None,
        *,
        budget_s: float | None = None,
    ) -> bool:
        """One send of everything queued now (in parallel on ``pool`` if given).

        ``budget_s``: each batch gets that long from the moment it starts (within
        ``deadline``), so a long backlog does not eat the time of its last batches
        (background cycles); None: every batch has ``deadline`` itself (flush, stop).
        Returns True when nothing had to go back.
        """
        tickets = self._ledger.take(self._batch_size)
        if not tickets:
            return True
        sender = self._sender

        def deliver(
            ticket: Ticket, deadline: Deadline, interrupt: threading.Event | None
        ) -> list[int]:
            if budget_s is not None:  # the batch's own time starts now
                deadline = deadline.within(budget_s)
            return sender.deliver(ticket, deadline, interrupt)

        try:
            back = deliver(tickets[0], deadline, interrupt)
            if back:  # the others go back untried, behind the first batch's events
                rest = [(ticket, sorted(ticket.open)) for ticket in tickets[1:]]
                self._ledger.give_back([(tickets[0], back), *rest])
                return False
            rest_tickets = tickets[1:]
            if pool is not None and len(rest_tickets) > 1:
                return self._send_parallel(rest_tickets, deadline, interrupt, pool, deliver)
            returns = []
            for ticket in rest_tickets:
                back = deliver(ticket, deadline, interrupt)
                if back:
                    returns.append((ticket, back))
            self._ledger.give_back(returns)
            return not returns
        except BaseException:  # Ctrl-C, SystemExit: nothing taken may stay in flight
            self._ledger.give_back_open(tickets)
            raise

    def _send_parallel(
        self,
        tickets: list[Ticket],
        deadline: Deadline,
        interrupt: threading.Event | None,
        pool: SenderPool,
        deliver: Callable[[Ticket, Deadline, threading.Event | None], list[int]],
    ) -> bool:
        group = _Group(self._ledger, tickets)
        self._groups.add(group)
        jobs: list[Callable[[], None]] = []
        try:
            for position, ticket in enumerate(tickets):
                job = group.job(position, deliver, ticket, deadline, interrupt)
                jobs.append(job)
                if not pool.submit(job):  # no sender thread may start: send it here
                    job()
            group.wait(deadline)
        finally:
            self._groups.discard(group)
            cancelled = {position for position, job in enumerate(jobs) if pool.cancel(job)}
            ok = group.close(cancelled)
        return ok


class _Group:
    """The parallel batches of one send: their results, collected in order while awaited."""

    def __init__(self, ledger: Ledger, tickets: list[Ticket]) -> None:
        self._ledger = ledger
        self._tickets = tickets
        self._backs: dict[int, list[int]] = {}
        self._ready = threading.Condition(threading.RLock())
        self._open = True
        self._interrupted = False

    def job(
        self,
        position: int,
        deliver: Callable[[Ticket, Deadline, threading.Event | None], list[int]],
        ticket: Ticket,
        deadline: Deadline,
        interrupt: threading.Event | None,
    ) -> Callable[[], None]:
        """The work of one batch, for a sender thread."""

        def run() -> None:
            back = sorted(ticket.open)
            try:
                back = deliver(ticket, deadline, interrupt)
            finally:
                self._done(position, back)

        return run

    def _done(self, position: int, back: list[int]) -> None:
        with self._ready:
            if self._open:
                self._backs[position] = back
                self._ready.notify_all()
                return
        if back:  # nobody waits any more: put them back now
            self._ledger.give_back([(self._tickets[position], back)])

    def wait(self, deadline: Deadline) -> None:
        """Until every batch is done, the deadline passes, or a stop interrupts."""
        with self._ready:
            while len(self._backs) < len(self._tickets) and not self._interrupted:
                remaining = deadline.remaining()
                if remaining <= 0:
                    return
                self._ready.wait(remaining)

    def interrupt(self) -> None:
        """Stop waiting (a stop began): what is not done is given back as it ends."""
        with self._ready:
            self._interrupted = True
            self._ready.notify_all()

    def close(self, cancelled: set[int]) -> bool:
        """Put back, in order, what came back and what never started; True if all settled."""
        with self._ready:
            self._open = False
            backs = dict(self._backs)
        returns = []
        for position, ticket in enumerate(self._tickets):
            if position in backs:
                if backs[position]:
                    returns.append((ticket, backs[position]))
            elif position in cancelled:
                returns.append((ticket, sorted(ticket.open)))
        self._ledger.give_back(returns)
        return not returns and len(backs) == len(self._tickets)


def load_send_path() -> None:
    """Import, on the starting thread, every module a send loads lazily.

    Import is inert, so these load on first use; but a fork while another thread
    is importing a module leaves that module's import lock held in the child for
    good. Loaded here, before any of our threads runs, no sender of ours is ever
    importing when the host forks.
    """
    import base64  # noqa: F401, PLC0415
    import email.utils  # noqa: F401, PLC0415
    import encodings.idna  # noqa: F401, PLC0415  # getaddrinfo() loads it on its first call
    import gzip  # noqa: F401, PLC0415
    import json  # noqa: F401, PLC0415
    import logging  # noqa: F401, PLC0415
    import random  # noqa: F401, PLC0415
    import urllib.request  # noqa: F401, PLC0415

    from . import _connection, _replies  # noqa: F401, PLC0415
