"""ClientStats: a frozen snapshot of where every tracked event is."""

from __future__ import annotations

from datetime import datetime

from ._record import record

__all__ = ["ClientStats"]


@record(frozen=True, slots=True)
class ClientStats:
    """A snapshot of a client's counters.

    Every event that enters the client's memory (a ``track()`` call of an
    enabled client, or an event read back from the spool) ends in exactly one
    place, so ``tracked + replayed == sent + rejected + dropped_queue_full
    + dropped_errors + dropped_shutdown + dropped_invalid + dropped_feedback
    + dropped_before_send + unconfirmed + spooled + queued + in_flight`` holds at
    every snapshot taken while no ``track()`` call is running. (Without a spool,
    ``replayed`` and ``spooled`` are 0.) ``spool_bytes``, ``spool_evicted`` and
    ``spool_corrupt`` count records on disk, outside that sum.
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
    spooled: int = 0
    """Events whose only copy left memory for the spool: spilled by a full queue, or
    still unsent at the deadline of ``stop()``/the exit flush (a later ``start()``,
    ``flush()`` or ``mosaic-telemetry spool drain`` sends them)."""
    replayed: int = 0
    """Events read back from the spool into the queue (left by this or an earlier
    process; an event read back twice counts twice)."""
    spool_bytes: int = 0
    """Bytes of segment files in the spool directory, as last counted."""
    spool_evicted: int = 0
    """Unsent records deleted from the spool to stay under ``spool_max_bytes``, oldest
    first (they may have been counted in ``spooled`` before)."""
    spool_corrupt: int = 0
    """Damaged spool records set aside (``quarantine.jsonl``) instead of being sent."""
    spool_errors: int = 0
    """Times the spool could not be used (read-only or full disk, unsafe directory);
    from the first, the client keeps its events in memory only."""
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
