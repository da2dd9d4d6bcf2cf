"""Ticket, one batch in flight, and the markers of ``track()`` calls that bring no event."""

from __future__ import annotations

from .queue import _BoundedFifo, _Note

TYPE_CHECKING = False  # typing is not imported at run time: it costs ~2 ms
if TYPE_CHECKING:
    from .models import TaskCompletionEvent


__all__ = ["AFTER_EXIT", "FEEDBACK", "INVALID", "Ticket"]


class Ticket:
    """One batch in flight: its events, which of them are still open, and its fate.

    Changed only under the ledger's lock.
    """

    __slots__ = ("events", "open", "out", "unknown")

    def __init__(self, events: list[TaskCompletionEvent]) -> None:
        self.events = events
        self.open = set(range(len(events)))
        """Indices of events neither settled nor given back."""
        self.unknown = False
        """A request of this batch may have reached the server without an answer."""
        self.out = False
        """A request of this batch is on its way now (its answer has not come yet)."""

    def mark(self, *, out: bool, unknown: bool = False) -> None:
        """Note a request going out (``out``) or ending (``unknown``: without an answer)."""
        self.out = out
        self.unknown = self.unknown or unknown

    def __len__(self) -> int:
        return len(self.events)


def _count(counter: str) -> _Note:
    def change(fifo: _BoundedFifo) -> None:
        counts = fifo._counts  # type: ignore[attr-defined]  # only a Ledger takes these notes
        counts["tracked"] += 1
        counts[counter] += 1

    return _Note(change)


INVALID = _count("dropped_invalid")
"""A ``track()`` argument that was not an event."""
FEEDBACK = _count("dropped_feedback")
"""An event tracked from inside the client's own logging."""
AFTER_EXIT = _count("dropped_shutdown")
"""An event tracked after the exit flush: nothing will ever send it."""
