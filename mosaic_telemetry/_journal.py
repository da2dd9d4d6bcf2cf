"""Journal: the client's side of the spool, its writer thread's work (docs/spool.md).

Owns the client's :class:`Spool` (opened on first use) and which of the events
in memory have a record there. Each :meth:`Journal.run_pass` settles the records
of events the server answered for, writes what a full queue spilled, writes
ahead every event queued or in flight that has no record yet, and reads back
what the spool holds when the queue has room. ``track()`` never comes here: the
background's spool thread (and ``persist``/``flush``/``stop``) do.
"""

from __future__ import annotations

import threading

from ._encode import encode_event
from ._log import LazyLogger

TYPE_CHECKING = False  # typing is not imported at run time: it costs ~2 ms
if TYPE_CHECKING:
    from ._deadline import Deadline
    from ._ledger import Ledger
    from ._spool import Spool, SpoolCounts
    from .models import TaskCompletionEvent


__all__ = ["TICK_S", "Journal"]

logger = LazyLogger(__name__)

TICK_S = 1.0
"""How long a queued event waits at most for its write-ahead record."""
_REPLAY_BATCH = 1000
_EVENT_BYTES = 1024
"""Spilled events held in memory at most: what ``spool_max_bytes`` holds of 1 KiB events."""


class Journal:
    """Write-ahead, spill, settle and replay between one ledger and one spool directory."""

    def __init__(self, ledger: Ledger, directory: str, max_bytes: int, max_queue: int) -> None:
        self._ledger = ledger
        self._directory = directory
        self._max_bytes = max_bytes
        self._spool: Spool | None = None
        self._broken = False
        self._lock = threading.Lock()
        # The events in memory whose record is written (and held), by id(): the
        # reference keeps each id unique while it is listed, and a pass looks an event
        # up without making its event_id string (most of a pass's cost otherwise).
        self._on_disk: dict[int, TaskCompletionEvent] = {}
        self._counts: SpoolCounts | None = None
        ledger.spill_to(max(max_queue, max_bytes // _EVENT_BYTES))

    @property
    def usable(self) -> bool:
        """False once the spool failed: the client works in memory only from then on."""
        return not self._broken

    def has_record(self, event: TaskCompletionEvent) -> bool:
        """Whether ``event`` (in memory) has its record in the spool."""
        return id(event) in self._on_disk

    @property
    def counts(self) -> SpoolCounts | None:
        """The spool's counters after the last pass (None before it opened)."""
        return self._counts

    def _open(self) -> Spool | None:
        spool = self._spool
        if spool is None and not self._broken:
            from ._spool import Spool  # noqa: PLC0415  # only with a spool: import stays cheap

            try:
                spool = self._spool = Spool.open(self._directory, self._max_bytes)
            except Exception as exc:  # SpoolError: an unsafe, read-only or full directory
                self._fail(exc)
                return None
        return spool

    def _fail(self, exc: BaseException) -> None:
        """One WARNING, one count; from now on memory only (full queues evict again)."""
        self._broken = True
        self._ledger.add("spool_errors")
        self._ledger.spill_to(0)
        logger.warning(
            "telemetry spool disabled, events are kept in memory only: %s",
            exc if str(exc) else type(exc).__name__,
        )
        spool, self._spool = self._spool, None
        self._on_disk.clear()
        if spool is not None:
            try:
                spool.close()
            except Exception:  # noqa: S110  # what was written stays for a later process
                pass

    # -- the pass ---------------------------------------------------------------------

    def run_pass(
        self, *, sync: bool = False, replay: bool = True, deadline: Deadline | None = None
    ) -> tuple[int, int]:
        """One pass (see the module docstring); ``sync``: fsync it all (persist).

        Returns ``(on_disk, replayed)``: how many events in memory have a record
        now (plus the spilled ones written by this pass), and how many were read
        back. ``(0, 0)`` when the lock was not free by ``deadline`` or the spool
        is unusable.
        """
        timeout = -1.0 if deadline is None else deadline.remaining()
        if not self._lock.acquire(timeout=timeout):
            return 0, 0
        try:
            spool = self._open()
            if spool is None:
                return 0, 0
            try:
                return self._pass(spool, sync=sync, replay=replay)
            except Exception as exc:  # SpoolWriteError: a full or read-only disk
                from ._spool import SpoolWriteError  # noqa: PLC0415

                if isinstance(exc, SpoolWriteError):
                    self._fail(exc)
                    return 0, 0
                raise
        finally:
            self._lock.release()

    def _pass(self, spool: Spool, *, sync: bool, replay: bool) -> tuple[int, int]:
        ledger, on_disk = self._ledger, self._on_disk
        settled = [
            str(event.event_id)
            for event in ledger.take_settled()
            if on_disk.pop(id(event), None) is not None
        ]
        if settled:
            spool.settle(settled)
        spilled_count = self._write_spill(spool)
        fresh: list[tuple[str, bytes]] = []
        written: list[TaskCompletionEvent] = []
        for event in ledger.in_memory():
            if id(event) not in on_disk:
                data = _encoded(event)
                if data is not None:
                    fresh.append((str(event.event_id), data))
                    written.append(event)
        if fresh:
            spool.append(fresh, held=True)
            on_disk.update((id(event), event) for event in written)
        if sync:
            spool.sync()
        replayed = self._replay(spool) if replay else 0
        self._counts = spool.counts()
        return len(on_disk) + spilled_count, replayed

    def _write_spill(self, spool: Spool) -> int:
        """Write what a full queue spilled (its only copy from now on); return how many."""
        spilled = self._ledger.spilled()
        if not spilled:
            return 0
        on_disk = self._on_disk
        again = [str(e.event_id) for e in spilled if on_disk.pop(id(e), None) is not None]
        if again:  # written ahead already: its record goes back to the spool's care
            spool.release(again)
        records = []
        seen = set(again)
        for event in spilled:
            event_id = str(event.event_id)
            if event_id not in seen:
                seen.add(event_id)
                data = _encoded(event)
                if data is not None:
                    records.append((event_id, data))
        written = spool.append(records, held=False) if records else 0
        # Left out by spool_max_bytes (counted in spool_evicted too), or not writable as
        # JSON: both are evicted from memory without a record.
        lost = len(spilled) - len(again) - written
        self._ledger.spill_written(len(spilled), lost=lost)
        return len(spilled) - lost

    def _replay(self, spool: Spool) -> int:
        """Read back what the spool holds, oldest first, while the queue has room."""
        room = self._ledger.room
        if room <= 0:
            return 0
        records = spool.replay(min(room, _REPLAY_BATCH))
        if not records:
            return 0
        import json  # noqa: PLC0415

        from .models import TaskCompletionEvent  # noqa: PLC0415

        events: list[TaskCompletionEvent] = []
        bad: list[str] = []
        for record in records:
            try:
                events.append(TaskCompletionEvent.from_dict(json.loads(record.data)))
            except Exception:  # a record that is sound JSON but no event: it never will be
                bad.append(record.event_id)
        if bad:
            spool.settle(bad)
            logger.warning("telemetry spool: %d record(s) are not events; skipped", len(bad))
        self._on_disk.update((id(event), event) for event in events)
        self._ledger.add_replayed(events)
        return len(events)

    # -- life cycle -------------------------------------------------------------------

    def close(self) -> None:
        """Settle what was answered, then let go of the spool; unsent records stay."""
        with self._lock:
            spool, self._spool = self._spool, None
            if spool is None:
                return
            try:
                settled = [str(event.event_id) for event in self._ledger.take_settled()]
                if settled:
                    spool.settle(settled)
                self._counts = spool.counts()
            finally:
                self._on_disk.clear()
                spool.close()

    def after_fork_in_child(self) -> None:
        """In a forked child: close the parent's descriptors, never write its segment."""
        spool = self._spool
        if spool is not None:
            spool.after_fork_in_child()
            self._spool = None


def _encoded(event: TaskCompletionEvent) -> bytes | None:
    try:
        return encode_event(event)
    except Exception:  # the sender drops it (dropped_invalid) and says why
        return None
