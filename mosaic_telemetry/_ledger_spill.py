"""SpillSide: the ledger's part that only a client with a spool uses (docs/spool.md).

Events a full queue spills for the spool's writer, the settled events whose
records are to be settled on disk, what is in memory to write ahead, and events
read back from the spool: the ledger's own state, under its one lock.
"""

from __future__ import annotations

from .queue import _BoundedFifo

TYPE_CHECKING = False  # typing is not imported at run time: it costs ~2 ms
if TYPE_CHECKING:
    from collections.abc import Callable, Iterable

    from ._tickets import Ticket
    from .models import TaskCompletionEvent


__all__ = ["SpillSide"]


class SpillSide(_BoundedFifo):
    """Spill, settle-on-disk and read-back state of a :class:`~._ledger.Ledger`."""

    __slots__ = ("_settled_out", "_spill", "_spill_cap")

    if TYPE_CHECKING:  # the Ledger's, used here
        _counts: dict[str, int]
        _tickets: set[Ticket]

        def _apply(self, change: Callable[[], None]) -> None: ...
        def _forget(self, events: Iterable[TaskCompletionEvent]) -> None: ...

    def __init__(self, max_size: int) -> None:
        super().__init__(max_size)
        # Events a full queue pushed out, for the spool's writer to take (at most
        # _spill_cap; 0: no spool, evict as before), and the settled events whose
        # spool records the writer has yet to settle.
        self._spill: list[TaskCompletionEvent] = []
        self._spill_cap = 0
        self._settled_out: list[TaskCompletionEvent] = []

    def _note_settled(self, events: Iterable[TaskCompletionEvent]) -> None:
        """Settled events (lock held): their records are to be settled on disk too."""
        if self._spill_cap:
            self._settled_out.extend(events)

    def _overflow(self, item: TaskCompletionEvent) -> None:
        """Spill the oldest event for the spool's writer, or evict it when there is no room."""
        spill = self._spill
        if len(spill) < self._spill_cap:
            self._forget((item,))
            spill.append(item)
            return
        super()._overflow(item)

    def spill_to(self, cap: int) -> None:
        """From now on a full queue spills up to ``cap`` events (0: evict them again).

        Spilled events not yet written are evicted (counted) when ``cap`` is 0.
        """

        def change() -> None:
            self._spill_cap = cap
            if not cap:
                self._dropped += len(self._spill)
                self._spill.clear()
                self._settled_out.clear()

        self._apply(change)

    def spilled(self) -> list[TaskCompletionEvent]:
        """A copy of the spilled events not yet written, oldest first."""
        if not self._enter():
            return []
        try:
            return list(self._spill)
        finally:
            self._leave()

    def spill_written(self, count: int, *, lost: int = 0) -> None:
        """The first ``count`` spilled events left memory: ``lost`` of them are evicted
        (the spool could not take them), the rest are ``spooled``."""

        def change() -> None:
            del self._spill[:count]
            self._dropped += lost
            self._counts["spooled"] += count - lost

        self._apply(change)

    def take_settled(self) -> list[TaskCompletionEvent]:
        """The events settled since the last call (their spool records are to be settled)."""
        if not self._enter():
            return []
        try:
            out, self._settled_out = self._settled_out, []
            return out
        finally:
            self._leave()

    def in_memory(self) -> list[TaskCompletionEvent]:
        """Every event queued or open in flight now (spilled ones aside), oldest first."""
        if not self._enter():
            return []
        try:
            events = [
                e
                for ticket in self._tickets
                for i, e in enumerate(ticket.events)
                if i in ticket.open
            ]
            events.extend(self._items)
            return events
        finally:
            self._leave()

    def add_replayed(self, events: list[TaskCompletionEvent]) -> None:
        """Put events read back from the spool in front of the queue (``replayed``)."""

        def change() -> None:
            self._counts["replayed"] += len(events)
            self._front(events)

        self._apply(change)

    @property
    def room(self) -> int:
        """How many more events the queue takes before it spills."""
        return max(0, self._max_size - len(self._items) - len(self._inbox) - len(self._spill))

    def mark_exited(self) -> None:
        """After the exit flush: events tracked from now on are counted as undeliverable."""
        self._apply(lambda: setattr(self, "_exited", True))
