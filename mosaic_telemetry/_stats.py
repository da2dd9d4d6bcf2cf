"""ClientStats: a frozen snapshot of where every tracked event is."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

__all__ = ["ClientStats"]


@dataclass(frozen=True, slots=True)
class ClientStats:
    """A snapshot of a client's counters.

    Every ``track()`` call of an enabled client ends in exactly one place, so
    ``tracked == sent + rejected + dropped_queue_full + dropped_errors
    + dropped_shutdown + dropped_invalid + dropped_feedback + dropped_before_send
    + unconfirmed + queued + in_flight`` holds at every snapshot taken while no ``track()``
    call is running.
    """

    tracked: int = 0
    """``track()`` calls of an enabled client (events and refused arguments alike)."""
    sent: int = 0
    """Events the server accepted (or, in dry run, that would have been sent)."""
    rejected: int = 0
    """Events the server refused one by one in a 2xx response (never retried)."""
    dropped_queue_full: int = 0
    """Oldest events evicted because the queue was full."""
    dropped_errors: int = 0
    """Events dropped after a permanent failure (400/401/403/404/422, redirect, bad
    config), and an event a server kept failing with 5xx while it accepted the others."""
    dropped_shutdown: int = 0
    """Events never sent because ``stop()`` (or the exit flush) ran out of time, and
    events tracked after the exit flush."""
    dropped_invalid: int = 0
    """``track()`` arguments that were neither a ``TaskCompletionEvent`` nor an
    ``EventBuilder`` that builds one, and events that could not be written as JSON
    (for example changed after ``track()``)."""
    dropped_feedback: int = 0
    """Events tracked from inside the client's own log records (a host log handler
    that calls ``track()``), refused so that logging can't feed on itself."""
    dropped_before_send: int = 0
    """Events ``before_send`` dropped: it returned None, or failed on them (see
    ``before_send_errors``). Never sent."""
    unconfirmed: int = 0
    """Events whose request went out but whose answer did not come before the
    deadline of ``stop()``/the exit flush: the server may have stored them."""
    retries: int = 0
    """Requests sent again after a transient failure."""
    batches: int = 0
    """Event batches that got a 2xx response (or were logged in dry run)."""
    invalid_responses: int = 0
    """2xx responses whose body could not be read as the protocol's JSON."""
    before_send_errors: int = 0
    """Of ``dropped_before_send``, the events ``before_send`` failed on: it raised, or
    returned something else than a valid event with the same ``event_id``."""
    queued: int = 0
    """Events waiting in the queue."""
    in_flight: int = 0
    """Events taken from the queue by a send that has not finished."""
    last_error: str | None = None
    """The most recent failure, in words (never contains the API key or a password)."""
    last_success_at: datetime | None = None
    """When a batch last got a 2xx response (UTC)."""
