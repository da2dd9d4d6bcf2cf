"""EventQueue: a thread-safe bounded FIFO that evicts the oldest event when full."""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Iterable

from .models import TaskCompletionEvent

__all__ = ["EventQueue"]


class _BoundedFifo:
    """The queue's logic: a deque under one lock, with eviction counts."""

    __slots__ = ("_dropped", "_items", "_lock", "_max_size", "_puts")

    def __init__(self, max_size: int = 1000) -> None:
        if isinstance(max_size, bool) or not isinstance(max_size, int) or max_size < 1:
            raise ValueError(f"max_size must be a positive int, got {max_size!r}")
        self._max_size = max_size
        # maxlen makes append() evict from the left by itself, in C, under the GIL.
        self._items: deque[TaskCompletionEvent] = deque(maxlen=max_size)
        self._lock = threading.Lock()
        self._dropped = 0
        self._puts = 0

    def put(self, item: TaskCompletionEvent) -> None:
        """Append ``item``; when full, the oldest item is evicted and counted."""
        with self._lock:
            if len(self._items) == self._max_size:
                self._dropped += 1
            self._items.append(item)
            self._puts += 1

    def drain(self, max_items: int) -> list[TaskCompletionEvent]:
        """Remove and return up to ``max_items`` of the oldest items, oldest first."""
        with self._lock:
            count = min(max_items, len(self._items))
            popleft = self._items.popleft
            return [popleft() for _ in range(count)]

    def put_back(self, items: Iterable[TaskCompletionEvent]) -> None:
        """Re-insert ``items`` at the front in their order (for retries).

        Past ``max_size`` the oldest are evicted (and counted), so the newest
        ``max_size`` of put-back plus queued items remain.
        """
        items = list(items)
        with self._lock:
            room = self._max_size - len(self._items)
            if len(items) > room:
                overflow = len(items) - room
                self._dropped += overflow
                items = items[overflow:]
            self._items.extendleft(reversed(items))

    def clear(self) -> int:
        """Remove every item without counting it as dropped; return how many there were."""
        with self._lock:
            count = len(self._items)
            self._items.clear()
            return count

    @property
    def size(self) -> int:
        """How many items are queued now."""
        return len(self._items)

    @property
    def is_empty(self) -> bool:
        """Whether the queue holds no item."""
        return not self._items

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
        return len(self._items)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(size={self.size}, max_size={self._max_size})"


class EventQueue(_BoundedFifo):
    """Thread-safe bounded FIFO of events; when full, the oldest event is evicted."""

    __slots__ = ()
