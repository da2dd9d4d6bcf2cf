"""EventQueue: a thread-safe bounded FIFO that evicts the oldest event when full.

``put()`` never waits for a lock, so it is safe from signal handlers, ``__del__``
finalizers and logging handlers, even when they interrupt the very thread that
is inside the queue: it appends to an *inbox* (a ``deque``, whose ``append`` is
documented thread-safe) and then moves the inbox into the bounded FIFO only if
it can take the queue's lock at once. Whoever holds the lock moves what others
appended meanwhile before it leaves, so nothing stays in the inbox for long.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable, Iterable

from .models import TaskCompletionEvent

__all__ = ["EventQueue"]


class _Note:
    """Not an event: a change for the lock holder to apply when it absorbs the inbox.

    Put there by a call that found the lock held by its own thread mid-update (a
    signal handler, a finalizer), or by ``track()`` calls that bring no event.
    """

    __slots__ = ("change",)

    def __init__(self, change: Callable[[_BoundedFifo], None]) -> None:
        self.change = change


class _BoundedFifo:
    """The queue's logic: a bounded deque under one re-entry-aware lock, with counts.

    Every counter changes only while :attr:`_lock` is held *and* :attr:`_busy` is
    set by this holder. A nested entry on the same thread (the lock is an RLock,
    so a signal handler or finalizer would otherwise walk into a half-done
    update) sees ``_busy`` and backs off: ``put()`` leaves its item in the inbox
    for the outer call, the other operations act as if the queue were busy.
    """

    __slots__ = ("_busy", "_dropped", "_inbox", "_items", "_lock", "_max_size", "_puts")

    def __init__(self, max_size: int = 1000) -> None:
        if isinstance(max_size, bool) or not isinstance(max_size, int) or max_size < 1:
            raise ValueError(f"max_size must be a positive int, got {max_size!r}")
        self._max_size = max_size
        self._items: deque[TaskCompletionEvent] = deque(maxlen=max_size)
        self._inbox: deque[object] = deque()
        self._lock = threading.RLock()
        self._busy = False
        self._dropped = 0
        self._puts = 0

    # -- the critical section ------------------------------------------------------

    def _enter(self, *, blocking: bool = True) -> bool:
        """Take the lock for an update; False when it is taken, or re-entered mid-update."""
        if not self._lock.acquire(blocking):
            return False
        if self._busy:  # this very thread is inside an update (signal handler, finalizer)
            self._lock.release()
            return False
        self._busy = True
        self._absorb()
        return True

    def _leave(self) -> None:
        """End an update; then move what was appended meanwhile, if nobody else will."""
        self._absorb()
        self._busy = False
        self._lock.release()
        if self._inbox:
            self._absorb_later_arrivals()

    def _absorb_later_arrivals(self) -> None:
        # An item appended while the lock was held found it taken and left at once:
        # it is this holder's to move. (Appended after this check: its own put moves it.)
        while self._inbox and self._enter(blocking=False):
            self._busy = False
            self._lock.release()

    def _absorb(self) -> None:
        """Move the inbox into the FIFO (lock held): count, evict the oldest when full."""
        inbox, items, max_size = self._inbox, self._items, self._max_size
        while inbox:
            item = inbox.popleft()
            if type(item) is _Note:
                item.change(self)
                continue
            if len(items) == max_size:
                self._overflow(items.popleft())
            items.append(item)  # type: ignore[arg-type]  # only put() appends events here
            self._puts += 1

    def _evicted(self, item: TaskCompletionEvent) -> None:
        """``item`` leaves the queue as dropped (lock held); subclasses forget what they knew."""

    def _overflow(self, item: TaskCompletionEvent) -> None:
        """The oldest ``item`` no longer fits (lock held): evict and count it.

        A ledger with a spool spills it instead.
        """
        self._dropped += 1
        self._evicted(item)

    # -- the public operations ---------------------------------------------------------

    def put(self, item: TaskCompletionEvent) -> None:
        """Append ``item``; when full, the oldest item is evicted and counted. Never waits."""
        lock = self._lock
        if lock.acquire(False):  # the usual case: straight in, inbox untouched
            if not self._busy:
                self._busy = True
                try:
                    if self._inbox:  # earlier arrivals go first
                        self._absorb()
                    items = self._items
                    if len(items) == self._max_size:
                        self._overflow(items.popleft())
                    items.append(item)
                    self._puts += 1
                finally:
                    self._busy = False
                    lock.release()
                if self._inbox:
                    self._absorb_later_arrivals()
                return
            lock.release()  # re-entered mid-update on this thread (signal handler, finalizer)
        # Taken: append to the inbox, then try again. Whoever holds the lock now
        # absorbs the inbox before it lets go, so the item can't be left behind.
        self._inbox.append(item)
        if self._enter(blocking=False):
            self._leave()

    def drain(self, max_items: int) -> list[TaskCompletionEvent]:
        """Remove and return up to ``max_items`` of the oldest items, oldest first."""
        if not self._enter():
            return []
        try:
            count = min(max_items, len(self._items))
            popleft = self._items.popleft
            return [popleft() for _ in range(count)]
        finally:
            self._leave()

    def put_back(self, items: Iterable[TaskCompletionEvent]) -> None:
        """Re-insert ``items`` at the front in their order (for retries).

        Past ``max_size`` the oldest are evicted (and counted), so the newest
        ``max_size`` of put-back plus queued items remain.
        """
        items = list(items)
        if not self._enter():  # re-entered mid-update: the outer call puts them in front
            self._inbox.append(_Note(lambda fifo: fifo._front(items)))
            return
        try:
            self._front(items)
        finally:
            self._leave()

    def _front(self, items: list[TaskCompletionEvent]) -> None:
        """Put ``items`` in front of the queued ones (lock held), evicting the oldest."""
        room = self._max_size - len(self._items)
        if len(items) > room:
            overflow = len(items) - room
            for item in items[:overflow]:
                self._overflow(item)
            items = items[overflow:]
        self._items.extendleft(reversed(items))

    def clear(self) -> int:
        """Remove every item without counting it as dropped; return how many there were."""
        if not self._enter():
            return 0
        try:
            count = len(self._items)
            self._items.clear()
            return count
        finally:
            self._leave()

    @property
    def size(self) -> int:
        """How many items are queued now.

        Arrivals still in the inbox count too, up to ``max_size`` in all: past it,
        the oldest are evicted as the inbox is absorbed.
        """
        return min(len(self._items) + len(self._inbox), self._max_size)

    @property
    def is_empty(self) -> bool:
        """Whether the queue holds no item."""
        return not self._items and not self._inbox

    @property
    def max_size(self) -> int:
        """The most items the queue holds."""
        return self._max_size

    @property
    def dropped(self) -> int:
        """How many items were evicted because the queue was full."""
        return self._dropped

    @property
    def total_put(self) -> int:
        """How many items :meth:`put` has taken since creation (evicted ones included)."""
        return self._puts

    def __len__(self) -> int:
        return self.size

    def __repr__(self) -> str:
        return f"{type(self).__name__}(size={self.size}, max_size={self._max_size})"


class EventQueue(_BoundedFifo):
    """Thread-safe bounded FIFO of events; when full, the oldest event is evicted."""

    __slots__ = ()
