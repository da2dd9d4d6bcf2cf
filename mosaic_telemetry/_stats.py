"""ClientStats, the client's read-only counters, and the lock-guarded tally behind them."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import datetime, timezone

__all__ = ["ClientStats", "Tally"]


@dataclass(frozen=True, slots=True)
class ClientStats:
    """A snapshot of a client's counters.

    Every event given to ``track()`` ends in exactly one place, so
    ``tracked == sent + rejected + dropped_queue_full + dropped_errors
    + dropped_shutdown + queued + in_flight`` holds at every snapshot taken
    while no ``track()`` call is running.
    """

    tracked: int = 0
    """Events accepted by ``track()`` into the queue."""
    sent: int = 0
    """Events the server accepted (or, in dry run, that would have been sent)."""
    rejected: int = 0
    """Events the server refused one by one in a 2xx response (never retried)."""
    dropped_queue_full: int = 0
    """Oldest events evicted because the queue was full."""
    dropped_errors: int = 0
    """Events dropped after a permanent failure (400/401/403/404/422, redirect, bad config)."""
    dropped_shutdown: int = 0
    """Events still undelivered when ``stop()`` ran out of time."""
    dropped_invalid: int = 0
    """``track()`` calls whose argument was not a ``TaskCompletionEvent`` (not in ``tracked``)."""
    retries: int = 0
    """Requests sent again after a transient failure."""
    batches: int = 0
    """Event batches that got a 2xx response (or were logged in dry run)."""
    invalid_responses: int = 0
    """2xx responses whose body could not be read as the protocol's JSON."""
    queued: int = 0
    """Events waiting in the queue."""
    in_flight: int = 0
    """Events taken from the queue by a send that has not finished."""
    last_error: str | None = None
    """The most recent failure, in words (never contains the API key)."""
    last_success_at: datetime | None = None
    """When a batch last got a 2xx response (UTC)."""


class Tally:
    """Mutable counters behind :class:`ClientStats`, guarded by one condition variable.

    ``flush()`` waits on :attr:`changed` until nothing is in flight, so every path
    that takes events out of flight must go through :meth:`settle`.
    """

    def __init__(self) -> None:
        self.changed = threading.Condition(threading.Lock())
        self.in_flight = 0
        self.sent = 0
        self.rejected = 0
        self.dropped_errors = 0
        self.dropped_shutdown = 0
        self.dropped_invalid = 0
        self.retries = 0
        self.batches = 0
        self.invalid_responses = 0
        self.last_error: str | None = None
        self.last_success_at: datetime | None = None

    def settle(
        self,
        count: int,
        *,
        sent: int = 0,
        rejected: int = 0,
        dropped_errors: int = 0,
        dropped_shutdown: int = 0,
        batches: int = 0,
    ) -> None:
        """Record ``count`` in-flight events as finished, by outcome (the rest went back)."""
        with self.changed:
            self.in_flight -= count
            self.sent += sent
            self.rejected += rejected
            self.dropped_errors += dropped_errors
            self.dropped_shutdown += dropped_shutdown
            self.batches += batches
            if batches:
                self.last_success_at = datetime.now(timezone.utc)
            self.changed.notify_all()

    def add(self, name: str, amount: int = 1) -> None:
        """Add ``amount`` to the counter ``name`` (retries, dropped_invalid, ...)."""
        with self.changed:
            setattr(self, name, getattr(self, name) + amount)

    def error(self, message: str) -> None:
        """Remember ``message`` as the last error."""
        with self.changed:
            self.last_error = message

    def snapshot(self, *, tracked: int, dropped_queue_full: int, queued: int) -> ClientStats:
        """A frozen copy, completed with the queue's own counters."""
        with self.changed:
            return ClientStats(
                tracked=tracked,
                sent=self.sent,
                rejected=self.rejected,
                dropped_queue_full=dropped_queue_full,
                dropped_errors=self.dropped_errors,
                dropped_shutdown=self.dropped_shutdown,
                dropped_invalid=self.dropped_invalid,
                retries=self.retries,
                batches=self.batches,
                invalid_responses=self.invalid_responses,
                queued=queued,
                in_flight=self.in_flight,
                last_error=self.last_error,
                last_success_at=self.last_success_at,
            )
